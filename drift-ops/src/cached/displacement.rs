//! A drift term's displacement pass over the scaled matrix: after a Sinkhorn solve the matrix holds
//! the term's temperature, and the barycentres `Σ_j p_ij y_j` with
//! `p_ij ∝ exp(ℓ_ij + g_j) = E_ij · exp(g_j − β_j − t) · exp(h_i + t)` are a matrix product of the
//! stored exponentials with the columns, weighted by one factor per column: no distance and no
//! exponential is recomputed, where the fused pass recomputes both for every pair.
//!
//! From `D = `[`GRAM_MIN_DIM`] the products run in the Gram path's register-blocked accumulation
//! ([`GramColumns::accumulate_tile`], differences formed in registers as in the fused pass), below
//! it in the fused pass's direct one ([`accumulate_mean`]). The unit displacement answers `false`
//! and takes the fused pass, as does any row whose sum is not one the stored values give exactly
//! ([`Bounds::accepts`]).

use super::fill::NewGram;
use super::scaled::{Bounds, Entries};
use super::{lock, CachedPairs, ROW_BLOCK};
use crate::cpu::{accumulate_mean, lane_sum, TILE};
use crate::gram::{GramColumns, GRAM_MIN_DIM};
use drift_api::kit::{check_len, Displacement, PairDisplacement};
use drift_api::math::{on_isa, IsaWork};
use drift_api::{Real, Result};
use rayon::prelude::*;

impl<T: Real> CachedPairs<'_, T> {
    /// [`drift_api::kit::PreparedPairs::displacement_pass`] on the scaled matrix, if it holds the
    /// pass's temperature and reaches its potential.
    pub(super) fn scaled_displacement(&self, pass: PairDisplacement<'_, T>) -> Result<bool> {
        let (n, m, d) = (self.rows, self.cols, self.x.dim());
        check_len("lse", pass.lse.len(), n)?;
        check_len("displacement", pass.disp.len(), n * d)?;
        check_len("column potential", pass.col_potential.len(), m)?;
        if let Some(o) = pass.origin {
            check_len("origin", o.len(), d)?;
        }
        if pass.displacement != Displacement::Mean || n == 0 || m == 0 {
            return Ok(false);
        }
        let mut scaled = lock(&self.scaled);
        let Some(s) = scaled.as_mut().filter(|s| s.at(pass.tau).is_some()) else {
            return Ok(false);
        };
        let Some(shift) = s.row_factors(Some(pass.col_potential)) else {
            return Ok(false);
        };
        let entries = s.entries();
        Ok(if drift_api::math::has_avx2_fma() {
            self.displacement_with::<true>(entries, shift, pass)
        } else {
            self.displacement_with::<false>(entries, shift, pass)
        })
    }

    /// The pass in blocks of rows, with the Gram form's fused multiply-adds (`FMA`, in the
    /// AVX2+FMA copy) or without; `false` if a row's sum was out of the stored values' reach.
    fn displacement_with<const FMA: bool>(
        &self,
        entries: Entries<'_, T>,
        shift: T,
        pass: PairDisplacement<'_, T>,
    ) -> bool {
        let d = self.x.dim();
        let gram = (d >= GRAM_MIN_DIM).then(|| {
            on_isa(
                FMA,
                NewGram {
                    y: self.y.data(),
                    d,
                },
            )
        });
        // The Gram path measures from the origin in its centred coordinates.
        let centred_origin = match (&gram, pass.origin) {
            (Some(gram), Some(o)) => Some(gram.centred_origin(o, ROW_BLOCK)),
            _ => None,
        };
        let origin = centred_origin.as_deref().or(pass.origin);
        let min_sum = Bounds::min_sum::<T>(self.cols);
        pass.lse
            .par_chunks_mut(ROW_BLOCK)
            .zip(pass.disp.par_chunks_mut(ROW_BLOCK * d))
            .enumerate()
            .map(|(b, (lse, disp))| {
                on_isa(
                    FMA,
                    DisplacementRows {
                        pairs: self,
                        gram: gram.as_ref(),
                        entries,
                        shift,
                        min_sum,
                        row0: b * ROW_BLOCK,
                        origin,
                        lse,
                        disp,
                    },
                )
            })
            .reduce(|| true, |a, b| a && b)
    }
}

