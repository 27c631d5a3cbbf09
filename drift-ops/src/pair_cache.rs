//! The memory budget of the CPU backend's cached pair sets.
//!
//! An iterative coupling on the CPU backend keeps the `N × M` squared distances of a pair set in
//! memory when they fit what is left of the backend's budget (see [`crate::cached`]); beyond it,
//! its passes run fused with memory `O((N + M)·D)`. The bytes in use are counted process-wide
//! because the caches of every concurrent evaluation (parallel sweeps, several Python threads)
//! draw on the same memory: a cache reserves its bytes when it is built and gives them back when
//! it is dropped, and it is built only if the process's total stays within its backend's budget.
//!
//! A backend may carry its own budget ([`crate::CpuBackend::builder`]); this module holds the
//! process default the others use: [`DEFAULT_BUDGET_BYTES`], changed by the environment variable
//! `DRIFT_PAIR_CACHE_MB` (read once) or [`set_pair_cache_budget`]; `0` turns caching off.
//!
//! ```
//! use drift_ops::pair_cache;
//! let before = pair_cache::budget();
//! pair_cache::set_pair_cache_budget(0); // every pass fused: memory linear in N + M
//! assert_eq!(pair_cache::budget(), 0);
//! pair_cache::set_pair_cache_budget(before);
//! ```

use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::OnceLock;

/// The default budget: 1 GiB, an `N = M = 16384` problem in `f32` (8192 in `f64`).
pub const DEFAULT_BUDGET_BYTES: usize = 1 << 30;

/// Budget set by [`set_pair_cache_budget`]; `usize::MAX` means "not set" (then the environment or
/// the default applies).
static OVERRIDE: AtomicUsize = AtomicUsize::new(usize::MAX);
/// Bytes currently held by live caches.
static IN_USE: AtomicUsize = AtomicUsize::new(0);

/// The budget in bytes: [`set_pair_cache_budget`]'s value, else `DRIFT_PAIR_CACHE_MB` MiB, else
/// [`DEFAULT_BUDGET_BYTES`].
pub fn budget() -> usize {
    match OVERRIDE.load(Ordering::Relaxed) {
        usize::MAX => *from_env(),
        set => set,
    }
}

/// Sets the process-wide budget in bytes (`0` disables caching). Caches already built keep their
/// memory until they are dropped.
pub fn set_pair_cache_budget(bytes: usize) {
    OVERRIDE.store(bytes.min(usize::MAX - 1), Ordering::Relaxed);
    trim();
}

/// Bytes held by caches alive right now and by the matrices kept for reuse ([`kept`]).
pub fn in_use() -> usize {
    IN_USE.load(Ordering::Relaxed)
}

/// Frees the matrices of dropped caches that are kept for the next cache of the same size.
///
/// A dropped cache's matrices stay allocated (at most four, within the budget) so that the next
/// evaluation on batches of the same size, as in a training loop, reuses them instead of paying
/// the page faults of fresh memory; call this to give that memory back to the system, e.g. before
/// other memory-hungry work. A new budget ([`set_pair_cache_budget`]) frees them too.
///
/// ```
/// use drift_ops::pair_cache;
/// pair_cache::trim();
/// assert_eq!(pair_cache::kept(), 0);
/// ```
pub fn trim() {
    crate::matrix_pool::release();
}

/// Bytes of the matrices kept for reuse ([`trim`] frees them).
pub fn kept() -> usize {
    crate::matrix_pool::kept_bytes()
}

/// The process budget as [`budget`] gives it, or the reason why `DRIFT_PAIR_CACHE_MB` is invalid
/// where that variable supplies it (the backend builder refuses to start then).
pub(crate) fn checked_budget() -> Result<usize, String> {
    match OVERRIDE.load(Ordering::Relaxed) {
        usize::MAX => Ok(env_budget()?.unwrap_or(DEFAULT_BUDGET_BYTES)),
        set => Ok(set),
    }
}

fn from_env() -> &'static usize {
    static ENV: OnceLock<usize> = OnceLock::new();
    ENV.get_or_init(|| match env_budget() {
        Ok(bytes) => bytes.unwrap_or(DEFAULT_BUDGET_BYTES),
        Err(message) => {
            // Not silently ignored: said once, on standard error (a closed stream is no error).
            use std::io::Write as _;
            let _ = writeln!(
                std::io::stderr(),
                "warning: {message}; using the default {} MiB",
                DEFAULT_BUDGET_BYTES >> 20
            );
            DEFAULT_BUDGET_BYTES
        }
    })
}

