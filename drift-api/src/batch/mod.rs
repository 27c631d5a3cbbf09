//! Batches of independent drift problems: the training workload, where one step evaluates the
//! drift on thousands of small problems (one per class and feature location) that share one
//! operator, as one call.
//!
//! A [`ProblemBatch`] holds `B` problems side by side: the generated samples, the data and the
//! optional guidance negatives of every problem, each side stored back to back ([`BatchSets`]:
//! `[B, n, D]` arrays, or ragged groups with offsets for problems of different sizes), with
//! optional per-point weights. [`apply_drift_batch`] runs an operator on it. Every operator runs
//! on a batch: [`DriftOperator::drift_batch`](crate::DriftOperator::drift_batch) defaults to
//! [`problem_by_problem`] (each problem through [`crate::apply_drift`], in parallel over the
//! problems), and operators with a faster batched path or with batch-wide statistics override it.
//!
//! **Batch-wide statistics** (a feature scale, a multi-temperature normaliser `λ_τ` taken over the
//! whole batch, as the official training code does) are ratios of sums. Each is computed as its
//! local sums, completed by a [`Collective`] (the identity, [`SingleProcess`], in one process; a
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

use crate::backend::Backend;
use crate::error::{DriftError, Result};
use crate::operator::{Context, DriftReport};
use crate::points::PointCloud;
use crate::real::Real;
use serde::{Deserialize, Serialize};

/// One side of a batch (the generated samples, the data or the negatives of every problem): `B`
/// point sets of one dimension stored back to back, problem `b` holding points
/// `offsets[b]..offsets[b + 1]`, with optional per-point weights.
#[derive(Clone, Debug)]
pub struct BatchSets<'a, T> {
    what: String,
    data: &'a [T],
    offsets: Vec<usize>,
    dim: usize,
    weights: Option<&'a [T]>,
}

impl<'a, T: Real> BatchSets<'a, T> {
    /// `problems` sets of `points` points each: a `[problems, points, dim]` array, row-major.
    /// `what` names the side in errors.
    pub fn dense(
        what: &str,
        data: &'a [T],
        problems: usize,
        points: usize,
        dim: usize,
    ) -> Result<Self> {
        let offsets = (0..=problems)
            .map(|b| b.checked_mul(points))
            .collect::<Option<Vec<_>>>()
            .ok_or_else(|| DriftError::invalid(what, "the batch's size overflows"))?;
        Self::ragged(what, data, offsets, dim)
    }

    /// Sets of different sizes: problem `b` holds points `offsets[b]..offsets[b + 1]` of `data`
    /// (`offsets` starts at 0, never decreases and ends at the number of points).
    pub fn ragged(what: &str, data: &'a [T], offsets: Vec<usize>, dim: usize) -> Result<Self> {
        if dim == 0 {
            return Err(DriftError::invalid(what, "dimension 0"));
        }
        if offsets.first() != Some(&0) || offsets.windows(2).any(|w| w[1] < w[0]) {
            return Err(DriftError::invalid(
                format!("{what}.offsets"),
                "must start at 0 and never decrease",
            ));
        }
        let points = *offsets.last().unwrap_or(&0);
        let expected = points
            .checked_mul(dim)
            .ok_or_else(|| DriftError::invalid(what, "the batch's size overflows"))?;
        if data.len() != expected {
            return Err(DriftError::ShapeMismatch {
                what: what.into(),
                expected,
                found: data.len(),
            });
        }
        if let Some(k) = data.iter().position(|v| !v.is_finite()) {
            return Err(DriftError::NonFiniteCoordinate {
                what: what.into(),
                point: k / dim,
                coord: k % dim,
                value: data[k].as_f64(),
            });
        }
        Ok(BatchSets {
            what: what.into(),
            data,
            offsets,
            dim,
            weights: None,
        })
    }

