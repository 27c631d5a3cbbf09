//! The work of one block of rows in the fused pass: the online log-sum-exp over column tiles and
//! the displacement sums, with the distance and accumulation loops they are made of.

use super::{Shared, ROW_BLOCK, SKIP_TILE, TILE};
use crate::tile_skip;
use drift_api::kit::Displacement;
use drift_api::Real;

/// One block of rows against all columns: the online log-sum-exp and displacements. `FMA` makes
/// the Gram path's products fused multiply-adds (only where they are instructions).
#[inline(always)]
pub(super) fn reduce_block<T: Real, const FMA: bool>(
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
            s.kernel.log_weight(w, s.tau);
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
