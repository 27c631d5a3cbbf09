//! Small dense loops the batched paths share: lane-parallel reductions (independent partial
//! sums so that they vectorise), squared distances of one problem, growable scratch, and the
//! AVX2+FMA copies of the hot bodies.

use crate::dense::{matmul, View};
use drift_api::Real;

/// From this dimension the squared distances come from a product `x tᵀ` (Gram form).
pub(super) const GRAM_FROM_DIM: usize = 16;

/// The first `len` values of `v`, grown (with zeros) when shorter: scratch reused over problems.
pub(super) fn sized<T: Real>(v: &mut Vec<T>, len: usize) -> &mut [T] {
    if v.len() < len {
        v.resize(len, T::zero());
    }
    &mut v[..len]
}

/// Folds `values` into eight independent lanes with `step` (independent partial results, so that
/// the loop vectorises): the lanes, and the values after the last full chunk of eight.
#[inline(always)]
pub(super) fn eight_lanes<T: Copy>(
    values: &[T],
    init: T,
    step: impl Fn(T, T) -> T,
) -> ([T; 8], &[T]) {
    let mut lanes = [init; 8];
    let chunks = values.chunks_exact(8);
    let rest = chunks.remainder();
    for c in chunks {
        for (l, v) in lanes.iter_mut().zip(c) {
            *l = step(*l, *v);
        }
    }
    (vectorised_lanes(lanes), rest)
}

/// The lanes, through an optimisation barrier: without it LLVM's SLP vectoriser folds the
/// caller's final combination of the lanes into the loop and scalarises the loop (2-wide
/// shuffles instead of one 8-wide operation per chunk; seen in the AVX2+FMA copy's assembly,
/// where the fused Sinkhorn loop's row sums ran that way). The values and the order of the
/// arithmetic are unchanged.
#[inline(always)]
fn vectorised_lanes<T>(lanes: [T; 8]) -> [T; 8] {
    std::hint::black_box(lanes)
}

/// `Σ v` in eight lanes of `T`.
#[inline(always)]
pub(super) fn lane_sum<T: Real>(values: &[T]) -> T {
    let (lanes, rest) = eight_lanes(values, T::zero(), |a, v| a + v);
    let tail = rest.iter().fold(T::zero(), |a, v| a + *v);
    (lanes[0] + lanes[4])
        + (lanes[1] + lanes[5])
        + (lanes[2] + lanes[6])
        + (lanes[3] + lanes[7])
        + tail
}

/// The smallest value, in eight lanes.
#[inline(always)]
pub(super) fn lane_min<T: Real>(values: &[T]) -> T {
    let (lanes, rest) = eight_lanes(values, T::infinity(), |a, v| if v < a { v } else { a });
    lanes
        .iter()
        .chain(rest)
        .fold(T::infinity(), |a, v| a.min(*v))
}

/// `Σ_k a_k b_k` in eight lanes.
#[inline(always)]
pub(super) fn lane_dot<T: Real>(a: &[T], b: &[T]) -> T {
    let mut lanes = [T::zero(); 8];
    let (ca, cb) = (a.chunks_exact(8), b.chunks_exact(8));
    let tail = ca
        .remainder()
        .iter()
        .zip(cb.remainder())
        .fold(T::zero(), |s, (x, y)| s + *x * *y);
    for (x, y) in ca.zip(cb) {
        for k in 0..8 {
            lanes[k] += x[k] * y[k];
        }
    }
    lane_sum(&vectorised_lanes(lanes)) + tail
}

/// `Σ v²` of a slice, accumulated in eight lanes of `T`, then in f64.
#[inline(always)]
pub(super) fn sum_squares<T: Real>(values: &[T]) -> f64 {
    let (lanes, rest) = eight_lanes(values, T::zero(), |a, v| a + v * v);
    let tail: f64 = rest.iter().map(|v| v.as_f64() * v.as_f64()).sum();
    lanes.iter().map(|l| l.as_f64()).sum::<f64>() + tail
}

