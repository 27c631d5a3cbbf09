//! The cached and the fused pair paths: both match a dense f64 reference of the row and column
//! log-sum-exps, agree with each other, and give the same Sinkhorn operators.
//!
//! This file holds the single passes and whole operators; `scaled` the repeated passes, sweeps
//! and displacement passes on the cache's scaled matrix; `support` the dense reference and the
//! cases both share.

#[path = "../common/mod.rs"]
mod common;
mod scaled;
mod support;

use common::*;
use drift_api::kit::{FusedPairs, PairPath, PairSet, PreparedPairs};
use support::*;

use drift_ops::cached::CachedPairs;
use drift_ops::{pair_cache, CpuBackend, SinkhornDivergence, SinkhornDrift};
use proptest::prelude::*;

/// Shapes on every distance path (unrolled, lane-summed, Gram form), partial row blocks, column
/// stripes and chunks, `N != M`, the masked self problem, every kernel, and `tau = 1e-4`.
#[test]
fn cached_and_fused_match_the_dense_reference() {
    let mut seed = 0;
    for (n, m) in [(1, 1), (37, 300), (300, 37), (257, 257)] {
        for d in [1, 2, 7, 40] {
            for k in K::ALL {
                for tau in [1e-4, 0.3] {
                    for mask in [false, true] {
                        if mask && n != m {
                            continue;
                        }
                        seed += 1;
                        let c = case(seed, n, m, d, k, tau, mask);
                        let (cached, fused) = check::<f64>(&c);
                        let what = format!("n {n} m {m} d {d} {k:?} tau {tau} mask {mask}");
                        assert!(cached < 1e-12, "f64 cached {cached:e}: {what}");
                        assert!(fused < 1e-12, "f64 fused {fused:e}: {what}");
                        let (cached, fused) = check::<f32>(&c);
                        assert!(cached < 1e-5, "f32 cached {cached:e}: {what}");
                        assert!(fused < 1e-5, "f32 fused {fused:e}: {what}");
                    }
                }
            }
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(24))]
    /// Random shapes and temperatures: the two paths agree to rounding in f64.
    #[test]
    fn paths_agree_on_random_shapes(
        seed in 0u64..1000, n in 1usize..90, m in 1usize..90, d in 1usize..24,
        log_tau in -4.0f64..1.0, mask in any::<bool>(),
    ) {
        let m = if mask { n } else { m };
        let c = case(seed, n, m, d, K::Gaussian, 10f64.powf(log_tau), mask);
        let (cached, fused) = check::<f64>(&c);
        prop_assert!(cached < 1e-12 && fused < 1e-12, "{cached:e} {fused:e}");
    }
}

/// A mask on a non-square pair set is refused, as by the fused reduction.
#[test]
fn a_mask_needs_a_square_pair_set() {
    let c = case(1, 5, 6, 2, K::Gaussian, 0.5, false);
    let (xl, yl) = (c.x.to_lib::<f64>("x"), c.y.to_lib::<f64>("y"));
    let kernel = c.k.boxed();
    let err = CachedPairs::new(PairSet {
        rows: &xl,
        cols: &yl,
        kernel: kernel.as_ref(),
        mask_diagonal: true,
    })
    .unwrap_err();
    assert!(err.to_string().contains("square"), "{err}");
}

