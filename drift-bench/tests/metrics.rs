//! The metrics through the public API: the exact `W2²` against an independent assignment solver on
//! sets large enough to exercise every phase of Jonker–Volgenant, ties included; the metrics'
//! relations to one another; and (ignored by default) their time at the comparison's sizes.

use drift_bench::metrics::{
    class_histogram, classes_covered, energy_distance, median_bandwidth, mmd_squared, mode_masses,
    sliced_w2, w2_squared_exact, w2_squared_exact_subsampled, NearestNeighbours,
};
use drift_bench::{gaussian_blob, GaussianMixture};
use proptest::prelude::*;
use std::time::Instant;

/// Minimum-cost assignment by the Hungarian algorithm with potentials (O(n³), the textbook
/// shortest-augmenting-path form), written independently of `lapjv` as the reference.
fn hungarian(cost: &[Vec<f64>]) -> f64 {
    let n = cost.len();
    // 1-based rows/columns, column 0 is the virtual start.
    let (mut u, mut v) = (vec![0.0; n + 1], vec![0.0; n + 1]);
    let mut row_of = vec![0usize; n + 1];
    let mut way = vec![0usize; n + 1];
    for i in 1..=n {
        row_of[0] = i;
        let mut j0 = 0;
        let mut minv = vec![f64::INFINITY; n + 1];
        let mut used = vec![false; n + 1];
        loop {
            used[j0] = true;
            let i0 = row_of[j0];
            let (mut delta, mut j1) = (f64::INFINITY, 0);
            for j in 1..=n {
                if !used[j] {
                    let cur = cost[i0 - 1][j - 1] - u[i0] - v[j];
                    if cur < minv[j] {
                        minv[j] = cur;
                        way[j] = j0;
                    }
                    if minv[j] < delta {
                        delta = minv[j];
                        j1 = j;
                    }
                }
            }
            for j in 0..=n {
                if used[j] {
                    u[row_of[j]] += delta;
                    v[j] -= delta;
                } else {
                    minv[j] -= delta;
                }
            }
            j0 = j1;
            if row_of[j0] == 0 {
                break;
            }
        }
        loop {
            let j1 = way[j0];
            row_of[j0] = row_of[j1];
            j0 = j1;
            if j0 == 0 {
                break;
            }
        }
    }
    (1..=n).map(|j| cost[row_of[j] - 1][j - 1]).sum()
}

fn reference_w2(x: &[f64], y: &[f64], dim: usize) -> f64 {
    let cost: Vec<Vec<f64>> = x
        .chunks(dim)
        .map(|p| {
            y.chunks(dim)
                .map(|q| p.iter().zip(q).map(|(a, b)| (a - b) * (a - b)).sum())
                .collect()
        })
        .collect();
    hungarian(&cost) / cost.len() as f64
}

#[test]
fn exact_w2_agrees_with_the_hungarian_algorithm() {
    for (n, dim, seed) in [(50, 2, 1), (120, 8, 2), (200, 3, 3)] {
        let x = gaussian_blob(n, &vec![0.0; dim], 1.0, seed);
        let y = gaussian_blob(n, &vec![0.3; dim], 1.5, seed + 100);
        let w = w2_squared_exact(&x, &y, dim).unwrap();
        let r = reference_w2(&x, &y, dim);
        assert!((w - r).abs() <= 1e-12 * r, "n {n} dim {dim}: {w} vs {r}");
    }
    // A mixture against itself resampled: clustered costs with many near-equal alternatives.
    let ring = GaussianMixture::eight_gaussians();
    let (x, y) = (ring.sample(160, 4), ring.sample(160, 5));
    let (w, r) = (
        w2_squared_exact(&x, &y, 2).unwrap(),
        reference_w2(&x, &y, 2),
    );
    assert!((w - r).abs() <= 1e-12 * r, "{w} vs {r}");
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(200))]
    /// Points on a small integer lattice: many exactly equal costs, the case where an assignment
    /// solver's tie handling can go wrong.
    #[test]
    fn exact_w2_on_lattice_points_with_ties(
        n in 1usize..=40,
        coords in proptest::collection::vec(0i32..3, 160),
    ) {
        let v: Vec<f64> = coords.iter().map(|&c| c as f64).collect();
        let (x, y) = (&v[..2 * n], &v[80..80 + 2 * n]);
        let w = w2_squared_exact(x, y, 2).unwrap();
        let r = reference_w2(x, y, 2);
        prop_assert!((w - r).abs() <= 1e-12 * r.max(1.0), "{} vs {}", w, r);
    }
}

