//! Means of a function of the distance over all pairs of two point sets, the building block of the
//! MMD and the energy distance.
//!
//! Rows of the first set are spread over rayon's threads, but each row's sum is computed in one
//! thread in a fixed order and the row sums are added up sequentially afterwards: the result is the
//! same bit for bit on any number of threads (a parallel `sum()` would add in an order that depends
//! on work stealing). A side effect the metrics rely on: `pair_mean(a, a, ..)` and
//! `pair_mean(a, b, ..)` with `b` a copy of `a` are the same number, so a metric of two identical
//! sets is exactly 0.

use super::input::dist_sq;
use rayon::prelude::*;

/// `(1/(n m)) Σ_i Σ_j f(‖a_i − b_j‖²)` over all `n × m` pairs, diagonal included.
///
/// The caller has checked both sets (non-empty, whole rows, finite).
pub(crate) fn pair_mean<F>(a: &[f64], b: &[f64], dim: usize, f: F) -> f64
where
    F: Fn(f64) -> f64 + Sync,
{
    let (n, m) = (a.len() / dim, b.len() / dim);
    let row_sums: Vec<f64> = a
        .par_chunks_exact(dim)
        .map(|p| b.chunks_exact(dim).map(|q| f(dist_sq(p, q))).sum::<f64>())
        .collect();
    row_sums.iter().sum::<f64>() / (n as f64 * m as f64)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mean_over_all_pairs_matches_a_double_loop() {
        let a = [0.0, 1.0, 3.0];
        let b = [1.0, 5.0];
        // |a − b| over the 6 pairs: 1, 5, 0, 4, 2, 2
        let mean = pair_mean(&a, &b, 1, f64::sqrt);
        assert!((mean - 14.0 / 6.0).abs() < 1e-15);
    }
}
