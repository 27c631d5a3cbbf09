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
use crate::kit::log_add_exp;
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

    /// Replaces `values` by their element-wise maximum over the processes: the collective's own
    /// maximum where it offers one ([`Collective::all_reduce_max`]), else a [`gather`](Self::gather)
    /// of every process's values (`ranks` times as many).
    pub fn max(&self, values: &mut [f64]) -> Result<()> {
        if self.collective.all_reduce_max(values)? {
            return Ok(());
        }
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

    /// Per-row log-sum-exp states merged over the processes: `lse` (this process's `lse_p`, one
    /// per row, `−∞` for a row without terms) becomes `lse = LSE_p lse_p`, and each row's
    /// `vectors.len() / lse.len()` values of `vectors` (this process's normalised sums, such as a
    /// displacement) become `Σ_p exp(lse_p − lse) v_p`. Every process gets the same bits.
    ///
    /// With the collective's maximum, two calls move `N` values (the row maxima `m`) and
    /// `N·(1 + width)` (the shifted sums `Σ_p exp(lse_p − m)`, and the vectors scaled alike);
    /// without it, every process's `lse_p` is gathered (`ranks·N` values), combined in rank
    /// order, and the scaled vectors summed (`N·width`).
    ///
    /// ```
    /// use drift_api::kit::{ColumnSplit, SingleProcess};
    /// let split = ColumnSplit::new(&SingleProcess, 0, 1).unwrap();
    /// let (mut lse, mut v) = ([0.5, f64::NEG_INFINITY], [2.0, 0.0]);
    /// split.merge_log_sum_exps(&mut lse, &mut v).unwrap();
    /// assert_eq!((lse, v), ([0.5, f64::NEG_INFINITY], [2.0, 0.0]));
    /// ```
    pub fn merge_log_sum_exps(&self, lse: &mut [f64], vectors: &mut [f64]) -> Result<()> {
        let n = lse.len();
        let width = vectors.len().checked_div(n).unwrap_or(0);
        if width * n != vectors.len() {
            return Err(DriftError::invalid(
                "column split merge",
                format!("{} values for {n} rows", vectors.len()),
            ));
        }
        let mut top = lse.to_vec();
        if !self.collective.all_reduce_max(&mut top)? {
            return self.merge_by_gather(lse, vectors, width);
        }
        // [Σ_p exp(lse_p − m) per row, then Σ_p exp(lse_p − m) v_p per row].
        let mut sums = crate::kit::try_vec("column split merge", n * (1 + width), 0.0)?;
        let (scales, scaled) = sums.split_at_mut(n);
        for (i, (l, m)) in lse.iter().zip(&top).enumerate() {
            // A row without terms anywhere (m = −∞) adds nothing.
            let w = if *m == f64::NEG_INFINITY {
                0.0
            } else {
                (l - m).exp()
            };
            scales[i] = w;
            let row = i * width..(i + 1) * width;
            scaled[row.clone()]
                .iter_mut()
                .zip(&vectors[row])
                .for_each(|(s, v)| *s = w * v);
        }
        self.sum(&mut sums)?;
        let (scales, scaled) = sums.split_at(n);
        for (i, (l, m)) in lse.iter_mut().zip(&top).enumerate() {
            let total = scales[i];
            let row = i * width..(i + 1) * width;
            if *m == f64::NEG_INFINITY {
                *l = f64::NEG_INFINITY;
                vectors[row].fill(0.0);
                continue;
            }
            *l = m + total.ln();
            vectors[row]
                .iter_mut()
                .zip(&scaled[i * width..(i + 1) * width])
                .for_each(|(v, s)| *v = s / total);
        }
        Ok(())
    }

    /// [`merge_log_sum_exps`](Self::merge_log_sum_exps) through sums only.
    fn merge_by_gather(&self, lse: &mut [f64], vectors: &mut [f64], width: usize) -> Result<()> {
        let n = lse.len();
        let all = self.gather(lse)?;
        let total: Vec<f64> = (0..n)
            .map(|i| {
                all.iter()
                    .skip(i)
                    .step_by(n.max(1))
                    .fold(f64::NEG_INFINITY, |acc, l| log_add_exp(acc, *l))
            })
            .collect();
        if width > 0 {
            let rows = vectors.chunks_exact_mut(width).zip(lse.iter().zip(&total));
            for (v, (l, t)) in rows {
                // Σ_p exp(lse_p − lse) v_p: each process adds its share of the row's mass.
                let w = if *t == f64::NEG_INFINITY {
                    0.0
                } else {
                    (l - t).exp()
                };
                v.iter_mut().for_each(|v| *v *= w);
            }
            self.sum(vectors)?;
        }
        lse.copy_from_slice(&total);
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