/// The budget that the environment variable `DRIFT_PAIR_CACHE_MB` asks for, in bytes: `Ok(None)`
/// when it is not set, an error saying why when it is not a finite number of MiB `>= 0` (then
/// [`budget`] warns once on standard error and keeps the default). A command line can call it to
/// refuse a bad value before any work.
///
/// ```
/// // In a test process the variable is usually not set.
/// if std::env::var_os("DRIFT_PAIR_CACHE_MB").is_none() {
///     assert_eq!(drift_ops::pair_cache::env_budget(), Ok(None));
/// }
/// ```
pub fn env_budget() -> Result<Option<usize>, String> {
    let Some(raw) = std::env::var_os("DRIFT_PAIR_CACHE_MB") else {
        return Ok(None);
    };
    let text = raw.to_string_lossy();
    match text.trim().parse::<f64>() {
        Ok(mb) if mb.is_finite() && mb >= 0.0 => Ok(Some((mb * 1024.0 * 1024.0) as usize)),
        _ => Err(format!(
            "DRIFT_PAIR_CACHE_MB={text:?} is not a number of MiB >= 0"
        )),
    }
}

/// What a cache may reserve: up to a limit on the process's cached bytes, or whatever it needs (a
/// cache built on request, [`crate::cached::CachedPairs::new`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Budget {
    /// The process's cached bytes may reach this many with the new reservation.
    Limit(usize),
    /// Any size (still counted in [`in_use`]).
    Unbounded,
}

impl Budget {
    /// Reserves `bytes` if the budget allows them.
    pub fn reserve(self, bytes: usize) -> Option<Reservation> {
        match self {
            Budget::Limit(limit) => Reservation::try_new(bytes, limit),
            Budget::Unbounded => Some(Reservation::unbounded(bytes)),
        }
    }

    /// Whether a kept matrix (whose bytes are already counted in [`in_use`]) may serve a cache of
    /// this budget: the process's cached bytes are within it.
    pub fn allows_kept(self) -> bool {
        match self {
            Budget::Limit(limit) => in_use() <= limit,
            Budget::Unbounded => true,
        }
    }
}

/// What a pair set asked to be cached got ([`cache_counts`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum CacheKind {
    /// The distances, and later the scaled matrix if the budget still holds it.
    Distances,
    /// Only the scaled matrix: the budget held one `N × M` matrix, not two.
    ScaledOnly,
    /// Nothing: the passes run fused.
    Declined,
}

static COUNTS: [AtomicU64; 3] = [AtomicU64::new(0), AtomicU64::new(0), AtomicU64::new(0)];

/// How many pair sets the CPU backend cached, and how, since the process started (every backend
/// and thread counted).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct CacheCounts {
    /// Pair sets whose distances were stored.
    pub distances: u64,
    /// Pair sets that kept only their scaled matrix: the budget held one `N × M` matrix but not
    /// the two (distances and scaled matrix) a solve at one temperature uses.
    pub scaled_only: u64,
    /// Pair sets the budget held no matrix of: their passes ran fused.
    pub declined: u64,
}

/// The pair sets cached so far, by kind.
///
/// ```
/// let c = drift_ops::pair_cache::cache_counts();
/// assert!(c.distances + c.scaled_only + c.declined >= c.declined);
/// ```
pub fn cache_counts() -> CacheCounts {
    let get = |k: usize| COUNTS[k].load(Ordering::Relaxed);
    CacheCounts {
        distances: get(0),
        scaled_only: get(1),
        declined: get(2),
    }
}

/// Counts one pair set of `kind` in [`cache_counts`].
pub(crate) fn count(kind: CacheKind) {
    let k = match kind {
        CacheKind::Distances => 0,
        CacheKind::ScaledOnly => 1,
        CacheKind::Declined => 2,
    };
    COUNTS[k].fetch_add(1, Ordering::Relaxed);
}

/// Bytes reserved from the budget, given back on drop.
#[derive(Debug)]
pub(crate) struct Reservation {
    bytes: usize,
}

impl Reservation {
    /// Reserves `bytes` if the process's cached bytes stay within `limit` with them.
    pub fn try_new(bytes: usize, limit: usize) -> Option<Reservation> {
        IN_USE
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |used| {
                used.checked_add(bytes).filter(|total| *total <= limit)
            })
            .ok()
            .map(|_| Reservation { bytes })
    }

    /// Counts `bytes` as in use whatever the budget (an explicitly requested cache).
    pub fn unbounded(bytes: usize) -> Reservation {
        IN_USE.fetch_add(bytes, Ordering::AcqRel);
        Reservation { bytes }
    }

    /// The reserved size.
    pub fn bytes(&self) -> usize {
        self.bytes
    }
}

impl Drop for Reservation {
    fn drop(&mut self) {
        IN_USE.fetch_sub(self.bytes, Ordering::AcqRel);
    }
}
