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

/// Rows of one displacement block: [`weighted_differences`] keeps six accumulators and six rows'
/// coordinates in registers.
pub(crate) const ROWS: usize = 6;

/// `acc[q][l] = Σ_j w_q[j] (strip[j][l] − xs[q][l])` for [`ROWS`] rows and `V` coordinates: `w[q]`
/// holds row `q`'s weights for the columns, `strip` the same columns' `V` coordinates, one column
/// after the other. The differences are formed in registers, so that the sum rounds like the direct
/// one (no cancellation between a large `Σ w y` and a large `(Σ w) x`).
///
/// A column costs one load, six broadcasts, six subtractions and six multiply-adds. (The weights
/// and the strip are walked by one zipped iterator, which compiles without bounds checks.)
#[inline(always)]
pub(crate) fn weighted_differences<T: Real, const V: usize, const FMA: bool>(
    w: [&[T]; ROWS],
    strip: &[T],
    xs: &[[T; V]; ROWS],
) -> [[T; V]; ROWS] {
    let mut acc = [[T::zero(); V]; ROWS];
    let [w0, w1, w2, w3, w4, w5] = w;
    let columns = strip
        .chunks_exact(V)
        .zip(w0)
        .zip(w1)
        .zip(w2)
        .zip(w3)
        .zip(w4)
        .zip(w5);
    for ((((((y, a0), a1), a2), a3), a4), a5) in columns {
        let y: &[T; V] = y.try_into().expect("chunks of V values");
        let a = [*a0, *a1, *a2, *a3, *a4, *a5];
        for q in 0..ROWS {
            for l in 0..V {
                acc[q][l] = madd::<T, FMA>(y[l] - xs[q][l], a[q], acc[q][l]);
            }
        }
    }
    acc
}
