//! The facts of `docs/MATH.md`: zero drift at `X = Y` for the consistent operators, permutation
//! equivariance, translation invariance, rotation equivariance, finiteness at very low temperature.

mod common;

use common::*;
use drift_api::DriftOperator;
use drift_ops::{
    CrossMinusSelf, DengAlg2, DisplacementKind, JointCrossMinusSelf, OneSided, Sinkhorn,
    SinkhornDrift, SinkhornProxy, Term,
};
use proptest::prelude::*;
use rand::seq::SliceRandom;

fn max_abs(v: &[f64]) -> f64 {
    v.iter().fold(0.0f64, |m, x| m.max(x.abs()))
}

/// The named operators with settings under which the invariances hold exactly (fixed Sinkhorn
/// iteration counts commute with permutations and translations).
fn named(k: K, tau: f64) -> Vec<(&'static str, Box<dyn DriftOperator>)> {
    vec![
        (
            "one_sided",
            Box::new(OneSided {
                kernel: k.boxed(),
                temperature: tau,
                mask_self: true,
            }),
        ),
        (
            "deng_alg2",
            Box::new(DengAlg2 {
                kernel: k.boxed(),
                temperature: tau,
                mask_self: true,
            }),
        ),
        (
            "sinkhorn_proxy",
            Box::new(SinkhornProxy {
                kernel: k.boxed(),
                temperature: tau,
                mask_self: false,
            }),
        ),
        (
            "sinkhorn_drift",
            Box::new(SinkhornDrift {
                kernel: k.boxed(),
                temperature: tau,
                sinkhorn: Sinkhorn::new(15, 0.0),
                self_transport: Default::default(),
            }),
        ),
    ]
}

#[test]
fn consistent_operators_vanish_at_x_equals_y() {
    let mut r = rng(11);
    for k in K::ALL {
        let x = Cloud::random(&mut r, 30, 2, 0.0, true);
        let xl = x.to_lib::<f64>("x");
        let sinkhorn = SinkhornDrift {
            kernel: k.boxed(),
            temperature: 0.3,
            sinkhorn: Sinkhorn::new(20_000, 1e-13),
            self_transport: Default::default(),
        };
        let (v, _) = drift_ops::drift(&sinkhorn, &xl, &xl).unwrap();
        assert!(max_abs(&v) < 1e-9, "sinkhorn_drift {k:?}: {}", max_abs(&v));
        let proxy = SinkhornProxy {
            kernel: k.boxed(),
            temperature: 0.3,
            mask_self: false,
        };
        let (v, _) = drift_ops::drift(&proxy, &xl, &xl).unwrap();
        assert!(max_abs(&v) < 1e-13, "sinkhorn_proxy {k:?}");
        let unmasked = OneSided {
            kernel: k.boxed(),
            temperature: 0.3,
            mask_self: false,
        };
        let (v, _) = drift_ops::drift(&unmasked, &xl, &xl).unwrap();
        assert!(max_abs(&v) < 1e-13, "one_sided unmasked {k:?}");
        // The masked one-sided drift is *not* zero on finite samples: the mask breaks the symmetry.
        let (v, _) = drift_ops::drift(&OneSided::new(0.3), &xl, &xl).unwrap();
        assert!(max_abs(&v) > 1e-3, "one_sided masked should not vanish");
    }
}

#[test]
fn nothing_is_nan_or_infinite_at_very_low_temperature() {
    let mut r = rng(12);
    let tau = 1e-4;
    let x = Cloud::random(&mut r, 64, 2, 0.0, true);
    let y = Cloud::random(&mut r, 48, 2, 0.5, false);
    for k in K::ALL {
        let mut ops = named(k, tau);
        ops.push((
            "sinkhorn_drift converging",
            Box::new(SinkhornDrift {
                kernel: k.boxed(),
                temperature: tau,
                sinkhorn: Sinkhorn::new(200, 1e-6).with_epsilon_scaling(0.5),
                self_transport: Default::default(),
            }),
        ));
        for c in C::ALL {
            for (w, d) in [
                (RowWeighting::Unit, DisplacementKind::Mean),
                (RowWeighting::MassProduct, DisplacementKind::Unit),
                (
                    RowWeighting::Masses { scale: 2.0 / tau },
                    DisplacementKind::Mean,
                ),
            ] {
                let mut t = Term::new(k.boxed(), c.boxed(), tau);
                t.displacement = d;
                let mut t2 = Term::new(k.boxed(), c.boxed(), tau);
                t2.displacement = d;
                ops.push((
                    "cross_minus_self",
                    Box::new(CrossMinusSelf {
                        attraction: t,
                        repulsion: t2,
                        mask_self: true,
                        weighting: w.boxed(),
                    }),
                ));
                ops.push((
                    "joint",
                    Box::new(JointCrossMinusSelf {
                        term: Term::new(k.boxed(), c.boxed(), tau),
                        mask_self: true,
                        weighting: w.boxed(),
                    }),
                ));
            }
        }
        for (name, op) in &ops {
            let (v, rep) = drift_ops::drift(op.as_ref(), &x.to_lib::<f64>("x"), &y.to_lib("y"))
                .unwrap_or_else(|e| panic!("{name} {k:?} f64: {e}"));
            assert!(v.iter().all(|c| c.is_finite()) && rep.drift_norm.is_finite());
            let (v, rep) = drift_ops::drift(op.as_ref(), &x.to_lib::<f32>("x"), &y.to_lib("y"))
                .unwrap_or_else(|e| panic!("{name} {k:?} f32: {e}"));
            assert!(v.iter().all(|c| c.is_finite()) && rep.drift_norm.is_finite());
        }
    }
}

