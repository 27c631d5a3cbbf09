//! The CPU backend's settings as a value: the pair-cache budget, tile skipping and the thread
//! count, each either set on the backend ([`CpuBackend::builder`]) or left to the process default.
//!
//! The process defaults are what they always were: [`crate::pair_cache::set_pair_cache_budget`],
//! else the environment variable `DRIFT_PAIR_CACHE_MB`, else 1 GiB; [`crate::tile_skip::set_enabled`],
//! else `DRIFT_TILE_SKIP`, else on; rayon's global pool. So [`CpuBackend`] itself (the value, as in
//! `&CpuBackend`) is the backend as configured by the process, and two backends with different
//! settings can run side by side in one process.
//!
//! An invalid environment variable is never ignored silently: [`CpuBackendBuilder::build`] returns
//! an error naming it when a setting it supplies the default for is left unset, and the plain
//! [`CpuBackend`] (which cannot fail) warns once on standard error and keeps the built-in default.

use crate::{pair_cache, tile_skip};
use drift_api::{DriftError, Result};
use rayon::ThreadPool;
use std::num::NonZeroUsize;
use std::sync::{Arc, Mutex, OnceLock};

/// The CPU backend: the fused, tiled, parallel row reduction, with its pair cache.
///
/// `CpuBackend` is both the type and its process-default value (a constant of the same name), so
/// `&CpuBackend` is the backend with every setting left to the process defaults (see the module
/// documentation); [`CpuBackend::builder`] gives one with its own settings:
///
/// ```
/// use drift_ops::CpuBackend;
/// let fused_only = CpuBackend::builder().pair_cache_budget(0).threads(2).build().unwrap();
/// assert_eq!(fused_only.pair_cache_budget(), 0);
/// assert_eq!(fused_only.threads(), 2);
/// assert_eq!(CpuBackend.pair_cache_budget(), drift_ops::pair_cache::budget());
/// ```
///
/// ```
/// use drift_api::{PointCloud};
/// use drift_api::kit::{reduce, Displacement, RowReduction};
/// use drift_ops::{CpuBackend, Gaussian};
/// let x = PointCloud::new("x", vec![0.0f64, 1.0], 1).unwrap();
/// let (mut lse, mut disp) = (vec![0.0; 2], vec![0.0; 2]);
/// reduce(&CpuBackend, RowReduction {
///     rows: &x, cols: &x, kernel: &Gaussian, tau: 1.0, col_potential: None, mask_diagonal: true,
///     displacement: Displacement::Mean, origin: None, lse: &mut lse, disp: Some(&mut disp),
/// }).unwrap();
/// // With the diagonal masked each point only sees the other one, at log-weight -1.
/// assert!((lse[0] + 1.0).abs() < 1e-12);
/// assert_eq!(disp, vec![1.0, -1.0]);
/// ```
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct CpuBackend {
    /// Bytes its pair caches may bring the process's cached memory to; `None`: the process budget.
    pair_cache_budget: Option<usize>,
    /// Whether fused passes skip negligible tiles; `None`: the process setting.
    tile_skip: Option<bool>,
    /// Threads of its passes; `None`: rayon's global pool.
    threads: Option<NonZeroUsize>,
}

/// The CPU backend with every setting left to the process defaults (see [`CpuBackend`]).
#[allow(non_upper_case_globals)]
pub const CpuBackend: CpuBackend = CpuBackend::DEFAULT;

impl CpuBackend {
    /// Every setting left to the process defaults.
    pub const DEFAULT: CpuBackend = CpuBackend {
        pair_cache_budget: None,
        tile_skip: None,
        threads: None,
    };

    /// A builder starting from the process defaults.
    pub fn builder() -> CpuBackendBuilder {
        CpuBackendBuilder::default()
    }

    /// The pair-cache budget in bytes: its own, else the process budget
    /// ([`pair_cache::budget`]). A cache is built when its bytes, added to every pair cache alive
    /// in the process, stay within it; `0` keeps every pass fused (memory linear in `N + M`).
    pub fn pair_cache_budget(&self) -> usize {
        self.pair_cache_budget.unwrap_or_else(pair_cache::budget)
    }

