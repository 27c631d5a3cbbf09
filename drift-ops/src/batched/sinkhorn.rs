//! The Sinkhorn drift of one problem on the fused batched path: `V_i = bar(X → Y)_i −
//! bar(X → X')_i` for every temperature, from one matrix of squared distances
//! `‖x_i − t_j‖²` to the columns `t = [Y; X']` shared by both terms and every temperature.
//!
//! Each term is the log-domain Sinkhorn loop of [`crate::Sinkhorn`] (asymmetric, from
//! `g = log b`): `f = log a − LSE_j(g_j + ℓ_ij)`, `c_j = LSE_i(f_i + ℓ_ij)`, the error
//! `Σ_j |exp(g_j + c_j) − b_j|`, the next `g = log b − c`, stopping at the tolerance or the cap as
//! [`drift_api::scaling::scaling_iterations`] does; the barycentre is the row-normalised plan of
//! the final `g` times the columns. The exponentials of each pass run over the whole block at
//! once (vectorised), sums and log-sums in `T` of values at most 1, the errors in f64.

use super::lanes::{lane_sum, sized};
use crate::dense::{matmul, View};
use drift_api::scaling::scaling;
use drift_api::{DriftError, Real, Result};

/// Per-thread buffers of one term's loop, grown to the largest block and reused.
#[derive(Default)]
pub(super) struct LoopScratch<T> {
    logits: Vec<T>,
    rows: Vec<T>,
    cols: Vec<T>,
    f: Vec<T>,
    g: Vec<T>,
    lse: Vec<T>,
    col_top: Vec<T>,
    col_lse: Vec<T>,
}

/// One term: rows with log-weights `log_a`, a block of columns (`m × D`, centred like the rows)
/// with log-weights `log_b`, their squared distances `sq` (`N` rows of stride `stride`, the block
/// from column `first`), `ℓ = −sq · inv_tau`.
pub(super) struct Term<'a, T> {
    pub log_a: &'a [T],
    pub log_b: &'a [T],
    pub columns: &'a [T],
    pub sq: &'a [T],
    pub stride: usize,
    pub first: usize,
    pub inv_tau: T,
}

/// The loop's settings.
#[derive(Clone, Copy, Debug)]
pub(super) struct Stop {
    pub max_iters: usize,
    pub tol: f64,
}

/// The shift of a log-sum-exp whose largest term is `top`: `top`, or `0` when every term is `−∞`
/// (which keeps the terms `−∞` instead of NaN, and the sum's log `−∞`).
#[inline(always)]
pub(super) fn shift_of<T: Real>(top: T) -> T {
    if top == T::neg_infinity() {
        T::zero()
    } else {
        top
    }
}

/// Adds `bar(X → block)` (`N × D`) of the term into `bar` with sign `sign`, and returns the
/// iterations and the final marginal error.
pub(super) fn transport<T: Real>(
    t: &Term<'_, T>,
    stop: Stop,
    dim: usize,
    s: &mut LoopScratch<T>,
    bar: &mut [T],
    sign: T,
) -> Result<(usize, f64)> {
    let (n, m) = (t.log_a.len(), t.log_b.len());
    let nm = n * m;
    let logits = sized(&mut s.logits, nm);
    for i in 0..n {
        let src = &t.sq[i * t.stride + t.first..i * t.stride + t.first + m];
        let dst = &mut logits[i * m..(i + 1) * m];
        dst.iter_mut()
            .zip(src)
            .for_each(|(l, d)| *l = -*d * t.inv_tau);
    }
    let rows = sized(&mut s.rows, nm);
    let cols = sized(&mut s.cols, nm);
    let f = sized(&mut s.f, n);
    let lse = sized(&mut s.lse, n);
    let g = sized(&mut s.g, m);
    g.copy_from_slice(t.log_b);
    let col_top = sized(&mut s.col_top, m);
    let col_lse = sized(&mut s.col_lse, m);
    let mut iterations = 0;
    let error = loop {
        let last = iterations >= stop.max_iters;
        // Rows: f_i = log a_i − LSE_j(g_j + ℓ_ij); `rows` keeps exp(g_j + ℓ_ij − top_i).
        for i in 0..n {
            let (src, dst) = (&logits[i * m..(i + 1) * m], &mut rows[i * m..(i + 1) * m]);
            let mut top = T::neg_infinity();
            for ((o, l), gj) in dst.iter_mut().zip(src).zip(g.iter()) {
                *o = *l + *gj;
                top = top.max(*o);
            }
            let shift = shift_of(top);
            dst.iter_mut().for_each(|v| *v -= shift);
            lse[i] = shift;
        }
        T::exp_in_place(rows);
        for i in 0..n {
            lse[i] += lane_sum(&rows[i * m..(i + 1) * m]).ln();
            f[i] = scaling(t.log_a[i], lse[i]);
        }
        // Columns: c_j = LSE_i(f_i + ℓ_ij).
        col_top.fill(T::neg_infinity());
        for i in 0..n {
            let (src, dst) = (&logits[i * m..(i + 1) * m], &mut cols[i * m..(i + 1) * m]);
            for ((o, l), top) in dst.iter_mut().zip(src).zip(col_top.iter_mut()) {
                *o = *l + f[i];
                *top = top.max(*o);
            }
        }
        col_top.iter_mut().for_each(|v| *v = shift_of(*v));
        for i in 0..n {
            let dst = &mut cols[i * m..(i + 1) * m];
            dst.iter_mut()
                .zip(col_top.iter())
                .for_each(|(v, t)| *v -= *t);
        }
        T::exp_in_place(cols);
        col_lse.fill(T::zero());
        for i in 0..n {
            let src = &cols[i * m..(i + 1) * m];
            col_lse.iter_mut().zip(src).for_each(|(c, v)| *c += *v);
        }
        let mut error = 0.0f64;
        for j in 0..m {
            let c = col_top[j] + col_lse[j].ln();
            col_lse[j] = c;
            error += ((g[j] + c).exp() - t.log_b[j].exp()).abs().as_f64();
        }
        if error <= stop.tol || last {
            break error;
        }
        for (gj, (c, lb)) in g.iter_mut().zip(col_lse.iter().zip(t.log_b)) {
            *gj = scaling(*lb, *c);
        }
        iterations += 1;
    };
    if !error.is_finite() {
        return Err(DriftError::NonFiniteResult {
            what: "sinkhorn marginal error".into(),
            index: 0,
        });
    }
    // The row-normalised plan of the final g: `rows` holds exp(g_j + ℓ_ij − top_i), whose row
    // sums are exp(lse_i − top_i).
    for i in 0..n {
        let row = &mut rows[i * m..(i + 1) * m];
        let inv = sign / lane_sum(row);
        row.iter_mut().for_each(|v| *v *= inv);
    }
    matmul(
        bar,
        dim,
        true,
        View::new(rows, n, m),
        View::new(t.columns, m, dim),
        false,
        T::one(),
    );
    Ok((iterations, error))
}
