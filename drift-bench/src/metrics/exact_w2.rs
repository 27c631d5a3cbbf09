//! `W2²` between two equal-size samples by exact optimal assignment (Jonker–Volgenant, `lapjv`).

use super::input::{dist_sq, rows};
use anyhow::{bail, Result};
use ndarray::Array2;
use rand::rngs::StdRng;
use rand::seq::index::sample;
use rand::SeedableRng;
use rayon::prelude::*;

/// The squared 2-Wasserstein distance between two uniformly weighted samples of the same size `n`
/// (row-major, `dim` columns), by exact optimal assignment:
///
/// ```text
/// W2²(X, Y) = min over permutations σ of (1/n) Σ_i ‖x_i − y_σ(i)‖²
/// ```
///
/// Between two uniform measures on `n` atoms each, an optimal coupling can always be taken to be a
/// permutation (Birkhoff–von Neumann), so this is the exact `W2²` of the two empirical measures.
/// The assignment is solved by the Jonker–Volgenant algorithm of the `lapjv` crate on the `n × n`
/// matrix of squared distances (`n²` `f64`s: 8 MB at `n = 1000`); the returned value is the mean of
/// the original, unscaled costs along the optimal permutation.
///
/// Errors: empty sets, lengths that are not whole rows, non-finite coordinates, sizes that differ
/// (see [`w2_squared_exact_subsampled`] for those), or a solver failure.
pub fn w2_squared_exact(x: &[f64], y: &[f64], dim: usize) -> Result<f64> {
    let n = rows("W2² samples X", x, dim)?;
    let m = rows("W2² data Y", y, dim)?;
    if n != m {
        bail!("exact W2² needs samples of equal size: X has {n} points, Y has {m}");
    }
    let costs = cost_matrix(x, y, dim, n);
    let sigma = optimal_assignment(&costs)?;
    let total: f64 = sigma.iter().enumerate().map(|(i, &j)| costs[(i, j)]).sum();
    Ok(total / n as f64)
}

/// [`w2_squared_exact`] on seeded subsamples, for samples of different sizes or too large for an
/// `n × n` cost matrix.
///
/// With `k = min(n, m, n_max)`, it draws `k` distinct points of `X` and then `k` distinct points of
/// `Y`, uniformly without replacement, from one `StdRng` seeded with `seed`, and returns the exact
/// `W2²` between the two subsamples. A side that already has exactly `k` points is used whole (no
/// draw), so with `n = m ≤ n_max` this is [`w2_squared_exact`] itself. Note that the `W2²` of smaller
/// samples is a noisier, on average larger estimate of the distance between the distributions:
/// compare values computed at the same `k`.
///
/// Errors: as [`w2_squared_exact`], and `n_max = 0`.
pub fn w2_squared_exact_subsampled(
    x: &[f64],
    y: &[f64],
    dim: usize,
    n_max: usize,
    seed: u64,
) -> Result<f64> {
    let n = rows("W2² samples X", x, dim)?;
    let m = rows("W2² data Y", y, dim)?;
    if n_max == 0 {
        bail!("exact W2²: the largest subsample size n_max must be at least 1");
    }
    let k = n.min(m).min(n_max);
    let mut rng = StdRng::seed_from_u64(seed);
    let xs = subsample(x, dim, n, k, &mut rng);
    let ys = subsample(y, dim, m, k, &mut rng);
    w2_squared_exact(&xs, &ys, dim)
}

/// `k` distinct rows of `points` (which has `n`), in the order drawn; all of them, in order, when
/// `k = n`.
fn subsample(points: &[f64], dim: usize, n: usize, k: usize, rng: &mut StdRng) -> Vec<f64> {
    if k == n {
        return points.to_vec();
    }
    sample(rng, n, k)
        .into_iter()
        .flat_map(|i| &points[i * dim..(i + 1) * dim])
        .copied()
        .collect()
}

