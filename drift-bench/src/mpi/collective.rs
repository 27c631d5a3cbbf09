//! [`MpiCollective`]: the batch-wide sums of the operators ([`Collective`]), and the maxima of a
//! problem split by columns, completed over the ranks of an MPI job with `MPI_Allreduce`, counting
//! what it moves.

use crate::mpi::watchdog::{Watchdog, WAIT_VAR};
use crate::mpi::World;
use drift_api::kit::Collective;
use mpi::collective::SystemOperation;
use mpi::traits::CommunicatorCollectives;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

/// Completes the operators' batch-wide sums over every rank of `world` (element-wise
/// `MPI_SUM` of `f64`, and `MPI_MAX` for the maxima of a problem split by columns), so that `K` ranks holding `K` slices of a batch get the statistics of the
/// whole batch. Every rank must make the same calls in the same order, which the operators do:
/// their reductions depend on the operator, not on the data.
#[derive(Debug)]
pub struct MpiCollective<'w> {
    world: &'w World,
    calls: AtomicU64,
    values: AtomicU64,
    /// Bounds each wait in an all-reduce, when set.
    watchdog: Option<Watchdog>,
}

/// What a [`MpiCollective`] moved: all-reduce calls (sums and maxima) and the `f64` values they
/// reduced.
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
            watchdog: None,
        }
    }

    /// This collective with each wait in an all-reduce bounded by `watchdog` (if any): the
    /// all-reduce is then non-blocking and polled, and past the limit the rank ends the job.
    pub fn watched(self, watchdog: Option<Watchdog>) -> Self {
        MpiCollective { watchdog, ..self }
    }

    /// `values` reduced by `op` over the ranks within `limit`, else the job ended.
    fn all_reduce_within(
        &self,
        local: &[f64],
        values: &mut [f64],
        op: SystemOperation,
        limit: Duration,
    ) {
        let deadline = Instant::now() + limit;
        mpi::request::scope(|scope| {
            let comm = self.world.comm();
            let mut request = comm.immediate_all_reduce_into(scope, local, values, op);
            loop {
                request = match request.test() {
                    Ok(_) => return,
                    Err(pending) => pending,
                };
                if Instant::now() >= deadline {
                    eprintln!(
                        "error: MPI rank {} of {}: waited {:.1} s in a collective of the work \
                         ({WAIT_VAR}): another rank is not responding; ending the job",
                        self.world.rank(),
                        self.world.size(),
                        limit.as_secs_f64()
                    );
                    self.world.abort(1);
                }
                std::thread::sleep(Duration::from_micros(50));
            }
        })
    }

    /// What it moved so far.
    pub fn traffic(&self) -> Traffic {
        Traffic {
            calls: self.calls.load(Ordering::Relaxed),
            values: self.values.load(Ordering::Relaxed),
        }
    }
}

impl MpiCollective<'_> {
    /// `values` replaced by their element-wise reduction by `op` over the ranks, counted.
    fn all_reduce(&self, values: &mut [f64], op: SystemOperation) -> drift_api::Result<()> {
        if i32::try_from(values.len()).is_err() {
            return Err(drift_api::DriftError::invalid(
                "MPI all-reduce",
                format!("{} values exceed one MPI message", values.len()),
            ));
        }
        let local = values.to_vec();
        match self.watchdog {
            Some(w) => self.all_reduce_within(&local, values, op, w.limit),
            None => self.world.comm().all_reduce_into(&local[..], values, op),
        }
        self.calls.fetch_add(1, Ordering::Relaxed);
        self.values
            .fetch_add(values.len() as u64, Ordering::Relaxed);
        Ok(())
    }
}

impl Collective for MpiCollective<'_> {
    fn all_reduce_sum(&self, values: &mut [f64]) -> drift_api::Result<()> {
        self.all_reduce(values, SystemOperation::sum())
    }

    /// `MPI_MAX`: exact, so every rank gets the same bits.
    fn all_reduce_max(&self, values: &mut [f64]) -> drift_api::Result<bool> {
        self.all_reduce(values, SystemOperation::max())?;
        Ok(true)
    }
}