/// One block of rows of a displacement pass on the scaled matrix.
struct DisplacementRows<'s, T> {
    pairs: &'s CachedPairs<'s, T>,
    /// The columns in the Gram path's layout (`D ≥ 16`), else `None`.
    gram: Option<&'s GramColumns<T>>,
    entries: Entries<'s, T>,
    shift: T,
    min_sum: T,
    row0: usize,
    /// The origin: in the Gram path, in centred coordinates and repeated for a block
    /// ([`GramColumns::centred_origin`]); else as given.
    origin: Option<&'s [T]>,
    lse: &'s mut [T],
    disp: &'s mut [T],
}

impl<T: Real> IsaWork for DisplacementRows<'_, T> {
    type Output = bool;

    /// Each tile of columns turns the block's rows of `E` into weights (times the column
    /// factors) and adds them into the rows' sums and displacements.
    #[inline(always)]
    fn run<const FMA: bool>(self) -> bool {
        let (rows, d, m) = (self.lse.len(), self.pairs.x.dim(), self.pairs.cols);
        let x_block = &self.pairs.x.data()[self.row0 * d..(self.row0 + rows) * d];
        let factors = self.entries.factors(m);
        let mut sums = [T::zero(); ROW_BLOCK];
        self.disp.fill(T::zero());
        if let Some(gram) = self.gram {
            let (mut xc, mut x_sq) = (Vec::new(), Vec::new());
            gram.centre_rows_with::<FMA>(x_block, &mut xc, &mut x_sq);
            // Padding rows keep zero weights (finite, as the accumulation asks).
            let mut weights = vec![T::zero(); x_sq.len() * TILE];
            let from = self.origin.unwrap_or(&xc);
            for c0 in (0..m).step_by(TILE) {
                let width = TILE.min(m - c0);
                for (r, sum) in sums[..rows].iter_mut().enumerate() {
                    let w = &mut weights[r * TILE..r * TILE + width];
                    scaled_weights(&self.entries, self.row0 + r, c0, factors, w);
                    *sum += lane_sum(w);
                }
                gram.accumulate_tile::<FMA>(&weights, TILE, c0, width, from, self.disp);
            }
        } else {
            let y = self.pairs.y.data();
            let mut w = [T::zero(); TILE];
            for (r, sum) in sums[..rows].iter_mut().enumerate() {
                let from = self.origin.unwrap_or(&x_block[r * d..(r + 1) * d]);
                let acc = &mut self.disp[r * d..(r + 1) * d];
                for c0 in (0..m).step_by(TILE) {
                    let width = TILE.min(m - c0);
                    let w = &mut w[..width];
                    scaled_weights(&self.entries, self.row0 + r, c0, factors, w);
                    *sum += lane_sum(w);
                    accumulate_mean(acc, from, &y[c0 * d..(c0 + width) * d], w);
                }
            }
        }
        for (r, (lse, sum)) in self.lse.iter_mut().zip(sums).enumerate() {
            match self
                .entries
                .row_lse_of(self.row0 + r, sum, self.shift, self.min_sum)
            {
                Some(l) => *lse = l,
                None => return false,
            }
            let inv = T::one() / sum;
            self.disp[r * d..(r + 1) * d]
                .iter_mut()
                .for_each(|v| *v *= inv);
        }
        true
    }
}

/// Row `i`'s weights `E_ij · factor_j` for the columns `c0..c0 + w.len()`.
#[inline(always)]
fn scaled_weights<T: Real>(
    entries: &Entries<'_, T>,
    i: usize,
    c0: usize,
    factors: &[T],
    w: &mut [T],
) {
    let e = &entries.row(i)[c0..c0 + w.len()];
    w.iter_mut()
        .zip(e)
        .zip(&factors[c0..])
        .for_each(|((w, e), f)| *w = *e * *f);
}
