//! A sweep of alternating scaling in one read of the scaled matrix.
//!
//! Once the [`scaled`](super::scaled) matrix holds the temperature, a pass is a matrix-vector
//! product bound by reading the matrix from memory, and a sweep's column pass reads it again right
//! after the row pass. Here each task takes a contiguous share of the rows and walks it in groups
//! small enough to stay in the core's cache: the group's row sums give its log-sum-exps and row
//! potentials, and the same rows, still cached, are added into the task's column sums weighted by
//! `exp(f_i + h_i − s)`, with `s` the task's running maximum (the sums are rescaled when it grows,
//! as in an online log-sum-exp). The tasks' column sums are merged at the end. A row the stored
//! values do not give exactly ([`Bounds`]) sends the sweep back to the two passes; a column, its
//! stripe to the log-weights.

use super::scaled::{Bounds, Entries};
use super::{lock, CachedPairs};
use crate::cpu::TILE;
use drift_api::kit::RowUpdate;
use drift_api::math::{on_isa, IsaWork};
use drift_api::Real;
use rayon::prelude::*;

/// Rows per group: their stored values (`GROUP · M` of them) stay in the L2 cache between the row
/// sums and the column sums for `M` up to several thousand.
const GROUP: usize = 8;

/// At most this many parts of rows per sweep, each with its own column sums: enough to keep every
/// thread of a large machine busy, few enough that adding the parts' sums costs little.
const SWEEP_PARTS: usize = 64;

/// At least this many rows per part, so that a part's column sums cost little next to its rows.
const SWEEP_MIN_ROWS: usize = 16;

/// One task's column sums, relative to `exp(shift)`.
#[derive(Debug)]
pub(super) struct ColumnSums<T> {
    sums: Vec<T>,
    shift: T,
}

impl<T: Real> ColumnSums<T> {
    pub fn new(m: usize) -> Self {
        ColumnSums {
            sums: vec![T::zero(); m],
            shift: T::neg_infinity(),
        }
    }

    /// Empties the sums.
    fn clear(&mut self) {
        self.sums.iter_mut().for_each(|s| *s = T::zero());
        self.shift = T::neg_infinity();
    }

    /// Moves the sums onto `shift` if it is above theirs.
    #[inline(always)]
    fn raise(&mut self, shift: T) {
        if shift > self.shift {
            if self.shift > T::neg_infinity() {
                let k = (self.shift - shift).exp();
                self.sums.iter_mut().for_each(|s| *s *= k);
            }
            self.shift = shift;
        }
    }
}

