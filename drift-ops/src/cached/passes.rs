//! The row and column passes on the stored distances: the online log-sum-exp over tiles, the
//! shifted one-pass sums the last pass's log-sum-exps allow, and the passes that build and read
//! the scaled matrix.

use super::isa::{BuildRows, ScaledRows};
use super::scaled::{Bounds, Entries, Scaled};
use super::{CachedPairs, CHUNK_ROWS, ROW_BLOCK};
use crate::cpu::{lane_sum, squared_distances, TILE};
use drift_api::math::on_isa;
use drift_api::{Precision, Real};
use rayon::prelude::*;

impl<T: Real> CachedPairs<'_, T> {
    /// Log-weights `ℓ_τ(d_ij) + p` of row `i`, columns `c0..c0 + w.len()`, with the masked pair
    /// set to `−∞`.
    #[inline(always)]
    pub(super) fn log_weights(&self, i: usize, c0: usize, tau: T, w: &mut [T]) {
        match &self.dist {
            Some(dist) => w.copy_from_slice(&dist[i * self.cols + c0..][..w.len()]),
            None => {
                // Only the scaled matrix is kept: the distances as the fill computes them below
                // the Gram path's dimensions (the same bits there).
                let d = self.x.dim();
                let ytile = &self.y.data()[c0 * d..(c0 + w.len()) * d];
                squared_distances(&self.x.data()[i * d..(i + 1) * d], ytile, w);
            }
        }
        self.kernel.log_weight(w, tau);
        if self.mask_diagonal && (c0..c0 + w.len()).contains(&i) {
            w[i - c0] = T::neg_infinity();
        }
    }

    /// The passes of the scaled matrix, if it holds `tau` (see [`scaled`]): `None` if it does not
    /// or the potentials are out of its reach (nothing was computed), else whether every row was
    /// computed from it (the others took the row pass on the log-weights, and the matrix is marked
    /// for a rebuild).
    pub(super) fn scaled_rows(
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
                on_isa(
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
    pub(super) fn build_scaled(
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
                on_isa(
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
    pub(super) fn build_row_block(&self, work: BuildRows<'_, '_, T>) -> bool {
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
    pub(super) fn row_block(
        &self,
        row0: usize,
        tau: T,
        g: Option<&[T]>,
        shifts: Option<&[T]>,
        out: &mut [T],
    ) {
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
    pub(super) fn scaled_row_block(&self, work: ScaledRows<'_, '_, T>) -> bool {
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
    pub(super) fn scaled_col_stripe(
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
    pub(super) fn redo_columns(
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
    pub(super) fn col_stripe_shifted(
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
    pub(super) fn col_stripe(&self, c0: usize, tau: T, f: Option<&[T]>, out: &mut [T]) {
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

/// `exp` of shifted log-weights, flushing results below `e^-87` (`f32`) or `e^-708` (`f64`) to zero
/// (subnormal results would each take a slow microcode path: a low temperature makes most terms
/// that small) and capping arguments at `80` (`700`), where the exponential is still exact. A
/// flushed term is below `1e-8` of any sum that [`in_range`] accepts, and a capped one makes the
/// sum exceed it, so the pass falls back to the exact path.
#[inline(always)]
pub(super) fn shifted_exp<T: Real>(w: &mut [T]) {
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
pub(super) fn in_range<T: Real>(sum: T) -> bool {
    let (lo, hi) = if T::PRECISION == Precision::F32 {
        (1e-30, 1e30)
    } else {
        (1e-290, 1e290)
    };
    sum > T::of(lo) && sum < T::of(hi)
}

/// The running `(max, sum)` of an online log-sum-exp over tiles of log-weights.
pub(super) struct OnlineLse<T> {
    max: T,
    sum: T,
}

impl<T: Real> OnlineLse<T> {
    #[inline(always)]
    pub(super) fn new() -> Self {
        OnlineLse {
            max: T::neg_infinity(),
            sum: T::zero(),
        }
    }

    /// Adds a tile (overwritten with its exponentials).
    #[inline(always)]
    pub(super) fn add(&mut self, w: &mut [T]) {
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
    pub(super) fn finish(self) -> T {
        if self.sum > T::zero() {
            self.max + self.sum.ln()
        } else {
            T::neg_infinity()
        }
    }
}
