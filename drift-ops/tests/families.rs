//! The operator families against their defining functionals (central finite differences in f64),
//! their invariants, and the low-temperature behaviour `docs/MATH.md` describes, on hand-made inputs.

mod common;

use common::*;
use drift_api::{PointCloud, Real};
use drift_ops::{
    mmd_squared, sinkhorn_divergence, sliced_wasserstein_squared, FDivergence, FDivergenceKind,
    Gaussian, Laplace, Mmd, MmdKernel, OneSided, ScoreDifference, Sinkhorn, SinkhornDivergence,
    SinkhornDrift, SinkhornK, SinkhornProxy, SlicedWasserstein,
};

fn lib(c: &Cloud, name: &str) -> PointCloud<f64> {
    c.to_lib::<f64>(name)
}

/// Central difference of `value` with respect to coordinate `(i, k)` of `x`.
fn partial(x: &Cloud, i: usize, k: usize, h: f64, value: &dyn Fn(&Cloud) -> f64) -> f64 {
    let moved = |delta: f64| {
        let mut c = x.clone();
        c.pts[i][k] += delta;
        value(&c)
    };
    (moved(h) - moved(-h)) / (2.0 * h)
}

/// Checks `V_i = −(factor / a_i) ∂value/∂x_i` for every coordinate, to `tol` relative (normwise).
fn check_gradient(
    label: &str,
    v: &[f64],
    x: &Cloud,
    factor: f64,
    h: f64,
    tol: f64,
    value: &dyn Fn(&Cloud) -> f64,
) {
    let d = x.d();
    let mut want = Vec::new();
    for i in 0..x.n() {
        let a = x.log_w[i].exp();
        for k in 0..d {
            want.push(-factor / a * partial(x, i, k, h, value));
        }
    }
    let err = rel_err(v, &want);
    assert!(
        err < tol,
        "{label}: relative error {err:e}\n got {v:?}\nwant {want:?}"
    );
}

#[test]
fn sinkhorn_divergence_drift_is_minus_the_gradient_of_s_eps() {
    let mut r = rng(21);
    for weighted in [false, true] {
        let x = Cloud::random(&mut r, 7, 2, 0.0, weighted);
        let y = Cloud::random(&mut r, 9, 2, 0.6, weighted);
        let op = SinkhornDivergence {
            temperature: 0.3,
            sinkhorn: Sinkhorn::new(100_000, 1e-14).with_epsilon_scaling(0.5),
        };
        let (v, report) = drift_ops::drift(&op, &lib(&x, "x"), &lib(&y, "y")).unwrap();
        assert!(report.couplings.iter().all(|c| c.converged));
        let s = |c: &Cloud| sinkhorn_divergence(&op, &lib(c, "x"), &lib(&y, "y")).unwrap();
        check_gradient("sinkhorn_divergence", &v, &x, 1.0, 1e-5, 1e-6, &s);
    }
}

#[test]
fn sinkhorn_divergence_is_a_divergence() {
    let mut r = rng(22);
    let op = SinkhornDivergence::new(0.1);
    for _ in 0..5 {
        let x = Cloud::random(&mut r, 20, 3, 0.0, true);
        let y = Cloud::random(&mut r, 15, 3, 0.2, false);
        let s = sinkhorn_divergence(&op, &lib(&x, "x"), &lib(&y, "y")).unwrap();
        assert!(s > 0.0, "S = {s}");
        let zero = sinkhorn_divergence(&op, &lib(&x, "x"), &lib(&x, "x")).unwrap();
        assert!(zero.abs() < 1e-7, "S(X, X) = {zero}");
    }
}

#[test]
fn mmd_drift_is_minus_the_gradient_of_half_mmd_squared() {
    let mut r = rng(23);
    for kernel in [MmdKernel::Gaussian, MmdKernel::Laplace] {
        for weighted in [false, true] {
            let x = Cloud::random(&mut r, 6, 3, 0.0, weighted);
            let y = Cloud::random(&mut r, 8, 3, 0.4, weighted);
            let op = Mmd::new(kernel, 0.8);
            let (v, _) = drift_ops::drift(&op, &lib(&x, "x"), &lib(&y, "y")).unwrap();
            let half_mmd2 =
                |c: &Cloud| 0.5 * mmd_squared(&op, &lib(c, "x"), &lib(&y, "y")).unwrap();
            check_gradient(
                &format!("mmd {kernel:?}"),
                &v,
                &x,
                1.0,
                1e-5,
                1e-6,
                &half_mmd2,
            );
            assert!(mmd_squared(&op, &lib(&x, "x"), &lib(&y, "y")).unwrap() > 0.0);
        }
    }
}