impl<T: Real> CachedPairs<'_, T> {
    /// The sweep on the scaled matrix: `None` if it does not hold `tau`, the potentials are out of
    /// its reach or a row or column needs the log-weights (nothing of the outputs is then final).
    pub(super) fn scaled_sweep(
        &self,
        tau: T,
        g: Option<&[T]>,
        row_update: &RowUpdate<'_, T>,
        f: &mut [T],
        col: &mut [T],
    ) -> Option<()> {
        let avx2_fma = drift_api::math::has_avx2_fma();
        // The order of every pass: row hints, column hints, scaled matrix.
        let mut row_hints = lock(&self.row_hints);
        let mut col_hints = lock(&self.col_hints);
        let mut scaled = lock(&self.scaled);
        let s = scaled.as_mut()?;
        s.at(tau)?;
        let row_shift = s.row_factors(g)?;
        // The rows split into parts fixed by the problem's size, never by the thread count, and
        // the parts' column sums added in their order: the result is the same on any number of
        // threads. Up to `SWEEP_PARTS` parts keep that many threads busy.
        let share = self.rows.div_ceil(SWEEP_PARTS).max(SWEEP_MIN_ROWS);
        let parts = self.rows.div_ceil(share).max(1);
        if s.partials.len() != parts {
            s.partials = (0..parts).map(|_| ColumnSums::new(self.cols)).collect();
        }
        let (min_row, min_col) = (
            Bounds::min_sum::<T>(self.cols),
            Bounds::min_sum::<T>(self.rows),
        );
        let (entries, partials) = s.split();
        let rows_ok = f
            .par_chunks_mut(share)
            .zip(partials.par_iter_mut())
            .enumerate()
            .map(|(k, (out, sums))| {
                sums.clear();
                on_isa(
                    avx2_fma,
                    SweepRows {
                        pairs: self,
                        entries,
                        row_shift,
                        min_row,
                        row_update,
                        row0: k * share,
                        out,
                        sums,
                    },
                )
            })
            .reduce(|| true, |a, b| a && b);
        if !rows_ok {
            s.tau = None;
            return None;
        }
        // `f` holds the row log-sum-exps: they are the next row pass's hints.
        row_hints.set(tau, f);
        for (i, v) in f.iter_mut().enumerate() {
            *v = row_update(i, *v);
        }
        let shift = partials
            .iter()
            .fold(T::neg_infinity(), |a, p| a.max(p.shift));
        for p in partials.iter_mut() {
            p.raise(shift);
        }
        // Columns the stored values do not give exactly take the log-weights, stripe by stripe;
        // the matrix stays unless one of them is a column it should reach (see `scaled_col_stripe`).
        let shifts = col_hints.get(tau);
        let mut stale = false;
        for (stripe, out) in col.chunks_mut(TILE).enumerate() {
            let c0 = stripe * TILE;
            let mut sums = [T::zero(); TILE];
            for (k, sum) in sums[..out.len()].iter_mut().enumerate() {
                *sum = partials.iter().fold(T::zero(), |a, p| a + p.sums[c0 + k]);
            }
            let mut failed = [false; TILE];
            stale |= entries.col_lses(c0, &sums[..out.len()], shift, min_col, out, &mut failed);
            if failed.contains(&true) {
                on_isa(
                    avx2_fma,
                    RedoColumns {
                        pairs: self,
                        failed: &failed,
                        c0,
                        tau,
                        f,
                        shifts: shifts.map(|h| &h[c0..c0 + out.len()]),
                        out,
                    },
                );
            }
        }
        col_hints.set(tau, col);
        if stale {
            s.tau = None;
        }
        Some(())
    }

    /// One task of [`CachedPairs::scaled_sweep`]: `false` if a row's sum is not one the matrix
    /// gives exactly.
    #[inline(always)]
    fn sweep_rows(&self, work: SweepRows<'_, '_, T>) -> bool {
        let SweepRows {
            entries,
            row_shift,
            min_row,
            row_update,
            row0,
            out,
            sums,
            ..
        } = work;
        let mut weight = [T::zero(); GROUP];
        for (q, group) in out.chunks_mut(GROUP).enumerate() {
            let first = row0 + q * GROUP;
            let mut group_max = T::neg_infinity();
            for (r, lse) in group.iter_mut().enumerate() {
                let i = first + r;
                let Some(l) = entries.row_lse(i, row_shift, min_row) else {
                    return false;
                };
                *lse = l;
                let x = row_update(i, l) + entries.row_shift(i);
                if x.is_nan() || x == T::infinity() {
                    return false;
                }
                weight[r] = x;
                group_max = group_max.max(x);
            }
            if group_max == T::neg_infinity() {
                continue;
            }
            sums.raise(group_max);
            let weight = &mut weight[..group.len()];
            weight.iter_mut().for_each(|x| *x -= sums.shift);
            T::exp_nonpositive_in_place(weight);
            for (r, u) in weight.iter().enumerate() {
                let i = first + r;
                sums.sums
                    .iter_mut()
                    .zip(entries.row(i))
                    .for_each(|(s, v)| *s += *v * *u);
            }
        }
        true
    }
}

/// The rows of one task of a sweep.
struct SweepRows<'s, 'a, T> {
    pairs: &'s CachedPairs<'a, T>,
    entries: Entries<'s, T>,
    row_shift: T,
    min_row: T,
    row_update: &'s RowUpdate<'s, T>,
    row0: usize,
    out: &'s mut [T],
    sums: &'s mut ColumnSums<T>,
}

impl<T: Real> IsaWork for SweepRows<'_, '_, T> {
    type Output = bool;
    #[inline(always)]
    fn run<const FMA: bool>(self) -> bool {
        self.pairs.sweep_rows(self)
    }
}

/// The columns of a sweep's stripe that the scaled matrix did not give.
struct RedoColumns<'s, 'a, T> {
    pairs: &'s CachedPairs<'a, T>,
    failed: &'s [bool],
    c0: usize,
    tau: T,
    f: &'s [T],
    shifts: Option<&'s [T]>,
    out: &'s mut [T],
}

impl<T: Real> IsaWork for RedoColumns<'_, '_, T> {
    type Output = ();
    #[inline(always)]
    fn run<const FMA: bool>(self) {
        self.pairs.redo_columns(
            self.failed,
            self.c0,
            self.tau,
            Some(self.f),
            self.shifts,
            self.out,
        )
    }
}
