//! Every kernel × coupling × operator against the dense f64 reference of `common`, in f64 (relative
//! error < 1e-10) and f32 (< 1e-4), over shapes with N != M, D = 1, rows and columns spanning several
//! tiles and row blocks, weighted and unweighted points, masked and unmasked repulsion diagonals.

mod common;

use common::*;
use drift_api::kit::{reduce, Displacement, RowReduction};
use drift_api::{DriftOperator, Real};
use drift_ops::{
    CpuBackend, CrossMinusSelf, DengAlg2, DisplacementKind, FDivergenceKind, JointCrossMinusSelf,
    OneSided, Sinkhorn, SinkhornDrift, SinkhornProxy, Term,
};

/// (N, M, D): N != M, D = 1, M beyond one column tile, N beyond one row block (and a masked self
/// term spanning tiles).
type Shape = (usize, usize, usize);

/// The last two have D >= 16: the Gram-form distances, with columns across tiles and padded blocks.
const SHAPES: [Shape; 8] = [
    (5, 7, 2),
    (9, 4, 1),
    (12, 12, 3),
    (6, 300, 2),
    (40, 33, 5),
    (290, 9, 2),
    (37, 270, 17),
    (6, 5, 40),
];
const WEIGHTINGS: [RowWeighting; 5] = [
    RowWeighting::Unit,
    RowWeighting::MassProduct,
    RowWeighting::Masses { scale: 0.7 },
    RowWeighting::FDivergence {
        divergence: FDivergenceKind::ChiSquared,
    },
    RowWeighting::FDivergence {
        divergence: FDivergenceKind::SquaredHellinger,
    },
];
const DISPS: [DisplacementKind; 2] = [DisplacementKind::Mean, DisplacementKind::Unit];

/// A deterministic case list: every kernel and coupling on every shape, with the weighting,
/// displacement, mask, weights and temperature cycled so that each value meets each shape.
fn cases() -> Vec<(K, C, Shape, usize)> {
    let mut out = Vec::new();
    for k in K::ALL {
        for c in C::ALL {
            for s in SHAPES {
                for variant in 0..6 {
                    out.push((k, c, s, variant));
                }
            }
        }
    }
    out
}

fn inputs(seed: u64, s: Shape, weighted: bool) -> (Cloud, Cloud) {
    let mut r = rng(seed);
    let x = Cloud::random(&mut r, s.0, s.2, 0.0, weighted);
    let y = Cloud::random(&mut r, s.1, s.2, 0.4, weighted);
    (x, y)
}

fn term(k: K, c: C, tau: f64, disp: DisplacementKind) -> (Term, RefTerm) {
    let mut t = Term::new(k.boxed(), c.boxed(), tau);
    t.displacement = disp;
    (t, RefTerm { k, c, tau, disp })
}

fn check_operator<T: Real>(
    op: &dyn DriftOperator,
    x: &Cloud,
    y: &Cloud,
    want: &[f64],
    tol: f64,
    label: &str,
) {
    let (v, report) = drift_ops::drift(op, &x.to_lib::<T>("x"), &y.to_lib::<T>("y"))
        .unwrap_or_else(|e| panic!("{label}: {e}"));
    let err = rel_err(&v, want);
    assert!(err < tol, "{label}: relative error {err:e} >= {tol:e}");
    assert!(report.drift_norm.is_finite());
}

fn split_cases<T: Real>(tol: f64) {
    for (idx, (k, c, s, variant)) in cases().into_iter().enumerate() {
        let weighted = variant % 2 == 1;
        let mask = variant % 3 != 0;
        let tau = [0.5, 1.7][variant % 2];
        let w = WEIGHTINGS[idx % WEIGHTINGS.len()];
        let disp = DISPS[(variant / 2) % 2];
        let (x, y) = inputs(idx as u64, s, weighted);
        let (x, y) = if T::PRECISION == drift_api::Precision::F32 {
            (x.rounded_f32(), y.rounded_f32())
        } else {
            (x, y)
        };
        let (cross, rc) = term(k, c, tau, disp);
        let (rep, rr) = term(k, c, tau * 0.8, disp);
        let op = CrossMinusSelf {
            attraction: cross,
            repulsion: rep,
            mask_self: mask,
            weighting: w.boxed(),
        };
        let want = split_drift(&x, &y, rc, rr, mask, w);
        let label = format!(
            "split {k:?} {c:?} {s:?} mask={mask} weighted={weighted} {w:?} {disp:?} tau={tau}"
        );
        check_operator::<T>(&op, &x, &y, &want, tol, &label);
    }
}

