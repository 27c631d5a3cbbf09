//! Arrival before the agreement, against a deadline: a rank that hangs, or never gets as far as
//! the work, ends the job with an error naming it instead of leaving the others blocked forever in
//! a collective (MPI collectives have no timeout).
//!
//! Rank 0 collects one small message from every rank with non-blocking receives, polled against
//! the deadline ([`timeout`], `DRIFT_MPI_TIMEOUT_S`, default 60 s, counted from this rank's own
//! arrival): the receives still pending at the deadline are the ranks that did not arrive, which a
//! non-blocking barrier (`MPI_Ibarrier`) could not tell. Rank 0 announces itself on arriving and
//! confirms once every rank has arrived; a rank that hears nothing from rank 0 within the deadline
//! names rank 0. Once rank 0 has announced itself, the others wait for its confirmation (up to the
//! deadline plus [`GRACE`]): rank 0 is then alive and ends the job itself at its own deadline,
//! naming the ranks it lacks.

use crate::mpi::{MpiError, World};
use anyhow::{bail, Context as _, Result};
use mpi::point_to_point::{Destination, Source};
use mpi::request::{Request, StaticScope};
use mpi::traits::Communicator;
use mpi::Tag;
use std::time::{Duration, Instant};

/// The variable that sets the deadline, in seconds.
pub const TIMEOUT_VAR: &str = "DRIFT_MPI_TIMEOUT_S";

/// The deadline when [`TIMEOUT_VAR`] is not set.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(60);

/// A test hook: `R:S` makes rank `R` sleep `S` seconds before it arrives (the tests use it to play
/// a rank that hangs before the work).
pub const DELAY_VAR: &str = "DRIFT_MPI_TEST_DELAY_RANK";

/// How much longer than the deadline a rank waits for rank 0's confirmation once rank 0 has
/// announced itself: rank 0 ends the job first, with the names of the missing ranks.
pub const GRACE: Duration = Duration::from_secs(5);

/// Tags of the three messages; point-to-point messages never match the collectives' traffic.
const ARRIVED: Tag = 0x4472;
const ROOT_HERE: Tag = 0x4473;
const GO: Tag = 0x4474;

/// The byte every message carries (MPI needs a buffer; its value is not read).
static BYTE: [u8; 1] = [1];

/// The deadline from `value` (the contents of [`TIMEOUT_VAR`], if set): positive seconds.
///
/// ```
/// use drift_bench::mpi::arrive::timeout;
/// use std::time::Duration;
/// assert_eq!(timeout(None).unwrap(), Duration::from_secs(60));
/// assert_eq!(timeout(Some("2.5")).unwrap(), Duration::from_millis(2500));
/// assert!(timeout(Some("0")).is_err() && timeout(Some("soon")).is_err());
/// ```
pub fn timeout(value: Option<&str>) -> Result<Duration> {
    match value {
        None => Ok(DEFAULT_TIMEOUT),
        Some(value) => seconds(TIMEOUT_VAR, value),
    }
}

/// The positive number of seconds in `value`, the contents of the variable `var`.
pub(crate) fn seconds(var: &str, value: &str) -> Result<Duration> {
    match value.trim().parse::<f64>() {
        Ok(s) if s.is_finite() && s > 0.0 && s < 1e9 => Ok(Duration::from_secs_f64(s)),
        _ => bail!("{var}={value:?}: expected a positive number of seconds"),
    }
}

/// The delay of rank `rank` from `value` (the contents of [`DELAY_VAR`], if set).
///
/// ```
/// use drift_bench::mpi::arrive::delay;
/// use std::time::Duration;
/// assert_eq!(delay(Some("2:30"), 2).unwrap(), Duration::from_secs(30));
/// assert_eq!(delay(Some("2:30"), 1).unwrap(), Duration::ZERO);
/// assert_eq!(delay(None, 2).unwrap(), Duration::ZERO);
/// assert!(delay(Some("2"), 2).is_err());
/// ```
pub fn delay(value: Option<&str>, rank: usize) -> Result<Duration> {
    rank_delay(DELAY_VAR, value, rank)
}

/// A test hook's `RANK:SECONDS` (`value`, the contents of the variable `var`): the delay of
/// `rank`.
pub(crate) fn rank_delay(var: &str, value: Option<&str>, rank: usize) -> Result<Duration> {
    let Some(value) = value else {
        return Ok(Duration::ZERO);
    };
    let parsed = value.split_once(':').and_then(|(r, s)| {
        let s = s
            .trim()
            .parse::<f64>()
            .ok()
            .filter(|s| s.is_finite() && *s >= 0.0)?;
        Some((r.trim().parse::<usize>().ok()?, s))
    });
    match parsed {
        Some((r, s)) if r == rank => Ok(Duration::from_secs_f64(s)),
        Some(_) => Ok(Duration::ZERO),
        None => bail!("{var}={value:?}: expected RANK:SECONDS"),
    }
}

