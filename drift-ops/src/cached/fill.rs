//! Filling the matrix of squared distances: directly for small dimensions, in the Gram form
//! `‖x‖² + ‖y‖² − 2 x·y` from [`GRAM_MIN_DIM`] coordinates on, its products either as `faer`
//! matrix products ([`product`]) or in the register-blocked tiles of [`crate::gram`], whichever
//! measured faster for the precision and dimension ([`through_faer`]).

mod product;

use super::ROW_BLOCK;
use crate::cpu::{squared_distances, TILE};
use crate::gram::{GramColumns, GRAM_MIN_DIM};
use drift_api::math::{on_isa, IsaWork};
use drift_api::{PointCloud, Real};
use rayon::prelude::*;

/// `f32` products go through `faer` below this dimension, the register-blocked tiles from it on.
const F32_TILES_FROM_DIM: usize = 64;

/// Whether the Gram form's products go through `faer` (`D >= GRAM_MIN_DIM`). `cargo bench -p
/// drift-ops --bench pair_paths -- pair_fill`, the tiles' binary and `faer`'s interleaved, 7 runs
/// for `f32` at `D >= 64` and `f64` at `N = 4096, D = 16`, 3 elsewhere, AMD EPYC with AVX-512, 2
/// cores shared with other work (so the best run is the estimate, the median beside it; the
/// unchanged `D = 2` fill varied by up to 60 % between runs), ms, tiles against `faer`:
///
/// | shape | `f32` best | `f32` median | `f64` best | `f64` median |
/// |---|---|---|---|---|
/// | `N = M = 1024`, `D = 16` | 1.20 / 0.62 | 1.45 / 0.88 | 2.41 / 1.39 | 3.53 / 2.12 |
/// | `N = M = 1024`, `D = 64` | 2.51 / 1.77 | 3.85 / 2.26 | 7.75 / 4.44 | 12.1 / 5.62 |
/// | `N = M = 1024`, `D = 256` | 7.40 / 6.52 | 11.4 / 9.62 | 27.3 / 19.2 | 41.3 / 22.4 |
/// | `N = M = 1024`, `D = 1024` | 36.3 / 39.1 | 68.0 / 48.1 | 107 / 90.0 | 193 / 90.1 |
/// | `N = M = 4096`, `D = 16` | 23.4 / 18.8 | 38.5 / 23.9 | 46.6 / 45.1 | 68.8 / 50.3 |
/// | `N = M = 4096`, `D = 64` | 39.8 / 41.5 | 67.6 / 54.5 | 123 / 107 | 199 / 117 |
/// | `N = M = 4096`, `D = 256` | 121 / 171 | 185 / 191 | 475 / 199 | 908 / 228 |
/// | `N = M = 4096`, `D = 1024` | 646 / 659 | 952 / 682 | 2028 / 884 | 2864 / 1219 |
///
/// `faer` is at least as fast at every `f64` shape; in `f32` the tiles (eight-lane AVX2 register
/// blocks, [`crate::gram`]) won the best runs at `N = 4096` from `D = 64` on and at `D = 1024`,
/// so `f32` keeps them from `D = 64` on.
fn through_faer<T: Real>(d: usize) -> bool {
    d >= GRAM_MIN_DIM && (std::mem::size_of::<T>() == 8 || d < F32_TILES_FROM_DIM)
}

/// Fills `dist` (`N × M`, row-major) with the squared distances, in parallel blocks of rows (on
/// the threads of the pool it is called in).
pub(super) fn fill_distances<T: Real>(x: &PointCloud<T>, y: &PointCloud<T>, dist: &mut [T]) {
    let (m, d) = (y.len(), y.dim());
    if m == 0 {
        return;
    }
    if through_faer::<T>(d) {
        return product::fill_products(x, y, dist);
    }
    // The tiles' norms and products must be summed in the same copy (fused multiply-adds or
    // not), so that coincident points come out at distance exactly zero.
    let avx2_fma = drift_api::math::has_avx2_fma();
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

/// The columns prepared for Gram-form distances, as work for [`on_isa`] (the register-blocked
/// fill, and the cached displacement pass's tiles).
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

/// The squared distances of one block of rows: in the register-blocked Gram form when `gram` is
/// given, else directly.
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