    /// These sets with per-point weights (relative masses within each problem; for negatives,
    /// each negative's weight relative to one generated sample), one per point.
    pub fn with_weights(mut self, weights: &'a [T]) -> Result<Self> {
        let what = format!("{}.weights", self.what);
        if weights.len() != self.total_points() {
            return Err(DriftError::ShapeMismatch {
                what,
                expected: self.total_points(),
                found: weights.len(),
            });
        }
        if let Some(k) = weights
            .iter()
            .position(|w| !(w.is_finite() && *w >= T::zero()))
        {
            return Err(DriftError::InvalidWeight {
                what,
                point: k,
                value: weights[k].as_f64(),
            });
        }
        self.weights = Some(weights);
        Ok(self)
    }

    /// The name of this side in errors.
    pub fn what(&self) -> &str {
        &self.what
    }
    /// Number of problems.
    pub fn problems(&self) -> usize {
        self.offsets.len() - 1
    }
    /// Dimension of every point.
    pub fn dim(&self) -> usize {
        self.dim
    }
    /// Points over all problems.
    pub fn total_points(&self) -> usize {
        self.offsets[self.offsets.len() - 1]
    }
    /// The point offsets (`B + 1` values).
    pub fn offsets(&self) -> &[usize] {
        &self.offsets
    }
    /// Every coordinate, problem after problem.
    pub fn data(&self) -> &'a [T] {
        self.data
    }
    /// Every weight, if the sets are weighted.
    pub fn weights(&self) -> Option<&'a [T]> {
        self.weights
    }
    /// Number of points of problem `b`.
    pub fn len(&self, b: usize) -> usize {
        self.offsets[b + 1] - self.offsets[b]
    }
    /// True when there are no problems.
    pub fn is_empty(&self) -> bool {
        self.problems() == 0
    }
    /// The coordinates of problem `b` (`len(b) × dim`, row-major).
    pub fn points(&self, b: usize) -> &'a [T] {
        &self.data[self.offsets[b] * self.dim..self.offsets[b + 1] * self.dim]
    }
    /// The weights of problem `b`, if the sets are weighted.
    pub fn weights_of(&self, b: usize) -> Option<&'a [T]> {
        self.weights
            .map(|w| &w[self.offsets[b]..self.offsets[b + 1]])
    }
    /// Whether every problem has the same number of points (a `[B, n, D]` array).
    pub fn is_dense(&self) -> bool {
        self.offsets
            .windows(2)
            .all(|w| w[1] - w[0] == self.offsets[1] - self.offsets[0])
    }

    /// Problem `b` as a point cloud (a copy, with its weights), named `what[b]`.
    pub fn cloud(&self, b: usize) -> Result<PointCloud<T>> {
        let cloud = PointCloud::new(
            format!("{}[{b}]", self.what),
            self.points(b).to_vec(),
            self.dim,
        )?;
        match self.weights_of(b) {
            Some(w) => cloud.with_weights(w.to_vec()),
            None => Ok(cloud),
        }
    }

    /// Every coordinate mapped through `f` (a rescaled copy), to be borrowed by
    /// [`BatchSets::with_data`].
    pub fn map_coords(&self, f: impl Fn(T) -> T) -> Vec<T> {
        self.data.iter().map(|v| f(*v)).collect()
    }

    /// The same layout and weights over other coordinates of the same size (rescaled or widened
    /// copies).
    pub fn with_data<'b>(&self, data: &'b [T]) -> BatchSets<'b, T>
    where
        'a: 'b,
    {
        assert_eq!(data.len(), self.data.len(), "with_data: same size");
        BatchSets {
            what: self.what.clone(),
            data,
            offsets: self.offsets.clone(),
            dim: self.dim,
            weights: self.weights,
        }
    }
}

/// `B` independent drift problems sharing one dimension: generated samples `x`, data `y` and
/// optional guidance negatives per problem.
#[derive(Clone, Debug)]
pub struct ProblemBatch<'a, T> {
    /// Generated samples of every problem (the field has their shape).
    pub x: BatchSets<'a, T>,
    /// Data of every problem.
    pub y: BatchSets<'a, T>,
    /// Guidance negatives (unconditional samples) of every problem, each weighing its weight (1
    /// when unweighted) relative to one generated sample.
    pub negatives: Option<BatchSets<'a, T>>,
}

