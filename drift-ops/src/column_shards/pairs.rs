//! The pair sets a [`super::ColumnShards`] prepares: every pass one fused reduction on the shards
//! backend (which merges the passes against the shard over the processes), and a Sinkhorn loop
//! whose column marginal error is completed over the processes, so that every process stops at
//! the same iteration and the collective calls match.

use drift_api::kit::scaling::{
    column_potentials, row_potential, scaling_iterations, scaling_loop_on_host,
};
use drift_api::kit::{
    Backend, ColumnSplit, FusedPairs, PairPath, PairSet, PreparedPairs, ScalingLoop, ScalingOutcome,
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
    fused: FusedPairs<'a, T>,
    mark: ShardMark,
    split: ColumnSplit<'a>,
}

impl<'a, T: Real> ShardPairs<'a, T> {
    /// The pairs of `set`, each pass a reduction on `backend` (the shards backend itself).
    pub(super) fn new(
        backend: &'a dyn Backend,
        split: ColumnSplit<'a>,
        set: PairSet<'a, T>,
    ) -> Self {
        ShardPairs {
            mark: ShardMark {
                columns_split: set.cols.whole().is_some(),
            },
            fused: FusedPairs::new(backend, set),
            split,
        }
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
        self.fused.row_lse(tau, col_potential, lse)
    }

    fn col_lse(&self, tau: T, row_potential: Option<&[T]>, lse: &mut [T]) -> Result<()> {
        self.fused.col_lse(tau, row_potential, lse)
    }

    fn path(&self) -> PairPath {
        PairPath::Fused
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
                self.split.sum(&mut errors[..1])?;
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
