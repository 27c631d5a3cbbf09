//! # drift-ops
//!
//! The CPU implementation of the drift framework: the fused row reduction ([`CpuBackend`]), the
//! built-in kernels, couplings and drift operators. Every operator is built on the one reduction
//! primitive of `drift-api`; none holds a second copy of the pairwise loop.
//!
//! ```
//! use drift_api::PointCloud;
//! let x = PointCloud::new("x", vec![0.0f64, 0.0, 0.5, 0.5], 2).unwrap();
//! let y = PointCloud::new("y", vec![2.0f64, 2.0, 2.5, 2.0, 2.0, 2.5], 2).unwrap();
//! let op = drift_ops::SinkhornDrift::new(0.5);
//! let (v, report) = drift_ops::drift(&op, &x, &y).unwrap();
//! assert!(v.iter().all(|c| *c > 0.0)); // every particle moves up and right, toward the data
//! println!("λ = {}, Sinkhorn error = {:?}", report.drift_norm, report.max_marginal_error());
//! ```

pub mod batched;
mod bounding_box;
pub mod cached;
pub mod compositions;
#[cfg(feature = "conformance")]
pub mod conformance;
pub mod couplings;
pub mod cpu;
pub mod dense;
pub mod engine;
pub mod exp;
mod gram;
pub mod kernels;
mod matrix_pool;
mod microkernel;
pub mod operators;
pub mod pair_cache;
pub mod random;
pub mod tile_skip;
pub mod weightings;

pub use compositions::*;
pub use couplings::{RowNormalised, Schedule, Sinkhorn, TwoSidedProxy, Unnormalised};
pub use cpu::{CpuBackend, CpuBackendBuilder};
pub use engine::{DisplacementKind, Term};
pub use kernels::{Gaussian, InverseMultiquadric, Laplace, LogDistance};
pub use operators::*;
pub use weightings::{FDivergenceKind, FDivergenceWeighting, MassProduct, Masses, Unit};

use drift_api::kit::Backend;
use drift_api::{
    apply_drift, Context, DriftOperator, DriftProblem, DriftReport, Negatives, PointCloud, Real,
    Result,
};

/// Evaluates `V(x_i)` on the CPU backend at step 0: returns the field (`N × D`, row-major) and the report.
pub fn drift<T: Real>(
    op: &dyn DriftOperator,
    x: &PointCloud<T>,
    y: &PointCloud<T>,
) -> Result<(Vec<T>, DriftReport)> {
    drift_with(&CpuBackend, op, x, y, &Context::default())
}

/// Evaluates `V(x_i)` on a given backend and context.
pub fn drift_with<T: Real>(
    backend: &dyn Backend,
    op: &dyn DriftOperator,
    x: &PointCloud<T>,
    y: &PointCloud<T>,
    context: &Context,
) -> Result<(Vec<T>, DriftReport)> {
    let mut out = vec![T::zero(); x.len() * x.dim()];
    let report = drift_into(backend, op, x, y, context, None, &mut out)?;
    Ok((out, report))
}

/// Evaluates `V(x_i)` into `out` (`N × D`, row-major, overwritten), with guidance negatives if
/// given: the call behind [`drift_with`] for callers that keep their buffer between evaluations.
///
/// ```
/// use drift_api::{Context, Negatives, PointCloud};
/// let x = PointCloud::new("x", vec![0.0f64, 1.0], 1).unwrap();
/// let y = PointCloud::new("y", vec![3.0f64], 1).unwrap();
/// let mut v = vec![f64::NAN; 2];
/// let op = drift_ops::OneSided::new(1.0);
/// drift_ops::drift_into(&drift_ops::CpuBackend, &op, &x, &y, &Context::default(), None, &mut v)
///     .unwrap();
/// assert!(v.iter().all(|d| *d > 0.0));
/// ```
pub fn drift_into<T: Real>(
    backend: &dyn Backend,
    op: &dyn DriftOperator,
    x: &PointCloud<T>,
    y: &PointCloud<T>,
    context: &Context,
    negatives: Option<Negatives<'_, T>>,
    out: &mut [T],
) -> Result<DriftReport> {
    out.iter_mut().for_each(|v| *v = T::zero());
    apply_drift(
        op,
        DriftProblem {
            backend,
            x,
            y,
            context,
            out,
            scale: T::one(),
            negatives,
        },
    )
}
