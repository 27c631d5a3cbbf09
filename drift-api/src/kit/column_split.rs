//! One process's place in a problem whose data `Y` is split by columns over processes: every
//! process holds all of `X` and one shard of `Y` ([`crate::PointCloud::shard`]), and what an
//! evaluation computes over `Y` outside the backend's reductions (a bounding box, a median, a
//! marginal error) is completed through the processes' [`Collective`] with the calls here.
//!
//! A backend that runs such a problem (`drift_ops::ColumnShards`) answers
//! [`Backend::column_split`](crate::kit::Backend::column_split) with its [`ColumnSplit`]; every
//! process makes the same calls in the same order, so the collective's calls match.

use crate::error::{DriftError, Result};
use crate::kit::batch::Collective;
use crate::points::Whole;

/// Process `rank` of `ranks`, with the collective that joins them (see the module's
/// documentation).
///
/// ```
/// use drift_api::kit::{ColumnSplit, SingleProcess, Whole};
/// let split = ColumnSplit::new(&SingleProcess, 0, 1).unwrap();
/// let mut v = [1.0, -2.0];
/// split.max(&mut v).unwrap();
/// assert_eq!(v, [1.0, -2.0]);
/// assert_eq!(split.gather(&[3.0]).unwrap(), vec![3.0]);
/// let part = Whole::of_part::<f64>(None, 5);
/// assert_eq!(split.whole(part).unwrap(), part);
/// assert!(ColumnSplit::new(&SingleProcess, 1, 1).is_err());
/// ```
#[derive(Clone, Copy, Debug)]
pub struct ColumnSplit<'a> {
    collective: &'a dyn Collective,
    rank: usize,
    ranks: usize,
}

impl<'a> ColumnSplit<'a> {
    /// Process `rank` of `ranks` joined by `collective`.
    pub fn new(collective: &'a dyn Collective, rank: usize, ranks: usize) -> Result<Self> {
        check_rank("column shards", rank, ranks)?;
        Ok(ColumnSplit {
            collective,
            rank,
            ranks,
        })
    }

    /// This process's rank.
    pub fn rank(&self) -> usize {
        self.rank
    }

    /// The number of processes.
    pub fn ranks(&self) -> usize {
        self.ranks
    }

    /// Replaces `values` by their element-wise sum over the processes.
    pub fn sum(&self, values: &mut [f64]) -> Result<()> {
        self.collective.all_reduce_sum(values)
    }

    /// Every process's `local` (the same length on each), rank after rank: each process writes
    /// its values into zeros and the collective adds them, which is exact (infinities included).
    pub fn gather(&self, local: &[f64]) -> Result<Vec<f64>> {
        let width = local.len();
        let mut all = crate::kit::try_vec("column split gather", width * self.ranks, 0.0)?;
        all[self.rank * width..][..width].copy_from_slice(local);
        self.collective.all_reduce_sum(&mut all)?;
        Ok(all)
    }

    /// Replaces `values` by their element-wise maximum over the processes.
    pub fn max(&self, values: &mut [f64]) -> Result<()> {
        let width = values.len();
        let all = self.gather(values)?;
        for (k, v) in values.iter_mut().enumerate() {
            *v = all
                .iter()
                .skip(k)
                .step_by(width.max(1))
                .fold(f64::NEG_INFINITY, |m, a| m.max(*a));
        }
        Ok(())
    }

    /// Replaces `values` by their element-wise minimum over the processes.
    pub fn min(&self, values: &mut [f64]) -> Result<()> {
        values.iter_mut().for_each(|v| *v = -*v);
        self.max(values)?;
        values.iter_mut().for_each(|v| *v = -*v);
        Ok(())
    }

    /// The whole set whose parts the processes hold (each gives its own, [`Whole::of_part`]).
    pub fn whole(&self, part: Whole) -> Result<Whole> {
        let mut sums = [part.weight, part.support as f64];
        self.sum(&mut sums)?;
        Ok(Whole {
            weight: sums[0],
            support: sums[1] as usize,
        })
    }
}

/// An error naming `what` unless `rank` is one of `ranks` processes (the check of every split of
/// one problem over processes).
///
/// ```
/// assert!(drift_api::kit::check_rank("row shards", 2, 3).is_ok());
/// assert!(drift_api::kit::check_rank("row shards", 3, 3).is_err());
/// ```
pub fn check_rank(what: &str, rank: usize, ranks: usize) -> Result<()> {
    if ranks == 0 || rank >= ranks {
        return Err(DriftError::invalid(
            what,
            format!("rank {rank} is not one of {ranks} processes"),
        ));
    }
    Ok(())
}