/// Pending requests, each with the rank it concerns.
type Pending = Vec<(usize, Request<'static, [u8; 1], StaticScope>)>;

/// Tests every pending request once, keeping those not yet complete.
fn poll(pending: Pending) -> Pending {
    pending
        .into_iter()
        .filter_map(|(rank, r)| r.test().err().map(|r| (rank, r)))
        .collect()
}

/// Polls `pending` until every request completes (`Ok`) or `deadline` passes (`Err` with those
/// still pending). Short sleeps: the ranks of a job may share cores.
fn poll_until(mut pending: Pending, deadline: Instant) -> std::result::Result<(), Pending> {
    let mut nap = Duration::from_micros(50);
    loop {
        pending = poll(pending);
        if pending.is_empty() {
            return Ok(());
        }
        if Instant::now() >= deadline {
            return Err(pending);
        }
        std::thread::sleep(nap);
        nap = (nap * 2).min(Duration::from_millis(10));
    }
}

/// The ranks of `pending`, which are then forgotten: the job is about to end (`MPI_Abort`), and
/// a request dropped incomplete panics.
fn abandon(pending: Pending) -> Vec<usize> {
    pending
        .into_iter()
        .map(|(rank, r)| {
            std::mem::forget(r);
            rank
        })
        .collect()
}

/// A receive buffer that outlives the request (a byte per message, kept for the process's life:
/// the agreement runs once or twice per job).
fn buffer() -> &'static mut [u8; 1] {
    Box::leak(Box::new([0u8; 1]))
}

/// Waits until every rank of `world` has arrived here, for at most `timeout` (see the module
/// docs); [`MpiError::Absent`] names the ranks that did not. Requests still pending on that error
/// are abandoned: the caller must end the job (`MPI_Abort`), as [`agree`](super::agree::agree)
/// does.
pub fn arrive(world: &World, timeout: Duration) -> std::result::Result<(), MpiError> {
    let comm = world.comm();
    let start = Instant::now();
    let absent = |ranks| MpiError::Absent {
        ranks,
        waited: timeout,
    };
    let mut sends: Pending = Vec::new();
    if world.is_root() {
        let others = 1..world.size();
        for r in others.clone() {
            let p = comm.process_at_rank(r as i32);
            sends.push((r, p.immediate_send_with_tag(StaticScope, &BYTE, ROOT_HERE)));
        }
        let arrivals: Pending = others
            .clone()
            .map(|r| {
                let p = comm.process_at_rank(r as i32);
                (
                    r,
                    p.immediate_receive_into_with_tag(StaticScope, buffer(), ARRIVED),
                )
            })
            .collect();
        if let Err(missing) = poll_until(arrivals, start + timeout) {
            abandon(sends);
            return Err(absent(abandon(missing)));
        }
        for r in others {
            let p = comm.process_at_rank(r as i32);
            sends.push((r, p.immediate_send_with_tag(StaticScope, &BYTE, GO)));
        }
    } else {
        let root = comm.process_at_rank(0);
        sends.push((0, root.immediate_send_with_tag(StaticScope, &BYTE, ARRIVED)));
        let here = root.immediate_receive_into_with_tag(StaticScope, buffer(), ROOT_HERE);
        let go = root.immediate_receive_into_with_tag(StaticScope, buffer(), GO);
        if let Err(missing) = poll_until(vec![(0, here)], start + timeout) {
            abandon(sends);
            abandon(vec![(0, go)]);
            return Err(absent(abandon(missing)));
        }
        // Rank 0 is alive and bounds the wait itself; the cap only guards against a rank 0
        // that stops polling.
        if let Err(missing) = poll_until(vec![(0, go)], Instant::now() + timeout + GRACE) {
            abandon(sends);
            return Err(absent(abandon(missing)));
        }
    }
    // Every rank has arrived, so every send is matched by a posted receive and completes.
    for (_, r) in sends {
        r.wait_without_status();
    }
    Ok(())
}

/// [`arrive`] with the deadline of the environment, after the test hook's delay; a rank that
/// cannot read the variables fails before sending anything (every rank sees the same
/// environment, so every rank fails alike).
pub fn arrive_from_env(world: &World) -> Result<std::result::Result<(), MpiError>> {
    let var = |k| std::env::var(k).ok();
    let timeout = timeout(var(TIMEOUT_VAR).as_deref())?;
    let delay = delay(var(DELAY_VAR).as_deref(), world.rank())
        .with_context(|| format!("rank {}", world.rank()))?;
    std::thread::sleep(delay);
    Ok(arrive(world, timeout))
}
