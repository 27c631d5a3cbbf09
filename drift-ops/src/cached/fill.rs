//! Filling the matrix of squared distances: directly for small dimensions, as a matrix product
//! (`faer`) in the Gram form `‖x‖² + ‖y‖² − 2 x·y` from [`GRAM_MIN_DIM`] coordinates on.
//!
//! The Gram form's products are one plain matrix product per block of rows, on `faer` (run-time
//! dispatch to AVX2/FMA or AVX-512). Its summation order is `faer`'s, so the form alone cannot
//! promise what the pair cache needs: coincident points at distance exactly zero (a Laplace
//! kernel's `sqrt` turns the smallest residue there into a visible error). Every entry the form
//! cannot tell from zero, within its rounding bound ([`near_zero_factor`]), is recomputed as
//! `‖x − y‖²` from the points instead, which is exactly zero for coincident points and more
//! accurate for close ones.

use super::ROW_BLOCK;
use crate::cpu::squared_distances;
use crate::gram::{GramColumns, GRAM_MIN_DIM};
use drift_api::math::{on_best_isa, IsaWork};
use drift_api::{PointCloud, Real};
use rayon::prelude::*;
use std::any::Any;

/// Fills `dist` (`N × M`, row-major) with the squared distances, in parallel blocks of rows (on
/// the threads of the pool it is called in; each block's product is single-threaded).
pub(super) fn fill_distances<T: Real>(x: &PointCloud<T>, y: &PointCloud<T>, dist: &mut [T]) {
    let (m, d) = (y.len(), y.dim());
    if m == 0 {
        return;
    }
    let blocks = dist.par_chunks_mut(ROW_BLOCK * m).enumerate();
    let x_block = |b: usize, block: &[T]| &x.data()[b * ROW_BLOCK * d..][..(block.len() / m) * d];
    if d < GRAM_MIN_DIM {
        blocks.for_each(|(b, block)| {
            let x_block = x_block(b, block);
            on_best_isa(DirectRows {
                x_block,
                y: y.data(),
                d,
                m,
                block,
            })
        });
        return;
    }
    let cols = ProductColumns::new(y.data(), d);
    blocks.for_each_init(Scratch::default, |scratch, (b, block)| {
        let x_block = x_block(b, block);
        cols.fill_block(x_block, y.data(), block, scratch)
    });
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

    /// The squared distances of the rows `x_block` to every column, into `block` (rows of `M`).
    fn fill_block(&self, x_block: &[T], y: &[T], block: &mut [T], s: &mut Scratch<T>) {
        let (rows, m) = (x_block.len() / self.dim, self.sq.len());
        centre_rows(&self.centre, x_block, &mut s.centred, &mut s.sq);
        s.dots.resize(rows * m, T::zero());
        products(&mut s.dots, &s.centred, &self.centred, rows, m, self.dim);
        let tol = T::of(near_zero_factor::<T>(self.dim));
        for (r, (row, dots)) in block.chunks_exact_mut(m).zip(s.dots.chunks_exact(m)).enumerate() {
            let near = on_best_isa(Expand {
                x_sq: s.sq[r],
                y_sq: &self.sq,
                dots,
                tol,
                row,
            });
            if near {
                let xi = &x_block[r * self.dim..][..self.dim];
                for (j, yj) in y.chunks_exact(self.dim).enumerate() {
                    if gram_entry(s.sq[r], self.sq[j], dots[j], tol).1 {
                        squared_distances(xi, yj, &mut row[j..j + 1]);
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
        let norm: f64 = centred[start..].iter().map(|v| v.as_f64() * v.as_f64()).sum();
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

/// `out = a · bᵀ` for `a` (`rows × dim`) and `b` (`cols × dim`), both row-major, `out` row-major
/// `rows × cols`: `faer`'s matrix product, single-threaded (the fill parallelises over blocks).
fn products<T: Real>(out: &mut Vec<T>, a: &Vec<T>, b: &Vec<T>, rows: usize, cols: usize, dim: usize) {
    // `faer` is generic over its own scalar trait, which `Real` does not imply: `Real` is `f32` or
    // `f64`, so the owned buffers are viewed as one of the two.
    let any_out = out as &mut dyn Any;
    if let Some(out) = any_out.downcast_mut::<Vec<f32>>() {
        product_of(out, cast::<T, f32>(a), cast::<T, f32>(b), rows, cols, dim, 1.0);
    } else if let Some(out) = any_out.downcast_mut::<Vec<f64>>() {
        product_of(out, cast::<T, f64>(a), cast::<T, f64>(b), rows, cols, dim, 1.0);
    } else {
        unreachable!("Real is f32 or f64")
    }
}

fn cast<T: Real, F: 'static>(v: &Vec<T>) -> &Vec<F> {
    (v as &dyn Any)
        .downcast_ref()
        .expect("the output's type is the inputs' type")
}

fn product_of<F: faer::traits::ComplexField + Copy>(
    out: &mut [F],
    a: &[F],
    b: &[F],
    rows: usize,
    cols: usize,
    dim: usize,
    one: F,
) {
    let lhs = faer::MatRef::from_row_major_slice(a, rows, dim);
    let rhs = faer::MatRef::from_column_major_slice(b, dim, cols);
    let dst = faer::MatMut::from_row_major_slice_mut(out, rows, cols);
    faer::linalg::matmul::matmul(
        dst,
        faer::Accum::Replace,
        lhs,
        rhs,
        one,
        faer::Par::Seq,
    );
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

/// The columns prepared for Gram-form distances, as work for [`drift_api::math::on_isa`] (the
/// cached displacement pass's register-blocked tiles).
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

/// The squared distances of one block of rows, computed directly (small dimensions).
struct DirectRows<'s, T> {
    x_block: &'s [T],
    y: &'s [T],
    d: usize,
    m: usize,
    block: &'s mut [T],
}

impl<T: Real> IsaWork for DirectRows<'_, T> {
    type Output = ();
    #[inline(always)]
    fn run<const FMA: bool>(self) {
        for (xi, row) in self
            .x_block
            .chunks_exact(self.d)
            .zip(self.block.chunks_exact_mut(self.m))
        {
            squared_distances(xi, self.y, row);
        }
    }
}