/// `C[i, j] = ‖x_i − y_j‖²`, rows in parallel.
fn cost_matrix(x: &[f64], y: &[f64], dim: usize, n: usize) -> Array2<f64> {
    let flat: Vec<f64> = x
        .par_chunks_exact(dim)
        .flat_map_iter(|p| y.chunks_exact(dim).map(move |q| dist_sq(p, q)))
        .collect();
    Array2::from_shape_vec((n, n), flat).expect("n × n costs fill an n × n matrix")
}

/// The column assigned to each row by a minimum-cost assignment of the square matrix `costs`.
fn optimal_assignment(costs: &Array2<f64>) -> Result<Vec<usize>> {
    let n = costs.nrows();
    // lapjv compares reduced costs with an absolute tolerance of f64::EPSILON, which only means
    // "equal" when the costs are of order one. Scaling by a power of two brings the largest cost
    // into [0.5, 1) without rounding a single entry (barring subnormals), so the problem solved is
    // exactly the one posed; the answer is then read off the unscaled costs.
    let largest = costs.iter().copied().fold(0.0, f64::max);
    let sigma = if largest > 0.0 {
        let scale = 2f64.powi(-(largest.log2().floor() as i32) - 1);
        lapjv::lapjv(&costs.mapv(|c| c * scale))
    } else {
        // All costs zero (every point of both sets is the same point): any permutation is optimal.
        return Ok((0..n).collect());
    }
    .map_err(|e| anyhow::anyhow!("exact W2²: the assignment solver failed: {e}"))?
    .0;
    // A solver bug must not silently give a wrong distance: check that this is a permutation.
    let mut seen = vec![false; n];
    for &j in &sigma {
        if j >= n || std::mem::replace(&mut seen[j], true) {
            bail!("exact W2²: the assignment solver returned no permutation");
        }
    }
    Ok(sigma)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::datasets::gaussian_blob;

    /// `min over σ of (1/n) Σ ‖x_i − y_σ(i)‖²` by trying every permutation (Heap's algorithm).
    fn brute_force(x: &[f64], y: &[f64], dim: usize) -> f64 {
        let n = x.len() / dim;
        let cost = |s: &[usize]| -> f64 {
            (0..n)
                .map(|i| dist_sq(&x[i * dim..(i + 1) * dim], &y[s[i] * dim..(s[i] + 1) * dim]))
                .sum::<f64>()
                / n as f64
        };
        let mut s: Vec<usize> = (0..n).collect();
        let mut c = vec![0usize; n];
        let mut best = cost(&s);
        let mut i = 0;
        while i < n {
            if c[i] < i {
                if i % 2 == 0 {
                    s.swap(0, i);
                } else {
                    s.swap(c[i], i);
                }
                best = best.min(cost(&s));
                c[i] += 1;
                i = 0;
            } else {
                c[i] = 0;
                i += 1;
            }
        }
        best
    }

    proptest::proptest! {
        #[test]
        fn small_sets_match_brute_force(
            n in 1usize..=6,
            dim in 1usize..=3,
            values in proptest::collection::vec(-10.0f64..10.0, 36),
        ) {
            let x = &values[..n * dim];
            let y = &values[18..18 + n * dim];
            let w = w2_squared_exact(x, y, dim).unwrap();
            let b = brute_force(x, y, dim);
            proptest::prop_assert!((w - b).abs() <= 1e-12 * b.max(1.0), "lapjv {} brute {}", w, b);
        }
    }

    #[test]
    fn a_permutation_of_a_set_is_at_distance_zero() {
        let x = gaussian_blob(200, &[1.0, -2.0, 0.5], 1.0, 7);
        let reversed: Vec<f64> = x.chunks(3).rev().flatten().copied().collect();
        assert_eq!(w2_squared_exact(&x, &reversed, 3).unwrap(), 0.0);
    }

    #[test]
    fn a_translation_costs_its_squared_length() {
        // For a translation y_i = x_i + t the identity assignment is optimal (any other permutation
        // adds 2 Σ x_i·(x_i − x_σ(i)) = Σ ‖x_i − x_σ(i)‖² ≥ 0), so W2² = ‖t‖² = 0.09 + 0.16 + 1.
        let x = gaussian_blob(300, &[0.0, 0.0, 0.0], 2.0, 11);
        let t = [0.3, -0.4, 1.0];
        let y: Vec<f64> = x
            .chunks(3)
            .flat_map(|p| [p[0] + t[0], p[1] + t[1], p[2] + t[2]])
            .collect();
        let w = w2_squared_exact(&x, &y, 3).unwrap();
        assert!((w - 1.25).abs() < 1e-12, "W2² = {w}");
    }

    #[test]
    fn three_points_by_hand() {
        // X = {0, 1, 3} on a line, Y = {3.5, 0.5, 2}: sorted matching 0→0.5, 1→2, 3→3.5 costs
        // (0.25 + 1 + 0.25)/3 = 0.5; it is the best of the 6 permutations (monotone matching is
        // optimal in 1-D).
        let x = [0.0, 1.0, 3.0];
        let y = [3.5, 0.5, 2.0];
        let w = w2_squared_exact(&x, &y, 1).unwrap();
        assert!((w - 0.5).abs() < 1e-15);
        assert!((brute_force(&x, &y, 1) - 0.5).abs() < 1e-15);
        // In 2-D, a case where the greedy nearest choice is wrong.
        let x = [0.0, 0.0, 1.0, 0.0, 0.0, 2.0];
        let y = [1.0, 0.1, 2.0, 0.0, 0.0, 1.0];
        let w = w2_squared_exact(&x, &y, 2).unwrap();
        assert!((w - brute_force(&x, &y, 2)).abs() < 1e-15);
    }

    #[test]
    fn equal_points_and_single_points() {
        assert_eq!(w2_squared_exact(&[1.0; 8], &[1.0; 8], 2).unwrap(), 0.0);
        assert_eq!(w2_squared_exact(&[0.0, 0.0], &[3.0, 4.0], 2).unwrap(), 25.0);
        // Tiny and huge scales: the scaling by a power of two keeps the solver exact.
        for s in [1e-150, 1e-9, 1e9, 1e150] {
            let x = [0.0, s, 3.0 * s];
            let y = [3.5 * s, 0.5 * s, 2.0 * s];
            let w = w2_squared_exact(&x, &y, 1).unwrap();
            assert!((w / (s * s) - 0.5).abs() < 1e-12, "scale {s}: {w}");
        }
    }

    #[test]
    fn bad_input_is_refused() {
        let e = |r: Result<f64>| r.unwrap_err().to_string();
        assert_eq!(
            e(w2_squared_exact(&[0.0, 1.0], &[0.0], 1)),
            "exact W2² needs samples of equal size: X has 2 points, Y has 1"
        );
        assert_eq!(
            e(w2_squared_exact(&[], &[0.0], 1)),
            "W2² samples X: the point set is empty"
        );
        assert!(e(w2_squared_exact(&[0.0], &[f64::NAN], 1)).contains("W2² data Y: point 0"));
        assert!(e(w2_squared_exact_subsampled(&[0.0], &[0.0], 1, 0, 0)).contains("n_max"));
    }

    #[test]
    fn subsampling_draws_min_n_m_n_max_points() {
        let x = gaussian_blob(50, &[0.0, 0.0], 1.0, 1);
        let y = gaussian_blob(80, &[0.0, 0.0], 1.0, 2);
        // Equal sizes under the cap: the whole sets.
        let full = w2_squared_exact(&x, &y[..100], 2).unwrap();
        assert_eq!(
            w2_squared_exact_subsampled(&x, &y[..100], 2, 50, 3).unwrap(),
            full
        );
        // Different sizes: 50 points of Y, reproducible from the seed.
        let a = w2_squared_exact_subsampled(&x, &y, 2, 1000, 3).unwrap();
        assert_eq!(a, w2_squared_exact_subsampled(&x, &y, 2, 1000, 3).unwrap());
        assert!(a > 0.0);
        // Capped: two separate draws of 20 points; a translation by t = (10, 10) dominates the
        // distance (‖t‖² = 200, plus what the two draws' differences add).
        let shifted: Vec<f64> = x.iter().map(|v| v + 10.0).collect();
        let w = w2_squared_exact_subsampled(&x, &shifted, 2, 20, 9).unwrap();
        assert!(w > 150.0, "W2² = {w}");
    }
}
