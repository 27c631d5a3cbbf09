//! Sinkhorn coupling: marginals within the reported error, honest reports when capped, ε-scaling and
//! warm starts reaching the same plan.

mod common;

use common::*;
use drift_api::kit::PairSets;
use drift_api::kit::Tagged;
use drift_api::Coupling;
use drift_api::{ColumnBlock, CouplingProblem, CouplingReport, Potentials};
use drift_ops::{CpuBackend, Sinkhorn, SinkhornDrift};

/// Solves a Sinkhorn problem between `x` and `y` (or `x` with itself) and returns the dense plan's
/// row and column marginal L1 errors with the report.
fn solve(
    s: &Sinkhorn,
    k: K,
    tau: f64,
    x: &Cloud,
    y: &Cloud,
    symmetric: bool,
) -> (f64, f64, CouplingReport, Potentials<f64>) {
    let (xl, yl) = (x.to_lib::<f64>("x"), y.to_lib::<f64>("y"));
    let (la, lb) = (xl.log_weights(), yl.log_weights());
    let kernel = k.boxed();
    let blocks = [ColumnBlock {
        points: if symmetric { &xl } else { &yl },
        log_weights: if symmetric { &la } else { &lb },
        mask_diagonal: false,
    }];
    let mut out = Potentials::default();
    let report = s
        .solve(
            CouplingProblem {
                backend: &CpuBackend,
                kernel: kernel.as_ref(),
                tau,
                rows: &xl,
                row_log_weights: &la,
                blocks: &blocks,
                symmetric,
                pairs: &PairSets::new(&CpuBackend, kernel.as_ref(), &xl, &blocks),
                out: &mut out,
                problem: 0,
            }
            .tagged(),
        )
        .unwrap();
    let cols = if symmetric { x } else { y };
    let f = out.f.clone().unwrap();
    let g = &out.g[0];
    let mut row = vec![0.0; x.n()];
    let mut col = vec![0.0; cols.n()];
    for i in 0..x.n() {
        for j in 0..cols.n() {
            let d2: f64 = x.pts[i]
                .iter()
                .zip(&cols.pts[j])
                .map(|(a, b)| (a - b) * (a - b))
                .sum();
            let p = (f[i] + g[j] + k.ell(d2, tau)).exp();
            row[i] += p;
            col[j] += p;
        }
    }
    let row_err = row
        .iter()
        .zip(&x.log_w)
        .map(|(r, l)| (r - l.exp()).abs())
        .sum();
    let col_err = col
        .iter()
        .zip(&cols.log_w)
        .map(|(c, l)| (c - l.exp()).abs())
        .sum();
    (row_err, col_err, report, out)
}

#[test]
fn converged_marginals_match_weights_within_reported_error() {
    let mut r = rng(3);
    for k in K::ALL {
        for weighted in [false, true] {
            let x = Cloud::random(&mut r, 23, 2, 0.0, weighted);
            let y = Cloud::random(&mut r, 31, 2, 0.5, weighted);
            let s = Sinkhorn::new(5000, 1e-10);
            let (row, col, rep, _) = solve(&s, k, 0.2, &x, &y, false);
            assert!(rep.converged, "{k:?}: {rep:?}");
            let reported = rep.marginal_error.unwrap();
            assert!(reported <= 1e-10);
            assert!(row < 1e-12, "{k:?} row error {row}");
            assert!((col - reported).abs() < 1e-12, "{k:?} {col} vs {reported}");
            // The symmetric self problem: both marginals equal a.
            let (row, col, rep, _) = solve(&s, k, 0.2, &x, &x, true);
            assert!(rep.converged);
            let reported = rep.marginal_error.unwrap();
            assert!((row - reported).abs() < 1e-12 && (col - reported).abs() < 1e-12);
        }
    }
}

#[test]
fn capped_runs_report_their_true_error_and_no_convergence() {
    let mut r = rng(4);
    let x = Cloud::random(&mut r, 40, 3, 0.0, true);
    let y = Cloud::random(&mut r, 25, 3, 1.0, false);
    let s = Sinkhorn::new(2, 1e-12);
    let (_, col, rep, _) = solve(&s, K::Gaussian, 0.05, &x, &y, false);
    assert_eq!(rep.iterations, 2);
    assert!(!rep.converged);
    assert!((col - rep.marginal_error.unwrap()).abs() < 1e-12);
    assert!(col > 1e-6);
}

