//! A budget that holds one `N × M` matrix but not two: the cache keeps only the scaled matrix
//! (what a solve at one temperature spends its passes on) instead of only the distances, gives
//! the field of a budget that holds both, and says so. (One test in this binary: the decision
//! depends on the process's cached bytes.)

use drift_api::kit::PairPath;
use drift_api::{Context, PointCloud};
use drift_ops::{pair_cache, CpuBackend, SinkhornDrift};
use rand::{Rng, SeedableRng};

fn cloud(seed: u64, n: usize, d: usize, offset: f64) -> PointCloud<f64> {
    let mut r = rand::rngs::StdRng::seed_from_u64(seed);
    let data = (0..n * d)
        .map(|_| r.gen_range(-1.0..1.0) + offset)
        .collect();
    PointCloud::new("points", data, d).unwrap()
}

#[test]
fn a_budget_for_one_matrix_keeps_the_scaled_matrix() {
    // D = 8: below the Gram path, distances computed from the points have the stored bits.
    let (n, m, d) = (300, 260, 8);
    let x = cloud(1, n, d, 0.0);
    let y = cloud(2, m, d, 0.4);
    let op = SinkhornDrift::new(0.3);
    let matrix = |cols: usize| n * cols * std::mem::size_of::<f64>();
    let run = |budget: usize| {
        let backend = CpuBackend::builder()
            .pair_cache_budget(budget)
            .build()
            .unwrap();
        let before = pair_cache::cache_counts();
        let (v, report) =
            drift_ops::drift_with(&backend, &op, &x, &y, &Context::default()).unwrap();
        let after = pair_cache::cache_counts();
        let paths: Vec<_> = report.couplings.iter().map(|c| c.path).collect();
        (v, paths, after.scaled_only - before.scaled_only)
    };
    let (full, full_paths, full_scaled_only) = run(1 << 30);
    // Room for the larger of the two problems' matrices once and a half: one matrix, not two.
    let (one, one_paths, one_scaled_only) = run(matrix(n) * 3 / 2);
    let (fused, fused_paths, _) = run(0);

    assert_eq!(full_scaled_only, 0);
    assert_eq!(
        one_scaled_only, 2,
        "both problems keep only their scaled matrix"
    );
    // The reports say what was held: both matrices, or the scaled one alone.
    let sizes = [matrix(m), matrix(n)];
    for (path, size) in full_paths.iter().zip(sizes) {
        assert_eq!(*path, Some(PairPath::Cached { bytes: 2 * size }));
    }
    for (path, size) in one_paths.iter().zip(sizes) {
        assert_eq!(*path, Some(PairPath::Cached { bytes: size }));
    }
    assert!(fused_paths.iter().all(|p| *p == Some(PairPath::Fused)));
    // The same passes on the same bits: the field of the larger budget exactly.
    assert_eq!(one, full);
    let norm = fused.iter().map(|v| v * v).sum::<f64>().sqrt();
    let diff = fused
        .iter()
        .zip(&one)
        .map(|(a, b)| (a - b) * (a - b))
        .sum::<f64>()
        .sqrt();
    assert!(
        diff <= 1e-10 * norm,
        "fused against scaled only: {diff:e} of {norm:e}"
    );
}
