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

mod displacement;
mod scaled;
mod sweep;

use crate::cpu::{lane_sum, squared_distances, TILE};
use crate::gram::{GramColumns, GRAM_MIN_DIM};
use crate::matrix_pool::Matrix;
use crate::pair_cache::Reservation;
use drift_api::kit::{
    check_len, check_square_mask, PairDisplacement, PairPath, PairSet, PreparedPairs, RowUpdate,
};
use drift_api::{DriftError, Kernel, PointCloud, Precision, Real, Result};
use rayon::prelude::*;
use scaled::{Bounds, Entries, Scaled};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Mutex;

/// Rows per parallel task when filling the matrix and in row passes.
const ROW_BLOCK: usize = 32;
/// Rows per chunk of a column pass (their column maxima are taken together).
const CHUNK_ROWS: usize = 16;

/// A pair set with its squared distances in memory.
#[derive(Debug)]
pub struct CachedPairs<'a, T> {
    /// `dist[i * m + j] = ‖x_i − y_j‖²`, with its budget reservation.
    dist: Matrix<T>,
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
    /// Whether the scaled matrix may exceed the budget, as the distances may ([`CachedPairs::new`]).
    unbounded: bool,
    /// Whether a column pass has run: the passes alternate between rows and columns.
    column_passes: AtomicBool,
}

impl<'a, T: Real> CachedPairs<'a, T> {
    /// Builds the cache if the `N·M` values fit what is left of the process-wide budget
    /// ([`crate::pair_cache`]); `Ok(None)` otherwise (the passes then run fused).
    ///
    /// Every dimension is cached: even at `D = 2`, where a fused pass computes a distance in a few
    /// flops, the passes on the scaled matrix take no exponential per pair. A 20-iteration f32
    /// Sinkhorn drift (`drift-bench apply --repeat 5`, 2 threads) at `N = M = 4096`, `D = 2` takes
    /// 0.22 s cached against 0.63 s fused, and at `N = M = 1024` 16 ms against 65 ms
    /// (`docs/PERFORMANCE.md`).
    pub fn within_budget(set: PairSet<'a, T>) -> Result<Option<Self>> {
        check(&set)?;
        match Self::matrix(&set, Reservation::try_new)? {
            Some(dist) => Ok(Some(Self::build(set, dist, false))),
            None => Ok(None),
        }
    }

    /// Builds the cache whatever the budget (its memory still counts against it while it lives).
    pub fn new(set: PairSet<'a, T>) -> Result<Self> {
        check(&set)?;
        let dist = Self::matrix(&set, |bytes| Some(Reservation::unbounded(bytes)))?;
        let dist = dist.ok_or_else(|| {
            DriftError::invalid("pair cache", "N × M distances do not fit in memory")
        })?;
        Ok(Self::build(set, dist, true))
    }

    /// Memory for the distances, with the bytes `reserve` grants.
    fn matrix(
        set: &PairSet<'a, T>,
        reserve: impl Fn(usize) -> Option<Reservation>,
    ) -> Result<Option<Matrix<T>>> {
        match set.rows.len().checked_mul(set.cols.len()) {
            Some(len) => Matrix::take("pair cache", len, reserve),
            None => Ok(None),
        }
    }

    fn build(set: PairSet<'a, T>, mut dist: Matrix<T>, unbounded: bool) -> Self {
        let (n, m) = (set.rows.len(), set.cols.len());
        fill_distances(set.rows, set.cols, &mut dist);
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
            unbounded,
            column_passes: AtomicBool::new(false),
        }
    }
}

fn check<T: Real>(set: &PairSet<'_, T>) -> Result<()> {
    set.rows.check_same_dim(set.cols)?;
    check_square_mask(set.mask_diagonal, set.rows.len(), set.cols.len())
}

