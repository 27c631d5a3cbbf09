//! The register-blocked inner loops of the Gram-form reduction: dot products of a few rows with a
//! panel of columns (the distances), and weighted sums of column differences (the displacements).
//!
//! Both are written over fixed-size arrays, so that the compiler keeps each block of accumulators in
//! vector registers and unrolls the lanes; they are `#[inline(always)]` so that they are generated
//! inside the CPU backend's AVX2+FMA copy of its block loop. The `FMA` parameter picks fused
//! multiply-adds (one rounding; only in that copy, where they are single instructions) or a separate
//! multiply and add (the baseline copy, where a fused multiply-add would be a library call).

use drift_api::Real;

/// Columns per panel: one register block of distances spans this many columns.
pub(crate) const LANES: usize = 16;

/// `a · b + c`, fused (one rounding) when `FMA` is set.
#[inline(always)]
pub(crate) fn madd<T: Real, const FMA: bool>(a: T, b: T, c: T) -> T {
    if FMA {
        a.mul_add(b, c)
    } else {
        a * b + c
    }
}

/// The dot products of `R` rows with the [`LANES`] columns of one panel chunk: `chunk` holds
/// `kc = chunk.len() / LANES` coordinates of the columns, `LANES` values per coordinate, and each
/// `x[q]` at least `kc` coordinates of row `q` (the same ones). The products are summed in
/// coordinate order, one running sum per pair.
///
/// `R · LANES / lanes-per-register` accumulators stay in registers: 12 for `f32` with `R = 6`, or
/// `f64` with `R = 3`, with AVX2; one coordinate costs `LANES / 8` vector loads of the panel, `R`
/// broadcasts and `R · LANES / 8` multiply-adds.
#[inline(always)]
pub(crate) fn panel_dots<T: Real, const R: usize, const FMA: bool>(
    x: [&[T]; R],
    chunk: &[T],
) -> [[T; LANES]; R] {
    let kc = chunk.len() / LANES;
    // Slicing every row to exactly `kc` values up front lets the compiler drop the bounds checks
    // of the loop below.
    let x: [&[T]; R] = std::array::from_fn(|q| &x[q][..kc]);
    let mut acc = [[T::zero(); LANES]; R];
    for (k, y) in chunk.chunks_exact(LANES).enumerate() {
        let y: &[T; LANES] = y.try_into().expect("chunks of LANES values");
        for q in 0..R {
            let a = x[q][k];
            for l in 0..LANES {
                acc[q][l] = madd::<T, FMA>(a, y[l], acc[q][l]);
            }
        }
    }
    acc
}

/// `acc[q][l] += Σ_j w_q[j] (points[j][l] − xs[q][l])` for `R` rows and `V` coordinates: `w[q]`
/// holds row `q`'s weights for the columns, `points` the same columns' `V` coordinates, one column
/// every `stride` values. The differences are formed in registers, so that the sum rounds like the
/// direct one (no cancellation between a large `Σ w y` and a large `(Σ w) x`).
///
/// With `R = 6` and one register of `V` coordinates, the block holds 6 accumulators and 6 row
/// coordinates; a column costs one load, `R` broadcasts, `R` subtractions and `R` multiply-adds.
#[inline(always)]
pub(crate) fn weighted_differences<T: Real, const R: usize, const V: usize, const FMA: bool>(
    w: [&[T]; R],
    points: &[T],
    stride: usize,
    xs: &[[T; V]; R],
) -> [[T; V]; R] {
    let width = w[0].len();
    let w: [&[T]; R] = std::array::from_fn(|q| &w[q][..width]);
    let mut acc = [[T::zero(); V]; R];
    if width == 0 {
        return acc;
    }
    let points = &points[..(width - 1) * stride + V];
    for j in 0..width {
        let y: &[T; V] = points[j * stride..][..V]
            .try_into()
            .expect("V coordinates per column");
        for q in 0..R {
            let a = w[q][j];
            for l in 0..V {
                acc[q][l] = madd::<T, FMA>(a, y[l] - xs[q][l], acc[q][l]);
            }
        }
    }
    acc
}
