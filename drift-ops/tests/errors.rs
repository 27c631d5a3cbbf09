//! Bad input gives a typed error naming the problem: never a panic, never a silent NaN.

use drift_api::{DriftError, DriftOperator, PointCloud};
use drift_ops::{
    CrossMinusSelf, DengAlg2, InverseMultiquadric, OneSided, RowNormalised, Sinkhorn,
    SinkhornDrift, SinkhornProxy, Term,
};

fn pc(data: Vec<f64>, d: usize) -> PointCloud<f64> {
    PointCloud::new("x", data, d).unwrap()
}

#[test]
fn empty_point_sets_are_rejected() {
    let e = PointCloud::<f64>::new("y", vec![], 2).unwrap_err();
    assert!(
        matches!(e, DriftError::EmptyPointSet { ref what, .. } if what == "y"),
        "{e}"
    );
    let e = PointCloud::<f32>::new("x", vec![1.0], 0).unwrap_err();
    assert!(matches!(e, DriftError::EmptyPointSet { .. }), "{e}");
    assert!(e.to_string().contains("`x` is empty"));
}

#[test]
fn ragged_buffers_are_rejected() {
    let e = PointCloud::new("x", vec![1.0f64, 2.0, 3.0], 2).unwrap_err();
    assert!(
        matches!(e, DriftError::ShapeMismatch { found: 3, .. }),
        "{e}"
    );
}

#[test]
fn non_finite_coordinates_are_located() {
    for bad in [f64::NAN, f64::INFINITY, f64::NEG_INFINITY] {
        let e = PointCloud::new("y", vec![0.0, 1.0, 2.0, bad], 2).unwrap_err();
        match e {
            DriftError::NonFiniteCoordinate {
                what, point, coord, ..
            } => assert_eq!((what.as_str(), point, coord), ("y", 1, 1)),
            other => panic!("unexpected {other}"),
        }
    }
    let e = PointCloud::new("x", vec![f32::NAN], 1).unwrap_err();
    assert!(
        e.to_string()
            .contains("non-finite coordinate NaN at point 0"),
        "{e}"
    );
}

#[test]
fn bad_weights_are_rejected() {
    let x = || pc(vec![0.0, 1.0, 2.0], 1);
    for bad in [-1.0, f64::NAN, f64::INFINITY] {
        let e = x().with_weights(vec![1.0, bad, 1.0]).unwrap_err();
        assert!(
            matches!(e, DriftError::InvalidWeight { point: 1, .. }),
            "{bad}: {e}"
        );
    }
    let e = x().with_weights(vec![0.0, 0.0, 0.0]).unwrap_err();
    assert!(matches!(e, DriftError::ZeroTotalWeight { .. }), "{e}");
    let e = x().with_weights(vec![1.0]).unwrap_err();
    assert!(
        matches!(
            e,
            DriftError::ShapeMismatch {
                expected: 3,
                found: 1,
                ..
            }
        ),
        "{e}"
    );
    // Zero weights on some points are fine: those points carry no mass.
    assert!(x().with_weights(vec![0.0, 1.0, 1.0]).is_ok());
}

fn all_operators(tau: f64) -> Vec<Box<dyn DriftOperator>> {
    vec![
        Box::new(OneSided::new(tau)),
        Box::new(DengAlg2::new(tau)),
        Box::new(SinkhornProxy::new(tau)),
        Box::new(SinkhornDrift::new(tau)),
        Box::new(CrossMinusSelf {
            attraction: Term::new(Box::new(drift_ops::Laplace), Box::new(RowNormalised), 0.5),
            repulsion: Term::new(Box::new(drift_ops::Laplace), Box::new(RowNormalised), tau),
            mask_self: true,
            weighting: Box::new(drift_ops::Unit),
        }),
    ]
}

#[test]
fn mismatched_dimensions_are_named() {
    let x = pc(vec![0.0, 1.0, 2.0, 3.0], 2);
    let y = PointCloud::new("y", vec![0.0, 1.0, 2.0], 3).unwrap();
    for op in all_operators(0.5) {
        let e = drift_ops::drift(op.as_ref(), &x, &y).unwrap_err();
        match e {
            DriftError::DimensionMismatch {
                left_dim,
                right_dim,
                ..
            } => assert_eq!((left_dim, right_dim), (2, 3)),
            other => panic!("{op:?}: unexpected {other}"),
        }
    }
}

#[test]
fn non_positive_or_non_finite_temperatures_are_rejected() {
    let x = pc(vec![0.0, 1.0], 1);
    for tau in [0.0, -0.1, f64::NAN, f64::INFINITY] {
        for op in all_operators(tau) {
            let e = drift_ops::drift(op.as_ref(), &x, &x).unwrap_err();
            assert!(
                matches!(e, DriftError::InvalidTemperature { .. }),
                "{op:?}: {e}"
            );
            assert!(e.to_string().contains("temperature"), "{e}");
            assert!(op.validate().is_err());
        }
    }
}

#[test]
fn bad_solver_and_kernel_parameters_are_rejected() {
    let x = pc(vec![0.0, 1.0], 1);
    let mut op = SinkhornDrift::new(0.5);
    op.sinkhorn = Sinkhorn::new(10, -1.0);
    let e = drift_ops::drift(&op, &x, &x).unwrap_err();
    assert!(e.to_string().contains("sinkhorn.tol"), "{e}");
    op.sinkhorn = Sinkhorn::new(10, 1e-6).with_epsilon_scaling(1.5);
    let e = drift_ops::drift(&op, &x, &x).unwrap_err();
    assert!(e.to_string().contains("epsilon_scaling"), "{e}");
    let op = OneSided {
        kernel: Box::new(InverseMultiquadric { beta: -1.0 }),
        temperature: 0.5,
        mask_self: true,
    };
    let e = drift_ops::drift(&op, &x, &x).unwrap_err();
    assert!(e.to_string().contains("beta"), "{e}");
}

#[test]
fn a_single_particle_cannot_have_a_masked_self_term() {
    let x = pc(vec![0.0, 1.0], 2);
    let y = pc(vec![0.0, 1.0, 1.0, 1.0], 2);
    let e = drift_ops::drift(&OneSided::new(0.5), &x, &y).unwrap_err();
    assert!(
        matches!(
            e,
            DriftError::TooFewPoints {
                needed: 2,
                found: 1,
                ..
            }
        ),
        "{e}"
    );
    // Unmasked operators are fine with one particle.
    assert!(drift_ops::drift(&SinkhornDrift::new(0.5), &x, &y).is_ok());
}

#[test]
fn precision_is_never_mixed_and_output_shapes_are_checked() {
    use drift_api::{apply_drift, Context, DriftProblem};
    let x = pc(vec![0.0, 1.0], 1);
    let mut out = vec![0.0; 3];
    let e = apply_drift(
        &OneSided::new(0.5),
        DriftProblem {
            backend: &drift_ops::CpuBackend,
            x: &x,
            y: &x,
            context: &Context::default(),
            out: &mut out,
            scale: 1.0,
            negatives: None,
        },
    )
    .unwrap_err();
    assert!(
        matches!(
            e,
            DriftError::ShapeMismatch {
                expected: 2,
                found: 3,
                ..
            }
        ),
        "{e}"
    );
}
