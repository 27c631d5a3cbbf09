//! [`MpiCollective`]: the batch-wide sums of the operators ([`Collective`]) completed over the
//! ranks of an MPI job with `MPI_Allreduce`, counting what it moves.

use crate::mpi::World;
use drift_api::kit::Collective;
use mpi::collective::SystemOperation;
use mpi::traits::CommunicatorCollectives;
use std::sync::atomic::{AtomicU64, Ordering};

/// Completes the operators' batch-wide sums over every rank of `world` (element-wise
/// `MPI_SUM` of `f64`), so that `K` ranks holding `K` slices of a batch get the statistics of the
/// whole batch. Every rank must make the same calls in the same order, which the operators do:
/// their reductions depend on the operator, not on the data.
#[derive(Debug)]
pub struct MpiCollective<'w> {
    world: &'w World,
    calls: AtomicU64,
    values: AtomicU64,
}

/// What a [`MpiCollective`] moved: all-reduce calls and the `f64` values they reduced.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Traffic {
    /// `MPI_Allreduce` calls.
    pub calls: u64,
    /// `f64` values reduced over all calls (each rank sends and receives this many).
    pub values: u64,
}

impl<'w> MpiCollective<'w> {
    /// The collective of `world`'s ranks.
    pub fn new(world: &'w World) -> Self {
        MpiCollective {
            world,
            calls: AtomicU64::new(0),
            values: AtomicU64::new(0),
        }
    }

    /// What it moved so far.
    pub fn traffic(&self) -> Traffic {
        Traffic {
            calls: self.calls.load(Ordering::Relaxed),
            values: self.values.load(Ordering::Relaxed),
        }
    }
}

impl Collective for MpiCollective<'_> {
    fn all_reduce_sum(&self, values: &mut [f64]) -> drift_api::Result<()> {
        if i32::try_from(values.len()).is_err() {
            return Err(drift_api::DriftError::invalid(
                "MPI all-reduce",
                format!("{} values exceed one MPI message", values.len()),
            ));
        }
        let local = values.to_vec();
        self.world
            .comm()
            .all_reduce_into(&local[..], values, SystemOperation::sum());
        self.calls.fetch_add(1, Ordering::Relaxed);
        self.values
            .fetch_add(values.len() as u64, Ordering::Relaxed);
        Ok(())
    }
}
