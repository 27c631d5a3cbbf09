//! Zero weights are valid: a zero-weight point carries no mass (every other field is the field
//! computed without it) but still gets a finite field (the limit of its field as its weight goes to
//! zero), and the Sinkhorn marginal error stays finite and honest. Every built-in operator and every
//! file under `plugins/` is checked, with zero weights on `X`, on `Y`, on both and on guidance
//! negatives.

mod common;

use drift_api::kit::PairSets;
use drift_api::kit::Tagged;
use drift_api::Coupling;
use drift_api::{
    apply_drift, load_operator, operator_from_str, ColumnBlock, Context, CouplingProblem,
    DriftError, DriftOperator, DriftProblem, Negatives, PointCloud, Potentials, Result,
};
use drift_ops::{CpuBackend, Gaussian, Sinkhorn};
use proptest::prelude::*;

const D: usize = 2;

/// An operator under test.
struct Case {
    name: String,
    op: Box<dyn DriftOperator>,
    /// Needs guidance negatives to run.
    needs_negatives: bool,
    /// Has a masked repulsion diagonal.
    masked: bool,
    /// Its relative masses count points (joint shares, guidance weights): a point's weight going to
    /// zero changes the count by one, so the field at that point is not continuous at weight 0.
    counts_points: bool,
}

fn named(ron: &str) -> Case {
    let op = operator_from_str(ron, "<test>").unwrap_or_else(|e| panic!("{ron}: {e}"));
    Case {
        name: ron.to_string(),
        needs_negatives: ron.contains("guidance"),
        masked: masked(ron),
        counts_points: ron.contains("joint") || ron.contains("deng") || ron.contains("guidance"),
        op,
    }
}