fn joint_cases<T: Real>(tol: f64) {
    for (idx, (k, c, s, variant)) in cases().into_iter().enumerate() {
        let weighted = variant % 2 == 1;
        let mask = variant % 3 != 0;
        let tau = [0.6, 1.4][variant % 2];
        let w = WEIGHTINGS[idx % WEIGHTINGS.len()];
        let disp = DISPS[(variant / 2) % 2];
        let (x, y) = inputs(1000 + idx as u64, s, weighted);
        let (x, y) = if T::PRECISION == drift_api::Precision::F32 {
            (x.rounded_f32(), y.rounded_f32())
        } else {
            (x, y)
        };
        let (t, rt) = term(k, c, tau, disp);
        let op = JointCrossMinusSelf {
            term: t,
            mask_self: mask,
            weighting: w.boxed(),
        };
        let want = joint_drift(&x, &y, rt, mask, w);
        let label =
            format!("joint {k:?} {c:?} {s:?} mask={mask} weighted={weighted} {w:?} {disp:?}");
        check_operator::<T>(&op, &x, &y, &want, tol, &label);
    }
}

#[test]
fn split_operator_every_kernel_and_coupling_f64() {
    split_cases::<f64>(1e-10);
}

#[test]
fn split_operator_every_kernel_and_coupling_f32() {
    split_cases::<f32>(1e-4);
}

#[test]
fn joint_operator_every_kernel_and_coupling_f64() {
    joint_cases::<f64>(1e-10);
}

#[test]
fn joint_operator_every_kernel_and_coupling_f32() {
    joint_cases::<f32>(1e-4);
}

/// The named built-ins against the reference built from their documented parts.
fn named_cases<T: Real>(tol: f64) {
    let mean = DisplacementKind::Mean;
    for (idx, s) in SHAPES.iter().enumerate() {
        for k in K::ALL {
            for weighted in [false, true] {
                let (x, y) = inputs(5000 + idx as u64, *s, weighted);
                let (x, y) = if T::PRECISION == drift_api::Precision::F32 {
                    (x.rounded_f32(), y.rounded_f32())
                } else {
                    (x, y)
                };
                let tau = 0.8;
                let label = |name: &str| format!("{name} {k:?} {s:?} weighted={weighted}");
                let rt = |c: C| RefTerm {
                    k,
                    c,
                    tau,
                    disp: mean,
                };

                let op = OneSided {
                    kernel: k.boxed(),
                    temperature: tau,
                    mask_self: true,
                };
                let want = split_drift(&x, &y, rt(C::Row), rt(C::Row), true, RowWeighting::Unit);
                check_operator::<T>(&op, &x, &y, &want, tol, &label("one_sided"));

                let op = SinkhornProxy {
                    kernel: k.boxed(),
                    temperature: tau,
                    mask_self: false,
                };
                let want = split_drift(
                    &x,
                    &y,
                    rt(C::Proxy),
                    rt(C::Proxy),
                    false,
                    RowWeighting::MassProduct,
                );
                check_operator::<T>(&op, &x, &y, &want, tol, &label("sinkhorn_proxy"));

                let op = SinkhornDrift {
                    kernel: k.boxed(),
                    temperature: tau,
                    sinkhorn: Sinkhorn::new(12, 0.0),
                    self_transport: Default::default(),
                };
                let want = split_drift(
                    &x,
                    &y,
                    rt(C::Sinkhorn(12)),
                    rt(C::Sinkhorn(12)),
                    false,
                    RowWeighting::Unit,
                );
                check_operator::<T>(&op, &x, &y, &want, tol, &label("sinkhorn_drift"));

                let op = DengAlg2 {
                    kernel: k.boxed(),
                    temperature: tau,
                    mask_self: true,
                };
                let want = joint_drift(&x, &y, rt(C::Proxy), true, RowWeighting::MassProduct);
                check_operator::<T>(&op, &x, &y, &want, tol, &label("deng_alg2"));
                if !weighted {
                    let literal = deng_alg2_literal(k, tau, &x.pts, &y.pts);
                    check_operator::<T>(&op, &x, &y, &literal, tol, &label("deng_alg2 literal"));
                }
            }
        }
    }
}

#[test]
fn named_operators_match_reference_f64() {
    named_cases::<f64>(1e-10);
}

#[test]
fn named_operators_match_reference_f32() {
    named_cases::<f32>(1e-4);
}

