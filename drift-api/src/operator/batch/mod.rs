//! Batches of independent drift problems: the training workload, where one step evaluates the
//! drift on thousands of small problems (one per class and feature location) that share one
//! operator, as one call.
//!
//! A [`ProblemBatch`] holds `B` problems side by side: the generated samples, the data and the
//! optional guidance negatives of every problem, each side stored back to back ([`BatchSets`](crate::kit::BatchSets):
//! `[B, n, D]` arrays, or ragged groups with offsets for problems of different sizes), with
//! optional per-point weights. [`apply_drift_batch`] runs an operator on it. Every operator runs
//! on a batch: [`DriftOperator::drift_batch`](crate::DriftOperator::drift_batch) defaults to
//! [`problem_by_problem`] (each problem through [`crate::apply_drift`], in parallel over the
//! problems), and operators with a faster batched path or with batch-wide statistics override it.
//!
//! **Batch-wide statistics** (a feature scale, a multi-temperature normaliser `λ_τ` taken over the
//! whole batch, as the official training code does) are ratios of sums. Each is computed as its
//! local sums, completed by a [`Collective`] (the identity, [`SingleProcess`](crate::kit::SingleProcess), in one process; a
//! data-parallel caller supplies one that adds the sums of every process), then divided: `P`
//! processes holding `P` slices of a batch get the statistics of the whole batch.
//!
//! ```
//! use drift_api::kit::{BatchSets, ProblemBatch};
//! // Two problems of 2 generated samples against 3 data points each, in 1-D.
//! let x = [0.0f32, 0.1, 5.0, 5.1];
//! let y = [1.0f32, 1.1, 1.2, 6.0, 6.1, 6.2];
//! let batch = ProblemBatch::new(
//!     BatchSets::dense("x", &x, 2, 2, 1).unwrap(),
//!     BatchSets::dense("y", &y, 2, 3, 1).unwrap(),
//! )
//! .unwrap();
//! assert_eq!((batch.problems(), batch.dim()), (2, 1));
//! assert_eq!(batch.y.points(1), &[6.0, 6.1, 6.2]);
//! ```

mod run;

pub use run::{apply_drift_batch, batch_norm, field_sums, problem_by_problem, support_len};

use crate::error::{DriftError, Result};
use crate::kit::backend::Backend;
use crate::kit::batch::{Collective, ProblemBatch, Reduction};
use crate::operator::{Context, DriftReport};
use crate::real::{ByPrecision, Real};

/// One batched evaluation: accumulate `scale · V` of every problem into `out`.
#[derive(Debug)]
pub struct BatchProblem<'a, T> {
    /// Where the reductions run.
    pub backend: &'a dyn Backend,
    /// The problems.
    pub batch: &'a ProblemBatch<'a, T>,
    /// Step and time (shared by every problem).
    pub context: &'a Context,
    /// Output: every generated sample's field, in the layout of `batch.x`; the operator adds
    /// `scale · V` to it.
    pub out: &'a mut [T],
    /// Factor applied to the field before accumulation.
    pub scale: T,
    /// Completes batch-wide sums across processes ([`SingleProcess`](crate::kit::SingleProcess) in one process).
    pub collective: &'a dyn Collective,
}

impl<'a, T: Real> BatchProblem<'a, T> {
    /// The batched problem on `backend` in `context`, added into `out` with scale 1 in one
    /// process ([`SingleProcess`](crate::kit::SingleProcess)); with [`BatchProblem::scaled`] and
    /// [`BatchProblem::across`], how every caller builds what [`apply_drift_batch`] runs.
    pub fn new(
        backend: &'a dyn Backend,
        batch: &'a ProblemBatch<'a, T>,
        context: &'a Context,
        out: &'a mut [T],
    ) -> Self {
        BatchProblem {
            backend,
            batch,
            context,
            out,
            scale: T::one(),
            collective: &crate::kit::SingleProcess,
        }
    }

    /// This problem with the field multiplied by `scale` before it is added.
    pub fn scaled(self, scale: T) -> Self {
        BatchProblem { scale, ..self }
    }

