//! MPI (the `mpi` feature): `mpirun -np K drift-bench apply|compare` split their work over the
//! ranks of the job, through the system's MPI library (rsmpi).
//!
//! - [`World`]: the job, joined only when an MPI launcher started the process, so a binary built
//!   with the feature and started plainly behaves as one built without it.
//! - [`MpiCollective`]: the operators' batch-wide sums ([`drift_api::kit::Collective`]) completed
//!   over the ranks with `MPI_Allreduce`.
//! - [`gather`]: bytes and values moved between ranks (`MPI_Allgatherv`, `MPI_Gatherv`).
//! - [`agree`](mod@agree): before any work, every rank learns whether every rank is ready and runs
//!   the same thing ([`MpiError`] names the rank and what differs).
//! - [`apply`]: a batch of problems split into contiguous ranges of problems ([`share`]); a
//!   single problem split by rows, or by columns (`--split columns`: each rank reads only its
//!   range of Y's points).
//! - [`compare`]: a sweep's runs split as `--shard r/K`, gathered on rank 0 into one report.
//!
//! **Faults.** A rank that hangs or stops before the agreement is named by the others after a
//! deadline ([`arrive`](mod@arrive), `DRIFT_MPI_TIMEOUT_S`, default 60 s), which end the job
//! (`MPI_Abort`). MPI collectives have no timeout: a rank that fails after the agreement calls
//! `MPI_Abort`, which ends every process of the job; a rank that dies (killed, crashed) is seen by
//! the launcher, which ends the job too.

pub mod agree;
pub mod apply;
pub mod arrive;
mod collective;
mod columns;
pub mod compare;
mod error;
pub mod gather;
pub mod inputs;
mod slice;
pub mod watchdog;
mod world;

pub use collective::{MpiCollective, Traffic};
pub use error::MpiError;
pub use slice::{share, slice_array};
pub use world::{launched_by_mpi, World, LAUNCH_VARS};
