//! The data of a batch of independent drift problems ([`ProblemBatch`], its sides [`BatchSets`])
//! and the [`Collective`] that completes batch-wide sums across processes. What runs an operator
//! on a batch is the operator contract's (`drift_api::batch`).

use crate::error::{DriftError, Result};
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
/// operation batch-wide statistics need, since each is a ratio of sums; a maximum where the
/// collective offers one (a problem split by columns merges its log-sum-exps with it).
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

    /// Replaces `values` by their element-wise maximum over every process of the group and
    /// returns `true`, where the collective offers a maximum (`MPI_MAX`); the default cannot,
    /// leaves `values` unchanged and returns `false`, and its callers then complete the maximum
    /// through sums ([`ColumnSplit::max`](crate::kit::ColumnSplit::max) gathers every process's
    /// values). The answer must be the same on every process of the group (one kind of
    /// collective on all), so that they all make the same calls after it.
    ///
    /// ```
    /// use drift_api::kit::{Collective, SingleProcess};
    /// #[derive(Debug)]
    /// struct SumsOnly;
    /// impl Collective for SumsOnly {
    ///     fn all_reduce_sum(&self, _: &mut [f64]) -> drift_api::Result<()> { Ok(()) }
    /// }
    /// let mut v = [1.0, -2.0];
    /// assert!(!SumsOnly.all_reduce_max(&mut v).unwrap());
    /// assert!(SingleProcess.all_reduce_max(&mut v).unwrap());
    /// assert_eq!(v, [1.0, -2.0]);
    /// ```
    fn all_reduce_max(&self, values: &mut [f64]) -> Result<bool> {
        let _ = values;
        Ok(false)
    }
}

/// The collective of one process: sums and maxima are already complete.
#[derive(Clone, Copy, Debug, Default)]
pub struct SingleProcess;

impl Collective for SingleProcess {
    fn all_reduce_sum(&self, _values: &mut [f64]) -> Result<()> {
        Ok(())
    }

    fn all_reduce_max(&self, _values: &mut [f64]) -> Result<bool> {
        Ok(true)
    }
}
