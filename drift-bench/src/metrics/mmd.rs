//! Squared maximum mean discrepancy with a Gaussian kernel, and the median heuristic for its
//! bandwidth.

use super::input::{dist_sq, rows};
use super::pairs::pair_mean;
use anyhow::{bail, Result};
use rand::rngs::StdRng;
use rand::seq::index::sample;
use rand::SeedableRng;

/// At most this many points of the data enter [`median_bandwidth`] (about 500 000 pairs).
pub const MEDIAN_BANDWIDTH_POINTS: usize = 1000;

/// Squared MMD between samples `X` (`n` points) and data `Y` (`m` points), row-major with `dim`
/// columns, with the Gaussian kernel `k(a, b) = exp(−‖a − b‖² / (2σ²))` of bandwidth
/// `σ = bandwidth`, as the biased V-statistic:
///
/// ```text
/// MMD²(X, Y) = (1/n²) Σ_i Σ_i' k(x_i, x_i') + (1/m²) Σ_j Σ_j' k(y_j, y_j') − (2/(n m)) Σ_i Σ_j k(x_i, y_j)
/// ```
///
/// with every sum over all pairs, the diagonal `i = i'` (where `k = 1`) included. This is the
/// squared RKHS distance between the two empirical kernel mean embeddings, so it is ≥ 0 and exactly 0
/// for two copies of the same set (the sums are evaluated in a fixed order, so the three terms then
/// agree to the last bit). A negative result of rounding size is returned as 0.
///
/// Errors: bad point sets (empty, not whole rows, non-finite) or a bandwidth that is not finite
/// and > 0.
pub fn mmd_squared(x: &[f64], y: &[f64], dim: usize, bandwidth: f64) -> Result<f64> {
    rows("MMD samples X", x, dim)?;
    rows("MMD data Y", y, dim)?;
    if !(bandwidth.is_finite() && bandwidth > 0.0) {
        bail!("MMD: the kernel bandwidth {bandwidth} must be finite and > 0");
    }
    let yy = pair_mean(y, y, dim, gaussian(bandwidth));
    Ok(mmd_squared_given(x, y, dim, bandwidth, yy))
}

/// The Gaussian kernel of bandwidth `σ` as a function of the squared distance.
pub(crate) fn gaussian(bandwidth: f64) -> impl Fn(f64) -> f64 + Sync {
    let scale = 1.0 / (2.0 * bandwidth * bandwidth);
    move |d2: f64| (-d2 * scale).exp()
}

/// [`mmd_squared`] of checked inputs with the data's own term `yy` (the mean kernel over the data's
/// pairs) given, so that it is computed once for many sample sets.
pub(crate) fn mmd_squared_given(x: &[f64], y: &[f64], dim: usize, bandwidth: f64, yy: f64) -> f64 {
    let k = gaussian(bandwidth);
    let xx = pair_mean(x, x, dim, &k);
    let xy = pair_mean(x, y, dim, &k);
    (xx + yy - 2.0 * xy).max(0.0)
}

