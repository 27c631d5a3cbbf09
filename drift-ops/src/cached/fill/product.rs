//! The Gram form's products as `faer` matrix products, one per block of rows and tile of columns
//! (run-time dispatch to AVX2/FMA or AVX-512 inside `faer`).
//!
//! Their summation order is `faer`'s, so the form alone cannot promise what the pair cache needs:
//! coincident points at distance exactly zero (a Laplace kernel's `sqrt` turns the smallest
//! residue there into a visible error). Every entry the form cannot tell from zero, within its
//! rounding bound ([`near_zero_factor`]), is recomputed as `‖x − y‖²` from the points instead,
//! which is exactly zero for coincident points and more accurate for close ones.

use super::super::ROW_BLOCK;
use crate::cpu::squared_distances;
use drift_api::kit::{ByPrecision, PerPrecision, Tagged};
use drift_api::math::{on_best_isa, IsaWork};
use drift_api::{PointCloud, Real};
use rayon::prelude::*;
use std::ops::Range;

/// Columns per matrix product: a block's products (at most [`MAX_PRODUCT_ROWS`] rows by this many
/// columns, 256 KiB in `f32`) stay in cache for the expansion that follows. With 128 rows at
/// `f32`, `N = M = D = 1024` (2 threads, best of three runs): 30.3 ms in tiles of 512 columns,
/// 32.3 in tiles of 1024, 38.3 with all columns in one product.
const COL_TILE: usize = 512;
/// The most rows per block of the product form.
const MAX_PRODUCT_ROWS: usize = 128;

/// Rows per parallel block: `faer` repacks the columns for every product, so blocks of
/// [`ROW_BLOCK`] (32) rows took twice as long as blocks of 128 at `D = 1024` (`f32`,
/// `N = M = 1024`, 2 threads: 62.5 against 30.3–32.3 ms, the best of three runs each); but a block
/// a thread at least, where `N` is small beside the thread count.
fn product_rows(n: usize) -> usize {
    let share = n / rayon::current_num_threads().max(1);
    (share / ROW_BLOCK * ROW_BLOCK).clamp(ROW_BLOCK, MAX_PRODUCT_ROWS)
}

/// Fills `dist` (`N × M`, row-major) with the squared distances in the Gram form, in parallel
/// blocks of rows (on the threads of the pool it is called in; each product is single-threaded).
pub(super) fn fill_products<T: Real>(x: &PointCloud<T>, y: &PointCloud<T>, dist: &mut [T]) {
    let (m, d) = (y.len(), y.dim());
    let rows = product_rows(x.len());
    let cols = ProductColumns::new(y.data(), d);
    dist.par_chunks_mut(rows * m).enumerate().for_each_init(
        Scratch::default,
        |scratch, (b, block)| {
            let x_block = &x.data()[b * rows * d..][..(block.len() / m) * d];
            cols.fill_block(x_block, y.data(), block, scratch)
        },
    );
}

/// The columns of the Gram form: centred on their mean (so that the expansion does not cancel
/// away the precision of data far from the origin), with squared norms.
struct ProductColumns<T> {
    centre: Vec<T>,
    /// `y_j − c`, row-major `M × D`: the product's right factor `Ỹᵀ` in column-major order.
    centred: Vec<T>,
    sq: Vec<T>,
    dim: usize,
}

/// A block's buffers, kept across the blocks of one thread.
struct Scratch<T> {
    centred: Vec<T>,
    sq: Vec<T>,
    dots: Vec<T>,
}

impl<T> Default for Scratch<T> {
    fn default() -> Self {
        Scratch {
            centred: Vec::new(),
            sq: Vec::new(),
            dots: Vec::new(),
        }
    }
}

impl<T: Real> ProductColumns<T> {
    fn new(y: &[T], dim: usize) -> Self {
        let m = y.len() / dim;
        let mut centre = vec![0.0f64; dim];
        for p in y.chunks_exact(dim) {
            for (c, v) in centre.iter_mut().zip(p) {
                *c += v.as_f64();
            }
        }
        let centre: Vec<T> = centre.iter().map(|c| T::of(c / m as f64)).collect();
        let (mut centred, mut sq) = (Vec::new(), Vec::new());
        centre_rows(&centre, y, &mut centred, &mut sq);
        ProductColumns {
            centre,
            centred,
            sq,
            dim,
        }
    }

