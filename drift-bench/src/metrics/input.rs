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
    if points.len() % dim != 0 {
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

/// Squared Euclidean distance, summed coordinate by coordinate (no `‖a‖² + ‖b‖² − 2a·b` expansion,
/// which cancels catastrophically for nearby points).
#[inline]
pub(crate) fn dist_sq(a: &[f64], b: &[f64]) -> f64 {
    a.iter().zip(b).map(|(p, q)| (p - q) * (p - q)).sum()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bad_sets_are_named() {
        let e = |r: Result<usize>| r.unwrap_err().to_string();
        assert_eq!(e(rows("X", &[], 2)), "X: the point set is empty");
        assert_eq!(e(rows("X", &[1.0], 0)), "X: the dimension must be at least 1");
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
}
