//! The cached path of the CPU backend: a pair set's `N × M` squared distances computed once, then
//! every Sinkhorn pass is exponentials over the stored matrix.
//!
//! A fused pass recomputes every distance (`3·D` flops a pair) and a Sinkhorn solve runs dozens of
//! passes over the same pairs; when the matrix fits the [`pair_cache`](crate::pair_cache) budget the
//! distances are paid for once (in the Gram form of [`crate::gram`] for large `D`) and a pass costs
//! one kernel map, one exponential and a few adds per pair. The kernel is applied per pass, so one
//! matrix serves every temperature of an ε-scaling schedule.
//!
//! Row passes stream each row in tiles with the online log-sum-exp; column passes give each task a
//! stripe of columns and walk the rows in chunks, taking each chunk's column maxima first so that
//! the running sums are rescaled once per chunk rather than once per element. Both reproduce the
//! fused reduction to rounding (the summation order differs).
//!
//! From the third pass at one temperature on, the passes run on the [`scaled`] matrix instead:
//! the exponentials of the log-weights shifted by the last potentials, stored once, so that a
//! pass is a matrix-vector product.
//!
//! What each file holds: this one the cache, its budget and the passes' entry points; `passes` the
//! row and column passes on the distances; `isa` their units of parallel work; `fill` the
//! distance matrix's fill; [`scaled`] the scaled matrix; `sweep` the fused row-and-column
//! sweep on it; `displacement` the term's displacement pass on it.

mod displacement;
mod fill;
mod isa;
mod passes;
mod scaled;
mod sweep;

use crate::cpu::TILE;
use crate::matrix_pool::Matrix;
use crate::pair_cache::{self, Budget, CacheKind};
use crate::CpuBackend;
use drift_api::kit::{
    check_len, check_square_mask, PairDisplacement, PairPath, PairSet, PreparedPairs, RowUpdate,
};
use drift_api::math::on_isa;
use drift_api::{DriftError, Kernel, PointCloud, Real, Result};
use fill::fill_distances;
use isa::{ColPass, RowPass};
use rayon::prelude::*;
use scaled::{Bounds, Scaled};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Mutex;

/// Rows per parallel task when filling the matrix and in row passes.
const ROW_BLOCK: usize = 32;
/// Rows per chunk of a column pass (their column maxima are taken together).
const CHUNK_ROWS: usize = 16;

/// A pair set with its squared distances in memory (or, where the budget holds only one `N × M`
/// matrix, only its scaled matrix: see [`CachedPairs::within_budget_of`]).
#[derive(Debug)]
pub struct CachedPairs<'a, T> {
    /// `dist[i * m + j] = ‖x_i − y_j‖²`, with its budget reservation; `None` where the budget
    /// holds only the scaled matrix (the passes then compute the distances they need).
    dist: Option<Matrix<T>>,
    rows: usize,
    cols: usize,
    /// The points, for displacement passes ([`displacement`]).
    x: &'a PointCloud<T>,
    y: &'a PointCloud<T>,
    kernel: &'a dyn Kernel,
    mask_diagonal: bool,
    /// The last row and column log-sum-exps, the shifts of the next passes (see [`Hints`]).
    row_hints: Mutex<Hints<T>>,
    col_hints: Mutex<Hints<T>>,
    /// The scaled matrix, once a pass has built it (see [`scaled`]).
    scaled: Mutex<Option<Scaled<T>>>,
    /// What the scaled matrix may reserve: the backend's budget, or any size where the distances
    /// were cached whatever the budget ([`CachedPairs::new`]).
    budget: Budget,
    /// The backend whose settings (threads) the passes run with.
    backend: CpuBackend,
    /// Whether a column pass has run: the passes alternate between rows and columns.
    column_passes: AtomicBool,
}

impl<'a, T: Real> CachedPairs<'a, T> {
    /// [`CachedPairs::within_budget_of`] the process-default backend ([`CpuBackend`]).
    pub fn within_budget(set: PairSet<'a, T>) -> Result<Option<Self>> {
        Self::within_budget_of(set, CpuBackend)
    }

