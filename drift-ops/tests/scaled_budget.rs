//! The scaled matrix of the pair cache counts against the process-wide budget (a test binary of
//! its own: it sets the budget, which every cache of the process shares).

use drift_api::kit::{PairPath, PairSet, PreparedPairs};
use drift_api::PointCloud;
use drift_ops::cached::CachedPairs;
use drift_ops::pair_cache;

/// `LSE_j (g_j − ‖x_i − y_j‖² / τ)` in f64, directly.
fn reference(x: &[f64], y: &[f64], d: usize, g: &[f64], tau: f64) -> Vec<f64> {
    x.chunks_exact(d)
        .map(|xi| {
            let terms: Vec<f64> = y
                .chunks_exact(d)
                .zip(g)
                .map(|(yj, gj)| {
                    let d2: f64 = xi.iter().zip(yj).map(|(a, b)| (a - b) * (a - b)).sum();
                    gj - d2 / tau
                })
                .collect();
            let max = terms.iter().cloned().fold(f64::NEG_INFINITY, f64::max);
            max + terms.iter().map(|t| (t - max).exp()).sum::<f64>().ln()
        })
        .collect()
}

/// A budget that holds the distances but not the scaled matrix: the passes run on the distances
/// alone, give the reference, and the report counts only the distances. With room for both, the
/// matrix is kept and counted.
#[test]
fn the_scaled_matrix_is_kept_only_within_the_budget() {
    let (n, m, d) = (50, 40, 8);
    let wave = |k: usize, s: f64| ((k as f64) * s).sin();
    let x = PointCloud::new("x", (0..n * d).map(|k| wave(k, 0.37)).collect(), d).unwrap();
    let y = PointCloud::new("y", (0..m * d).map(|k| wave(k, 0.91) + 0.2).collect(), d).unwrap();
    let g: Vec<f64> = (0..m).map(|j| wave(j, 1.3)).collect();
    let want = reference(x.data(), y.data(), d, &g, 0.1);
    let set = PairSet {
        rows: &x,
        cols: &y,
        kernel: &drift_ops::Gaussian,
        mask_diagonal: false,
    };
    let bytes = n * m * 8;
    for (room, kept) in [(bytes, 0), (2 * bytes, bytes)] {
        pair_cache::set_pair_cache_budget(pair_cache::in_use() + room);
        let cached = CachedPairs::within_budget(set)
            .unwrap()
            .expect("the distances fit");
        for _ in 0..4 {
            let mut rows = vec![0.0; n];
            cached.row_lse(0.1, Some(&g), &mut rows).unwrap();
            let err = rows
                .iter()
                .zip(&want)
                .map(|(a, b)| (a - b).abs())
                .fold(0.0, f64::max);
            assert!(err < 1e-12, "{err:e}");
        }
        assert_eq!(
            cached.path(),
            PairPath::Cached {
                bytes: bytes + kept
            }
        );
    }
}