#[test]
fn the_distances_see_a_shift_and_not_a_resample() {
    let dim = 4;
    let y = gaussian_blob(300, &[0.0; 4], 1.0, 1);
    let same = gaussian_blob(300, &[0.0; 4], 1.0, 2);
    let shifted = gaussian_blob(300, &[1.0; 4], 1.0, 3);
    let sigma = median_bandwidth(&y, dim, 0).unwrap();
    // A fresh sample of the same law is closer than a shifted one, by every distance.
    assert!(
        w2_squared_exact(&same, &y, dim).unwrap() < w2_squared_exact(&shifted, &y, dim).unwrap()
    );
    assert!(
        mmd_squared(&same, &y, dim, sigma).unwrap()
            < mmd_squared(&shifted, &y, dim, sigma).unwrap()
    );
    assert!(energy_distance(&same, &y, dim).unwrap() < energy_distance(&shifted, &y, dim).unwrap());
    // The exact W2² bounds the sliced one from above: each projection of the optimal plan is a
    // plan for the projected sets, and E[(θ·d)²] = ‖d‖²/D, so SW2² ≤ W2²/D up to direction noise.
    let w2 = w2_squared_exact(&shifted, &y, dim).unwrap();
    let sw = sliced_w2(&shifted, &y, dim, 512, 0);
    assert!(
        sw * sw <= 1.1 * w2 / dim as f64,
        "SW2² {} vs W2²/D {}",
        sw * sw,
        w2 / dim as f64
    );
}

#[test]
fn a_sample_of_the_mixture_covers_it_with_little_mass_error() {
    let ring = GaussianMixture::eight_gaussians();
    let x = ring.sample(4000, 9);
    let weights = vec![1.0; 8];
    let m = mode_masses(&x, 2, &ring.centres, &weights, 4.0 * ring.std, 0.02).unwrap();
    assert_eq!(m.reached, 8);
    assert!(m.near_fraction > 0.99);
    // Multinomial noise of 4000 draws over 8 cells: TV of order sqrt(8/(2π·4000))·… ≈ 0.02.
    assert!(m.mass_error < 0.04, "mass error {}", m.mass_error);
}

/// Times every metric on 1000 samples against 1000 data points at D = 64 and D = 2.
/// Run with `cargo test --release -p drift-bench --test metrics -- --ignored --nocapture`.
#[test]
#[ignore]
fn time_at_the_comparison_s_size() {
    for dim in [64, 2] {
        let y = gaussian_blob(1000, &vec![0.0; dim], 1.0, 1);
        let x = gaussian_blob(1000, &vec![0.2; dim], 1.1, 2);
        let time = |name: &str, f: &mut dyn FnMut() -> f64| {
            let start = Instant::now();
            let v = f();
            println!(
                "D = {dim:>2}  {name:<26} {:>9.1} ms   (value {v:.6})",
                start.elapsed().as_secs_f64() * 1e3
            );
        };
        time("exact W2² (lapjv)", &mut || {
            w2_squared_exact(&x, &y, dim).unwrap()
        });
        time("exact W2², n_max 500", &mut || {
            w2_squared_exact_subsampled(&x, &y, dim, 500, 0).unwrap()
        });
        time("sliced W2, 128 directions", &mut || {
            sliced_w2(&x, &y, dim, 128, 0)
        });
        let mut sigma = 0.0;
        time("median bandwidth", &mut || {
            sigma = median_bandwidth(&y, dim, 0).unwrap();
            sigma
        });
        time("MMD²", &mut || mmd_squared(&x, &y, dim, sigma).unwrap());
        time("energy distance", &mut || {
            energy_distance(&x, &y, dim).unwrap()
        });
        let centres: Vec<Vec<f64>> = (0..10).map(|k| vec![k as f64; dim]).collect();
        time("mode masses, 10 modes", &mut || {
            mode_masses(&x, dim, &centres, &[1.0; 10], 3.0, 0.02)
                .unwrap()
                .mass_error
        });
        let train = gaussian_blob(1400, &vec![0.0; dim], 1.0, 3);
        let labels: Vec<usize> = (0..1400).map(|i| i % 10).collect();
        time("k-NN (k 5, 1400 train)", &mut || {
            let knn = NearestNeighbours::fit(&train, &labels, dim, 5, 10).unwrap();
            let h = class_histogram(&knn.predict(&x).unwrap(), 10).unwrap();
            classes_covered(&h, 0.02) as f64
        });
    }
    // The assignment's cost grows about as n³ and is largest on low-dimensional data; the sizes a
    // caller may choose for n_max.
    let ring = GaussianMixture::eight_gaussians();
    for n in [250, 500, 750, 1000] {
        let (x, y) = (ring.sample(n, 1), ring.sample(n, 2));
        let start = Instant::now();
        let w = w2_squared_exact(&x, &y, 2).unwrap();
        println!(
            "8 Gaussians, n = {n:>4}  exact W2² {:>9.1} ms   (value {w:.6})",
            start.elapsed().as_secs_f64() * 1e3
        );
    }
}