    /// Builds the cache if the `N·M` values fit what is left of `backend`'s budget
    /// ([`CpuBackend::pair_cache_budget`], [`crate::pair_cache`]); `Ok(None)` otherwise (the passes
    /// then run fused). The passes run on `backend`'s threads.
    ///
    /// A solve at one temperature spends its passes on the scaled matrix, which needs a second
    /// `N × M` matrix beside the distances. Where the budget holds one matrix but not two, the
    /// cache keeps only the scaled matrix and computes distances from the points where it needs
    /// them (building the scaled matrix, a new temperature, potentials out of its reach): a
    /// 100-iteration f32 Sinkhorn drift at `N = M = 3000`, `D = 8` with 64 MiB took 3.8 s keeping
    /// the distances and no scaled matrix, against 0.95 s with both and 8.7 s fused
    /// (`docs/PERFORMANCE.md`). [`crate::pair_cache::cache_counts`] counts each kind.
    ///
    /// Every dimension is cached: even at `D = 2`, where a fused pass computes a distance in a few
    /// flops, the passes on the scaled matrix take no exponential per pair. A 20-iteration f32
    /// Sinkhorn drift (`drift-bench apply --repeat 5`, 2 threads) at `N = M = 4096`, `D = 2` takes
    /// 0.22 s cached against 0.63 s fused, and at `N = M = 1024` 16 ms against 65 ms
    /// (`docs/PERFORMANCE.md`).
    pub fn within_budget_of(set: PairSet<'a, T>, backend: CpuBackend) -> Result<Option<Self>> {
        check(&set)?;
        let limit = backend.pair_cache_budget();
        let budget = Budget::Limit(limit);
        let bytes = set
            .rows
            .len()
            .checked_mul(set.cols.len())
            .and_then(|len| len.checked_mul(std::mem::size_of::<T>()));
        // The memory other live caches hold (kept matrices are reused or freed as needed).
        let live = pair_cache::in_use().saturating_sub(pair_cache::kept());
        let both_fit = bytes
            .and_then(|b| b.checked_mul(2))
            .and_then(|b| b.checked_add(live))
            .is_some_and(|total| total <= limit);
        if !both_fit
            && bytes
                .and_then(|b| b.checked_add(live))
                .is_some_and(|t| t <= limit)
        {
            pair_cache::count(CacheKind::ScaledOnly);
            return Ok(Some(Self::build(set, None, budget, backend)));
        }
        match Self::matrix(&set, budget)? {
            Some(dist) => {
                pair_cache::count(CacheKind::Distances);
                Ok(Some(Self::build(set, Some(dist), budget, backend)))
            }
            None => {
                pair_cache::count(CacheKind::Declined);
                Ok(None)
            }
        }
    }

    /// Builds the cache whatever the budget (its memory still counts against it while it lives).
    pub fn new(set: PairSet<'a, T>) -> Result<Self> {
        check(&set)?;
        let dist = Self::matrix(&set, Budget::Unbounded)?;
        let dist = dist.ok_or_else(|| {
            DriftError::invalid("pair cache", "N × M distances do not fit in memory")
        })?;
        Ok(Self::build(set, Some(dist), Budget::Unbounded, CpuBackend))
    }

    /// Memory for the distances, within `budget`.
    fn matrix(set: &PairSet<'a, T>, budget: Budget) -> Result<Option<Matrix<T>>> {
        match set.rows.len().checked_mul(set.cols.len()) {
            Some(len) => Matrix::take("pair cache", len, budget),
            None => Ok(None),
        }
    }

    fn build(
        set: PairSet<'a, T>,
        mut dist: Option<Matrix<T>>,
        budget: Budget,
        backend: CpuBackend,
    ) -> Self {
        let (n, m) = (set.rows.len(), set.cols.len());
        if let Some(dist) = dist.as_mut() {
            fill_distances(set.rows, set.cols, dist);
        }
        CachedPairs {
            dist,
            rows: n,
            cols: m,
            x: set.rows,
            y: set.cols,
            kernel: set.kernel,
            mask_diagonal: set.mask_diagonal,
            row_hints: Mutex::new(Hints::default()),
            col_hints: Mutex::new(Hints::default()),
            scaled: Mutex::new(None),
            budget,
            backend,
            column_passes: AtomicBool::new(false),
        }
    }
}

