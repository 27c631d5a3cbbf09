//! The MPI job this process belongs to, joined only when an MPI launcher started it.
//!
//! A launcher (`mpirun`, `mpiexec`, `srun` with PMI) sets variables in every process it starts;
//! [`World::join`] initialises MPI only when one of [`LAUNCH_VARS`] is set, so that a binary built
//! with the `mpi` feature and started plainly never touches the MPI library and behaves exactly as
//! one built without it.

use anyhow::{bail, Result};
use mpi::environment::Universe;
use mpi::topology::SimpleCommunicator;
use mpi::traits::Communicator;
use mpi::Threading;
use std::fmt;

/// Variables that MPI launchers set in the processes they start: Open MPI's, PMI's (MPICH, Intel
/// MPI, `srun --mpi=pmi2`) and PMIx's (`srun --mpi=pmix`, Open MPI 5).
pub const LAUNCH_VARS: &[&str] = &["OMPI_COMM_WORLD_SIZE", "PMI_SIZE", "PMI_RANK", "PMIX_RANK"];

/// True when `var` (the environment) shows that an MPI launcher started this process.
///
/// ```
/// use drift_bench::mpi::launched_by_mpi;
/// assert!(!launched_by_mpi(|_| None));
/// assert!(launched_by_mpi(|k| (k == "OMPI_COMM_WORLD_SIZE").then(|| "4".to_string())));
/// ```
pub fn launched_by_mpi(var: impl Fn(&str) -> Option<String>) -> bool {
    LAUNCH_VARS.iter().any(|k| var(k).is_some())
}

/// The processes of an MPI job (its world communicator), with this process's rank. MPI is
/// finalised when it is dropped.
pub struct World {
    universe: Universe,
    rank: usize,
    size: usize,
}

impl fmt::Debug for World {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "World {{ rank: {}, size: {} }}", self.rank, self.size)
    }
}

impl World {
    /// Joins the MPI job when an MPI launcher started this process ([`launched_by_mpi`]); `None`
    /// otherwise, without initialising MPI. Fails when MPI was already initialised or cannot give
    /// the thread support the collectives need.
    pub fn join() -> Result<Option<World>> {
        if !launched_by_mpi(|k| std::env::var(k).ok()) {
            return Ok(None);
        }
        // The operators may complete their sums from a worker thread (never two at once, and in
        // the same order on every rank): `Serialized` is what that needs.
        let Some((universe, provided)) = mpi::initialize_with_threading(Threading::Serialized)
        else {
            bail!("MPI was initialised before drift-bench joined the job");
        };
        if provided < Threading::Serialized {
            bail!(
                "the MPI library gives thread support {provided:?}; drift-bench needs Serialized"
            );
        }
        let world = universe.world();
        let (rank, size) = (world.rank() as usize, world.size() as usize);
        Ok(Some(World {
            universe,
            rank,
            size,
        }))
    }

    /// This process's rank, `0..size`.
    pub fn rank(&self) -> usize {
        self.rank
    }

    /// The number of processes of the job.
    pub fn size(&self) -> usize {
        self.size
    }

    /// True on rank 0, the rank that writes.
    pub fn is_root(&self) -> bool {
        self.rank == 0
    }

    /// The world communicator.
    pub(crate) fn comm(&self) -> SimpleCommunicator {
        self.universe.world()
    }

    /// Ends every process of the job (`MPI_Abort`): what a rank does on an error after the ranks
    /// agreed to work, since the others may already wait for it in a collective.
    pub fn abort(&self, code: i32) -> ! {
        self.comm().abort(code)
    }
}
