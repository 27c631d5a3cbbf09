//! The CPU backend: the fused, tiled, parallel row reduction.
//!
//! Rows are split into blocks processed in parallel by rayon; each block streams the columns in tiles
//! of [`TILE`] points and keeps a running `(max, sum, weighted displacement)` per row, rescaling when
//! the maximum grows (the online log-sum-exp of FlashAttention/KeOps). Memory beyond inputs and outputs
//! is one tile buffer per block: no `rows × cols` matrix ever exists.
//!
//! The per-block work is compiled twice, for the baseline target and with AVX2 and FMA, and the
//! wider copy runs where the CPU has them ([`drift_api::math::has_avx2_fma`]), so the speed does not
//! depend on the flags the crate was built with. Below the Gram path's dimensions both copies compute
//! the same bits (Rust never fuses a multiply and an add on its own); from it on, the wider copy's
//! dot products and displacement sums use fused multiply-adds, which round once instead of twice
//! (on a CPU with separate add and multiply-add units they also run at twice the rate of a
//! multiply and an add), so the two copies agree to rounding there. The copies come from the
//! workspace's one dispatch, [`drift_api::math::on_isa`].
//!
//! What each file holds: this one the backend's pass (checks, the optional spatial order, the
//! parallel split into row blocks); `block` the work of one row block (the online log-sum-exp and
//! the distance and displacement loops); `settings` the backend's settings (pair-cache budget,
//! tile skipping, threads) and their builder.

mod block;
mod settings;
#[cfg(test)]
mod tests;

pub use settings::{CpuBackend, CpuBackendBuilder};

pub(crate) use block::{accumulate_mean, lane_sum, squared_distances};

use crate::cached::CachedPairs;
use crate::gram::{GramColumns, GRAM_MIN_DIM};
use crate::tile_skip::{self, SortedPass, TileBounds};
use block::reduce_block;
use drift_api::kit::pairs::Prepared;
use drift_api::kit::Displacement;
use drift_api::kit::{check_len, check_square_mask, Backend, PairSet, ReductionJob, RowReduction};
use drift_api::math::{on_isa, IsaWork};
use drift_api::{DriftError, Kernel, Real, Result};
use rayon::prelude::*;

/// Columns per tile: the tile of log-weights and the matching column coordinates stay in L1.
pub const TILE: usize = 256;
/// Rows per parallel task: a multiple of the Gram path's six-row groups. Each packed column panel
/// is reused by every row of the block, so larger blocks cost fewer panel loads, up to where the
/// block's tile of distances and weights leaves the L2 cache.
const ROW_BLOCK: usize = 48;
/// Columns per tile of a pass that skips tiles ([`tile_skip`]): smaller boxes give tighter bounds,
/// and skip more pairs, for a little more work per tile.
const SKIP_TILE: usize = 128;

impl Backend for CpuBackend {
    fn name(&self) -> &str {
        "cpu"
    }

    fn row_reduce(&self, job: ReductionJob<'_>) -> Result<()> {
        let min_skip_pairs = if self.tile_skip() {
            tile_skip::MIN_PAIRS
        } else {
            usize::MAX
        };
        self.install(|| match job {
            ReductionJob::F32(r) => run(r, drift_api::math::has_avx2_fma(), min_skip_pairs),
            ReductionJob::F64(r) => run(r, drift_api::math::has_avx2_fma(), min_skip_pairs),
        })
    }