    /// The squared distances of the rows `x_block` to every column, into `block` (rows of `M`),
    /// through products of at most [`COL_TILE`] columns at a time.
    fn fill_block(&self, x_block: &[T], y: &[T], block: &mut [T], s: &mut Scratch<T>) {
        let (d, m) = (self.dim, self.sq.len());
        let rows = x_block.len() / d;
        centre_rows(&self.centre, x_block, &mut s.centred, &mut s.sq);
        let tol = T::of(near_zero_factor::<T>(d));
        let tile = COL_TILE;
        for c0 in (0..m).step_by(tile) {
            let width = tile.min(m - c0);
            s.dots.resize(rows * width, T::zero());
            products(&mut s.dots, &s.centred, &self.centred, c0..c0 + width, d);
            for (r, dots) in s.dots.chunks_exact(width).enumerate() {
                let row = &mut block[r * m + c0..][..width];
                let near = on_best_isa(Expand {
                    x_sq: s.sq[r],
                    y_sq: &self.sq[c0..c0 + width],
                    dots,
                    tol,
                    row,
                });
                if near {
                    let xi = &x_block[r * d..][..d];
                    for (j, yj) in y[c0 * d..].chunks_exact(d).take(width).enumerate() {
                        if gram_entry(s.sq[r], self.sq[c0 + j], dots[j], tol).1 {
                            squared_distances(xi, yj, &mut row[j..j + 1]);
                        }
                    }
                }
            }
        }
    }
}

/// `x_i − centre` into `centred` (row-major, as `x`) and their squared norms into `sq`, summed in
/// `f64` (a norm's rounding error enters every distance of its row).
fn centre_rows<T: Real>(centre: &[T], x: &[T], centred: &mut Vec<T>, sq: &mut Vec<T>) {
    centred.clear();
    sq.clear();
    for p in x.chunks_exact(centre.len()) {
        let start = centred.len();
        centred.extend(p.iter().zip(centre).map(|(v, c)| *v - *c));
        let norm: f64 = centred[start..]
            .iter()
            .map(|v| v.as_f64() * v.as_f64())
            .sum();
        sq.push(T::of(norm));
    }
}

/// A bound `k` on the Gram form's error, relative to `‖x‖² + ‖y‖²`: whatever order a product of
/// `D` terms is summed in, its rounding error is at most `γ_D = D·u/(1 − D·u)` times `Σ |x_k y_k|
/// ≤ (‖x‖² + ‖y‖²)/2` (`u` the unit round-off), so `‖x‖² + ‖y‖² − 2 x·y` computed for coincident
/// points is at most about `(2 γ_D + 3u)(‖x‖² + ‖y‖²)` in magnitude (the norms here are summed in
/// `f64`, closer than that). Twice this margin: `k = 2 (D + 2) ε`, `ε = 2u` the machine epsilon.
fn near_zero_factor<T: Real>(dim: usize) -> f64 {
    2.0 * (dim as f64 + 2.0) * T::epsilon().as_f64()
}

/// `out = a · b[cols]ᵀ` for `a` (`rows × dim`) and the rows `cols` of `b` (`· × dim`), both
/// row-major, `out` row-major `rows × cols.len()` (its length): `faer`'s matrix product,
/// single-threaded (the fill parallelises over blocks).
fn products<T: Real>(out: &mut [T], a: &[T], b: &[T], cols: Range<usize>, dim: usize) {
    // `faer` is generic over its own scalar trait, which `Real` does not imply: the buffers go
    // through the precision tag to `f32` or `f64`.
    let b = &b[cols.start * dim..cols.end * dim];
    match (Product { out, a, b }).tagged() {
        ByPrecision::F32(p) => product_of(p.out, p.a, p.b, dim, 1.0),
        ByPrecision::F64(p) => product_of(p.out, p.a, p.b, dim, 1.0),
    }
}

/// The buffers of one product, for the precision tag.
struct Product<'a, T> {
    out: &'a mut [T],
    a: &'a [T],
    b: &'a [T],
}

struct Products<'a>(std::marker::PhantomData<&'a ()>);

impl<'a> PerPrecision for Products<'a> {
    type Of<T: Real> = Product<'a, T>;
}

impl<'a, T: Real> Tagged<T> for Product<'a, T> {
    type Kind = Products<'a>;
}