/// The backend primitive itself: log-sum-exp and both displacements with column potentials and a
/// masked diagonal, across tiles and row blocks.
fn reduction_cases<T: Real>(tol: f64) {
    for (idx, &(n, m, d)) in [
        (3, 3, 1),
        (70, 70, 2),
        (33, 600, 3),
        (513, 513, 2),
        (70, 70, 32),
        (37, 300, 24),
    ]
    .iter()
    .enumerate()
    {
        let mut r = rng(77 + idx as u64);
        let x = Cloud::random(&mut r, n, d, 0.0, false);
        let y = if n == m {
            x.clone()
        } else {
            Cloud::random(&mut r, m, d, 0.3, false)
        };
        let g: Vec<f64> = (0..m)
            .map(|j| ((j * 7919) % 13) as f64 * 0.3 - 2.0)
            .collect();
        for k in K::ALL {
            for (mode, kind) in [
                (Displacement::Mean, DisplacementKind::Mean),
                (Displacement::Unit, DisplacementKind::Unit),
            ] {
                let mask = n == m;
                let (xl, yl) = (x.to_lib::<T>("x"), y.to_lib::<T>("y"));
                let gt: Vec<T> = g.iter().map(|v| T::of(*v)).collect();
                let mut lse_out = vec![T::zero(); n];
                let mut disp = vec![T::zero(); n * d];
                reduce(
                    &CpuBackend,
                    RowReduction {
                        rows: &xl,
                        cols: &yl,
                        kernel: k.boxed().as_ref(),
                        tau: T::of(0.3),
                        col_potential: Some(&gt),
                        mask_diagonal: mask,
                        displacement: mode,
                        origin: None,
                        lse: &mut lse_out,
                        disp: Some(&mut disp),
                    },
                )
                .unwrap();
                let block = [Block {
                    pts: &y.pts,
                    log_b: vec![0.0; m],
                    mask,
                }];
                let plan = Plan {
                    f: Some(vec![0.0; n]),
                    g: vec![g.clone()],
                    error: None,
                    mass_per_row_weight: None,
                };
                let (masses, disps, _, _) = &block_terms(k, 0.3, &x.pts, &block, &plan, kind)[0];
                let want_lse: Vec<f64> = masses.iter().map(|v| v.ln()).collect();
                let want_disp: Vec<f64> = disps.iter().flatten().cloned().collect();
                let e1 = rel_err(&lse_out, &want_lse);
                let e2 = rel_err(&disp, &want_disp);
                assert!(
                    e1 < tol && e2 < tol,
                    "{k:?} {mode:?} n={n} m={m}: {e1:e} {e2:e}"
                );
            }
        }
    }
}

#[test]
fn row_reduction_matches_reference_f64() {
    reduction_cases::<f64>(1e-11);
}

#[test]
fn row_reduction_matches_reference_f32() {
    reduction_cases::<f32>(1e-5);
}

/// The other families built on the engines, against the reference from their documented parts.
fn family_cases<T: Real>(tol: f64) {
    use drift_ops::{FDivergence, Mmd, MmdKernel, ScoreDifference, SinkhornDivergence, SinkhornK};
    for (idx, s) in SHAPES.iter().enumerate() {
        for weighted in [false, true] {
            let (x, y) = inputs(7000 + idx as u64, *s, weighted);
            let (x, y) = if T::PRECISION == drift_api::Precision::F32 {
                (x.rounded_f32(), y.rounded_f32())
            } else {
                (x, y)
            };
            let tau = 0.7;
            let label = |name: &str| format!("{name} {s:?} weighted={weighted}");
            let rt = |k: K, c: C, disp: DisplacementKind| RefTerm { k, c, tau, disp };
            let mean = DisplacementKind::Mean;

            let op = Mmd::new(MmdKernel::Gaussian, tau);
            let t = rt(K::Gaussian, C::None, mean);
            let want = split_drift(
                &x,
                &y,
                t,
                t,
                false,
                RowWeighting::Masses { scale: 2.0 / tau },
            );
            check_operator::<T>(&op, &x, &y, &want, tol, &label("mmd gaussian"));

            let op = Mmd::new(MmdKernel::Laplace, tau);
            let t = rt(K::Laplace, C::None, DisplacementKind::Unit);
            let want = split_drift(
                &x,
                &y,
                t,
                t,
                false,
                RowWeighting::Masses { scale: 1.0 / tau },
            );
            check_operator::<T>(&op, &x, &y, &want, tol, &label("mmd laplace"));

            let op = ScoreDifference::new(tau);
            let t = rt(K::Gaussian, C::Row, mean);
            let want = split_drift(&x, &y, t, t, false, RowWeighting::Unit);
            check_operator::<T>(&op, &x, &y, &want, tol, &label("score_difference"));

            for divergence in [
                FDivergenceKind::Kl,
                FDivergenceKind::ReverseKl,
                FDivergenceKind::ChiSquared,
                FDivergenceKind::JensenShannon,
                FDivergenceKind::SquaredHellinger,
            ] {
                let op = FDivergence::new(divergence, tau);
                let want = split_drift(
                    &x,
                    &y,
                    t,
                    t,
                    false,
                    RowWeighting::FDivergence { divergence },
                );
                check_operator::<T>(
                    &op,
                    &x,
                    &y,
                    &want,
                    tol,
                    &label(&format!("f_divergence {divergence:?}")),
                );
            }

            let op = SinkhornK::new(5, tau);
            let t = rt(K::Gaussian, C::Sinkhorn(5), mean);
            let want = split_drift(&x, &y, t, t, false, RowWeighting::Unit);
            check_operator::<T>(&op, &x, &y, &want, tol, &label("sinkhorn_k"));

            let op = SinkhornDivergence {
                temperature: tau,
                sinkhorn: Sinkhorn::new(5, 0.0),
            };
            check_operator::<T>(&op, &x, &y, &want, tol, &label("sinkhorn_divergence"));
        }
    }
}

#[test]
fn family_operators_match_reference_f64() {
    family_cases::<f64>(1e-10);
}

#[test]
fn family_operators_match_reference_f32() {
    family_cases::<f32>(1e-4);
}