/// Every named operator (each coupling in the generic engines), then every plugin file.
fn cases() -> Vec<Case> {
    let mut ron: Vec<String> = [
        r#"{"one_sided": (temperature: 0.5)}"#,
        r#"{"one_sided": (temperature: 0.5, kernel: {"gaussian": ()}, mask_self: false)}"#,
        r#"{"deng_alg2": (temperature: 0.5)}"#,
        r#"{"deng_alg2": (temperature: 0.5, mask_self: false)}"#,
        r#"{"sinkhorn_proxy": (temperature: 0.5)}"#,
        r#"{"sinkhorn_proxy": (temperature: 0.5, mask_self: true)}"#,
        r#"{"sinkhorn_drift": (temperature: 0.5, sinkhorn: (max_iters: 200, tol: 1e-9))}"#,
        r#"{"sinkhorn_drift": (temperature: 0.5, sinkhorn: (max_iters: 50, tol: 1e-9, epsilon_scaling: Some(0.7)))}"#,
        r#"{"mmd": (temperature: 0.5, kernel: gaussian)}"#,
        r#"{"mmd": (temperature: 0.5, kernel: laplace)}"#,
        r#"{"score_difference": (temperature: 0.5)}"#,
        r#"{"sinkhorn_k": (temperature: 0.5, iterations: 3)}"#,
        r#"{"sinkhorn_divergence": (temperature: 0.5)}"#,
        r#"{"sliced_wasserstein": (directions: 16, seed: 3, resample_each_step: false)}"#,
        r#"{"guidance": (operator: {"one_sided": (temperature: 0.5)}, alpha: 2.0)}"#,
        r#"{"guidance": (operator: {"deng_alg2": (temperature: 0.5)}, alpha: 2.0)}"#,
        r#"{"guidance": (operator: {"sinkhorn_drift": (temperature: 0.5, sinkhorn: (max_iters: 200, tol: 1e-9))}, alpha: 3.0)}"#,
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    for divergence in [
        "kl",
        "reverse_kl",
        "chi_squared",
        "jensen_shannon",
        "squared_hellinger",
    ] {
        ron.push(format!(
            r#"{{"f_divergence": (divergence: {divergence}, temperature: 0.5)}}"#
        ));
    }
    let couplings = [
        r#"{"unnormalised": ()}"#,
        r#"{"row": ()}"#,
        r#"{"proxy": ()}"#,
        r#"{"sinkhorn": (max_iters: 200, tol: 1e-9)}"#,
    ];
    for c in couplings {
        for (mask, weighting) in [
            (false, r#"{"unit": ()}"#),
            (true, r#"{"unit": ()}"#),
            (false, r#"{"mass_product": ()}"#),
            (true, r#"{"masses": (scale: 2.0)}"#),
        ] {
            ron.push(format!(
                r#"{{"cross_minus_self": (attraction: (kernel: {{"gaussian": ()}}, coupling: {c}, temperature: 0.5), repulsion: (kernel: {{"laplace": ()}}, coupling: {c}, temperature: 0.5), mask_self: {mask}, weighting: {weighting})}}"#
            ));
            ron.push(format!(
                r#"{{"joint": (term: (kernel: {{"laplace": ()}}, coupling: {c}, temperature: 0.5), mask_self: {mask}, weighting: {weighting})}}"#
            ));
        }
    }
    let mut all: Vec<Case> = ron.iter().map(|s| named(s)).collect();
    let files = common::plugin_files();
    for file in files {
        let text = std::fs::read_to_string(&file).unwrap();
        all.push(Case {
            name: file.file_name().unwrap().to_string_lossy().into_owned(),
            op: load_operator(&file).unwrap_or_else(|e| panic!("{e}")),
            needs_negatives: text.contains("guidance"),
            masked: masked(&text),
            counts_points: text.contains("joint") || text.contains("deng_alg2"),
        });
    }
    all
}

/// Points in a few clusters, from a seed (a small linear congruential generator keeps the test
/// independent of any random crate's stream).
fn coords(n: usize, seed: u64, offset: f64) -> Vec<f64> {
    let mut s = seed
        .wrapping_mul(6364136223846793005)
        .wrapping_add(1442695040888963407);
    (0..n * D)
        .map(|k| {
            s = s
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            let u = (s >> 11) as f64 / (1u64 << 53) as f64;
            offset + 1.5 * u - 0.75 + 0.3 * ((k / D) % 3) as f64
        })
        .collect()
}

fn cloud(name: &str, data: Vec<f64>, weights: Option<Vec<f64>>) -> PointCloud<f64> {
    let p = PointCloud::new(name, data, D).unwrap();
    match weights {
        Some(w) => p.with_weights(w).unwrap(),
        None => p,
    }
}

/// The same cloud without its zero-weight points.
fn without_zeros(p: &PointCloud<f64>) -> PointCloud<f64> {
    let Some(w) = p.weights() else {
        return p.clone();
    };
    let keep: Vec<usize> = (0..p.len()).filter(|i| w[*i] > 0.0).collect();
    let data = keep.iter().flat_map(|i| p.point(*i).to_vec()).collect();
    cloud(p.name(), data, Some(keep.iter().map(|i| w[*i]).collect()))
}

/// Runs `op` (with `negatives` at relative weight 1 when given) and returns the field and the
/// report's largest marginal error.
fn run(
    case: &Case,
    x: &PointCloud<f64>,
    y: &PointCloud<f64>,
    negatives: Option<&PointCloud<f64>>,
) -> Result<(Vec<f64>, Option<f64>)> {
    let mut out = vec![0.0; x.len() * D];
    let report = apply_drift(
        case.op.as_ref(),
        DriftProblem {
            backend: &CpuBackend,
            x,
            y,
            context: &Context::default(),
            out: &mut out,
            scale: 1.0,
            negatives: negatives.map(|points| Negatives::new(points, 1.0)),
        },
    )?;
    Ok((out, report.max_marginal_error()))
}

/// Whether an operator's RON text has a masked repulsion diagonal: an explicit mask, or the paper forms of
/// one_sided and deng_alg2 (masked by default).
fn masked(ron: &str) -> bool {
    ron.contains("mask_self: true")
        || ((ron.contains("one_sided") || ron.contains("deng_alg2"))
            && !ron.contains("mask_self: false"))
}

/// Checks (a), (b), (d) for one weight pattern: a finite field, the field of the points with mass
/// equal to the field without the zero-weight points, a finite marginal error.
fn check_pattern(
    case: &Case,
    x: &PointCloud<f64>,
    y: &PointCloud<f64>,
    negatives: Option<&PointCloud<f64>>,
) {
    if case.needs_negatives && negatives.is_none() {
        return;
    }
    // The sliced-Wasserstein flow has no notion of negatives (it refuses them, tested elsewhere).
    if negatives.is_some() && case.name.contains("sliced_wasserstein") {
        return;
    }
    let (xr, yr) = (without_zeros(x), without_zeros(y));
    let nr = negatives.map(without_zeros);
    let full = run(case, x, y, negatives);
    let reduced = run(case, &xr, &yr, nr.as_ref());
    let (v, err) = match (full, reduced) {
        (Ok(full), Ok(reduced)) => {
            let (v, vr) = (&full.0, &reduced.0);
            let scale = 1.0 + vr.iter().fold(0.0f64, |m, c| m.max(c.abs()));
            let mut r = 0;
            for i in 0..x.len() {
                if !x.has_mass(i) {
                    continue;
                }
                for k in 0..D {
                    let (a, b) = (v[i * D + k], vr[r * D + k]);
                    assert!(
                        (a - b).abs() <= 1e-10 * scale,
                        "{}: point {i} coordinate {k}: {a} with zero-weight points, {b} without",
                        case.name
                    );
                }
                r += 1;
            }
            full
        }
        // No field exists: the only point of positive weight with a masked repulsion diagonal. The error is
        // the one the problem without the zero-weight points gives.
        (Err(e), Err(er)) => {
            assert!(
                matches!(e, DriftError::TooFewPoints { found: 1, .. })
                    && matches!(er, DriftError::TooFewPoints { found: 1, .. })
                    && case.masked
                    && e.to_string().contains("positive weight"),
                "{}: {e} / {er}",
                case.name
            );
            return;
        }
        (full, reduced) => panic!(
            "{}: with zero-weight points {:?}, without {:?}",
            case.name,
            full.err(),
            reduced.err()
        ),
    };
    assert!(
        v.iter().all(|c| c.is_finite()),
        "{}: non-finite field {v:?}",
        case.name
    );
    if let Some(e) = err {
        assert!(
            e.is_finite() && e >= 0.0,
            "{}: marginal error {e}",
            case.name
        );
    }
}

fn weighted(n: usize, seed: u64, zeros: &[usize]) -> Vec<f64> {
    (0..n)
        .map(|i| {
            if zeros.contains(&i) {
                0.0
            } else {
                0.5 + ((i as u64 * 7 + seed) % 5) as f64 * 0.25
            }
        })
        .collect()
}

/// Optional per-point weights.
type Weights = Option<Vec<f64>>;

fn one_hot(n: usize, k: usize) -> Vec<f64> {
    (0..n).map(|i| if i == k { 1.0 } else { 0.0 }).collect()
}

/// (a), (b), (d) on the extreme patterns: zeros on X, Y, both and the negatives; one weight 1 and
/// the rest 0 on each side (for a masked repulsion diagonal: the only point of mass is `i` itself).
#[test]
fn extreme_patterns_give_finite_fields_and_carry_no_mass() {
    let (n, m) = (9, 7);
    let x = |w: Option<Vec<f64>>| cloud("x", coords(n, 1, 0.0), w);
    let y = |w: Option<Vec<f64>>| cloud("y", coords(m, 2, 0.4), w);
    let neg = cloud("u", coords(4, 3, -0.5), Some(vec![0.0, 1.0, 0.0, 2.0]));
    let patterns: Vec<(Weights, Weights)> = vec![
        (Some(weighted(n, 1, &[0, 4, 8])), None),
        (None, Some(weighted(m, 2, &[1, 2, 6]))),
        (Some(weighted(n, 3, &[2, 3])), Some(weighted(m, 4, &[0, 5]))),
        (Some(one_hot(n, 3)), None),
        (None, Some(one_hot(m, 6))),
        (Some(one_hot(n, 0)), Some(one_hot(m, 2))),
        (Some(weighted(n, 5, &[0, 1, 2, 3, 4, 5, 6])), None),
    ];
    for case in cases() {
        for (wx, wy) in &patterns {
            let (x, y) = (x(wx.clone()), y(wy.clone()));
            check_pattern(&case, &x, &y, None);
            check_pattern(&case, &x, &y, Some(&neg));
        }
    }
}

/// (c): the field at a zero-weight point is the limit of its field as its weight goes to zero.
#[test]
fn the_field_at_a_zero_weight_point_is_the_limit_of_a_vanishing_weight() {
    let (n, m) = (8, 7);
    let y = cloud("y", coords(m, 12, 0.4), Some(weighted(m, 3, &[4])));
    let neg = cloud("u", coords(3, 13, -0.5), Some(vec![1.0, 0.0, 2.0]));
    for case in cases() {
        if case.counts_points {
            continue;
        }
        for k in [0, 5] {
            let mut w = weighted(n, 7, &[2]);
            // Point k sits at the centroid, inside the bounding box of the points with mass: a
            // point outside would widen the ε-scaling schedule as soon as its weight is positive,
            // which moves the Sinkhorn solution by up to the solver's tolerance.
            let mut data = coords(n, 11, 0.0);
            let with_mass: Vec<usize> = (0..n).filter(|i| *i != k && w[*i] > 0.0).collect();
            for c in 0..D {
                data[k * D + c] =
                    with_mass.iter().map(|i| data[i * D + c]).sum::<f64>() / with_mass.len() as f64;
            }
            w[k] = 0.0;
            let x0 = cloud("x", data.clone(), Some(w.clone()));
            w[k] = 1e-12;
            let xe = cloud("x", data, Some(w));
            let negatives = case.needs_negatives.then_some(&neg);
            let (v0, _) = run(&case, &x0, &y, negatives).unwrap();
            let (ve, _) = run(&case, &xe, &y, negatives).unwrap();
            let scale = 1.0 + ve.iter().fold(0.0f64, |a, c| a.max(c.abs()));
            for c in 0..D {
                let (a, b) = (v0[k * D + c], ve[k * D + c]);
                assert!(
                    (a - b).abs() <= 1e-6 * scale,
                    "{}: point {k}: {a} at weight 0, {b} at weight 1e-12",
                    case.name
                );
            }
        }
    }
}

/// (d): the Sinkhorn coupling's reported error is the L1 error of the plan it returns, with zero
/// weights, and stays finite (the unmet mass) when a point of mass cannot be reached at all.
#[test]
fn sinkhorn_marginal_error_is_finite_and_honest() {
    let x = cloud(
        "x",
        coords(6, 21, 0.0),
        Some(vec![0.0, 1.0, 0.0, 1.0, 1.0, 0.0]),
    );
    let y = cloud("y", coords(5, 22, 0.3), Some(vec![1.0, 0.0, 0.0, 3.0, 1.0]));
    let one = cloud("x", coords(6, 21, 0.0), Some(one_hot(6, 2)));
    for (rows, cols, mask, symmetric) in [
        (&x, &y, false, false),
        (&x, &x, false, true),
        (&x, &x, true, true),
        (&x, &x, true, false),
        // Infeasible: the only point of mass is masked against itself.
        (&one, &one, true, true),
        (&one, &one, true, false),
    ] {
        let (la, lb) = (rows.log_weights(), cols.log_weights());
        let blocks = [ColumnBlock {
            points: cols,
            log_weights: &lb,
            mask_diagonal: mask,
        }];
        for solver in [Sinkhorn::new(40, 0.0), Sinkhorn::new(2000, 1e-10)] {
            let mut out = Potentials::default();
            let report = &solver
                .solve(
                    CouplingProblem {
                        backend: &CpuBackend,
                        kernel: &Gaussian,
                        tau: 0.5,
                        rows,
                        row_log_weights: &la,
                        blocks: &blocks,
                        symmetric,
                        pairs: &PairSets::new(&CpuBackend, &Gaussian, rows, &blocks),
                        out: &mut out,
                        problem: 0,
                    }
                    .tagged(),
                )
                .unwrap();
            let error = report.marginal_error.unwrap();
            assert!(error.is_finite(), "{error}");
            let f = out.f.unwrap();
            let g = &out.g[0];
            assert!(f.iter().chain(g).all(|v| !v.is_nan() && *v < f64::INFINITY));
            // The dense plan of the returned potentials and its column error.
            let (a, b) = (rows.probabilities(), cols.probabilities());
            let (mut row, mut col) = (vec![0.0; rows.len()], vec![0.0; cols.len()]);
            for (i, r) in row.iter_mut().enumerate() {
                for (j, c) in col.iter_mut().enumerate() {
                    if mask && i == j {
                        continue;
                    }
                    let d2: f64 = (0..D)
                        .map(|k| (rows.point(i)[k] - cols.point(j)[k]).powi(2))
                        .sum();
                    let pi = (f[i] + g[j] - d2 / 0.5).exp();
                    *r += pi;
                    *c += pi;
                }
            }
            // The reported error is the column error of the plan the returned potentials give (the
            // symmetric solver returns the plan `exp(f ⊕ f + ℓ)` its error was measured on).
            let dense: f64 = col.iter().zip(&b).map(|(c, b)| (c - b).abs()).sum();
            assert!((dense - error).abs() <= 1e-9, "{dense} vs {error}");
            if !symmetric && !std::ptr::eq(rows, &one) {
                // Rows are exact after the last row update; zero-weight rows carry nothing.
                for (r, a) in row.iter().zip(&a) {
                    assert!((r - a).abs() <= 1e-12, "{r} vs {a}");
                }
            }
            if std::ptr::eq(rows, &one) {
                // The point of mass cannot receive its own mass: the error is at least its mass.
                assert!(error >= 1.0 - 1e-12 && !report.converged, "{error}");
            } else if solver.tol > 0.0 {
                assert!(report.converged, "{report:?}");
            }
        }
    }
}

/// The issue's reproduction: one weight 1 and nineteen 0 on `X`.
#[test]
fn one_weight_one_and_nineteen_zeros() {
    let x = cloud("x", coords(20, 31, 0.0), Some(one_hot(20, 0)));
    let y = cloud("y", coords(12, 32, 0.5), None);
    for case in cases().iter().filter(|c| !c.needs_negatives) {
        match run(case, &x, &y, None) {
            Ok((v, err)) => {
                assert!(v.iter().all(|c| c.is_finite()), "{}", case.name);
                assert!(err.is_none_or(f64::is_finite), "{}", case.name);
            }
            Err(e) => assert!(
                case.masked && matches!(e, DriftError::TooFewPoints { found: 1, .. }),
                "{}: {e}",
                case.name
            ),
        }
    }
    // Unmasked, the single point of mass and the nineteen without all get finite fields.
    let (v, _) = drift_ops::drift(
        &drift_ops::DengAlg2 {
            mask_self: false,
            ..drift_ops::DengAlg2::new(0.5)
        },
        &x,
        &y,
    )
    .unwrap();
    assert!(v.iter().all(|c| c.is_finite()));
}

fn pattern(n: usize) -> impl Strategy<Value = Vec<f64>> {
    proptest::collection::vec(prop_oneof![2 => Just(0.0), 3 => 0.1f64..3.0], n)
        .prop_filter("some mass", |w| w.iter().any(|v| *v > 0.0))
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(12))]

    /// (a), (b), (d) over random weight patterns with zeros on both sides and on the negatives.
    #[test]
    fn random_zero_patterns_carry_no_mass(
        wx in pattern(7),
        wy in pattern(6),
        wu in pattern(3),
        seed in 0u64..1000,
    ) {
        let x = cloud("x", coords(7, seed, 0.0), Some(wx));
        let y = cloud("y", coords(6, seed + 1, 0.3), Some(wy));
        let u = cloud("u", coords(3, seed + 2, -0.4), Some(wu));
        for case in cases() {
            check_pattern(&case, &x, &y, None);
            check_pattern(&case, &x, &y, Some(&u));
        }
    }
}