fn check<T: Real>(set: &PairSet<'_, T>) -> Result<()> {
    set.rows.check_same_dim(set.cols)?;
    check_square_mask(set.mask_diagonal, set.rows.len(), set.cols.len())
}

// Every pass runs on the backend's threads ([`CpuBackend::install`]).
impl<T: Real> PreparedPairs<T> for CachedPairs<'_, T> {
    fn row_lse(&self, tau: T, col_potential: Option<&[T]>, lse: &mut [T]) -> Result<()> {
        self.backend
            .install(|| self.row_lse_here(tau, col_potential, lse))
    }

    fn col_lse(&self, tau: T, row_potential: Option<&[T]>, lse: &mut [T]) -> Result<()> {
        self.backend
            .install(|| self.col_lse_here(tau, row_potential, lse))
    }

    fn sweep(
        &self,
        tau: T,
        col_potential: Option<&[T]>,
        row_update: &RowUpdate<'_, T>,
        f: &mut [T],
        col: &mut [T],
    ) -> Result<()> {
        self.backend
            .install(|| self.sweep_here(tau, col_potential, row_update, f, col))
    }

    /// The cache keeps nothing for the displacement (it answers it from its stored exponentials),
    /// so the last sweep is its one-read sweep.
    fn last_sweep(
        &self,
        tau: T,
        col_potential: Option<&[T]>,
        row_update: &RowUpdate<'_, T>,
        f: &mut [T],
        col: &mut [T],
    ) -> Result<()> {
        self.sweep(tau, col_potential, row_update, f, col)
    }

    fn displacement_pass(&self, pass: PairDisplacement<'_, T>) -> Result<bool> {
        self.backend.install(|| self.scaled_displacement(pass))
    }

    fn path(&self) -> PairPath {
        let scaled = lock(&self.scaled).as_ref().map_or(0, |s| s.bytes());
        PairPath::Cached {
            bytes: self.dist.as_ref().map_or(0, |d| d.bytes()) + scaled,
        }
    }
}