impl<T: Real> PreparedPairs<T> for CachedPairs<'_, T> {
    fn row_lse(&self, tau: T, col_potential: Option<&[T]>, lse: &mut [T]) -> Result<()> {
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
                *scaled = Scaled::allocate(self.rows, self.cols, |bytes| {
                    if self.unbounded {
                        Some(Reservation::unbounded(bytes))
                    } else {
                        Reservation::try_new(bytes)
                    }
                });
            }
            match scaled.as_mut().filter(|_| repeated) {
                Some(s) => self.build_scaled(avx2_fma, s, tau, col_potential, lse),
                None => lse
                    .par_chunks_mut(ROW_BLOCK)
                    .enumerate()
                    .for_each(|(b, out)| {
                        let row0 = b * ROW_BLOCK;
                        on_best_isa(
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

    fn col_lse(&self, tau: T, row_potential: Option<&[T]>, lse: &mut [T]) -> Result<()> {
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
                on_best_isa(
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

    fn sweep(
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

    fn displacement_pass(&self, pass: PairDisplacement<'_, T>) -> Result<bool> {
        self.scaled_displacement(pass)
    }

    fn path(&self) -> PairPath {
        let scaled = lock(&self.scaled).as_ref().map_or(0, |s| s.bytes());
        PairPath::Cached {
            bytes: self.dist.bytes() + scaled,
        }
    }
}

impl<T: Real> CachedPairs<'_, T> {
    /// Log-weights `ℓ_τ(d_ij) + p` of row `i`, columns `c0..c0 + w.len()`, with the masked pair
    /// set to `−∞`.
    #[inline(always)]
    fn log_weights(&self, i: usize, c0: usize, tau: T, w: &mut [T]) {
        w.copy_from_slice(&self.dist[i * self.cols + c0..][..w.len()]);
        T::kernel_log_weight(self.kernel, w, tau);
        if self.mask_diagonal && (c0..c0 + w.len()).contains(&i) {
            w[i - c0] = T::neg_infinity();
        }
    }

    /// The passes of the scaled matrix, if it holds `tau` (see [`scaled`]): `None` if it does not
    /// or the potentials are out of its reach (nothing was computed), else whether every row was
    /// computed from it (the others took the row pass on the log-weights, and the matrix is marked
    /// for a rebuild).
    fn scaled_rows(
        &self,
        avx2_fma: bool,
        s: &mut Scaled<T>,
        tau: T,
        g: Option<&[T]>,
        shifts: Option<&[T]>,
        lse: &mut [T],
    ) -> Option<bool> {
        s.at(tau)?;
        let shift = s.row_factors(g)?;
        let min_sum = Bounds::min_sum::<T>(self.cols);
        let entries = s.entries();
        let all = lse
            .par_chunks_mut(ROW_BLOCK)
            .enumerate()
            .map(|(b, out)| {
                let row0 = b * ROW_BLOCK;
                on_best_isa(
                    avx2_fma,
                    ScaledRows {
                        pairs: self,
                        entries,
                        shift,
                        min_sum,
                        row0,
                        tau,
                        g,
                        shifts: shifts.map(|h| &h[row0..row0 + out.len()]),
                        out,
                    },
                )
            })
            .reduce(|| true, |a, b| a && b);
        if !all {
            s.tau = None;
        }
        Some(all)
    }

    /// A row pass that stores the scaled matrix at `tau`: the exact two-step log-sum-exp of every
    /// row (the maximum of the log-weights, then the exponentials shifted by it), whose
    /// exponentials are the matrix's entries, with the row maxima as its row shifts and `g` as its
    /// column shifts. The matrix is kept only if every row's sum is one it may hold.
    fn build_scaled(
        &self,
        avx2_fma: bool,
        s: &mut Scaled<T>,
        tau: T,
        g: Option<&[T]>,
        lse: &mut [T],
    ) {
        let m = self.cols;
        let stored = lse
            .par_chunks_mut(ROW_BLOCK)
            .zip(s.e.par_chunks_mut(ROW_BLOCK * m))
            .zip(s.row_shift.par_chunks_mut(ROW_BLOCK))
            .enumerate()
            .map(|(b, ((out, rows), shifts))| {
                on_best_isa(
                    avx2_fma,
                    BuildRows {
                        pairs: self,
                        row0: b * ROW_BLOCK,
                        tau,
                        g,
                        out,
                        rows,
                        shifts,
                    },
                )
            })
            .reduce(|| true, |a, b| a && b);
        if stored {
            s.built(tau, g);
        } else {
            s.tau = None;
        }
    }

    /// The rows of [`CachedPairs::build_scaled`] from `row0` on: `rows` receives their entries of
    /// the scaled matrix, `shifts` their maxima and `out` their log-sum-exps.
    #[inline(always)]
    fn build_row_block(&self, work: BuildRows<'_, '_, T>) -> bool {
        let BuildRows {
            row0,
            tau,
            g,
            out,
            rows,
            shifts,
            ..
        } = work;
        let m = self.cols;
        let cap = Bounds::cap::<T>().exp();
        let mut kept = true;
        for (r, ((lse, row), h)) in out
            .iter_mut()
            .zip(rows.chunks_exact_mut(m))
            .zip(shifts.iter_mut())
            .enumerate()
        {
            for c0 in (0..m).step_by(TILE) {
                self.log_weights(row0 + r, c0, tau, &mut row[c0..(c0 + TILE).min(m)]);
            }
            if let Some(g) = g {
                row.iter_mut().zip(g).for_each(|(v, gj)| *v += *gj);
            }
            let max = row.iter().fold(T::neg_infinity(), |a, &b| a.max(b));
            if !max.is_finite() {
                // Every pair masked or of weight zero (−∞), or an infinite or NaN log-weight: the
                // two-step path's answer, and no matrix.
                *lse = if max == T::neg_infinity() {
                    max
                } else {
                    T::nan()
                };
                row.iter_mut().for_each(|v| *v = T::zero());
                *h = T::zero();
                kept = false;
                continue;
            }
            row.iter_mut().for_each(|v| *v -= max);
            T::exp_nonpositive_in_place(row);
            let sum = lane_sum(row);
            kept &= sum <= cap;
            *h = max;
            *lse = max + sum.ln();
        }
        kept
    }

    /// Row passes of rows `row0..row0 + out.len()`: one pass of exponentials shifted by the row's
    /// hint where it keeps the sum in range, else the online log-sum-exp along the row.
    #[inline(always)]
    fn row_block(&self, row0: usize, tau: T, g: Option<&[T]>, shifts: Option<&[T]>, out: &mut [T]) {
        let mut w = [T::zero(); TILE];
        for (r, lse) in out.iter_mut().enumerate() {
            let i = row0 + r;
            if let Some(h) = shifts.map(|h| h[r]).filter(|h| h.is_finite()) {
                let mut sum = T::zero();
                for c0 in (0..self.cols).step_by(TILE) {
                    let w = &mut w[..TILE.min(self.cols - c0)];
                    self.log_weights(i, c0, tau, w);
                    match g {
                        Some(g) => w.iter_mut().zip(&g[c0..]).for_each(|(v, gj)| *v += *gj - h),
                        None => w.iter_mut().for_each(|v| *v -= h),
                    }
                    shifted_exp(w);
                    sum += lane_sum(w);
                }
                if in_range(sum) {
                    *lse = h + sum.ln();
                    continue;
                }
            }
            let mut acc = OnlineLse::new();
            for c0 in (0..self.cols).step_by(TILE) {
                let w = &mut w[..TILE.min(self.cols - c0)];
                self.log_weights(i, c0, tau, w);
                if let Some(g) = g {
                    w.iter_mut().zip(&g[c0..]).for_each(|(v, gj)| *v += *gj);
                }
                acc.add(w);
            }
            *lse = acc.finish();
        }
    }

    /// Rows `row0..row0 + out.len()` from the scaled matrix, whose factors hold
    /// `exp(g_j − β_j − shift)`; `false` if a row's sum is not one it gives exactly, and the block
    /// then took [`CachedPairs::row_block`].
    #[inline(always)]
    fn scaled_row_block(&self, work: ScaledRows<'_, '_, T>) -> bool {
        let ScaledRows {
            entries,
            shift,
            min_sum,
            row0,
            out,
            ..
        } = work;
        let mut all = true;
        for (r, lse) in out.iter_mut().enumerate() {
            match entries.row_lse(row0 + r, shift, min_sum) {
                Some(l) => *lse = l,
                None => all = false,
            }
        }
        if !all {
            self.row_block(row0, work.tau, work.g, work.shifts, out);
        }
        all
    }

    /// Columns `c0..c0 + out.len()` from the scaled matrix, whose factors hold
    /// `exp(f_i + h_i − shift)`: whether every column's sum is one it gives exactly, and whether a
    /// column that is not is one the matrix should reach. A column whose potential was `−∞` when
    /// the matrix was built (a point of zero weight) has no entries in it, and its passes always
    /// take the log-weights without making the matrix stale.
    #[inline(always)]
    fn scaled_col_stripe(
        &self,
        entries: Entries<'_, T>,
        shift: T,
        min_sum: T,
        c0: usize,
        out: &mut [T],
        failed: &mut [bool; TILE],
    ) -> bool {
        let width = out.len();
        let mut sum = [T::zero(); TILE];
        for (i, u) in entries.factors(self.rows).iter().enumerate() {
            sum[..width]
                .iter_mut()
                .zip(&entries.row(i)[c0..c0 + width])
                .for_each(|(s, e)| *s += *e * *u);
        }
        entries.col_lses(c0, &sum[..width], shift, min_sum, out, failed)
    }

    /// Recomputes the `failed` columns of the stripe at `c0` from the log-weights, a run of
    /// adjacent ones at a time (shifted by the hints where they keep the sums exact).
    #[inline(always)]
    fn redo_columns(
        &self,
        failed: &[bool],
        c0: usize,
        tau: T,
        f: Option<&[T]>,
        shifts: Option<&[T]>,
        out: &mut [T],
    ) {
        let mut k = 0;
        while k < out.len() {
            if !failed[k] {
                k += 1;
                continue;
            }
            let start = k;
            while k < out.len() && failed[k] {
                k += 1;
            }
            let run = &mut out[start..k];
            let shifted = shifts
                .is_some_and(|h| self.col_stripe_shifted(c0 + start, tau, f, &h[start..k], run));
            if !shifted {
                self.col_stripe(c0 + start, tau, f, run)
            }
        }
    }

    /// Column passes of columns `c0..c0 + out.len()` in one pass of exponentials shifted by the
    /// columns' hints; `false` (and `out` unspecified) if a column's sum left the range where that is
    /// exact, and the stripe must take the two-step path.
    #[inline(always)]
    fn col_stripe_shifted(
        &self,
        c0: usize,
        tau: T,
        f: Option<&[T]>,
        shifts: &[T],
        out: &mut [T],
    ) -> bool {
        let width = out.len();
        if shifts.iter().any(|h| !h.is_finite()) {
            return false;
        }
        let mut sum = [T::zero(); TILE];
        let mut w = [T::zero(); TILE];
        for i in 0..self.rows {
            let w = &mut w[..width];
            self.log_weights(i, c0, tau, w);
            let fi = f.map_or(T::zero(), |f| f[i]);
            w.iter_mut().zip(shifts).for_each(|(v, h)| *v += fi - *h);
            shifted_exp(w);
            sum[..width]
                .iter_mut()
                .zip(w.iter())
                .for_each(|(s, v)| *s += *v);
        }
        if !sum[..width].iter().all(|s| in_range(*s)) {
            return false;
        }
        for ((l, h), s) in out.iter_mut().zip(shifts).zip(&sum) {
            *l = *h + s.ln();
        }
        true
    }

    /// Column passes of columns `c0..c0 + out.len()`: the rows in chunks, each chunk's column
    /// maxima first, then one exponential per pair.
    #[inline(always)]
    fn col_stripe(&self, c0: usize, tau: T, f: Option<&[T]>, out: &mut [T]) {
        let width = out.len();
        let mut max = [T::neg_infinity(); TILE];
        let mut sum = [T::zero(); TILE];
        let mut chunk = [[T::zero(); TILE]; CHUNK_ROWS];
        let mut scale = [T::zero(); TILE];
        for r0 in (0..self.rows).step_by(CHUNK_ROWS) {
            let rows = CHUNK_ROWS.min(self.rows - r0);
            let mut chunk_max = [T::neg_infinity(); TILE];
            for (r, w) in chunk[..rows].iter_mut().enumerate() {
                let w = &mut w[..width];
                self.log_weights(r0 + r, c0, tau, w);
                if let Some(f) = f {
                    let fi = f[r0 + r];
                    w.iter_mut().for_each(|v| *v += fi);
                }
                chunk_max[..width]
                    .iter_mut()
                    .zip(w.iter())
                    .for_each(|(m, v)| *m = m.max(*v));
            }
            // New maxima, and the factors that move the running sums onto them. A column still at
            // −∞ shifts by 0, so its terms stay exp(−∞) = 0 instead of NaN.
            for j in 0..width {
                let new = max[j].max(chunk_max[j]);
                let shift = if new == T::neg_infinity() {
                    T::zero()
                } else {
                    new
                };
                scale[j] = max[j] - shift;
                max[j] = shift;
            }
            T::exp_nonpositive_in_place(&mut scale[..width]);
            for (s, k) in sum[..width].iter_mut().zip(&scale[..width]) {
                *s *= *k;
            }
            for w in chunk[..rows].iter_mut() {
                let w = &mut w[..width];
                w.iter_mut().zip(&max[..width]).for_each(|(v, m)| *v -= *m);
                T::exp_nonpositive_in_place(w);
                sum[..width]
                    .iter_mut()
                    .zip(w.iter())
                    .for_each(|(s, v)| *s += *v);
            }
        }
        for ((l, m), s) in out.iter_mut().zip(&max).zip(&sum) {
            *l = if *s > T::zero() {
                *m + s.ln()
            } else {
                T::neg_infinity()
            };
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

/// `exp` of shifted log-weights, flushing results below `e^-87` (`f32`) or `e^-708` (`f64`) to zero
/// (subnormal results would each take a slow microcode path: a low temperature makes most terms
/// that small) and capping arguments at `80` (`700`), where the exponential is still exact. A
/// flushed term is below `1e-8` of any sum that [`in_range`] accepts, and a capped one makes the
/// sum exceed it, so the pass falls back to the exact path.
#[inline(always)]
fn shifted_exp<T: Real>(w: &mut [T]) {
    let cap = T::of(if T::PRECISION == Precision::F32 {
        80.0
    } else {
        700.0
    });
    w.iter_mut().for_each(|v| *v = v.min(cap));
    T::exp_nonpositive_in_place(w);
}

/// Whether a sum of shifted exponentials gives its log-sum-exp to full precision: no term can have
/// overflowed (the sum is below `1e30`, resp. `1e290`), and the terms flushed to zero or subnormal
/// (below `1.2e-38`, resp. `2.2e-308`) are below `1e-8` of it (the sum is above `1e-30`, resp.
/// `1e-290`).
#[inline(always)]
fn in_range<T: Real>(sum: T) -> bool {
    let (lo, hi) = if T::PRECISION == Precision::F32 {
        (1e-30, 1e30)
    } else {
        (1e-290, 1e290)
    };
    sum > T::of(lo) && sum < T::of(hi)
}

/// The running `(max, sum)` of an online log-sum-exp over tiles of log-weights.
struct OnlineLse<T> {
    max: T,
    sum: T,
}

impl<T: Real> OnlineLse<T> {
    #[inline(always)]
    fn new() -> Self {
        OnlineLse {
            max: T::neg_infinity(),
            sum: T::zero(),
        }
    }

    /// Adds a tile (overwritten with its exponentials).
    #[inline(always)]
    fn add(&mut self, w: &mut [T]) {
        let tile_max = w.iter().fold(T::neg_infinity(), |a, &b| a.max(b));
        if tile_max == T::neg_infinity() {
            return;
        }
        if tile_max > self.max {
            if self.max > T::neg_infinity() {
                self.sum *= (self.max - tile_max).exp();
            }
            self.max = tile_max;
        }
        let m = self.max;
        w.iter_mut().for_each(|v| *v -= m);
        T::exp_nonpositive_in_place(w);
        self.sum += lane_sum(w);
    }

    #[inline(always)]
    fn finish(self) -> T {
        if self.sum > T::zero() {
            self.max + self.sum.ln()
        } else {
            T::neg_infinity()
        }
    }
}

/// Fills `dist` (`N × M`, row-major) with the squared distances, in parallel blocks of rows.
fn fill_distances<T: Real>(x: &PointCloud<T>, y: &PointCloud<T>, dist: &mut [T]) {
    if drift_api::math::has_avx2_fma() {
        fill_distances_with::<T, true>(x, y, dist)
    } else {
        fill_distances_with::<T, false>(x, y, dist)
    }
}

/// [`fill_distances`] with the Gram form's fused multiply-adds (`FMA`, in the AVX2+FMA copy) or
/// without: the columns' norms and the tiles must be summed the same way, so that coincident
/// points come out at distance exactly zero.
fn fill_distances_with<T: Real, const FMA: bool>(
    x: &PointCloud<T>,
    y: &PointCloud<T>,
    dist: &mut [T],
) {
    let (m, d) = (y.len(), y.dim());
    if m == 0 {
        return;
    }
    let gram = (d >= GRAM_MIN_DIM).then(|| on_best_isa(FMA, NewGram::<T, FMA> { y: y.data(), d }));
    dist.par_chunks_mut(ROW_BLOCK * m)
        .enumerate()
        .for_each(|(b, block)| {
            let x_block = &x.data()[b * ROW_BLOCK * d..][..(block.len() / m) * d];
            on_best_isa(
                FMA,
                FillRows::<T, FMA> {
                    gram: gram.as_ref(),
                    x_block,
                    y: y.data(),
                    d,
                    m,
                    block,
                },
            )
        });
}

/// One block of rows in the Gram form, tile by tile through a scratch buffer (the Gram tiles are
/// written for whole groups of rows: `x_sq` has the padded count).
#[inline(always)]
fn fill_gram_block<T: Real, const FMA: bool>(
    gram: &GramColumns<T>,
    x_block: &[T],
    m: usize,
    block: &mut [T],
) {
    let (mut xc, mut x_sq) = (Vec::new(), Vec::new());
    gram.centre_rows_with::<FMA>(x_block, &mut xc, &mut x_sq);
    let mut scratch = vec![T::zero(); x_sq.len() * TILE];
    for c0 in (0..m).step_by(TILE) {
        let width = TILE.min(m - c0);
        gram.tile_with::<FMA>(&xc, &x_sq, c0, width, &mut scratch, TILE);
        for (r, row) in block.chunks_exact_mut(m).enumerate() {
            row[c0..c0 + width].copy_from_slice(&scratch[r * TILE..r * TILE + width]);
        }
    }
}

/// Work that runs in the copy of the code for the CPU's best instruction set ([`on_best_isa`]).
/// A trait with `#[inline(always)]` implementations rather than closures: a closure's body is a
/// function of its own that the compiler may leave out of line, outside the AVX2+FMA copy (where
/// `mul_add` becomes a library call).
trait IsaWork {
    type Output;
    fn run(self) -> Self::Output;
}

/// Row passes of one block of rows.
struct RowPass<'s, 'a, T> {
    pairs: &'s CachedPairs<'a, T>,
    row0: usize,
    tau: T,
    g: Option<&'s [T]>,
    shifts: Option<&'s [T]>,
    out: &'s mut [T],
}

impl<T: Real> IsaWork for RowPass<'_, '_, T> {
    type Output = ();
    #[inline(always)]
    fn run(self) {
        self.pairs
            .row_block(self.row0, self.tau, self.g, self.shifts, self.out)
    }
}

/// One block of rows of a pass that builds the scaled matrix.
struct BuildRows<'s, 'a, T> {
    pairs: &'s CachedPairs<'a, T>,
    row0: usize,
    tau: T,
    g: Option<&'s [T]>,
    out: &'s mut [T],
    rows: &'s mut [T],
    shifts: &'s mut [T],
}

impl<T: Real> IsaWork for BuildRows<'_, '_, T> {
    type Output = bool;
    #[inline(always)]
    fn run(self) -> bool {
        self.pairs.build_row_block(self)
    }
}

/// Row passes of one block of rows from the scaled matrix (the log-weights where it cannot).
struct ScaledRows<'s, 'a, T> {
    pairs: &'s CachedPairs<'a, T>,
    entries: Entries<'s, T>,
    shift: T,
    min_sum: T,
    row0: usize,
    tau: T,
    g: Option<&'s [T]>,
    shifts: Option<&'s [T]>,
    out: &'s mut [T],
}

impl<T: Real> IsaWork for ScaledRows<'_, '_, T> {
    type Output = bool;
    #[inline(always)]
    fn run(self) -> bool {
        self.pairs.scaled_row_block(self)
    }
}

/// Column passes of one stripe: shifted by the hints where they keep every sum in range, else the
/// two-step path.
struct ColPass<'s, 'a, T> {
    pairs: &'s CachedPairs<'a, T>,
    c0: usize,
    tau: T,
    f: Option<&'s [T]>,
    shifts: Option<&'s [T]>,
    /// The scaled matrix holding `tau`, its factors' shift and the smallest exact sum.
    scaled: Option<(Entries<'s, T>, T, T)>,
    out: &'s mut [T],
}

impl<T: Real> IsaWork for ColPass<'_, '_, T> {
    /// Whether the scaled matrix (if any) is still good: it gave the stripe, or missed only columns
    /// it cannot reach.
    type Output = bool;
    #[inline(always)]
    fn run(self) -> bool {
        if let Some((scaled, shift, min_sum)) = self.scaled {
            let mut failed = [false; TILE];
            let stale = self.pairs.scaled_col_stripe(
                scaled,
                shift,
                min_sum,
                self.c0,
                self.out,
                &mut failed,
            );
            self.pairs
                .redo_columns(&failed, self.c0, self.tau, self.f, self.shifts, self.out);
            return !stale;
        }
        let shifted = self.shifts.is_some_and(|h| {
            self.pairs
                .col_stripe_shifted(self.c0, self.tau, self.f, h, self.out)
        });
        if !shifted {
            self.pairs.col_stripe(self.c0, self.tau, self.f, self.out)
        }
        true
    }
}

/// The columns prepared for Gram-form distances.
struct NewGram<'s, T, const FMA: bool> {
    y: &'s [T],
    d: usize,
}

impl<T: Real, const FMA: bool> IsaWork for NewGram<'_, T, FMA> {
    type Output = GramColumns<T>;
    #[inline(always)]
    fn run(self) -> GramColumns<T> {
        GramColumns::new_with::<FMA>(self.y, self.d)
    }
}

/// The squared distances of one block of rows.
struct FillRows<'s, T, const FMA: bool> {
    gram: Option<&'s GramColumns<T>>,
    x_block: &'s [T],
    y: &'s [T],
    d: usize,
    m: usize,
    block: &'s mut [T],
}

impl<T: Real, const FMA: bool> IsaWork for FillRows<'_, T, FMA> {
    type Output = ();
    #[inline(always)]
    fn run(self) {
        match self.gram {
            Some(gram) => fill_gram_block::<T, FMA>(gram, self.x_block, self.m, self.block),
            None => {
                for (xi, row) in self
                    .x_block
                    .chunks_exact(self.d)
                    .zip(self.block.chunks_exact_mut(self.m))
                {
                    squared_distances(xi, self.y, row);
                }
            }
        }
    }
}

/// Runs `work` in a copy compiled for AVX2 and FMA where the CPU has them (`avx2_fma`, from
/// [`drift_api::math::has_avx2_fma`]), else in the baseline copy. `work` and what it calls are
/// `#[inline(always)]`, so they are generated inside the chosen copy.
#[inline(always)]
fn on_best_isa<W: IsaWork>(avx2_fma: bool, work: W) -> W::Output {
    #[cfg(target_arch = "x86_64")]
    if avx2_fma {
        #[allow(unsafe_code)]
        // SAFETY: `avx2_fma` is only set where `has_avx2_fma()` found both instruction sets.
        unsafe {
            return run_avx2_fma(work);
        }
    }
    #[cfg(not(target_arch = "x86_64"))]
    let _ = avx2_fma;
    work.run()
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,fma")]
fn run_avx2_fma<W: IsaWork>(work: W) -> W::Output {
    work.run()
}