/// `‖x_i − t_j‖²` into `dist` (`N × M`, `x` of `N` rows and `targets` of `M` rows, both centred
/// on a common point): a product from [`GRAM_FROM_DIM`] ([`add_gram_block`] of all coordinates,
/// then [`gram_distances`]; `scratch` holds the sums), the differences' squares below.
#[inline(always)]
pub(super) fn sq_distances<T: Real>(
    x: &[T],
    dim: usize,
    targets: &[T],
    dist: &mut [T],
    scratch: &mut Vec<T>,
) {
    let (n, m) = (x.len() / dim, targets.len() / dim);
    if dim >= GRAM_FROM_DIM {
        add_gram_block(x, targets, dim, true, scratch);
        gram_distances(n, m, scratch, dist);
    } else {
        for i in 0..n {
            let xi = &x[i * dim..(i + 1) * dim];
            let row = &mut dist[i * m..(i + 1) * m];
            for (v, t) in row.iter_mut().zip(targets.chunks_exact(dim)) {
                *v = xi.iter().zip(t).fold(T::zero(), |s, (a, b)| {
                    let e = *a - *b;
                    s + e * e
                });
            }
        }
    }
}

/// Adds one block of `width` coordinates to the Gram-form sums in `sums`:
/// `[‖t_j‖² (M) | ‖x_i‖² (N) | −2 t xᵀ (M × N)]`, for `x` (`N × width`) and `targets`
/// (`M × width`); `first` starts them. Blocks of coordinates let a caller centre and read each
/// block while it is in cache when the targets are larger than it.
///
/// The product is taken as `t xᵀ` (`M × N`), and [`gram_distances`] transposes it: in that
/// orientation the `gemm` crate repacks only `x` (the `N` rows) and streams the targets as they
/// lie, where `x tᵀ` repacks all `M` targets (a sixth of a `32 × 64 × 2048` official evaluation
/// was that packing).
#[inline(always)]
pub(super) fn add_gram_block<T: Real>(
    x: &[T],
    targets: &[T],
    width: usize,
    first: bool,
    sums: &mut Vec<T>,
) {
    let (n, m) = (x.len() / width, targets.len() / width);
    let (norms, products) = sized(sums, m + n + n * m).split_at_mut(m + n);
    let rows = targets.chunks_exact(width).chain(x.chunks_exact(width));
    for (o, v) in norms.iter_mut().zip(rows) {
        let sq = lane_dot(v, v);
        *o = if first { sq } else { *o + sq };
    }
    matmul(
        products,
        n,
        !first,
        View::new(targets, m, width),
        View::new(x, n, width),
        true,
        T::of(-2.0),
    );
}

/// `‖x_i − t_j‖² = ‖x_i‖² + ‖t_j‖² − 2 x_i·t_j` into `dist` (`N × M`) from the sums of
/// [`add_gram_block`]: formed in place target by target (the order the product left them), then
/// transposed ([`transpose`]).
#[inline(always)]
pub(super) fn gram_distances<T: Real>(n: usize, m: usize, sums: &mut [T], dist: &mut [T]) {
    let (norms, products) = sums[..m + n + n * m].split_at_mut(m + n);
    let (t_norms, x_norms) = norms.split_at(m);
    for (row, nt) in products.chunks_exact_mut(n).zip(t_norms) {
        for (v, ni) in row.iter_mut().zip(x_norms) {
            *v += *ni + *nt;
        }
    }
    transpose(products, m, n, dist);
}