/// The median heuristic for the MMD bandwidth: the median of the Euclidean distances `‖y_j − y_j'‖`
/// over all pairs `j < j'` of the data `Y` (row-major, `dim` columns), or of a subsample of
/// [`MEDIAN_BANDWIDTH_POINTS`] distinct points drawn uniformly without replacement by a `StdRng`
/// seeded with `seed` when `Y` has more. With an even number of pairs the median is the mean of
/// the two middle distances.
///
/// Errors: bad point sets, fewer than 2 points, or a median of 0 (more than half the pairs are
/// duplicate points), which is no usable bandwidth.
pub fn median_bandwidth(y: &[f64], dim: usize, seed: u64) -> Result<f64> {
    let m = rows("median bandwidth data Y", y, dim)?;
    if m < 2 {
        bail!("median bandwidth: needs at least 2 points, the data has {m}");
    }
    let picked: Vec<usize> = if m > MEDIAN_BANDWIDTH_POINTS {
        let mut rng = StdRng::seed_from_u64(seed);
        sample(&mut rng, m, MEDIAN_BANDWIDTH_POINTS).into_vec()
    } else {
        (0..m).collect()
    };
    let point = |i: usize| &y[i * dim..(i + 1) * dim];
    let mut d: Vec<f64> = Vec::with_capacity(picked.len() * (picked.len() - 1) / 2);
    for (a, &i) in picked.iter().enumerate() {
        for &j in &picked[a + 1..] {
            d.push(dist_sq(point(i), point(j)).sqrt());
        }
    }
    let half = d.len() / 2;
    let (_, &mut upper, _) = d.select_nth_unstable_by(half, f64::total_cmp);
    let median = if d.len() % 2 == 1 {
        upper
    } else {
        // The lower middle is the largest of the values below the upper one.
        let lower = d[..half].iter().copied().fold(f64::NEG_INFINITY, f64::max);
        0.5 * (lower + upper)
    };
    if median <= 0.0 {
        bail!("median bandwidth: the median pairwise distance of the data is 0 (duplicate points)");
    }
    Ok(median)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::datasets::gaussian_blob;

    /// The V-statistic written as three plain double loops.
    fn reference(x: &[f64], y: &[f64], dim: usize, s: f64) -> f64 {
        let k = |a: &[f64], b: &[f64]| {
            let d2: f64 = a.iter().zip(b).map(|(p, q)| (p - q).powi(2)).sum();
            (-d2 / (2.0 * s * s)).exp()
        };
        let mean = |a: &[f64], b: &[f64]| {
            let mut t = 0.0;
            for p in a.chunks(dim) {
                for q in b.chunks(dim) {
                    t += k(p, q);
                }
            }
            t / ((a.len() / dim) * (b.len() / dim)) as f64
        };
        mean(x, x) + mean(y, y) - 2.0 * mean(x, y)
    }

    #[test]
    fn identical_sets_are_at_zero() {
        let x = gaussian_blob(400, &[0.0, 1.0, 2.0, 3.0], 1.5, 3);
        let copy = x.clone();
        let v = mmd_squared(&x, &copy, 4, 0.7).unwrap();
        assert!(v <= 1e-15, "MMD² = {v}");
    }

    #[test]
    fn matches_the_double_loop() {
        let x = gaussian_blob(37, &[0.0, 0.0, 0.0], 1.0, 1);
        let y = gaussian_blob(23, &[0.5, 0.0, -0.5], 2.0, 2);
        for s in [0.3, 1.0, 4.0] {
            let v = mmd_squared(&x, &y, 3, s).unwrap();
            let r = reference(&x, &y, 3, s);
            assert!((v - r).abs() < 1e-14, "σ = {s}: {v} vs {r}");
            assert!(v > 0.0);
        }
    }

    #[test]
    fn single_points_have_a_closed_form() {
        // k(x,x) = k(y,y) = 1, so MMD² = 2 − 2 exp(−d²/(2σ²)); here d² = 25, σ = 2.
        let v = mmd_squared(&[0.0, 0.0], &[3.0, 4.0], 2, 2.0).unwrap();
        let expected = 2.0 - 2.0 * (-25.0f64 / 8.0).exp();
        assert!((v - expected).abs() < 1e-15);
    }

    #[test]
    fn the_median_bandwidth_by_hand() {
        // Points 0, 1, 3 on a line: distances 1, 3, 2, median 2.
        assert_eq!(median_bandwidth(&[0.0, 1.0, 3.0], 1, 0).unwrap(), 2.0);
        // Points 0, 1, 3, 7: distances 1, 3, 7, 2, 6, 4, sorted 1 2 3 4 6 7, median (3 + 4)/2.
        assert_eq!(median_bandwidth(&[0.0, 1.0, 3.0, 7.0], 1, 0).unwrap(), 3.5);
        // Reproducible from the seed when subsampled; close to the full median.
        let y = gaussian_blob(1500, &[0.0, 0.0], 1.0, 4);
        let a = median_bandwidth(&y, 2, 8).unwrap();
        assert_eq!(a, median_bandwidth(&y, 2, 8).unwrap());
        // Distance of two independent N(0, I₂) points: Rayleigh with scale √2, median √(2 ln 4)·1.
        let rayleigh_median = (2.0 * 2.0 * 2f64.ln()).sqrt();
        assert!((a - rayleigh_median).abs() < 0.05, "median {a}");
    }

    #[test]
    fn bad_input_is_refused() {
        let e = |r: Result<f64>| r.unwrap_err().to_string();
        assert!(e(mmd_squared(&[0.0], &[1.0], 1, 0.0)).contains("bandwidth 0 must be"));
        assert!(e(mmd_squared(&[0.0], &[1.0], 1, f64::NAN)).contains("bandwidth NaN"));
        assert!(e(mmd_squared(&[0.0, 1.0], &[1.0], 2, 1.0)).contains("MMD data Y"));
        assert!(e(median_bandwidth(&[1.0], 1, 0)).contains("at least 2 points"));
        assert!(e(median_bandwidth(&[1.0, 1.0, 1.0, 1.0, 5.0], 1, 0)).contains("is 0"));
    }
}