impl<'a, T: Real> ProblemBatch<'a, T> {
    /// A batch of the problems `(x[b], y[b])`; both sides must hold the same number of problems
    /// and one dimension.
    pub fn new(x: BatchSets<'a, T>, y: BatchSets<'a, T>) -> Result<Self> {
        check_matching(&x, &y)?;
        Ok(ProblemBatch {
            x,
            y,
            negatives: None,
        })
    }

    /// This batch with guidance negatives per problem.
    pub fn with_negatives(mut self, negatives: BatchSets<'a, T>) -> Result<Self> {
        check_matching(&self.x, &negatives)?;
        self.negatives = Some(negatives);
        Ok(self)
    }

    /// Number of problems `B`.
    pub fn problems(&self) -> usize {
        self.x.problems()
    }
    /// The dimension `D`.
    pub fn dim(&self) -> usize {
        self.x.dim()
    }
    /// Length of the field: every generated sample's `D` coordinates.
    pub fn field_len(&self) -> usize {
        self.x.data().len()
    }
}

fn check_matching<T: Real>(x: &BatchSets<'_, T>, other: &BatchSets<'_, T>) -> Result<()> {
    if other.problems() != x.problems() {
        return Err(DriftError::ShapeMismatch {
            what: format!("{} (problems in the batch)", other.what()),
            expected: x.problems(),
            found: other.problems(),
        });
    }
    if other.dim() != x.dim() {
        return Err(DriftError::DimensionMismatch {
            left: x.what().into(),
            left_dim: x.dim(),
            right: other.what().into(),
            right_dim: other.dim(),
        });
    }
    Ok(())
}

/// Where batch-wide statistics are taken: over the whole batch (the official training code's
/// semantics: one feature scale and one `λ_τ` per array) or per problem.
///
/// In RON: `Batch` or `Problem`. A batch of one gives the same result either way.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub enum Reduction {
    /// One statistic over every problem of the batch (and every process of the [`Collective`]).
    #[default]
    Batch,
    /// One statistic per problem.
    Problem,
}

/// Completes sums across the processes that each hold part of a batch (data parallelism): the one
/// operation batch-wide statistics need, since each is a ratio of sums.
///
/// ```
/// use drift_api::kit::{Collective, SingleProcess};
/// let mut sums = [3.0, 4.0];
/// SingleProcess.all_reduce_sum(&mut sums).unwrap();
/// assert_eq!(sums, [3.0, 4.0]);
/// ```
pub trait Collective: Send + Sync + std::fmt::Debug {
    /// Replaces `values` by their element-wise sum over every process of the group (every process
    /// calls it with the same length, in the same order).
    fn all_reduce_sum(&self, values: &mut [f64]) -> Result<()>;
}

/// The collective of one process: sums are already complete.
#[derive(Clone, Copy, Debug, Default)]
pub struct SingleProcess;

impl Collective for SingleProcess {
    fn all_reduce_sum(&self, _values: &mut [f64]) -> Result<()> {
        Ok(())
    }
}

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
    /// Completes batch-wide sums across processes ([`SingleProcess`] in one process).
    pub collective: &'a dyn Collective,
}

impl<T: Real> BatchProblem<'_, T> {
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
        let factor = self.context.temperature_factor;
        if !(factor.is_finite() && factor > 0.0) {
            return Err(DriftError::InvalidTemperature {
                what: "context.temperature_factor".into(),
                value: factor,
            });
        }
        Ok(())
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

/// A [`BatchProblem`] tagged with its precision.
#[derive(Debug)]
pub enum BatchJob<'a> {
    /// Single precision.
    F32(BatchProblem<'a, f32>),
    /// Double precision.
    F64(BatchProblem<'a, f64>),
}

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