/// `dst[c·rows + r] = src[r·cols + c]`: the transpose of the row-major `rows × cols` matrix
/// `src` into `dst`, in 8 × 8 tiles (AVX shuffles for `f32` where the CPU has them: a scalar
/// transposition of a problem's distances was a third of the official loss's first pass).
pub(super) fn transpose<T: Real>(src: &[T], rows: usize, cols: usize, dst: &mut [T]) {
    let (src, dst) = (&src[..rows * cols], &mut dst[..rows * cols]);
    let (full_r, full_c) = (rows / 8 * 8, cols / 8 * 8);
    if !transpose_tiles_f32_avx(src, rows, cols, dst) {
        transpose_tiles(src, rows, cols, dst);
    }
    // The edges the tiles leave: the last `cols % 8` columns, then the last `rows % 8` rows.
    for r in 0..full_r {
        for c in full_c..cols {
            dst[c * rows + r] = src[r * cols + c];
        }
    }
    for r in full_r..rows {
        for c in 0..cols {
            dst[c * rows + r] = src[r * cols + c];
        }
    }
}

/// The full 8 × 8 tiles of [`transpose`] in AVX shuffles ([`transpose_tiles_avx`]) where `T` is
/// `f32` and the CPU has AVX; false (nothing written) otherwise.
fn transpose_tiles_f32_avx<T: Real>(src: &[T], rows: usize, cols: usize, dst: &mut [T]) -> bool {
    #[cfg(target_arch = "x86_64")]
    if std::any::TypeId::of::<T>() == std::any::TypeId::of::<f32>()
        && drift_api::math::has_avx2_fma()
    {
        #[allow(unsafe_code)]
        // SAFETY: `T` is `f32` (checked just above), so the slices reinterpret as `f32` ones of
        // the same lengths; the CPU has AVX (checked just above).
        unsafe {
            let s = std::slice::from_raw_parts(src.as_ptr().cast::<f32>(), src.len());
            let d = std::slice::from_raw_parts_mut(dst.as_mut_ptr().cast::<f32>(), dst.len());
            transpose_tiles_avx(s, rows, cols, d);
        }
        return true;
    }
    let _ = (src, rows, cols, dst);
    false
}

/// The full 8 × 8 tiles of [`transpose`], value by value.
fn transpose_tiles<T: Copy>(src: &[T], rows: usize, cols: usize, dst: &mut [T]) {
    for r0 in (0..rows / 8 * 8).step_by(8) {
        for c0 in (0..cols / 8 * 8).step_by(8) {
            for r in r0..r0 + 8 {
                for c in c0..c0 + 8 {
                    dst[c * rows + r] = src[r * cols + c];
                }
            }
        }
    }
}