/// Whole Sinkhorn operators give the same field whether the budget lets the pairs be cached or
/// not, and the report says which path ran. (The only test of this binary that changes the
/// process-wide budget.)
#[test]
fn sinkhorn_operators_agree_across_paths_and_report_them() {
    let mut r = rng(7);
    // Dimension 20: the Gram path's displacement pass on the scaled matrix runs too.
    let x = Cloud::random(&mut r, 150, 20, 0.0, true).to_lib::<f64>("x");
    let y = Cloud::random(&mut r, 120, 20, 0.4, false).to_lib::<f64>("y");
    let ops: Vec<Box<dyn drift_api::DriftOperator>> = vec![
        Box::new(SinkhornDrift::new(0.5)),
        Box::new(SinkhornDivergence::new(0.5)),
        // At its iteration cap the fused path computes the displacements in the last row pass.
        Box::new(SinkhornDrift {
            sinkhorn: drift_ops::Sinkhorn::new(3, 0.0),
            ..SinkhornDrift::new(0.5)
        }),
    ];
    let before = pair_cache::budget();
    for op in &ops {
        pair_cache::set_pair_cache_budget(0);
        let (fused, fused_report) = drift_ops::drift(op.as_ref(), &x, &y).unwrap();
        pair_cache::set_pair_cache_budget(1 << 30);
        let (cached, cached_report) = drift_ops::drift(op.as_ref(), &x, &y).unwrap();
        for c in &fused_report.couplings {
            assert_eq!(c.path, Some(PairPath::Fused), "{c:?}");
        }
        for c in &cached_report.couplings {
            assert!(matches!(c.path, Some(PairPath::Cached { .. })), "{c:?}");
        }
        let norm = fused.iter().map(|v| v * v).sum::<f64>().sqrt();
        let diff = fused
            .iter()
            .zip(&cached)
            .map(|(a, b)| (a - b) * (a - b))
            .sum::<f64>()
            .sqrt();
        assert!(diff <= 1e-10 * norm, "{op:?}: {diff:e} against {norm:e}");
        assert_eq!(
            fused_report
                .couplings
                .iter()
                .map(|c| c.iterations)
                .collect::<Vec<_>>(),
            cached_report
                .couplings
                .iter()
                .map(|c| c.iterations)
                .collect::<Vec<_>>()
        );
    }
    pair_cache::set_pair_cache_budget(before);
}

/// A fused pair set told that the next row pass is the coupling's last computes the term's
/// displacement in it, and answers the displacement pass with it only for the same temperature
/// and potential, once.
#[test]
fn fused_pairs_answer_the_displacement_pass_from_the_announced_row_pass() {
    use drift_api::kit::{reduce, Displacement, PairDisplacement, RowReduction};
    let mut r = rng(11);
    let x = Cloud::random(&mut r, 70, 3, 0.0, true).to_lib::<f64>("x");
    let y = Cloud::random(&mut r, 50, 3, 0.4, false).to_lib::<f64>("y");
    let kernel = drift_ops::Gaussian;
    let origin = vec![0.1, -0.2, 0.3];
    let set = PairSet {
        rows: &x,
        cols: &y,
        kernel: &kernel,
        mask_diagonal: false,
    };
    let pairs = FusedPairs::new(&CpuBackend, set).with_follow_up(Displacement::Mean, Some(&origin));
    let g: Vec<f64> = (0..50).map(|j| -0.02 * j as f64).collect();
    let (tau, n) = (0.7, 70);
    let mut want = (vec![0.0; n], vec![0.0; n * 3]);
    reduce(
        &CpuBackend,
        RowReduction {
            rows: &x,
            cols: &y,
            kernel: &kernel,
            tau,
            col_potential: Some(&g),
            mask_diagonal: false,
            displacement: Displacement::Mean,
            origin: Some(&origin),
            lse: &mut want.0,
            disp: Some(&mut want.1),
        },
    )
    .unwrap();
    let answer = |g: &[f64], tau: f64| {
        let mut got = (vec![0.0; n], vec![0.0; n * 3]);
        let answered = pairs
            .displacement_pass(PairDisplacement {
                tau,
                col_potential: g,
                displacement: Displacement::Mean,
                origin: Some(&origin),
                lse: &mut got.0,
                disp: &mut got.1,
            })
            .unwrap();
        answered.then_some(got)
    };
    let mut lse = vec![0.0; n];
    // A plain row pass: nothing kept.
    pairs.row_lse(tau, Some(&g), &mut lse).unwrap();
    assert_eq!(lse, want.0);
    assert!(answer(&g, tau).is_none());
    // The last row pass: the same values, and the displacement pass is answered once.
    pairs.last_row_lse(tau, Some(&g), &mut lse).unwrap();
    assert_eq!(lse, want.0);
    assert_eq!(answer(&g, tau), Some(want.clone()));
    assert!(answer(&g, tau).is_none());
    // Another potential or temperature is not answered.
    pairs.last_row_lse(tau, Some(&g), &mut lse).unwrap();
    let other: Vec<f64> = g.iter().map(|v| v + 1e-3).collect();
    assert!(answer(&other, tau).is_none());
    pairs.last_row_lse(tau, Some(&g), &mut lse).unwrap();
    assert!(answer(&g, 0.5).is_none());
}