#[test]
fn sliced_drift_is_minus_d_times_the_gradient_of_half_sw2() {
    let mut r = rng(24);
    for (n, m, d) in [(7, 7, 2), (6, 11, 3), (9, 4, 5)] {
        for weighted in [false, true] {
            let x = Cloud::random(&mut r, n, d, 0.0, weighted);
            let y = Cloud::random(&mut r, m, d, 0.3, weighted);
            let op = SlicedWasserstein {
                directions: 16,
                seed: 5,
                resample_each_step: false,
            };
            let (v, _) = drift_ops::drift(&op, &lib(&x, "x"), &lib(&y, "y")).unwrap();
            let half_sw2 = |c: &Cloud| {
                0.5 * sliced_wasserstein_squared(&op, &lib(c, "x"), &lib(&y, "y"), 0).unwrap()
            };
            // Small steps keep every projected rank fixed (away from ties).
            check_gradient("sliced", &v, &x, d as f64, 1e-7, 1e-6, &half_sw2);
        }
    }
}

#[test]
fn consistent_families_vanish_at_x_equals_y() {
    let mut r = rng(25);
    let x = Cloud::random(&mut r, 25, 2, 0.0, true);
    let xl = lib(&x, "x");
    let max_abs = |v: &[f64]| v.iter().fold(0.0f64, |m, c| m.max(c.abs()));
    let ops: Vec<(&str, Box<dyn drift_api::DriftOperator>, f64)> = vec![
        (
            "mmd gaussian",
            Box::new(Mmd::new(MmdKernel::Gaussian, 0.5)),
            1e-13,
        ),
        (
            "mmd laplace",
            Box::new(Mmd::new(MmdKernel::Laplace, 0.5)),
            1e-13,
        ),
        (
            "score_difference",
            Box::new(ScoreDifference::new(0.5)),
            1e-13,
        ),
        ("sliced", Box::new(SlicedWasserstein::new(32, 1)), 1e-13),
        (
            "sinkhorn_divergence",
            Box::new(SinkhornDivergence {
                temperature: 0.5,
                sinkhorn: Sinkhorn::new(10_000, 1e-13),
            }),
            1e-9,
        ),
    ];
    for (name, op, tol) in ops {
        let (v, _) = drift_ops::drift(op.as_ref(), &xl, &xl).unwrap();
        assert!(max_abs(&v) < tol, "{name}: {}", max_abs(&v));
    }
    for kind in [
        FDivergenceKind::Kl,
        FDivergenceKind::ReverseKl,
        FDivergenceKind::ChiSquared,
        FDivergenceKind::JensenShannon,
        FDivergenceKind::SquaredHellinger,
    ] {
        let (v, _) = drift_ops::drift(&FDivergence::new(kind, 0.5), &xl, &xl).unwrap();
        assert!(max_abs(&v) < 1e-13, "{kind:?}");
    }
    let mmd = Mmd::new(MmdKernel::Gaussian, 0.5);
    assert!(mmd_squared(&mmd, &xl, &xl).unwrap().abs() < 1e-14);
}

#[test]
fn sinkhorn_k_interpolates_from_one_sided_to_sinkhorn() {
    let mut r = rng(26);
    let x = Cloud::random(&mut r, 20, 2, 0.0, true);
    let y = Cloud::random(&mut r, 30, 2, 0.5, false);
    let (xl, yl) = (lib(&x, "x"), lib(&y, "y"));
    for (kernel, k) in [(K::Gaussian, K::Gaussian), (K::Laplace, K::Laplace)] {
        let mut zero = SinkhornK::new(0, 0.3);
        zero.kernel = kernel.boxed();
        let one_sided = OneSided {
            kernel: k.boxed(),
            temperature: 0.3,
            mask_self: false,
        };
        let (a, _) = drift_ops::drift(&zero, &xl, &yl).unwrap();
        let (b, _) = drift_ops::drift(&one_sided, &xl, &yl).unwrap();
        assert!(rel_err(&a, &b) < 1e-13);

        let full = SinkhornDrift {
            self_transport: Default::default(),
            kernel: k.boxed(),
            temperature: 0.3,
            sinkhorn: Sinkhorn::new(100_000, 1e-13),
        };
        let (target, _) = drift_ops::drift(&full, &xl, &yl).unwrap();
        let mut previous = f64::INFINITY;
        for iterations in [1, 4, 16, 64, 2000] {
            let mut op = SinkhornK::new(iterations, 0.3);
            op.kernel = kernel.boxed();
            let (v, _) = drift_ops::drift(&op, &xl, &yl).unwrap();
            let err = rel_err(&v, &target);
            assert!(
                err <= previous + 1e-12,
                "K = {iterations}: {err} > {previous}"
            );
            previous = err;
        }
        assert!(previous < 1e-8, "K = 2000 is still {previous} away");
    }
}

