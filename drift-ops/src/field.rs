//! Adding an operator's field into the caller's output: the one place that checks the field for
//! non-finite values, measures its drift norm and builds the report.

use drift_api::{CouplingReport, DriftError, DriftProblem, DriftReport, Real, Result};

/// Adds `p.scale · field` into the output and returns the field's drift norm
/// `λ = sqrt(mean_i ‖V(x_i)‖² / D)`. A non-finite value is an error naming `what`, and leaves the
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
    let mut sq = 0.0f64;
    for (o, v) in p.out.iter_mut().zip(field) {
        sq += v.as_f64() * v.as_f64();
        *o += p.scale * *v;
    }
    Ok((sq / field.len().max(1) as f64).sqrt())
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