/// `out = one · a · bᵀ` (`a` row-major `rows × dim`, `b` row-major `cols × dim`, `out` row-major
/// `rows × cols`) on `faer`.
fn product_of<F: faer::traits::ComplexField + Copy>(
    out: &mut [F],
    a: &[F],
    b: &[F],
    dim: usize,
    one: F,
) {
    let (rows, cols) = (a.len() / dim, b.len() / dim);
    let lhs = faer::MatRef::from_row_major_slice(a, rows, dim);
    let rhs = faer::MatRef::from_column_major_slice(b, dim, cols);
    let dst = faer::MatMut::from_row_major_slice_mut(out, rows, cols);
    faer::linalg::matmul::matmul(dst, faer::Accum::Replace, lhs, rhs, one, faer::Par::Seq);
}

/// One row of the Gram form from its products: `max(‖x‖² + ‖y_j‖² − 2 x·y_j, 0)`; returns whether
/// any entry is within the form's rounding of zero (those must be recomputed).
struct Expand<'s, T> {
    x_sq: T,
    y_sq: &'s [T],
    dots: &'s [T],
    tol: T,
    row: &'s mut [T],
}

impl<T: Real> IsaWork for Expand<'_, T> {
    type Output = bool;
    #[inline(always)]
    fn run<const FMA: bool>(self) -> bool {
        let mut near = false;
        for ((o, ys), g) in self.row.iter_mut().zip(self.y_sq).zip(self.dots) {
            let (v, close) = gram_entry(self.x_sq, *ys, *g, self.tol);
            // A flag folded with `|` rather than an early exit, so that the loop vectorises.
            near |= close;
            *o = v;
        }
        near
    }
}

/// `max(x_sq + y_sq − 2 dot, 0)`, and whether it is within `tol · (x_sq + y_sq)` of zero.
#[inline(always)]
fn gram_entry<T: Real>(x_sq: T, y_sq: T, dot: T, tol: T) -> (T, bool) {
    let sum = x_sq + y_sq;
    let v = sum - T::of(2.0) * dot;
    (v.max(T::zero()), v <= tol * sum)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Points far from the origin (where the Gram form cancels most), every fifth column a copy of
    /// a row, and rows repeated: the fill against `‖x − y‖²` summed in `f64`.
    fn check<T: Real>(n: usize, m: usize, d: usize) {
        let wave = |k: usize, f: f64| T::of(100.0 + (k as f64 * f).sin());
        let x: Vec<T> = (0..n * d).map(|k| wave(k % (n / 2 * d), 0.37)).collect();
        let mut y: Vec<T> = (0..m * d).map(|k| wave(k, 0.11)).collect();
        for j in (0..m).step_by(5) {
            let i = (j * 7) % n;
            y[j * d..(j + 1) * d].copy_from_slice(&x[i * d..(i + 1) * d]);
        }
        let (xs, ys) = (
            PointCloud::new("x", x.clone(), d).unwrap(),
            PointCloud::new("y", y.clone(), d).unwrap(),
        );
        let mut dist = vec![T::of(-1.0); n * m];
        fill_products(&xs, &ys, &mut dist);
        let centre: Vec<f64> = (0..d)
            .map(|k| (0..m).map(|j| y[j * d + k].as_f64()).sum::<f64>() / m as f64)
            .collect();
        let sq = |p: &[T]| -> f64 {
            p.iter()
                .zip(&centre)
                .map(|(v, c)| (v.as_f64() - c).powi(2))
                .sum()
        };
        let (mut zeros, mut worst) = (0, 0.0f64);
        for i in 0..n {
            let xi = &x[i * d..(i + 1) * d];
            for j in 0..m {
                let yj = &y[j * d..(j + 1) * d];
                let got = dist[i * m + j].as_f64();
                let want: f64 = xi
                    .iter()
                    .zip(yj)
                    .map(|(a, b)| (a.as_f64() - b.as_f64()).powi(2))
                    .sum();
                if want == 0.0 {
                    assert_eq!(got, 0.0, "coincident x_{i}, y_{j} (D = {d})");
                    zeros += 1;
                }
                let bound = near_zero_factor::<T>(d) * (sq(xi) + sq(yj));
                worst = worst.max((got - want).abs() / bound);
            }
        }
        assert!(zeros >= m / 5, "{zeros} coincident pairs");
        assert!(worst <= 1.0, "error {worst} of the bound (D = {d})");
    }

    #[test]
    fn the_product_form_is_within_its_bound_and_exact_for_coincident_points() {
        // Partial blocks of rows and tiles of columns; D across the product form's range.
        for (n, m, d) in [
            (150, 600, 16),
            (70, 530, 64),
            (40, 100, 300),
            (33, 70, 1024),
        ] {
            check::<f32>(n, m, d);
            check::<f64>(n, m, d);
        }
    }
}
