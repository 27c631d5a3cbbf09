//! A limit on each wait in a collective after the agreement: a rank that hangs in the middle of the
//! work (a stuck file system, a deadlocked library) would leave the others blocked in an
//! all-reduce, and MPI collectives have no timeout. With `DRIFT_MPI_WAIT_S` set, the operators'
//! all-reduces ([`crate::mpi::MpiCollective`]) are non-blocking (`MPI_Iallreduce`) and polled
//! against the limit; past it, the rank says so on standard error and ends the job
//! (`MPI_Abort`). The limit bounds one wait, not the work: ranks with balanced shares arrive at
//! each collective within moments of each other, so it can sit far below the length of the job.
//! Unset, a rank waits as long as the launcher or scheduler allows (a long computation on one rank
//! is then never mistaken for a hang).

use crate::mpi::arrive::{rank_delay, seconds};
use anyhow::{Context as _, Result};
use std::time::Duration;

/// The variable that sets the longest wait in one collective, in seconds.
pub const WAIT_VAR: &str = "DRIFT_MPI_WAIT_S";

/// A test hook: `R:S` makes rank `R` sleep `S` seconds after the agreement (a rank that hangs in
/// the middle of the work).
pub const STALL_VAR: &str = "DRIFT_MPI_TEST_STALL_RANK";

/// The longest a rank waits in one collective of the work.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Watchdog {
    /// The limit.
    pub limit: Duration,
}

impl Watchdog {
    /// The limit of [`WAIT_VAR`] for rank `rank` (`None` when it is not set); then the test
    /// hook's stall ([`STALL_VAR`]). An invalid value is an error naming the variable, the same on
    /// every rank.
    pub fn from_env(rank: usize) -> Result<Option<Watchdog>> {
        let var = |k| std::env::var(k).ok();
        let stall = rank_delay(STALL_VAR, var(STALL_VAR).as_deref(), rank)
            .with_context(|| format!("rank {rank}"))?;
        let watchdog = match var(WAIT_VAR) {
            Some(value) => Some(Watchdog {
                limit: seconds(WAIT_VAR, &value)?,
            }),
            None => None,
        };
        std::thread::sleep(stall);
        Ok(watchdog)
    }
}