#[test]
fn epsilon_scaling_reaches_the_same_plan_in_fewer_iterations() {
    let mut r = rng(5);
    let x = Cloud::random(&mut r, 60, 2, 0.0, false);
    let y = Cloud::random(&mut r, 50, 2, 0.8, false);
    for k in [K::Gaussian, K::Laplace] {
        let tau = 0.01;
        let plain = Sinkhorn::new(20_000, 1e-9);
        let scaled = Sinkhorn::new(20_000, 1e-9).with_epsilon_scaling(0.5);
        let (_, _, r1, p1) = solve(&plain, k, tau, &x, &y, false);
        let (_, _, r2, p2) = solve(&scaled, k, tau, &x, &y, false);
        assert!(r1.converged && r2.converged);
        assert!(
            r2.iterations < r1.iterations,
            "{k:?}: scaled {} vs plain {}",
            r2.iterations,
            r1.iterations
        );
        // Potentials are unique up to a constant shift (f + c, g − c).
        let shift = p1.f.as_ref().unwrap()[0] - p2.f.as_ref().unwrap()[0];
        for (a, b) in p1.f.unwrap().iter().zip(p2.f.unwrap()) {
            assert!((a - b - shift).abs() < 1e-5 * (1.0 + a.abs()), "{k:?}");
        }
    }
}

#[test]
fn warm_start_reuses_the_previous_potentials() {
    let mut r = rng(6);
    let x = Cloud::random(&mut r, 50, 2, 0.0, false);
    let y = Cloud::random(&mut r, 50, 2, 0.5, false);
    let s = Sinkhorn::new(10_000, 1e-9).with_warm_start(true);
    let (_, _, first, _) = solve(&s, K::Gaussian, 0.02, &x, &y, false);
    let (_, _, second, _) = solve(&s, K::Gaussian, 0.02, &x, &y, false);
    assert!(first.converged && second.converged);
    assert!(first.iterations > 5);
    assert!(
        second.iterations <= 1,
        "second call took {}",
        second.iterations
    );
    // And through an operator, for both of its problems at once.
    let op = SinkhornDrift {
        self_transport: Default::default(),
        kernel: K::Gaussian.boxed(),
        temperature: 0.02,
        sinkhorn: Sinkhorn::new(10_000, 1e-9).with_warm_start(true),
    };
    let (xl, yl) = (x.to_lib::<f64>("x"), y.to_lib::<f64>("y"));
    let (v1, r1) = drift_ops::drift(&op, &xl, &yl).unwrap();
    let (v2, r2) = drift_ops::drift(&op, &xl, &yl).unwrap();
    assert!(r2.total_iterations() < r1.total_iterations());
    assert!(rel_err(&v2, &v1) < 1e-6);
}

/// Warm starts in a batch are kept per problem: a batch run twice (in parallel over its problems)
/// equals, problem by problem and bit for bit, a fresh operator called twice on that problem alone.
/// With one state shared by the batch, each problem would start from whichever problem finished
/// last, and the result would depend on scheduling.
#[test]
fn warm_starts_are_kept_per_problem_of_a_batch() {
    use drift_api::batch::{apply_drift_batch, BatchProblem};
    use drift_api::kit::{BatchSets, ProblemBatch, SingleProcess};
    use drift_api::Context;
    let (problems, n, m, dim) = (12, 20, 24, 2);
    let mut r = rng(9);
    let clouds: Vec<(Cloud, Cloud)> = (0..problems)
        .map(|b| {
            let shift = 0.3 * b as f64;
            (
                Cloud::random(&mut r, n, dim, shift, false),
                Cloud::random(&mut r, m, dim, shift + 0.5, false),
            )
        })
        .collect();
    let op = || SinkhornDrift {
        self_transport: Default::default(),
        kernel: K::Gaussian.boxed(),
        temperature: 0.05,
        sinkhorn: Sinkhorn::new(30, 1e-12).with_warm_start(true),
    };
    let xs: Vec<f64> = clouds.iter().flat_map(|(x, _)| x.pts.concat()).collect();
    let ys: Vec<f64> = clouds.iter().flat_map(|(_, y)| y.pts.concat()).collect();
    let batch = ProblemBatch::new(
        BatchSets::dense("x", &xs, problems, n, dim).unwrap(),
        BatchSets::dense("y", &ys, problems, m, dim).unwrap(),
    )
    .unwrap();
    let batched = op();
    let mut out = vec![0.0; batch.field_len()];
    for _ in 0..2 {
        out.iter_mut().for_each(|v| *v = 0.0);
        apply_drift_batch(
            &batched,
            BatchProblem {
                backend: &CpuBackend,
                batch: &batch,
                context: &Context::default(),
                out: &mut out,
                scale: 1.0,
                collective: &SingleProcess,
            },
        )
        .unwrap();
    }
    for (b, (x, y)) in clouds.iter().enumerate() {
        let alone = op();
        let (xl, yl) = (x.to_lib::<f64>("x"), y.to_lib::<f64>("y"));
        drift_ops::drift(&alone, &xl, &yl).unwrap();
        let (want, _) = drift_ops::drift(&alone, &xl, &yl).unwrap();
        assert_eq!(
            &out[b * n * dim..(b + 1) * n * dim],
            &want[..],
            "problem {b}"
        );
    }
}