    /// Whether its fused passes skip negligible tiles ([`tile_skip`]): its own setting, else the
    /// process one ([`tile_skip::enabled`]).
    pub fn tile_skip(&self) -> bool {
        self.tile_skip.unwrap_or_else(tile_skip::enabled)
    }

    /// The threads its passes run on: its own count, else the size of rayon's global pool.
    pub fn threads(&self) -> usize {
        match self.threads {
            Some(n) => n.get(),
            None => rayon::current_num_threads(),
        }
    }

    /// Runs `work` on this backend's threads: in its own pool when it has a thread count (pools are
    /// built once per count and shared by every backend with that count), else where it is called.
    pub(crate) fn install<R: Send>(&self, work: impl FnOnce() -> R + Send) -> R {
        match self.threads.and_then(|n| pool(n).ok()) {
            Some(pool) => pool.install(work),
            None => work(),
        }
    }
}

/// The builder of a [`CpuBackend`] with its own settings; a setting not given keeps the process
/// default.
#[derive(Clone, Copy, Debug, Default)]
pub struct CpuBackendBuilder {
    pair_cache_budget: Option<usize>,
    tile_skip: Option<bool>,
    threads: Option<usize>,
}

impl CpuBackendBuilder {
    /// The pair-cache budget in bytes (`0`: never cache, every pass fused).
    pub fn pair_cache_budget(mut self, bytes: usize) -> Self {
        self.pair_cache_budget = Some(bytes);
        self
    }

    /// Whether fused passes skip negligible tiles.
    pub fn tile_skip(mut self, on: bool) -> Self {
        self.tile_skip = Some(on);
        self
    }

    /// The number of threads the backend's passes run on (at least 1).
    pub fn threads(mut self, threads: usize) -> Self {
        self.threads = Some(threads);
        self
    }

    /// The backend. Errors name what was wrong: a thread count of 0, a thread pool that could not
    /// be started, or an invalid `DRIFT_PAIR_CACHE_MB` / `DRIFT_TILE_SKIP` where the variable
    /// supplies a default this builder leaves unset.
    ///
    /// ```
    /// let err = drift_ops::CpuBackend::builder().threads(0).build().unwrap_err();
    /// assert!(err.to_string().contains("threads"));
    /// ```
    pub fn build(self) -> Result<CpuBackend> {
        if self.pair_cache_budget.is_none() {
            pair_cache::checked_budget()
                .map_err(|reason| DriftError::invalid("DRIFT_PAIR_CACHE_MB", reason))?;
        }
        if self.tile_skip.is_none() {
            tile_skip::checked_enabled()
                .map_err(|reason| DriftError::invalid("DRIFT_TILE_SKIP", reason))?;
        }
        let threads = match self.threads {
            None => None,
            Some(n) => {
                let n = NonZeroUsize::new(n)
                    .ok_or_else(|| DriftError::invalid("threads", "must be at least 1"))?;
                pool(n)?;
                Some(n)
            }
        };
        Ok(CpuBackend {
            pair_cache_budget: self.pair_cache_budget,
            tile_skip: self.tile_skip,
            threads,
        })
    }
}

/// The thread pools started so far, by size.
type Pools = Mutex<Vec<(NonZeroUsize, Arc<ThreadPool>)>>;

/// The shared pool of `n` threads, started on first use.
fn pool(n: NonZeroUsize) -> Result<Arc<ThreadPool>> {
    static POOLS: OnceLock<Pools> = OnceLock::new();
    let mut pools = POOLS
        .get_or_init(Mutex::default)
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner());
    if let Some((_, p)) = pools.iter().find(|(k, _)| *k == n) {
        return Ok(Arc::clone(p));
    }
    let p = rayon::ThreadPoolBuilder::new()
        .num_threads(n.get())
        .thread_name(|i| format!("drift-cpu-{i}"))
        .build()
        .map_err(|e| DriftError::invalid("threads", format!("cannot start {n} threads: {e}")))?;
    let p = Arc::new(p);
    pools.push((n, Arc::clone(&p)));
    Ok(p)
}