fn eval(op: &dyn DriftOperator, x: &Cloud, y: &Cloud) -> Vec<f64> {
    drift_ops::drift(op, &x.to_lib::<f64>("x"), &y.to_lib::<f64>("y"))
        .unwrap()
        .0
}

fn close(a: &[f64], b: &[f64]) -> bool {
    let scale = 1e-12 + max_abs(b);
    a.iter().zip(b).all(|(p, q)| (p - q).abs() <= 1e-8 * scale)
}

fn clouds() -> impl Strategy<Value = (Cloud, Cloud, u64)> {
    (
        2usize..10,
        1usize..10,
        1usize..4,
        any::<u64>(),
        any::<bool>(),
    )
        .prop_map(|(n, m, d, seed, weighted)| {
            let mut r = rng(seed);
            let x = Cloud::random(&mut r, n, d, 0.0, weighted);
            let y = Cloud::random(&mut r, m, d, 0.3, weighted);
            (x, y, seed)
        })
}

fn permute(c: &Cloud, perm: &[usize]) -> Cloud {
    Cloud::from_parts(
        perm.iter().map(|&i| c.pts[i].clone()).collect(),
        c.raw_w
            .as_ref()
            .map(|w| perm.iter().map(|&i| w[i]).collect()),
    )
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(48))]

    #[test]
    fn permutation_equivariance((x, y, seed) in clouds(), tau in 0.1f64..2.0) {
        let mut r = rng(seed ^ 0x5eed);
        let mut px: Vec<usize> = (0..x.n()).collect();
        px.shuffle(&mut r);
        let mut py: Vec<usize> = (0..y.n()).collect();
        py.shuffle(&mut r);
        let (xp, yp) = (permute(&x, &px), permute(&y, &py));
        let d = x.d();
        for k in K::ALL {
            for (name, op) in named(k, tau) {
                let v = eval(op.as_ref(), &x, &y);
                let vp = eval(op.as_ref(), &xp, &yp);
                let expect: Vec<f64> = px.iter().flat_map(|&i| v[i * d..(i + 1) * d].to_vec()).collect();
                prop_assert!(close(&vp, &expect), "{} {:?}", name, k);
            }
        }
    }

    #[test]
    fn translation_invariance((x, y, _) in clouds(), tau in 0.1f64..2.0, shift in -5.0f64..5.0) {
        let moved = |c: &Cloud| Cloud::from_parts(
            c.pts.iter().map(|p| p.iter().enumerate().map(|(k, v)| v + shift * (k as f64 + 1.0)).collect()).collect(),
            c.raw_w.clone(),
        );
        for k in K::ALL {
            for (name, op) in named(k, tau) {
                let v = eval(op.as_ref(), &x, &y);
                let vt = eval(op.as_ref(), &moved(&x), &moved(&y));
                let scale = 1e-12 + max_abs(&v);
                prop_assert!(vt.iter().zip(&v).all(|(a, b)| (a - b).abs() <= 1e-7 * scale), "{} {:?}", name, k);
            }
        }
    }

    #[test]
    fn rotation_equivariance_in_the_plane(n in 2usize..10, m in 1usize..10, seed in any::<u64>(), angle in 0.0f64..6.3, tau in 0.1f64..2.0) {
        let mut r = rng(seed);
        let x = Cloud::random(&mut r, n, 2, 0.0, false);
        let y = Cloud::random(&mut r, m, 2, 0.3, true);
        let (c, s) = (angle.cos(), angle.sin());
        let rot = |p: &[f64]| vec![c * p[0] - s * p[1], s * p[0] + c * p[1]];
        let rotated = |cl: &Cloud| Cloud::from_parts(cl.pts.iter().map(|p| rot(p)).collect(), cl.raw_w.clone());
        for k in K::ALL {
            for (name, op) in named(k, tau) {
                let v = eval(op.as_ref(), &x, &y);
                let vr = eval(op.as_ref(), &rotated(&x), &rotated(&y));
                let expect: Vec<f64> = v.chunks(2).flat_map(rot).collect();
                let scale = 1e-12 + max_abs(&v);
                prop_assert!(vr.iter().zip(&expect).all(|(a, b)| (a - b).abs() <= 1e-8 * scale), "{} {:?}", name, k);
            }
        }
    }
}

#[test]
fn f32_and_f64_agree_on_the_same_inputs() {
    let mut r = rng(13);
    let x = Cloud::random(&mut r, 100, 3, 0.0, true).rounded_f32();
    let y = Cloud::random(&mut r, 80, 3, 0.4, false).rounded_f32();
    for k in K::ALL {
        for (name, op) in named(k, 0.5) {
            let v64 = eval(op.as_ref(), &x, &y);
            let (v32, _) =
                drift_ops::drift(op.as_ref(), &x.to_lib::<f32>("x"), &y.to_lib::<f32>("y"))
                    .unwrap();
            assert!(rel_err(&v32, &v64) < 1e-4, "{name} {k:?}");
        }
    }
}
