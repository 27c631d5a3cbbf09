//! The pair sets a [`ColumnShards`] prepares: this process's pairs prepared by the inner backend
//! (the CPU backend keeps their distances where its budget allows), each pass against the shard
//! merged over the processes, and a Sinkhorn loop whose column marginal error is completed over
//! the processes, so that every process stops at the same iteration and the collective calls
//! match.

use super::ColumnShards;
use drift_api::kit::pairs::Prepared;
use drift_api::kit::scaling::{
    column_potentials, row_potential, scaling_iterations, scaling_loop_on_host,
};
use drift_api::kit::{
    prepare_pairs, sweep_in_two_passes, PairDisplacement, PairPath, PairSet, PreparedPairs,
    RowUpdate, ScalingLoop, ScalingOutcome,
};
use drift_api::{DriftError, Real, Result};
use std::any::Any;

/// What a loop's blocks show of themselves ([`PreparedPairs::as_any`]): whether their columns
/// are a shard of `Y`.
#[derive(Debug)]
struct ShardMark {
    columns_split: bool,
}

/// A pair set of a column-split problem (see the module's documentation).
#[derive(Debug)]
pub(super) struct ShardPairs<'a, T> {
    shards: &'a ColumnShards<'a>,
    /// The inner backend's preparation of this process's pairs (`None` for an empty shard).
    local: Option<Prepared<'a, T>>,
    mark: ShardMark,
    /// The rows are a shard of `Y` (column passes are then merged).
    rows_split: bool,
}

impl<'a, T: Real> ShardPairs<'a, T> {
    /// The pairs of `set` for `shards`, prepared on its inner backend.
    pub(super) fn new(shards: &'a ColumnShards<'a>, set: PairSet<'a, T>) -> Result<Self> {
        let (rows_split, columns_split) = (set.rows.whole().is_some(), set.cols.whole().is_some());
        if rows_split && columns_split {
            return Err(shards.refuse("pairs of y with itself need every process's points of y"));
        }
        if set.mask_diagonal && (rows_split || columns_split) {
            return Err(shards.refuse("a masked diagonal pairs rows with y's points by index"));
        }
        let empty = set.rows.is_empty() || set.cols.is_empty();
        let local = match empty {
            true => None,
            false => Some(prepare_pairs(shards.inner, set)?),
        };
        Ok(ShardPairs {
            shards,
            local,
            mark: ShardMark { columns_split },
            rows_split,
        })
    }

    /// Whether a pass of these pairs needs the other processes.
    fn split(&self) -> bool {
        self.rows_split || self.mark.columns_split
    }

    /// One pass of the local pairs into `lse` (`−∞` without pairs), merged over the processes
    /// when its columns are the shard.
    fn pass(
        &self,
        lse: &mut [T],
        merged: bool,
        local: impl FnOnce(&dyn PreparedPairs<T>, &mut [T]) -> Result<()>,
    ) -> Result<()> {
        match &self.local {
            Some(pairs) => local(pairs.as_ref(), lse)?,
            None => lse.fill(T::neg_infinity()),
        }
        if merged {
            self.shards.merge_lse(lse)?;
        }
        Ok(())
    }

    /// Which of `blocks` (all prepared by a shards backend) pair the rows with a shard.
    fn split_blocks(blocks: &[&dyn PreparedPairs<T>]) -> Result<Vec<bool>> {
        blocks
            .iter()
            .map(|b| {
                b.as_any()
                    .and_then(|a| a.downcast_ref::<ShardMark>())
                    .map(|m| m.columns_split)
                    .ok_or_else(|| {
                        DriftError::invalid(
                            "column shards",
                            "a scaling loop mixes pair sets of another backend",
                        )
                    })
            })
            .collect()
    }
}

impl<T: Real> PreparedPairs<T> for ShardPairs<'_, T> {
    fn row_lse(&self, tau: T, col_potential: Option<&[T]>, lse: &mut [T]) -> Result<()> {
        self.pass(lse, self.mark.columns_split, |p, lse| {
            p.row_lse(tau, col_potential, lse)
        })
    }

    fn col_lse(&self, tau: T, row_potential: Option<&[T]>, lse: &mut [T]) -> Result<()> {
        self.pass(lse, self.rows_split, |p, lse| {
            p.col_lse(tau, row_potential, lse)
        })
    }

    fn path(&self) -> PairPath {
        self.local.as_ref().map_or(PairPath::Fused, |p| p.path())
    }

    /// The inner preparation's sweep where no pass needs the other processes, else two passes.
    fn sweep(
        &self,
        tau: T,
        col_potential: Option<&[T]>,
        row_update: &RowUpdate<'_, T>,
        f: &mut [T],
        col: &mut [T],
    ) -> Result<()> {
        match &self.local {
            Some(pairs) if !self.split() => pairs.sweep(tau, col_potential, row_update, f, col),
            _ => sweep_in_two_passes(self, tau, col_potential, row_update, f, col),
        }
    }

    /// The inner preparation's answer where the pass needs no other process; otherwise the
    /// shards backend's merged reduction runs it.
    fn displacement_pass(&self, pass: PairDisplacement<'_, T>) -> Result<bool> {
        match &self.local {
            Some(pairs) if !self.split() => pairs.displacement_pass(pass),
            _ => Ok(false),
        }
    }

    fn as_any(&self) -> Option<&dyn Any> {
        Some(&self.mark)
    }

    /// The host loop, with the column marginal error of the blocks against a shard summed over
    /// the processes (one number per iteration) before the stopping test.
    fn scaling_loop(
        &self,
        blocks: &[&dyn PreparedPairs<T>],
        l: ScalingLoop<'_, T>,
    ) -> Result<ScalingOutcome<T>> {
        let split = Self::split_blocks(blocks)?;
        if l.symmetric || !split.contains(&true) {
            return scaling_loop_on_host(blocks, l);
        }
        l.check(blocks.len())?;
        let (tau, log_a, log_b) = (l.tau, l.row_log_weights, &l.col_log_weights);
        let (f, g, error, iterations) =
            scaling_iterations(l.start, l.counted, l.cap, l.tol, |g: &Vec<Vec<T>>, last| {
                let f = row_potential(blocks, tau, g, log_a, last)?;
                // [the blocks against a shard, the others], each block's error on its own.
                let mut errors = [0.0f64; 2];
                let mut next = Vec::with_capacity(blocks.len());
                for (b, shard) in split.iter().enumerate() {
                    let (mut gb, e) =
                        column_potentials(&blocks[b..=b], tau, &f, &g[b..=b], &log_b[b..=b])?;
                    errors[usize::from(!shard)] += e;
                    next.append(&mut gb);
                }
                self.shards.split.sum(&mut errors[..1])?;
                Ok((f, next, errors[0] + errors[1]))
            })?;
        Ok(ScalingOutcome {
            f,
            g,
            error,
            iterations,
        })
    }
}