    /// This problem with its batch-wide sums completed by `collective` (the batch is one
    /// process's part of a larger one).
    pub fn across(self, collective: &'a dyn Collective) -> Self {
        BatchProblem { collective, ..self }
    }

    /// Checks the output's length, the scale and the context.
    pub fn check(&self) -> Result<()> {
        if self.out.len() != self.batch.field_len() {
            return Err(DriftError::ShapeMismatch {
                what: "batched drift output".into(),
                expected: self.batch.field_len(),
                found: self.out.len(),
            });
        }
        crate::check_param("scale", self.scale.as_f64(), true, "real")?;
        self.context.check()
    }

    /// The output split per problem.
    pub fn out_per_problem(&mut self) -> Vec<&mut [T]> {
        split_per_problem(self.out, self.batch.x.offsets(), self.batch.dim())
    }
}

/// `field` (in the layout of a batch side with these point `offsets`) split per problem.
pub fn split_per_problem<'f, T>(
    mut field: &'f mut [T],
    offsets: &[usize],
    dim: usize,
) -> Vec<&'f mut [T]> {
    let mut parts = Vec::with_capacity(offsets.len().saturating_sub(1));
    for w in offsets.windows(2) {
        let (head, tail) = std::mem::take(&mut field).split_at_mut((w[1] - w[0]) * dim);
        parts.push(head);
        field = tail;
    }
    parts
}

crate::per_precision!(
    /// The kind of [`BatchProblem`]s, for [`BatchJob`].
    pub BatchProblems = BatchProblem
);

/// A [`BatchProblem`] tagged with its precision.
pub type BatchJob<'a> = ByPrecision<BatchProblems<'a>>;

/// A normaliser reported by a batched evaluation: a temperature and its drift norm `λ_τ`, over
/// the whole batch or per problem.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct TemperatureNorm {
    /// The temperature (as the operator names it, before the context's factor).
    pub temperature: f64,
    /// `λ_τ` over the whole batch, or the mean over the problems of the per-problem `λ_τ`.
    pub lambda: f64,
}

/// Diagnostics of one batched evaluation.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct BatchReport {
    /// The operator's registered name.
    pub operator: String,
    /// Number of problems.
    pub problems: usize,
    /// Drift norm `λ = sqrt(mean ‖V‖² / D)` of this operator's field over the whole batch (every
    /// generated sample of positive weight of every problem), before `scale`.
    pub drift_norm: f64,
    /// Where this operator took its batch-wide statistics, if it has any.
    pub reduction: Option<Reduction>,
    /// A feature scale, when the operator computes one (over the batch, or the mean of the
    /// per-problem scales).
    pub scale: Option<f64>,
    /// The per-temperature normalisers, when the operator computes them.
    pub temperature_norms: Vec<TemperatureNorm>,
    /// Reports of sub-operators, for compositions.
    pub parts: Vec<BatchReport>,
    /// One report per problem, when the problems ran one by one ([`problem_by_problem`]), or
    /// when a fused path solved couplings per problem (their iterations and marginal errors).
    pub per_problem: Vec<DriftReport>,
    /// Whether a fused batched path computed this node (every problem in one pass of the
    /// backend's own), rather than the problems one by one through the single-problem operator.
    pub fused: bool,
}

impl BatchReport {
    /// Largest Sinkhorn marginal error over the problems and parts, if any coupling reported one.
    pub fn max_marginal_error(&self) -> Option<f64> {
        let own = self
            .per_problem
            .iter()
            .filter_map(|r| r.max_marginal_error());
        let parts = self.parts.iter().filter_map(|p| p.max_marginal_error());
        own.chain(parts).reduce(f64::max)
    }

    /// Unconverged couplings over the problems and parts ([`DriftReport::unconverged`]).
    pub fn unconverged(&self) -> usize {
        let own: usize = self.per_problem.iter().map(|r| r.unconverged()).sum();
        own + self.parts.iter().map(|p| p.unconverged()).sum::<usize>()
    }
}
