//! Running sub-operators into a scratch field and adding fields into the output.

use drift_api::{
    apply_drift, Backend, Context, DriftError, DriftOperator, DriftProblem, DriftReport, Negatives,
    PointCloud, Real, Result,
};

/// Runs `op` on `x`, `y` (the problem's, or rescaled copies) with `context` on `backend`,
/// adding `scale · V` into `out`.
pub(crate) fn run_into<T: Real>(
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

/// Adds `p.scale · field` into the output after checking it, returning the field's drift norm `λ`.
pub(crate) fn add_field<T: Real>(p: &mut DriftProblem<'_, T>, field: &[T]) -> Result<f64> {
    if let Some(index) = field.iter().position(|v| !v.is_finite()) {
        return Err(DriftError::NonFiniteResult {
            what: "composed drift field".into(),
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

/// Validates every child, naming its position.
pub(crate) fn validate_children<'a>(
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

/// A composition's report.
pub(crate) fn composite_report(
    name: &str,
    drift_norm: f64,
    parts: Vec<DriftReport>,
) -> DriftReport {
    DriftReport {
        operator: name.into(),
        couplings: Vec::new(),
        drift_norm,
        parts,
    }
}
