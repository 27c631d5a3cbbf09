//! Adding an operator's field into the caller's output: the one place that checks the field for
//! non-finite values, measures its drift norm and builds the report.

use drift_api::{CouplingReport, DriftError, DriftProblem, DriftReport, Real, Result};

/// Adds `p.scale · field` into the output and returns the field's drift norm
/// `λ = sqrt(mean_i ‖V(x_i)‖² / D)`, the mean over the points of positive weight. A non-finite value is an error naming `what`, and leaves the
/// output untouched.
pub(crate) fn add_field<T: Real>(
    p: &mut DriftProblem<'_, T>,
    field: &[T],
    what: &str,
) -> Result<f64> {
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

/// The report of an operator named `name`.
pub(crate) fn report(
    name: &str,
    couplings: Vec<CouplingReport>,
    drift_norm: f64,
    parts: Vec<DriftReport>,
) -> DriftReport {
    DriftReport {
        operator: name.into(),
        couplings,
        drift_norm,
        parts,
        precision: None,
    }
}
