//! What compositions share: checking their children, adding a child's field into the output.

use drift_api::batch::{batch_norm, field_sums, BatchProblem};
use drift_api::{DriftError, DriftOperator, Real, Result};

/// Validates every child, naming its position.
pub fn validate_children<'a>(
    what: &str,
    children: impl Iterator<Item = &'a dyn DriftOperator>,
) -> Result<()> {
    let mut any = false;
    for (k, op) in children.enumerate() {
        any = true;
        op.validate().map_err(|e| match e {
            DriftError::InvalidParameter { what: w, reason } => DriftError::InvalidParameter {
                what: format!("{what}[{k}].{w}"),
                reason,
            },
            DriftError::InvalidTemperature { what: w, value } => DriftError::InvalidTemperature {
                what: format!("{what}[{k}].{w}"),
                value,
            },
            other => other,
        })?;
    }
    if any {
        Ok(())
    } else {
        Err(DriftError::invalid(what, "needs at least one operator"))
    }
}

/// Adds `p.scale · field` into a batched output and returns the field's drift norm over the whole
/// batch (completed by the problem's collective). A non-finite value is an error naming `what`,
/// and leaves the output untouched.
pub fn add_batch_field<T: Real>(
    p: &mut BatchProblem<'_, T>,
    field: &[T],
    what: &str,
) -> Result<f64> {
    if let Some(index) = field.iter().position(|v| !v.is_finite()) {
        return Err(DriftError::NonFiniteResult {
            what: what.into(),
            index,
        });
    }
    let sums = field_sums(&p.batch.x, field);
    for (o, v) in p.out.iter_mut().zip(field) {
        *o += p.scale * *v;
    }
    batch_norm(p.collective, &sums)
}
