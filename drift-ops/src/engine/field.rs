//! Adding an operator's field into the caller's output: the one place that checks the field for
//! non-finite values, measures its drift norm and builds the report.

use drift_api::{DriftError, DriftProblem, Real, Result};

/// Adds `p.scale · field` into the output and returns the field's drift norm
/// `λ = sqrt(mean_i ‖V(x_i)‖² / D)`, the mean over the points of positive weight. A non-finite
/// value is an error naming `what`, and leaves the output untouched.
///
/// ```
/// use drift_api::{Context, DriftProblem, PointCloud};
/// use drift_ops::{engine::add_field, CpuBackend};
/// let x = PointCloud::new("x", vec![0.0f64, 0.0], 1).unwrap();
/// let mut out = vec![1.0, 1.0];
/// let mut p = DriftProblem {
///     backend: &CpuBackend, x: &x, y: &x, context: &Context::default(), out: &mut out,
///     scale: 2.0, negatives: None,
/// };
/// let norm = add_field(&mut p, &[3.0, -3.0], "my field").unwrap();
/// assert_eq!(norm, 3.0);
/// assert!(add_field(&mut p, &[f64::NAN, 0.0], "my field").is_err());
/// assert_eq!(out, vec![7.0, -5.0]);
/// ```
pub fn add_field<T: Real>(p: &mut DriftProblem<'_, T>, field: &[T], what: &str) -> Result<f64> {
    if let Some(index) = field.iter().position(|v| !v.is_finite()) {
        return Err(DriftError::NonFiniteResult {
            what: what.into(),
            index,
        });
    }
    // The norm averages over the points with mass: a zero-weight point must not change it (it
    // normalises multi-temperature sums).
    let d = p.x.dim();
    let mut sq = 0.0f64;
    for (idx, (o, v)) in p.out.iter_mut().zip(field).enumerate() {
        if p.x.has_mass(idx / d) {
            sq += v.as_f64() * v.as_f64();
        }
        *o += p.scale * *v;
    }
    let counted = p.x.support_len() * d;
    Ok((sq / counted.max(1) as f64).sqrt())
}
