//! The drift operator trait: generated samples `X` and data `Y` in, vector field `V(x_i)` out.

use crate::backend::Backend;
use crate::coupling::CouplingReport;
use crate::error::{DriftError, Result};
use crate::points::PointCloud;
use crate::real::Real;

/// Where in a flow or a training run an operator is applied (drives annealing schedules).
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct Context {
    /// Step counter (training step or flow step).
    pub step: u64,
    /// Continuous time of the flow.
    pub time: f64,
}

/// One drift evaluation: accumulate `scale · V(x_i)` into `out`.
///
/// Operators *add* to `out` (faer's accumulate style) so that a sum of operators shares one buffer.
#[derive(Debug)]
pub struct DriftProblem<'a, T> {
    /// Where the reductions run.
    pub backend: &'a dyn Backend,
    /// Generated samples (the particles that move).
    pub x: &'a PointCloud<T>,
    /// Data samples (the targets).
    pub y: &'a PointCloud<T>,
    /// Step and time.
    pub context: &'a Context,
    /// Output `N × D`, row-major; the operator adds `scale · V` to it.
    pub out: &'a mut [T],
    /// Factor applied to the operator's field before accumulation.
    pub scale: T,
}

impl<T: Real> DriftProblem<'_, T> {
    /// Checks that `x` and `y` share a dimension and that `out` has the shape of `x`.
    pub fn check(&self) -> Result<()> {
        self.x.check_same_dim(self.y)?;
        let expected = self.x.len() * self.x.dim();
        if self.out.len() != expected {
            return Err(DriftError::ShapeMismatch {
                what: "drift output".into(),
                expected,
                found: self.out.len(),
            });
        }
        if !self.scale.is_finite() {
            return Err(DriftError::invalid("scale", "must be finite"));
        }
        Ok(())
    }
}

/// A [`DriftProblem`] tagged with its precision.
#[derive(Debug)]
pub enum DriftJob<'a> {
    /// Single precision.
    F32(DriftProblem<'a, f32>),
    /// Double precision.
    F64(DriftProblem<'a, f64>),
}

/// Diagnostics of one drift evaluation.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct DriftReport {
    /// The operator's registered name.
    pub operator: String,
    /// Reports of the couplings it solved (cross first, then self).
    pub couplings: Vec<CouplingReport>,
    /// The raw drift norm `λ = sqrt(mean_i ‖V(x_i)‖² / D)` of this operator's field, before `scale`.
    pub drift_norm: f64,
    /// Reports of sub-operators, for compositions.
    pub parts: Vec<DriftReport>,
}

impl DriftReport {
    /// Largest Sinkhorn marginal error over this report and its parts, if any coupling reported one.
    pub fn max_marginal_error(&self) -> Option<f64> {
        let own = self.couplings.iter().filter_map(|c| c.marginal_error);
        let parts = self.parts.iter().filter_map(|p| p.max_marginal_error());
        own.chain(parts).reduce(f64::max)
    }
    /// Total scaling iterations over this report and its parts.
    pub fn total_iterations(&self) -> usize {
        self.couplings.iter().map(|c| c.iterations).sum::<usize>()
            + self
                .parts
                .iter()
                .map(|p| p.total_iterations())
                .sum::<usize>()
    }
}

/// A drift operator: the vector field that says where each generated sample should move.
///
/// ```
/// use drift_api::{DriftJob, DriftOperator, DriftProblem, DriftReport, Real, Result};
/// use serde::{Deserialize, Serialize};
///
/// /// Moves every particle toward the data mean (a toy operator).
/// #[derive(Debug, Serialize, Deserialize)]
/// struct ToMean;
///
/// impl ToMean {
///     fn run<T: Real>(&self, p: DriftProblem<'_, T>) -> Result<DriftReport> {
///         p.check()?;
///         let d = p.y.dim();
///         let mut mean = vec![T::zero(); d];
///         for j in 0..p.y.len() {
///             for k in 0..d { mean[k] += p.y.point(j)[k] / T::of(p.y.len() as f64); }
///         }
///         for i in 0..p.x.len() {
///             for k in 0..d { p.out[i * d + k] += p.scale * (mean[k] - p.x.point(i)[k]); }
///         }
///         Ok(DriftReport { operator: "doc.to_mean".into(), ..Default::default() })
///     }
/// }
///
/// #[typetag::serde(name = "doc.to_mean")]
/// impl DriftOperator for ToMean {
///     fn drift(&self, job: DriftJob<'_>) -> Result<DriftReport> {
///         match job {
///             DriftJob::F32(p) => self.run(p),
///             DriftJob::F64(p) => self.run(p),
///         }
///     }
/// }
/// ```
#[typetag::serde]
pub trait DriftOperator: Send + Sync + std::fmt::Debug {
    /// Adds `scale · V(x_i)` for every particle into the job's output.
    fn drift(&self, job: DriftJob<'_>) -> Result<DriftReport>;

    /// Checks the whole parameter tree (temperatures, iteration counts, sub-operators) once before use.
    fn validate(&self) -> Result<()> {
        Ok(())
    }
}

/// Runs a typed drift problem through the object-safe trait (generic code calls this).
pub fn apply_drift<T: Real>(
    op: &dyn DriftOperator,
    problem: DriftProblem<'_, T>,
) -> Result<DriftReport> {
    op.drift(T::wrap_drift(problem))
}
