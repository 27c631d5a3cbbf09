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
//! multiply and an add), so the two copies agree to rounding there.

use crate::cached::CachedPairs;
use crate::gram::{GramColumns, GRAM_MIN_DIM};
use crate::tile_skip::{self, SortedPass, TileBounds};
use drift_api::kit::Displacement;
use drift_api::kit::{check_len, check_square_mask, Backend, PairSet, ReductionJob, RowReduction};
use drift_api::pairs::Prepared;
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

/// The CPU backend (rayon's global thread pool).
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
#[derive(Clone, Copy, Debug, Default)]
pub struct CpuBackend;

impl Backend for CpuBackend {
    fn name(&self) -> &str {
        "cpu"
    }

    fn row_reduce(&self, job: ReductionJob<'_>) -> Result<()> {
        match job {
            ReductionJob::F32(r) => run(r, drift_api::math::has_avx2_fma(), tile_skip::MIN_PAIRS),
            ReductionJob::F64(r) => run(r, drift_api::math::has_avx2_fma(), tile_skip::MIN_PAIRS),
        }
    }

    /// Keeps the squared distances in memory when they fit the [`crate::pair_cache`] budget.
    fn prepare_pairs_f32<'a>(&'a self, set: PairSet<'a, f32>) -> Result<Option<Prepared<'a, f32>>> {
        Ok(CachedPairs::within_budget(set)?.map(|c| Box::new(c) as Prepared<'a, f32>))
    }

    /// Keeps the squared distances in memory when they fit the [`crate::pair_cache`] budget.
    fn prepare_pairs_f64<'a>(&'a self, set: PairSet<'a, f64>) -> Result<Option<Prepared<'a, f64>>> {
        Ok(CachedPairs::within_budget(set)?.map(|c| Box::new(c) as Prepared<'a, f64>))
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
    #[cfg(target_arch = "x86_64")]
    if avx2_fma {
        #[allow(unsafe_code)]
        // SAFETY: `avx2_fma` is only set where `has_avx2_fma()` found both instruction sets.
        unsafe {
            return prepare_columns_avx2_fma(y, dim);
        }
    }
    GramColumns::new_with::<false>(y, dim)
}

/// [`GramColumns::new_with`]`::<true>` compiled with AVX2 and FMA.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,fma")]
fn prepare_columns_avx2_fma<T: Real>(y: &[T], dim: usize) -> GramColumns<T> {
    GramColumns::new_with::<true>(y, dim)
}

/// [`reduce_block`] in the AVX2+FMA copy when `avx2_fma` is set, else in the baseline one.
fn reduce_block_on<T: Real>(
    avx2_fma: bool,
    s: &Shared<'_, T>,
    row0: usize,
    lse: &mut [T],
    disp: Option<&mut [T]>,
) {
    #[cfg(target_arch = "x86_64")]
    if avx2_fma {
        #[allow(unsafe_code)]
        // SAFETY: `avx2_fma` is only set where `has_avx2_fma()` found both instruction sets.
        unsafe {
            return reduce_block_avx2_fma(s, row0, lse, disp);
        }
    }
    #[cfg(not(target_arch = "x86_64"))]
    let _ = avx2_fma;
    reduce_block::<T, false>(s, row0, lse, disp)
}

/// [`reduce_block`] compiled with AVX2 and FMA: it and everything it calls are `#[inline(always)]`,
/// so the whole block's work is generated here with eight `f32` (four `f64`) lanes, and the Gram
/// path's products use fused multiply-adds.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,fma")]
fn reduce_block_avx2_fma<T: Real>(
    s: &Shared<'_, T>,
    row0: usize,
    lse: &mut [T],
    disp: Option<&mut [T]>,
) {
    reduce_block::<T, true>(s, row0, lse, disp)
}

/// One block of rows against all columns: the online log-sum-exp and displacements. `FMA` makes
/// the Gram path's products fused multiply-adds (only where they are instructions).
#[inline(always)]
fn reduce_block<T: Real, const FMA: bool>(
    s: &Shared<'_, T>,
    row0: usize,
    lse: &mut [T],
    mut disp: Option<&mut [T]>,
) {
    let d = s.dim;
    let rows = lse.len();
    let mut max = [T::neg_infinity(); ROW_BLOCK];
    let mut sum = [T::zero(); ROW_BLOCK];
    if let Some(acc) = disp.as_deref_mut() {
        acc.fill(T::zero());
    }
    let mut buf = [T::zero(); TILE];
    let mut dist = [T::zero(); TILE];
    // High dimensions: the block's distances to each tile come from one Gram-form pass.
    // Their displacements too: each row's distances turn into its weights in place, and the tile's
    // weights are then added in one register-blocked pass.
    let (mut xc, mut x_sq, mut block_dist) = (Vec::new(), Vec::new(), Vec::new());
    if let Some(gram) = &s.gram {
        gram.centre_rows_with::<FMA>(&s.x[row0 * d..(row0 + rows) * d], &mut xc, &mut x_sq);
        block_dist.resize(x_sq.len() * TILE, T::zero());
    }
    // What displacements are taken from, per row, in the Gram path's centred coordinates: the rows
    // themselves, or the origin.
    let from_c = if s.origin.is_some() {
        &s.gram_origin
    } else {
        &xc
    };
    // In spatial order, the tiles come nearest first, and the pass stops where the rest cannot
    // change any row's sum at this precision.
    let plan = s
        .skip
        .as_ref()
        .map(|b| b.plan(&s.x[row0 * d..(row0 + rows) * d]));
    let tile = if s.skip.is_some() { SKIP_TILE } else { TILE };
    let tiles = s.cols.div_ceil(tile);
    let mut computed = 0;
    for step in 0..tiles {
        let c0 = match &plan {
            None => step * tile,
            Some(plan) => {
                if step > 0 && plan.negligible_from(step, lse_floor(&max[..rows], &sum[..rows])) {
                    break;
                }
                plan.tile(step) * tile
            }
        };
        let width = tile.min(s.cols - c0);
        computed += width;
        let ytile = &s.y[c0 * d..(c0 + width) * d];
        if let Some(gram) = &s.gram {
            gram.tile_with::<FMA>(&xc, &x_sq, c0, width, &mut block_dist, TILE);
        }
        for r in 0..rows {
            let i = row0 + r;
            let xi = &s.x[i * d..(i + 1) * d];
            let w = if s.gram.is_some() {
                &mut block_dist[r * TILE..r * TILE + width]
            } else {
                squared_distances(xi, ytile, &mut buf[..width]);
                &mut buf[..width]
            };
            if s.mode == Displacement::Unit {
                dist[..width].copy_from_slice(w);
            }
            T::kernel_log_weight(s.kernel, w, s.tau);
            if let Some(g) = s.g {
                for (v, gj) in w.iter_mut().zip(&g[c0..c0 + width]) {
                    *v += *gj;
                }
            }
            if s.mask && (c0..c0 + width).contains(&i) {
                w[i - c0] = T::neg_infinity();
            }
            let tile_max = w.iter().fold(T::neg_infinity(), |a, &b| a.max(b));
            if tile_max == T::neg_infinity() {
                // No weight in this tile (the Gram path's displacement pass reads the zeros).
                w.fill(T::zero());
                continue;
            }
            if tile_max > max[r] {
                if max[r] > T::neg_infinity() {
                    let rescale = (max[r] - tile_max).exp();
                    sum[r] *= rescale;
                    if let Some(acc) = disp.as_deref_mut() {
                        acc[r * d..(r + 1) * d]
                            .iter_mut()
                            .for_each(|a| *a *= rescale);
                    }
                }
                max[r] = tile_max;
            }
            let m = max[r];
            w.iter_mut().for_each(|v| *v -= m);
            T::exp_nonpositive_in_place(w);
            sum[r] += lane_sum(w);
            if s.gram.is_some() {
                if s.mode == Displacement::Unit {
                    unit_weights(w, &dist[..width]);
                }
            } else if let Some(acc) = disp.as_deref_mut() {
                let acc = &mut acc[r * d..(r + 1) * d];
                match s.mode {
                    Displacement::Mean => accumulate_mean(acc, s.origin.unwrap_or(xi), ytile, w),
                    Displacement::Unit => {
                        unit_weights(w, &dist[..width]);
                        accumulate_mean(acc, xi, ytile, w);
                    }
                    Displacement::None => {}
                }
            }
        }
        if let (Some(gram), Some(acc)) = (&s.gram, disp.as_deref_mut()) {
            // Padding rows still hold distances; their sums are computed and dropped.
            gram.accumulate_tile::<FMA>(&block_dist, TILE, c0, width, from_c, acc);
        }
    }
    if plan.is_some() {
        tile_skip::record(rows * (s.cols - computed), rows * s.cols);
    }
    for r in 0..rows {
        if sum[r] > T::zero() {
            lse[r] = max[r] + sum[r].ln();
            if let Some(acc) = disp.as_deref_mut() {
                let inv = T::one() / sum[r];
                acc[r * d..(r + 1) * d].iter_mut().for_each(|a| *a *= inv);
            }
        } else {
            lse[r] = T::neg_infinity();
        }
    }
}

/// A lower bound of the running log-sum-exps `max + ln sum` of a block's rows, in `f64`: the
/// smallest maximum plus the log of the smallest sum (one logarithm per tile, not one per row), or
/// `−∞` while a row has no weight yet.
#[inline(always)]
fn lse_floor<T: Real>(max: &[T], sum: &[T]) -> f64 {
    let low_max = max.iter().fold(T::infinity(), |a, b| a.min(*b));
    let low_sum = sum.iter().fold(T::infinity(), |a, b| a.min(*b));
    if low_sum > T::zero() {
        low_max.as_f64() + low_sum.as_f64().ln()
    } else {
        f64::NEG_INFINITY
    }
}

/// Sum with eight independent accumulators, so that the loop vectorises (and rounds better).
#[inline(always)]
pub(crate) fn lane_sum<T: Real>(w: &[T]) -> T {
    let mut lanes = [T::zero(); 8];
    let chunks = w.chunks_exact(8);
    let rest = chunks.remainder();
    for c in chunks {
        for k in 0..8 {
            lanes[k] += c[k];
        }
    }
    let mut total = rest.iter().fold(T::zero(), |a, &b| a + b);
    for l in lanes {
        total += l;
    }
    total
}

/// `out[j] = ‖y_j − x‖²`, specialised for small dimensions where the loop over coordinates unrolls.
#[inline(always)]
pub(crate) fn squared_distances<T: Real>(x: &[T], ytile: &[T], out: &mut [T]) {
    match x.len() {
        1 => sq_fixed::<T, 1>(x, ytile, out),
        2 => sq_fixed::<T, 2>(x, ytile, out),
        3 => sq_fixed::<T, 3>(x, ytile, out),
        4 => sq_fixed::<T, 4>(x, ytile, out),
        d => {
            for (o, y) in out.iter_mut().zip(ytile.chunks_exact(d)) {
                *o = squared_distance_lanes(x, y);
            }
        }
    }
}

/// `‖y − x‖²` with eight independent partial sums, so that long coordinate loops vectorise.
#[inline(always)]
fn squared_distance_lanes<T: Real>(x: &[T], y: &[T]) -> T {
    let mut lanes = [T::zero(); 8];
    let (xc, yc) = (x.chunks_exact(8), y.chunks_exact(8));
    let (xr, yr) = (xc.remainder(), yc.remainder());
    for (a, b) in xc.zip(yc) {
        for k in 0..8 {
            let t = b[k] - a[k];
            lanes[k] += t * t;
        }
    }
    let mut acc = T::zero();
    for (a, b) in xr.iter().zip(yr) {
        let t = *b - *a;
        acc += t * t;
    }
    lanes.iter().fold(acc, |s, l| s + *l)
}

#[inline(always)]
fn sq_fixed<T: Real, const D: usize>(x: &[T], ytile: &[T], out: &mut [T]) {
    let mut xa = [T::zero(); D];
    xa.copy_from_slice(x);
    for (o, y) in out.iter_mut().zip(ytile.chunks_exact(D)) {
        let mut acc = T::zero();
        for k in 0..D {
            let t = y[k] - xa[k];
            acc += t * t;
        }
        *o = acc;
    }
}

/// `acc += Σ_j w_j (y_j − x)`. Small dimensions sweep the tile once for all coordinates, with eight
/// independent partial sums per coordinate (one running sum would make every add wait for the one
/// before it); large ones loop over coordinates per column (contiguous, vectorised over `k`).
#[inline(always)]
pub(crate) fn accumulate_mean<T: Real>(acc: &mut [T], x: &[T], ytile: &[T], w: &[T]) {
    match x.len() {
        1 => accumulate_fixed::<T, 1>(acc, x, ytile, w),
        2 => accumulate_fixed::<T, 2>(acc, x, ytile, w),
        3 => accumulate_fixed::<T, 3>(acc, x, ytile, w),
        4 => accumulate_fixed::<T, 4>(acc, x, ytile, w),
        _ => {
            for (y, wj) in ytile.chunks_exact(x.len()).zip(w) {
                for ((a, yk), xk) in acc.iter_mut().zip(y).zip(x) {
                    *a += *wj * (*yk - *xk);
                }
            }
        }
    }
}

/// [`accumulate_mean`] for `D` coordinates: lane `l` of coordinate `k` sums the columns `j ≡ l`
/// (mod 8), and the lanes are added at the end.
#[inline(always)]
fn accumulate_fixed<T: Real, const D: usize>(acc: &mut [T], x: &[T], ytile: &[T], w: &[T]) {
    let mut xa = [T::zero(); D];
    xa.copy_from_slice(x);
    let mut lanes = [[T::zero(); 8]; D];
    let (wc, yc) = (w.chunks_exact(8), ytile.chunks_exact(8 * D));
    let (wr, yr) = (wc.remainder(), yc.remainder());
    for (w8, y8) in wc.zip(yc) {
        for l in 0..8 {
            for k in 0..D {
                lanes[k][l] += w8[l] * (y8[l * D + k] - xa[k]);
            }
        }
    }
    for k in 0..D {
        let mut s = wr
            .iter()
            .zip(yr.chunks_exact(D))
            .fold(T::zero(), |s, (wj, y)| s + *wj * (y[k] - xa[k]));
        for l in lanes[k] {
            s += l;
        }
        acc[k] += s;
    }
}

/// Turns weights into unit-displacement weights `w_j / ‖y_j − x‖` (zero for coincident points), given
/// the squared distances `sq`.
#[inline(always)]
fn unit_weights<T: Real>(w: &mut [T], sq: &[T]) {
    for (wj, q) in w.iter_mut().zip(sq) {
        *wj = if *q > T::zero() {
            *wj / q.sqrt()
        } else {
            T::zero()
        };
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::kernels::{Gaussian, Laplace};
    use drift_api::PointCloud;

    /// `lse` and displacements of one reduction, on the given copy of the block loop.
    fn reduce_on<T: Real>(
        avx2_fma: bool,
        kernel: &dyn Kernel,
        x: &PointCloud<T>,
        mode: Displacement,
        origin: Option<&[T]>,
    ) -> (Vec<T>, Vec<T>) {
        let (mut lse, mut disp) = (vec![T::zero(); x.len()], vec![T::zero(); x.data().len()]);
        let g: Vec<T> = (0..x.len()).map(|j| T::of(-0.01 * j as f64)).collect();
        run(
            RowReduction {
                rows: x,
                cols: x,
                kernel,
                tau: T::of(0.7 * x.dim() as f64),
                col_potential: Some(&g),
                mask_diagonal: true,
                displacement: mode,
                origin,
                lse: &mut lse,
                disp: (mode != Displacement::None).then_some(&mut disp[..]),
            },
            avx2_fma,
            usize::MAX,
        )
        .unwrap();
        (lse, disp)
    }

    fn check_paths_agree<T: Real>() {
        if !drift_api::math::has_avx2_fma() {
            return; // only one copy can run on this CPU
        }
        let bits = |v: &[T]| v.iter().map(|a| a.as_f64().to_bits()).collect::<Vec<_>>();
        // The Gram path's fused multiply-adds: sums of `n` terms (displacements of unit vectors
        // cancel, so the terms' scale is 1 however small the mean) agree to a few roundings per
        // `sqrt(n)` terms of the values' scale.
        let close = |a: &[T], b: &[T], n: usize| {
            let scale = a.iter().fold(1.0f64, |m, v| m.max(v.as_f64().abs()));
            let tol = 16.0 * (n as f64).sqrt() * T::epsilon().as_f64() * scale;
            a.iter()
                .zip(b)
                .all(|(x, y)| (x.as_f64() - y.as_f64()).abs() <= tol)
        };
        // Dimensions on the unrolled, the lane-summed and the Gram-form paths; sizes that leave
        // partial row blocks and tiles.
        for dim in [2, 7, 40] {
            let n = 300;
            let data = (0..n * dim)
                .map(|k| T::of((k as f64 * 0.37).sin() * 3.0))
                .collect();
            let x = PointCloud::new("x", data, dim).unwrap();
            let origin = vec![T::of(0.25); dim];
            for kernel in [&Gaussian as &dyn Kernel, &Laplace] {
                for (mode, origin) in [
                    (Displacement::None, None),
                    (Displacement::Mean, None),
                    (Displacement::Mean, Some(&origin[..])),
                    (Displacement::Unit, None),
                ] {
                    let plain = reduce_on(false, kernel, &x, mode, origin);
                    let wide = reduce_on(true, kernel, &x, mode, origin);
                    if dim < GRAM_MIN_DIM {
                        assert_eq!(bits(&plain.0), bits(&wide.0), "lse, D = {dim}, {mode:?}");
                        assert_eq!(bits(&plain.1), bits(&wide.1), "disp, D = {dim}, {mode:?}");
                    } else {
                        assert!(close(&plain.0, &wide.0, n), "lse, D = {dim}, {mode:?}");
                        assert!(close(&plain.1, &wide.1, n), "disp, D = {dim}, {mode:?}");
                    }
                }
            }
        }
    }

    /// The AVX2+FMA copy of the block loop computes the same bits as the baseline copy, or (on the
    /// Gram path, with fused multiply-adds) the same values to rounding.
    #[test]
    fn dispatched_and_plain_reductions_agree() {
        check_paths_agree::<f32>();
        check_paths_agree::<f64>();
    }

    /// The dense `f64` reduction: `lse_i = ln Σ_j exp(ℓ_ij + g_j)` and the mean displacement
    /// from the row (or the origin).
    fn dense_reference(
        kernel: &dyn Kernel,
        x: &[f64],
        y: &[f64],
        dim: usize,
        tau: f64,
        g: &[f64],
        mask: bool,
        origin: Option<&[f64]>,
    ) -> (Vec<f64>, Vec<f64>) {
        let (mut lse, mut disp) = (vec![], vec![]);
        for (i, xi) in x.chunks_exact(dim).enumerate() {
            let mut w: Vec<f64> = y
                .chunks_exact(dim)
                .map(|yj| xi.iter().zip(yj).map(|(a, b)| (a - b) * (a - b)).sum())
                .collect();
            kernel.log_weight_f64(&mut w, tau);
            for (j, v) in w.iter_mut().enumerate() {
                *v = if mask && i == j {
                    f64::NEG_INFINITY
                } else {
                    *v + g[j]
                };
            }
            let top = w.iter().fold(f64::NEG_INFINITY, |a, b| a.max(*b));
            let total: f64 = w.iter().map(|v| (v - top).exp()).sum();
            lse.push(top + total.ln());
            let from = origin.unwrap_or(xi);
            for k in 0..dim {
                let s: f64 = w
                    .iter()
                    .zip(y.chunks_exact(dim))
                    .map(|(v, yj)| (v - top).exp() * (yj[k] - from[k]))
                    .sum();
                disp.push(s / total);
            }
        }
        (lse, disp)
    }

    /// Clustered 2-D or 3-D points: blobs of width 0.05 around centres spread over `[0, 4]^d`.
    fn clusters<T: Real>(n: usize, dim: usize, seed: u64) -> Vec<T> {
        let mut rng = crate::random::SplitMix64::new(seed);
        let centres: Vec<f64> = (0..8 * dim).map(|_| 4.0 * rng.uniform()).collect();
        (0..n)
            .flat_map(|i| {
                let c = (i * 7 + seed as usize) % 8;
                let u: Vec<f64> = (0..dim).map(|_| rng.uniform() - 0.5).collect();
                (0..dim)
                    .map(|k| T::of(centres[c * dim + k] + 0.3 * u[k]))
                    .collect::<Vec<_>>()
            })
            .collect()
    }

    fn check_skipping_matches_the_dense_reference<T: Real>(tol: f64) {
        use crate::kernels::InverseMultiquadric;
        let avx2 = drift_api::math::has_avx2_fma();
        for (dim, n, m) in [(2, 1500, 1100), (3, 900, 900)] {
            let x = PointCloud::new("x", clusters::<T>(n, dim, 1), dim).unwrap();
            let y = PointCloud::new("y", clusters::<T>(m, dim, 2), dim).unwrap();
            let potential = |len: usize| {
                (0..len)
                    .map(|j| T::of(0.3 * (j as f64 * 0.7).sin()))
                    .collect()
            };
            let (gy, gx): (Vec<T>, Vec<T>) = (potential(m), potential(n));
            let origin = vec![T::of(1.5); dim];
            let imq = InverseMultiquadric { beta: 40.0 };
            for kernel in [&Gaussian as &dyn Kernel, &Laplace, &imq] {
                for (cols, g, mask) in [(&y, &gy, false), (&x, &gx, true)] {
                    for (mode, origin) in [
                        (Displacement::None, None),
                        (Displacement::Mean, None),
                        (Displacement::Mean, Some(&origin[..])),
                    ] {
                        let tau = T::of(0.02);
                        let (mut lse, mut disp) = (vec![T::zero(); n], vec![T::zero(); n * dim]);
                        let before = tile_skip::counts();
                        run(
                            RowReduction {
                                rows: &x,
                                cols,
                                kernel,
                                tau,
                                col_potential: Some(g),
                                mask_diagonal: mask,
                                displacement: mode,
                                origin,
                                lse: &mut lse,
                                disp: (mode != Displacement::None).then_some(&mut disp[..]),
                            },
                            avx2,
                            0,
                        )
                        .unwrap();
                        let after = tile_skip::counts();
                        let what = format!(
                            "{kernel:?}, D = {dim}, mask {mask}, {mode:?}, origin {}",
                            origin.is_some()
                        );
                        assert!(after.skipped > before.skipped, "nothing skipped: {what}");
                        let f = |v: &[T]| v.iter().map(|a| a.as_f64()).collect::<Vec<_>>();
                        let (want_lse, want_disp) = dense_reference(
                            kernel,
                            &f(x.data()),
                            &f(cols.data()),
                            dim,
                            tau.as_f64(),
                            &f(g),
                            mask,
                            origin.map(f).as_deref(),
                        );
                        for (i, (a, b)) in lse.iter().zip(&want_lse).enumerate() {
                            let err = (a.as_f64() - b).abs() / b.abs().max(1.0);
                            assert!(err <= tol, "lse[{i}] {a} vs {b}: {what}");
                        }
                        if mode != Displacement::None {
                            for (k, (a, b)) in disp.iter().zip(&want_disp).enumerate() {
                                let err = (a.as_f64() - b).abs();
                                assert!(err <= tol, "disp[{k}] {a} vs {b}: {what}");
                            }
                        }
                    }
                }
            }
        }
    }

    /// Passes that skip tiles give the dense reference's values to the precision's rounding, and
    /// they do skip (the clusters are far apart at this temperature).
    #[test]
    fn skipping_passes_match_the_dense_reference() {
        check_skipping_matches_the_dense_reference::<f32>(2e-5);
        check_skipping_matches_the_dense_reference::<f64>(1e-12);
    }
}
