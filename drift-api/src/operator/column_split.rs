//! Problems whose data `Y` is one process's shard of a set split by columns
//! ([`crate::PointCloud::shard`]): where a shard may stand, and how an operator that needs every
//! point of `Y` refuses one.

use super::DriftProblem;
use crate::error::{DriftError, Result};
use crate::real::Real;

impl<T: Real> DriftProblem<'_, T> {
    /// A [`DriftError::ColumnSplit`] naming `operator` (and why, `reason`) when `y` is a shard:
    /// the check of an operator that reads `Y`'s points itself (projections, dense products)
    /// rather than through the backend's reductions, which a column-split backend completes over
    /// the processes.
    ///
    /// ```
    /// use drift_api::{kit::Whole, Context, DriftProblem, PointCloud};
    /// let x = PointCloud::new("x", vec![0.0f64], 1).unwrap();
    /// let whole = Whole { weight: 2.0, support: 2 };
    /// let y = PointCloud::shard("y", vec![1.0f64], 1, None, whole).unwrap();
    /// let (context, mut v) = (Context::default(), vec![0.0]);
    /// # #[derive(Debug)] struct NoBackend;
    /// # impl drift_api::kit::Backend for NoBackend { fn name(&self) -> &str { "none" }
    /// #     fn row_reduce(&self, _: drift_api::kit::ReductionJob<'_>) -> drift_api::Result<()> { Ok(()) } }
    /// let p = DriftProblem::new(&NoBackend, &x, &y, &context, &mut v);
    /// let err = p.needs_whole_y("my_op", "it sorts y").unwrap_err();
    /// assert!(err.to_string().contains("my_op"));
    /// ```
    pub fn needs_whole_y(&self, operator: &str, reason: &str) -> Result<()> {
        match self.y.whole() {
            Some(_) => Err(DriftError::ColumnSplit {
                operator: operator.into(),
                reason: reason.into(),
            }),
            None => Ok(()),
        }
    }

    /// Only `y` may be a shard, and only on a backend that completes its reductions over the
    /// processes ([`crate::kit::Backend::column_split`]): anywhere else a shard's weights,
    /// normalised over the whole set, would give a silently wrong field.
    pub(crate) fn check_shards(&self) -> Result<()> {
        let refuse = |reason: String| {
            Err(DriftError::ColumnSplit {
                operator: self.backend.name().into(),
                reason,
            })
        };
        let negatives = self.negatives.as_ref().map(|n| n.points);
        for (what, set) in [("x", Some(self.x)), ("negatives", negatives)] {
            if set.is_some_and(|s| s.whole().is_some()) {
                return refuse(format!("{what} is a shard; only y may be split"));
            }
        }
        if self.y.whole().is_some() && self.backend.column_split().is_none() {
            return refuse(
                "this backend sees one process's points only: run the problem on a backend that \
                 completes its reductions over the processes (drift_ops::ColumnShards)"
                    .into(),
            );
        }
        Ok(())
    }
}
