//! Filling the matrix of squared distances, in the Gram form for large dimensions.

use super::ROW_BLOCK;
use crate::cpu::{squared_distances, TILE};
use crate::gram::{GramColumns, GRAM_MIN_DIM};
use drift_api::math::{on_isa, IsaWork};
use drift_api::{PointCloud, Real};
use rayon::prelude::*;

/// Fills `dist` (`N × M`, row-major) with the squared distances, in parallel blocks of rows.
pub(super) fn fill_distances<T: Real>(x: &PointCloud<T>, y: &PointCloud<T>, dist: &mut [T]) {
    fill_distances_on(drift_api::math::has_avx2_fma(), x, y, dist)
}

/// [`fill_distances`] with the Gram form's fused multiply-adds (in the AVX2+FMA copy, `avx2_fma`)
/// or without: the columns' norms and the tiles must be summed in the same copy, so that
/// coincident points come out at distance exactly zero.
fn fill_distances_on<T: Real>(
    avx2_fma: bool,
    x: &PointCloud<T>,
    y: &PointCloud<T>,
    dist: &mut [T],
) {
    let (m, d) = (y.len(), y.dim());
    if m == 0 {
        return;
    }
    let gram = (d >= GRAM_MIN_DIM).then(|| on_isa(avx2_fma, NewGram { y: y.data(), d }));
    dist.par_chunks_mut(ROW_BLOCK * m)
        .enumerate()
        .for_each(|(b, block)| {
            let x_block = &x.data()[b * ROW_BLOCK * d..][..(block.len() / m) * d];
            on_isa(
                avx2_fma,
                FillRows {
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

/// The columns prepared for Gram-form distances.
pub(super) struct NewGram<'s, T> {
    pub(super) y: &'s [T],
    pub(super) d: usize,
}

impl<T: Real> IsaWork for NewGram<'_, T> {
    type Output = GramColumns<T>;
    #[inline(always)]
    fn run<const FMA: bool>(self) -> GramColumns<T> {
        GramColumns::new_with::<FMA>(self.y, self.d)
    }
}

/// The squared distances of one block of rows.
struct FillRows<'s, T> {
    gram: Option<&'s GramColumns<T>>,
    x_block: &'s [T],
    y: &'s [T],
    d: usize,
    m: usize,
    block: &'s mut [T],
}

impl<T: Real> IsaWork for FillRows<'_, T> {
    type Output = ();
    #[inline(always)]
    fn run<const FMA: bool>(self) {
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
