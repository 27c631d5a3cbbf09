//! The calls that run an operator and return its field: [`drift`] on the CPU backend, [`drift_with`]
//! on any backend and context. Both build a [`DriftProblem`] and run it through
//! [`drift_api::apply_drift`], the one way an operator runs; a caller that keeps its output buffer
//! between evaluations (or adds fields, or passes guidance negatives) does the same with
//! [`DriftProblem::new`].

use crate::CpuBackend;
use drift_api::kit::Backend;
use drift_api::Result;
use drift_api::{apply_drift, Context, DriftOperator, DriftProblem, DriftReport, PointCloud, Real};

/// Evaluates `V(x_i)` on the CPU backend at step 0: returns the field (`N × D`, row-major) and the report.
pub fn drift<T: Real>(
    op: &dyn DriftOperator,
    x: &PointCloud<T>,
    y: &PointCloud<T>,
) -> Result<(Vec<T>, DriftReport)> {
    drift_with(&CpuBackend, op, x, y, &Context::default())
}

/// Evaluates `V(x_i)` on a given backend and context.
///
/// ```
/// use drift_api::{apply_drift, Context, DriftProblem, PointCloud};
/// let x = PointCloud::new("x", vec![0.0f64, 1.0], 1).unwrap();
/// let y = PointCloud::new("y", vec![3.0f64], 1).unwrap();
/// let op = drift_ops::OneSided::new(1.0);
/// let context = Context::default();
/// let (v, _) = drift_ops::drift_with(&drift_ops::CpuBackend, &op, &x, &y, &context).unwrap();
/// // The same, into a buffer the caller keeps:
/// let mut out = vec![0.0; 2];
/// apply_drift(&op, DriftProblem::new(&drift_ops::CpuBackend, &x, &y, &context, &mut out))
///     .unwrap();
/// assert_eq!(v, out);
/// ```
pub fn drift_with<T: Real>(
    backend: &dyn Backend,
    op: &dyn DriftOperator,
    x: &PointCloud<T>,
    y: &PointCloud<T>,
    context: &Context,
) -> Result<(Vec<T>, DriftReport)> {
    let mut out = drift_api::kit::try_vec("drift field", x.len() * x.dim(), T::zero())?;
    let report = apply_drift(op, DriftProblem::new(backend, x, y, context, &mut out))?;
    Ok((out, report))
}
