//! The energy distance between two samples.

use super::input::rows;
use super::pairs::pair_mean;
use anyhow::Result;

/// Energy distance between samples `X` (`n` points) and data `Y` (`m` points), row-major with
/// `dim` columns, as the V-statistic:
///
/// ```text
/// E(X, Y) = (2/(n m)) Σ_i Σ_j ‖x_i − y_j‖ − (1/n²) Σ_i Σ_i' ‖x_i − x_i'‖ − (1/m²) Σ_j Σ_j' ‖y_j − y_j'‖
/// ```
///
/// i.e. `2 E‖X − Y‖ − E‖X − X'‖ − E‖Y − Y'‖` over the empirical distributions, the self terms over
/// all pairs including `i = i'` (which contribute 0). This is the energy distance between the two
/// empirical measures (Székely–Rizzo), which is ≥ 0 and 0 only when they are equal; it is twice the
/// squared MMD of the distance-induced kernel `k(a, b) = ½ (‖a‖ + ‖b‖ − ‖a − b‖)`, and in data
/// units (a distance, not a squared one). Two copies of the same set give exactly 0 (the sums run
/// in a fixed order); a negative result of rounding size is returned as 0.
///
/// Points far apart (distances beyond `f64::MAX`, e.g. coordinates near ±1e308) do not overflow
/// into `inf − inf`: the distance is computed again on the points scaled by a power of two (exact)
/// and scaled back, so the result is the true distance, or `inf` when that exceeds `f64::MAX`;
/// never a spurious 0.
///
/// Errors: bad point sets (empty, not whole rows, non-finite).
pub fn energy_distance(x: &[f64], y: &[f64], dim: usize) -> Result<f64> {
    rows("energy distance samples X", x, dim)?;
    rows("energy distance data Y", y, dim)?;
    let yy = pair_mean(y, y, dim, f64::sqrt);
    Ok(energy_distance_given(x, y, dim, yy))
}

/// [`energy_distance`] of checked inputs with the data's own term `yy` (the mean distance over the
/// data's pairs) given, so that it is computed once for many sample sets.
pub(crate) fn energy_distance_given(x: &[f64], y: &[f64], dim: usize, yy: f64) -> f64 {
    let xy = pair_mean(x, y, dim, f64::sqrt);
    let xx = pair_mean(x, x, dim, f64::sqrt);
    let e = 2.0 * xy - xx - yy;
    if e.is_finite() && xy.is_finite() && xx.is_finite() && yy.is_finite() {
        return e.max(0.0);
    }
    // Some distance overflowed (`inf − inf` is NaN, which `max` would turn into 0). The energy
    // distance is homogeneous of degree 1: compute it on the points scaled by a power of two that
    // brings every coordinate within ±1, then scale back (`inf` when the true value overflows).
    let largest = x.iter().chain(y).fold(0.0f64, |m, v| m.max(v.abs()));
    // `exponent` is up to 1024 and 2^±1024 is not an f64: scale in two halves each way.
    let exponent = largest.log2().ceil() as i32;
    let (half, rest) = (
        2f64.powi(-(exponent / 2)),
        2f64.powi(-(exponent - exponent / 2)),
    );
    let xs: Vec<f64> = x.iter().map(|v| v * half * rest).collect();
    let ys: Vec<f64> = y.iter().map(|v| v * half * rest).collect();
    let xy = pair_mean(&xs, &ys, dim, f64::sqrt);
    let xx = pair_mean(&xs, &xs, dim, f64::sqrt);
    let yy = pair_mean(&ys, &ys, dim, f64::sqrt);
    (2.0 * xy - xx - yy).max(0.0) * 2f64.powi(exponent - 1) * 2.0
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::datasets::gaussian_blob;

    fn unclamped_reference(x: &[f64], y: &[f64], dim: usize) -> f64 {
        let mean = |a: &[f64], b: &[f64]| {
            let mut t = 0.0;
            for p in a.chunks(dim) {
                for q in b.chunks(dim) {
                    t += p
                        .iter()
                        .zip(q)
                        .map(|(u, v)| (u - v).powi(2))
                        .sum::<f64>()
                        .sqrt();
                }
            }
            t / ((a.len() / dim) * (b.len() / dim)) as f64
        };
        2.0 * mean(x, y) - mean(x, x) - mean(y, y)
    }

    #[test]
    fn identical_sets_are_at_zero() {
        let x = gaussian_blob(300, &[1.0; 5], 1.0, 2);
        assert_eq!(energy_distance(&x, &x.clone(), 5).unwrap(), 0.0);
    }

    #[test]
    fn single_points_are_at_twice_their_distance() {
        assert_eq!(energy_distance(&[0.0, 0.0], &[3.0, 4.0], 2).unwrap(), 10.0);
    }

    #[test]
    fn matches_the_double_loop() {
        let x = gaussian_blob(31, &[0.0, 0.0], 1.0, 5);
        let y = gaussian_blob(17, &[1.0, 0.0], 0.5, 6);
        let e = energy_distance(&x, &y, 2).unwrap();
        let r = unclamped_reference(&x, &y, 2);
        assert!((e - r).abs() < 1e-13, "{e} vs {r}");
    }

    #[test]
    fn bad_input_is_refused() {
        let e = energy_distance(&[0.0], &[f64::INFINITY], 1)
            .unwrap_err()
            .to_string();
        assert_eq!(
            e,
            "energy distance data Y: point 0 coordinate 0 is inf (must be finite)"
        );
    }

    #[test]
    fn far_samples_are_not_at_zero() {
        // Every distance overflows f64: the old code computed `inf − inf` and clamped it to 0.
        let x = [-1.5e308, 1.5e308];
        let y = [1.0e308, 1.7e308];
        let e = energy_distance(&x, &y, 1).unwrap();
        let scaled = |v: &[f64]| v.iter().map(|a| a * 1e-300).collect::<Vec<_>>();
        let r = energy_distance(&scaled(&x), &scaled(&y), 1).unwrap() * 1e300;
        assert!(e > 0.0 && e.is_finite(), "{e}");
        assert!((e - r).abs() <= 1e-12 * r, "{e} vs {r}");
        // Single points farther apart than f64::MAX: the distance itself overflows.
        assert_eq!(
            energy_distance(&[-1.7e308], &[1.7e308], 1).unwrap(),
            f64::INFINITY
        );
        // Two copies of a wide set are still at 0.
        assert_eq!(energy_distance(&x, &x, 1).unwrap(), 0.0);
    }

    proptest::proptest! {
        #[test]
        fn non_negative_on_random_sets(
            n in 1usize..=8,
            m in 1usize..=8,
            dim in 1usize..=3,
            values in proptest::collection::vec(-5.0f64..5.0, 48),
        ) {
            let x = &values[..n * dim];
            let y = &values[24..24 + m * dim];
            let e = energy_distance(x, y, dim).unwrap();
            proptest::prop_assert!(e >= 0.0);
            // The clamp only ever removes rounding noise.
            let r = unclamped_reference(x, y, dim);
            proptest::prop_assert!(r > -1e-12, "unclamped {}", r);
            proptest::prop_assert!((e - r.max(0.0)).abs() < 1e-12, "{} vs {}", e, r);
        }
    }
}