/// Two data modes at 0 and 1 on a line (two points each); particles cover the left mode and one sits
/// between the modes, nearer the left.
fn two_modes_one_covered() -> (PointCloud<f64>, PointCloud<f64>) {
    let y = PointCloud::new("y", vec![0.0, 0.01, 1.0, 1.01], 1).unwrap();
    let x = PointCloud::new("x", vec![0.0, 0.02, 0.01, 0.4], 1).unwrap();
    (x, y)
}

#[test]
fn at_low_temperature_one_sided_goes_to_the_nearest_mode_but_sinkhorn_fills_the_empty_one() {
    let (x, y) = two_modes_one_covered();
    let tau = 1e-3;
    // One-sided (unmasked: a particle's own sample dominates its repulsion): nearest mode only.
    let one_sided = OneSided {
        kernel: Box::new(Laplace),
        temperature: tau,
        mask_self: false,
    };
    let (v, _) = drift_ops::drift(&one_sided, &x, &y).unwrap();
    assert!(
        v[3] < -0.3,
        "one-sided should pull x = 0.4 to the near mode at 0, got {}",
        v[3]
    );
    // Sinkhorn: half the mass must reach the mode at 1; the particles nearest to it go there.
    let sinkhorn = SinkhornDrift {
        self_transport: Default::default(),
        kernel: Box::new(Gaussian),
        temperature: tau,
        sinkhorn: Sinkhorn::new(5000, 1e-9).with_epsilon_scaling(0.5),
    };
    let (v, report) = drift_ops::drift(&sinkhorn, &x, &y).unwrap();
    assert!(
        report
            .couplings
            .iter()
            .all(|c| c.marginal_error.unwrap() < 1e-3),
        "{report:?}"
    );
    assert!(
        v[3] > 0.5,
        "Sinkhorn should send x = 0.4 to the uncovered mode at 1, got {}",
        v[3]
    );
    let moved_right: f64 = v.iter().filter(|c| **c > 0.5).count() as f64;
    assert_eq!(
        moved_right, 2.0,
        "half of the four particles go to the empty mode: {v:?}"
    );
}

#[test]
fn the_sinkhorn_proxy_leaves_a_far_uncovered_mode_empty() {
    // Data: a mode at 0 and a far mode at 10; every particle sits at the near mode.
    let y = PointCloud::new("y", vec![0.0, 0.05, 10.0, 10.05], 1).unwrap();
    let x = PointCloud::new("x", vec![0.0, 0.02, 0.04, 0.06], 1).unwrap();
    let tau = 0.05;
    let proxy = SinkhornProxy::new(tau);
    let (v, _) = drift_ops::drift(&proxy, &x, &y).unwrap();
    assert!(
        v.iter().all(|c: &f64| c.abs() < 0.1),
        "proxy moved a particle far: {v:?}"
    );
    let sinkhorn = SinkhornDrift {
        self_transport: Default::default(),
        kernel: Box::new(Gaussian),
        temperature: tau,
        sinkhorn: Sinkhorn::new(5000, 1e-9).with_epsilon_scaling(0.5),
    };
    let (v, _) = drift_ops::drift(&sinkhorn, &x, &y).unwrap();
    assert_eq!(v.iter().filter(|c| **c > 9.0).count(), 2, "{v:?}");
}

#[test]
fn every_family_is_finite_at_very_low_temperature_in_both_precisions() {
    let mut r = rng(27);
    let x = Cloud::random(&mut r, 40, 2, 0.0, true);
    let y = Cloud::random(&mut r, 30, 2, 0.5, false);
    let tau = 1e-4;
    let ops: Vec<Box<dyn drift_api::DriftOperator>> = vec![
        Box::new(Mmd::new(MmdKernel::Gaussian, tau)),
        Box::new(Mmd::new(MmdKernel::Laplace, tau)),
        Box::new(ScoreDifference::new(tau)),
        Box::new(FDivergence::new(FDivergenceKind::ChiSquared, tau)),
        Box::new(FDivergence::new(FDivergenceKind::ReverseKl, tau)),
        Box::new(FDivergence::new(FDivergenceKind::SquaredHellinger, tau)),
        Box::new(SinkhornK::new(3, tau)),
        Box::new(SinkhornDivergence {
            temperature: tau,
            sinkhorn: Sinkhorn::new(50, 1e-6).with_epsilon_scaling(0.5),
        }),
    ];
    for op in &ops {
        run_finite::<f64>(op.as_ref(), &x, &y);
        run_finite::<f32>(op.as_ref(), &x, &y);
    }
}

fn run_finite<T: Real>(op: &dyn drift_api::DriftOperator, x: &Cloud, y: &Cloud) {
    let (v, report) = drift_ops::drift(op, &x.to_lib::<T>("x"), &y.to_lib::<T>("y"))
        .unwrap_or_else(|e| panic!("{op:?}: {e}"));
    assert!(
        v.iter().all(|c| c.is_finite()) && report.drift_norm.is_finite(),
        "{op:?}"
    );
}