    /// Keeps the squared distances in memory when they fit this backend's pair-cache budget
    /// ([`CpuBackend::pair_cache_budget`]).
    fn prepare_pairs_f32<'a>(&'a self, set: PairSet<'a, f32>) -> Result<Option<Prepared<'a, f32>>> {
        let cached = self.install(|| CachedPairs::within_budget_of(set, *self))?;
        Ok(cached.map(|c| Box::new(c) as Prepared<'a, f32>))
    }

    /// Keeps the squared distances in memory when they fit this backend's pair-cache budget
    /// ([`CpuBackend::pair_cache_budget`]).
    fn prepare_pairs_f64<'a>(&'a self, set: PairSet<'a, f64>) -> Result<Option<Prepared<'a, f64>>> {
        let cached = self.install(|| CachedPairs::within_budget_of(set, *self))?;
        Ok(cached.map(|c| Box::new(c) as Prepared<'a, f64>))
    }

    /// In this backend's own pool when it has a thread count ([`CpuBackendBuilder::threads`]).
    fn run_on_threads(&self, work: &mut (dyn FnMut() + Send)) {
        self.install(work)
    }
}

/// The read-only part of a reduction, shared by all row blocks.
struct Shared<'a, T> {
    x: &'a [T],
    y: &'a [T],
    dim: usize,
    cols: usize,
    kernel: &'a dyn Kernel,
    tau: T,
    g: Option<&'a [T]>,
    mask: bool,
    mode: Displacement,
    /// The point mean displacements are taken from, when not the row itself.
    origin: Option<&'a [T]>,
    /// Columns prepared for Gram-form distances (high dimensions only).
    gram: Option<GramColumns<T>>,
    /// The origin in the Gram path's centred coordinates, repeated for a block of rows (what the
    /// register-blocked displacement pass subtracts per row); empty without an origin.
    gram_origin: Vec<T>,
    /// Column tiles' bounds, when the points are in spatial order and tiles may be skipped.
    skip: Option<TileBounds<'a>>,
}

/// Runs the reduction; `avx2_fma` picks the AVX2+FMA copy of the row-block work (which the caller has
/// checked the CPU supports). Problems of at least `min_skip_pairs` pairs that [`tile_skip`] applies
/// to run on their points in spatial order, skipping negligible tiles.
fn run<T: Real>(r: RowReduction<'_, T>, avx2_fma: bool, min_skip_pairs: usize) -> Result<()> {
    r.rows.check_same_dim(r.cols)?;
    let (n, m, dim) = (r.rows.len(), r.cols.len(), r.rows.dim());
    check_len("lse", r.lse.len(), n)?;
    if let Some(g) = r.col_potential {
        check_len("column potential", g.len(), m)?;
    }
    if let Some(o) = r.origin {
        check_len("origin", o.len(), dim)?;
    }
    check_square_mask(r.mask_diagonal, n, m)?;
    let disp = match (r.displacement, r.disp) {
        (Displacement::None, _) => None,
        (_, Some(disp)) => {
            check_len("displacement", disp.len(), n * dim)?;
            Some(disp)
        }
        (_, None) => {
            return Err(DriftError::invalid(
                "disp",
                "an output buffer is required when a displacement is requested",
            ))
        }
    };
    let origin = r.origin.filter(|_| r.displacement == Displacement::Mean);
    let skipping = tile_skip::applies(
        r.kernel,
        dim,
        n.saturating_mul(m),
        r.displacement,
        min_skip_pairs,
    );
    let sorted =
        skipping.then(|| SortedPass::new(r.rows, r.cols, r.col_potential, r.mask_diagonal));
    let (x, y, g) = match &sorted {
        Some(p) => (&p.x[..], &p.y[..], p.g.as_deref()),
        None => (r.rows.data(), r.cols.data(), r.col_potential),
    };
    let gram = (dim >= GRAM_MIN_DIM).then(|| prepare_columns_on(avx2_fma, y, dim));
    let shared = Shared {
        x,
        y,
        dim,
        cols: m,
        kernel: r.kernel,
        tau: r.tau,
        g,
        mask: r.mask_diagonal,
        mode: r.displacement,
        origin,
        gram_origin: match (&gram, origin) {
            (Some(gram), Some(o)) => gram.centred_origin(o, ROW_BLOCK),
            _ => Vec::new(),
        },
        gram,
        skip: skipping.then(|| {
            TileBounds::new(
                r.kernel,
                r.tau,
                y,
                dim,
                g,
                SKIP_TILE,
                r.displacement,
                origin,
            )
        }),
    };
    match &sorted {
        None => reduce_rows(avx2_fma, &shared, r.lse, disp),
        Some(p) => {
            let mut lse = vec![T::zero(); n];
            let mut sorted_disp = disp.as_ref().map(|_| vec![T::zero(); n * dim]);
            reduce_rows(avx2_fma, &shared, &mut lse, sorted_disp.as_deref_mut());
            p.scatter_rows(&lse, 1, r.lse);
            if let (Some(out), Some(sorted_disp)) = (disp, sorted_disp) {
                p.scatter_rows(&sorted_disp, dim, out);
            }
        }
    }
    Ok(())
}

/// Every block of rows in parallel, with or without displacements.
fn reduce_rows<T: Real>(avx2_fma: bool, s: &Shared<'_, T>, lse: &mut [T], disp: Option<&mut [T]>) {
    match disp {
        None => lse
            .par_chunks_mut(ROW_BLOCK)
            .enumerate()
            .for_each(|(b, lse)| reduce_block_on(avx2_fma, s, b * ROW_BLOCK, lse, None)),
        Some(disp) => lse
            .par_chunks_mut(ROW_BLOCK)
            .zip(disp.par_chunks_mut(ROW_BLOCK * s.dim))
            .enumerate()
            .for_each(|(b, (lse, disp))| {
                reduce_block_on(avx2_fma, s, b * ROW_BLOCK, lse, Some(disp))
            }),
    }
}

/// The columns prepared for the Gram path, with squared norms summed as the copy of the block loop
/// that `avx2_fma` picks sums its dot products.
fn prepare_columns_on<T: Real>(avx2_fma: bool, y: &[T], dim: usize) -> GramColumns<T> {
    on_isa(avx2_fma, PrepareColumns { y, dim })
}

/// [`GramColumns::new_with`] as work for [`on_isa`].
struct PrepareColumns<'s, T> {
    y: &'s [T],
    dim: usize,
}

impl<T: Real> IsaWork for PrepareColumns<'_, T> {
    type Output = GramColumns<T>;
    #[inline(always)]
    fn run<const FMA: bool>(self) -> GramColumns<T> {
        GramColumns::new_with::<FMA>(self.y, self.dim)
    }
}

/// [`reduce_block`] in the AVX2+FMA copy when `avx2_fma` is set (and the CPU has it), else in the
/// baseline one. In the wider copy the whole block's work is generated with eight `f32` (four
/// `f64`) lanes, and the Gram path's products use fused multiply-adds.
fn reduce_block_on<T: Real>(
    avx2_fma: bool,
    s: &Shared<'_, T>,
    row0: usize,
    lse: &mut [T],
    disp: Option<&mut [T]>,
) {
    on_isa(avx2_fma, BlockWork { s, row0, lse, disp })
}

/// One row block's reduction as work for [`on_isa`].
struct BlockWork<'s, 'a, T> {
    s: &'s Shared<'a, T>,
    row0: usize,
    lse: &'s mut [T],
    disp: Option<&'s mut [T]>,
}

impl<T: Real> IsaWork for BlockWork<'_, '_, T> {
    type Output = ();
    // Measured (`drift_api::math` isa docs): f64 blocks on the Gram path run about 1.6x faster in
    // the AVX-512 copy; f32 blocks and low dimensions run slower there.
    #[inline(always)]
    fn wide(&self) -> bool {
        std::mem::size_of::<T>() == 8 && self.s.dim >= crate::gram::GRAM_MIN_DIM
    }
    #[inline(always)]
    fn run<const FMA: bool>(self) {
        reduce_block::<T, FMA>(self.s, self.row0, self.lse, self.disp)
    }
}
