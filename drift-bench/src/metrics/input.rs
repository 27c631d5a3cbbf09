//! Checks on the point sets every metric takes: row-major `f64`, `dim` columns, at least one row,
//! every coordinate finite. A metric over a NaN would itself be NaN (or, for the exact assignment, an
//! arbitrary answer), so bad input is refused with a message naming the set and the offending entry.

use anyhow::{bail, Result};

/// Checks `points` (called `name` in errors) and returns its number of rows.
pub(crate) fn rows(name: &str, points: &[f64], dim: usize) -> Result<usize> {
    if dim == 0 {
        bail!("{name}: the dimension must be at least 1");
    }
    if points.is_empty() {
        bail!("{name}: the point set is empty");
    }
    if !points.len().is_multiple_of(dim) {
        bail!(
            "{name}: {} values is not a whole number of {dim}-dimensional points",
            points.len()
        );
    }
    if let Some(i) = points.iter().position(|v| !v.is_finite()) {
        bail!(
            "{name}: point {} coordinate {} is {} (must be finite)",
            i / dim,
            i % dim,
            points[i]
        );
    }
    Ok(points.len() / dim)
}

/// Squared Euclidean distance from the coordinate differences (no `‖a‖² + ‖b‖² − 2a·b` expansion,
/// which cancels catastrophically for nearby points).
///
/// Four running sums, over coordinates `4q`, `4q + 1`, ..., let the compiler keep them in vector
/// registers (one sum is a chain of dependent additions it may not reorder); the order is fixed, so
/// the result is the same on every call.
#[inline]
pub(crate) fn dist_sq(a: &[f64], b: &[f64]) -> f64 {
    let mut acc = [0.0f64; 4];
    let (a4, b4) = (a.chunks_exact(4), b.chunks_exact(4));
    let tail: f64 = a4
        .remainder()
        .iter()
        .zip(b4.remainder())
        .map(|(p, q)| (p - q) * (p - q))
        .sum();
    for (p, q) in a4.zip(b4) {
        for l in 0..4 {
            let d = p[l] - q[l];
            acc[l] += d * d;
        }
    }
    (acc[0] + acc[1]) + (acc[2] + acc[3]) + tail
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bad_sets_are_named() {
        let e = |r: Result<usize>| r.unwrap_err().to_string();
        assert_eq!(e(rows("X", &[], 2)), "X: the point set is empty");
        assert_eq!(
            e(rows("X", &[1.0], 0)),
            "X: the dimension must be at least 1"
        );
        assert_eq!(
            e(rows("Y", &[1.0, 2.0, 3.0], 2)),
            "Y: 3 values is not a whole number of 2-dimensional points"
        );
        assert_eq!(
            e(rows("Y", &[1.0, 2.0, 3.0, f64::NAN], 2)),
            "Y: point 1 coordinate 1 is NaN (must be finite)"
        );
        assert_eq!(
            e(rows("Y", &[f64::NEG_INFINITY, 0.0], 2)),
            "Y: point 0 coordinate 0 is -inf (must be finite)"
        );
        assert_eq!(rows("X", &[1.0, 2.0, 3.0, 4.0], 2).unwrap(), 2);
    }

    #[test]
    fn squared_distances_in_every_length() {
        for dim in 0..12 {
            let a: Vec<f64> = (0..dim).map(|i| i as f64 * 0.5).collect();
            let b: Vec<f64> = (0..dim).map(|i| 1.0 - i as f64).collect();
            let plain: f64 = a.iter().zip(&b).map(|(p, q)| (p - q) * (p - q)).sum();
            assert!(
                (dist_sq(&a, &b) - plain).abs() <= 1e-13 * plain.max(1.0),
                "dim {dim}"
            );
        }
        assert_eq!(dist_sq(&[0.0, 0.0], &[3.0, 4.0]), 25.0);
    }
}