/// The full 8 × 8 tiles of [`transpose`] for `f32`: eight rows loaded, three rounds of shuffles,
/// eight columns stored.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx")]
#[allow(unsafe_code)]
fn transpose_tiles_avx(src: &[f32], rows: usize, cols: usize, dst: &mut [f32]) {
    use std::arch::x86_64::*;
    for r0 in (0..rows / 8 * 8).step_by(8) {
        for c0 in (0..cols / 8 * 8).step_by(8) {
            // SAFETY: rows r0..r0 + 8 and columns c0..c0 + 8 lie inside `src` (`rows × cols`),
            // and columns c0..c0 + 8 of `dst` (`cols × rows`) hold rows r0..r0 + 8: every load
            // and store below reads or writes eight values inside its slice (the indexing
            // checks the first of each).
            unsafe {
                let load = |r: usize| _mm256_loadu_ps(src[(r0 + r) * cols + c0..][..8].as_ptr());
                let (a0, a1, a2, a3) = (load(0), load(1), load(2), load(3));
                let (a4, a5, a6, a7) = (load(4), load(5), load(6), load(7));
                let (t0, t1) = (_mm256_unpacklo_ps(a0, a1), _mm256_unpackhi_ps(a0, a1));
                let (t2, t3) = (_mm256_unpacklo_ps(a2, a3), _mm256_unpackhi_ps(a2, a3));
                let (t4, t5) = (_mm256_unpacklo_ps(a4, a5), _mm256_unpackhi_ps(a4, a5));
                let (t6, t7) = (_mm256_unpacklo_ps(a6, a7), _mm256_unpackhi_ps(a6, a7));
                let s0 = _mm256_shuffle_ps::<0x44>(t0, t2);
                let s1 = _mm256_shuffle_ps::<0xEE>(t0, t2);
                let s2 = _mm256_shuffle_ps::<0x44>(t1, t3);
                let s3 = _mm256_shuffle_ps::<0xEE>(t1, t3);
                let s4 = _mm256_shuffle_ps::<0x44>(t4, t6);
                let s5 = _mm256_shuffle_ps::<0xEE>(t4, t6);
                let s6 = _mm256_shuffle_ps::<0x44>(t5, t7);
                let s7 = _mm256_shuffle_ps::<0xEE>(t5, t7);
                let out = [
                    _mm256_permute2f128_ps::<0x20>(s0, s4),
                    _mm256_permute2f128_ps::<0x20>(s1, s5),
                    _mm256_permute2f128_ps::<0x20>(s2, s6),
                    _mm256_permute2f128_ps::<0x20>(s3, s7),
                    _mm256_permute2f128_ps::<0x31>(s0, s4),
                    _mm256_permute2f128_ps::<0x31>(s1, s5),
                    _mm256_permute2f128_ps::<0x31>(s2, s6),
                    _mm256_permute2f128_ps::<0x31>(s3, s7),
                ];
                for (c, v) in out.into_iter().enumerate() {
                    let at = (c0 + c) * rows + r0;
                    _mm256_storeu_ps(dst[at..][..8].as_mut_ptr(), v);
                }
            }
        }
    }
}

/// `$name(args)` runs `$body(args)` in its AVX2+FMA copy `$fast` where the CPU has both
/// instruction sets (eight `f32` lanes instead of four for the loops `$body` inlines), else in the
/// baseline one; the same results either way (no multiply-add is fused implicitly).
macro_rules! with_avx2_copy {
    ($(#[$doc:meta])* $vis:vis fn $name:ident / $fast:ident = $body:ident ($($arg:ident: $ty:ty),*) -> $ret:ty) => {
        $(#[$doc])*
        #[allow(clippy::too_many_arguments)]
        $vis fn $name<T: Real>($($arg: $ty),*) -> $ret {
            #[cfg(target_arch = "x86_64")]
            if drift_api::math::has_avx2_fma() {
                #[allow(unsafe_code)]
                // SAFETY: the CPU has both instruction sets (checked just above).
                unsafe {
                    return $fast($($arg),*);
                }
            }
            $body($($arg),*)
        }

        /// The AVX2+FMA copy.
        #[cfg(target_arch = "x86_64")]
        #[target_feature(enable = "avx2,fma")]
        #[allow(clippy::too_many_arguments)]
        fn $fast<T: Real>($($arg: $ty),*) -> $ret {
            $body($($arg),*)
        }
    };
}
pub(super) use with_avx2_copy;

#[cfg(test)]
mod tests {
    use super::*;

    fn check<T: Real>(rows: usize, cols: usize) {
        let src: Vec<T> = (0..rows * cols)
            .map(|v| T::of(v as f64 * 0.5 - 3.0))
            .collect();
        let mut dst = vec![T::nan(); rows * cols];
        transpose(&src, rows, cols, &mut dst);
        for r in 0..rows {
            for c in 0..cols {
                assert_eq!(
                    dst[c * rows + r],
                    src[r * cols + c],
                    "{rows} × {cols} at {r}, {c}"
                );
            }
        }
    }

    #[test]
    fn transpose_moves_every_value_tiles_and_edges() {
        for (rows, cols) in [
            (0, 5),
            (1, 1),
            (8, 8),
            (16, 64),
            (208, 64),
            (64, 208),
            (13, 21),
            (9, 8),
        ] {
            check::<f32>(rows, cols);
            check::<f64>(rows, cols);
        }
    }
}
