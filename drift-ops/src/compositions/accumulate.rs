//! Running sub-operators into a scratch field and adding fields into the output.

use drift_api::{
    apply_drift, Backend, Context, DriftError, DriftOperator, DriftProblem, DriftReport, Negatives,
    PointCloud, Real, Result,
};

/// Runs `op` on `x`, `y` (the problem's, or rescaled copies) with `context` on `backend`,
/// adding `scale · V` into `out`.
pub fn run_into<T: Real>(
    op: &dyn DriftOperator,
    backend: &dyn Backend,
    x: &PointCloud<T>,
    y: &PointCloud<T>,
    negatives: Option<Negatives<'_, T>>,
    context: &Context,
    out: &mut [T],
    scale: T,
) -> Result<DriftReport> {
    apply_drift(
        op,
        DriftProblem {
            backend,
            x,
            y,
            context,
            out,
            scale,
            negatives,
        },
    )
}

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