impl<T: Real> CachedPairs<'_, T> {
    fn row_lse_here(&self, tau: T, col_potential: Option<&[T]>, lse: &mut [T]) -> Result<()> {
        check_len("lse", lse.len(), self.rows)?;
        if let Some(g) = col_potential {
            check_len("column potential", g.len(), self.cols)?;
        }
        let avx2_fma = drift_api::math::has_avx2_fma();
        let mut hints = lock(&self.row_hints);
        let mut scaled = lock(&self.scaled);
        let shifts = hints.get(tau);
        let on_scaled = scaled
            .as_mut()
            .and_then(|s| self.scaled_rows(avx2_fma, s, tau, col_potential, shifts, lse));
        if on_scaled.is_none() {
            // The first pass, or another at the temperature of the last one, builds the scaled
            // matrix for the passes to come. So does a row pass at a new temperature on pairs
            // that also take column passes: a two-sided update reduces both ways at each
            // temperature of an ε-scaling schedule, and the column pass then reads the matrix
            // instead of taking one exponential per pair. (A symmetric problem's ε-scaling
            // schedule makes one row pass per temperature, and never stores one.)
            let repeated = hints.tau.is_none_or(|last| last == tau)
                || self.column_passes.load(Ordering::Relaxed);
            if repeated && scaled.is_none() {
                *scaled = Scaled::allocate(self.rows, self.cols, self.budget);
            }
            match scaled.as_mut().filter(|_| repeated) {
                Some(s) => self.build_scaled(avx2_fma, s, tau, col_potential, lse),
                None => lse
                    .par_chunks_mut(ROW_BLOCK)
                    .enumerate()
                    .for_each(|(b, out)| {
                        let row0 = b * ROW_BLOCK;
                        on_isa(
                            avx2_fma,
                            RowPass {
                                pairs: self,
                                row0,
                                tau,
                                g: col_potential,
                                shifts: shifts.map(|h| &h[row0..row0 + out.len()]),
                                out,
                            },
                        );
                    }),
            }
        }
        hints.set(tau, lse);
        Ok(())
    }

    fn col_lse_here(&self, tau: T, row_potential: Option<&[T]>, lse: &mut [T]) -> Result<()> {
        check_len("lse", lse.len(), self.cols)?;
        if let Some(f) = row_potential {
            check_len("row potential", f.len(), self.rows)?;
        }
        self.column_passes.store(true, Ordering::Relaxed);
        let avx2_fma = drift_api::math::has_avx2_fma();
        let mut hints = lock(&self.col_hints);
        let mut scaled = lock(&self.scaled);
        let shifts = hints.get(tau);
        let scaled = scaled.as_mut().filter(|s| s.at(tau).is_some());
        let on_scaled = scaled.and_then(|s| {
            let shift = s.col_factors(row_potential)?;
            Some((s, shift))
        });
        let min_sum = Bounds::min_sum::<T>(self.rows);
        let still_good = lse
            .par_chunks_mut(TILE)
            .enumerate()
            .map(|(stripe, out)| {
                let c0 = stripe * TILE;
                on_isa(
                    avx2_fma,
                    ColPass {
                        pairs: self,
                        c0,
                        tau,
                        f: row_potential,
                        shifts: shifts.map(|h| &h[c0..c0 + out.len()]),
                        scaled: on_scaled
                            .as_ref()
                            .map(|(s, shift)| (s.entries(), *shift, min_sum)),
                        out,
                    },
                )
            })
            .reduce(|| true, |a, b| a && b);
        if let (false, Some((s, _))) = (still_good, on_scaled) {
            s.tau = None;
        }
        hints.set(tau, lse);
        Ok(())
    }

    fn sweep_here(
        &self,
        tau: T,
        col_potential: Option<&[T]>,
        row_update: &RowUpdate<'_, T>,
        f: &mut [T],
        col: &mut [T],
    ) -> Result<()> {
        check_len("row potentials", f.len(), self.rows)?;
        check_len("lse", col.len(), self.cols)?;
        if let Some(g) = col_potential {
            check_len("column potential", g.len(), self.cols)?;
        }
        match self.scaled_sweep(tau, col_potential, row_update, f, col) {
            Some(()) => Ok(()),
            None => {
                drift_api::kit::sweep_in_two_passes(self, tau, col_potential, row_update, f, col)
            }
        }
    }
}

/// The log-sum-exps of a pair set's last row (or column) pass, and its temperature.
///
/// A scaling iteration changes the potentials little, so the last pass's `lse_i` is close to the
/// next one's: `Σ_j exp(s_ij − lse_i^last)` is then a sum of exponentials that neither overflows
/// nor underflows, computed in one pass without the maximum. Where the sum falls outside
/// [`in_range`] (the first pass, a new temperature of an ε-scaling schedule, a jump of the
/// potentials) the pass takes the exact two-step path instead, so the hint only ever saves time.
#[derive(Debug, Default)]
struct Hints<T> {
    lse: Vec<T>,
    tau: Option<T>,
}

impl<T: Real> Hints<T> {
    /// The hints for a pass at `tau`, if the last pass ran at the same temperature.
    fn get(&self, tau: T) -> Option<&[T]> {
        (self.tau == Some(tau)).then_some(self.lse.as_slice())
    }

    /// Keeps `lse` (copied into the buffer of the last pass: no allocation after the first).
    fn set(&mut self, tau: T, lse: &[T]) {
        self.lse.clear();
        self.lse.extend_from_slice(lse);
        self.tau = Some(tau);
    }
}

fn lock<H>(m: &Mutex<H>) -> std::sync::MutexGuard<'_, H> {
    m.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}
