//! The Sinkhorn drift of one problem on the fused batched path: `V_i = bar(X → Y)_i −
//! bar(X → X')_i` for every temperature, from one matrix of squared distances
//! `‖x_i − t_j‖²` to the columns `t = [Y; X']` shared by both terms and every temperature (`X'`
//! a second generated batch, or the particles themselves with the negatives as weighted columns,
//! `[X; negatives]`).
//!
//! Each term is the log-domain Sinkhorn loop of [`crate::Sinkhorn`] (asymmetric, from
//! `g = log b`): `f = log a − LSE_j(g_j + ℓ_ij)`, `c_j = LSE_i(f_i + ℓ_ij)`, the error
//! `Σ_j |exp(g_j + c_j) − b_j|`, the next `g = log b − c`; or, for the particles' own plan
//! (`X × X`, no negatives), the symmetric loop from `g = log a`: `c_i = LSE_k(g_k + ℓ_ik)`, the
//! error `Σ_i |exp(g_i + c_i) − a_i|`, the next `g = ½(g + log a − c)`; stopping at the tolerance
//! or the cap as [`drift_api::kit::scaling::scaling_iterations`] does; the barycentre is the
//! row-normalised plan of the final `g` times the columns (this file writes the signed plan into
//! the term's block of the problem's coefficients, the caller multiplies every term and
//! temperature at once).
//!
//! The passes run in the stabilised scaling form (as the CPU backend's cached pairs do): the
//! first row pass stores `E_ij = exp(ℓ_ij + β_j − h_i)` (`β = log b`, `h_i` the row's largest, so
//! every entry is at most 1), and then, exactly,
//!
//! ```text
//! LSE_j(g_j + ℓ_ij) = h_i + t + log Σ_j E_ij exp(g_j − β_j − t),   t = max_j (g_j − β_j)
//! LSE_i(f_i + ℓ_ij) = −β_j + s + log Σ_i E_ij exp(f_i + h_i − s),  s = max_i (f_i + h_i)
//! ```
//!
//! so that a pass is a matrix-vector product with no exponential per pair. Every product whose
//! terms underflow is at most the smallest normal number; a sum below `len · min / ε` could lose
//! digits to them: a row pass that meets one rebuilds `E` with the current potentials as `β`
//! (absorption, Schmitzer 2019: every row sum is then at least 1), a column is then taken in the
//! log domain from the logits. Sums in `T` of values at most 1, the errors in f64.

use super::lanes::{lane_dot, sized};
use drift_api::kit::scaling::scaling;
use drift_api::{DriftError, Real, Result};

/// Per-thread buffers of one term's loop, grown to the largest block and reused.
#[derive(Default)]
pub(super) struct LoopScratch<T> {
    logits: Vec<T>,
    /// The stored matrix `E`, then the plan.
    e: Vec<T>,
    /// `h_i`.
    h: Vec<T>,
    /// `β_j`.
    beta: Vec<T>,
    f: Vec<T>,
    g: Vec<T>,
    /// The row sums `Σ_j E_ij φ_j` of the last row pass.
    row_sum: Vec<T>,
    /// Column factors `φ_j = exp(g_j − β_j − t)`.
    phi: Vec<T>,
    /// Row factors `exp(f_i + h_i − s)`.
    psi: Vec<T>,
    col_sum: Vec<T>,
    /// `ln` of the row and column sums (taken for a whole pass at once).
    row_ln: Vec<T>,
    col_ln: Vec<T>,
    /// The column weights `b_j = exp(log b_j)`, and `exp(g_j + c_j)` of the error.
    b: Vec<T>,
    marginal: Vec<T>,
}

/// One term: rows with log-weights `log_a`, a block of `m` columns with log-weights `log_b`,
/// their squared distances `sq` (`N` rows of stride `stride`, the block from column `first`),
/// `ℓ = −sq · inv_tau`.
pub(super) struct Term<'a, T> {
    pub log_a: &'a [T],
    pub log_b: &'a [T],
    pub sq: &'a [T],
    pub stride: usize,
    pub first: usize,
    pub inv_tau: T,
    /// The columns are the rows themselves with their weights: the symmetric loop.
    pub symmetric: bool,
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

/// `LSE_j(w_j + l_j)` in the log domain.
fn exact_lse<T: Real>(l: impl Iterator<Item = T> + Clone) -> T {
    let shift = shift_of(l.clone().fold(T::neg_infinity(), |a, v| a.max(v)));
    shift
        + l.map(|v| (v - shift).exp())
            .fold(T::zero(), |a, v| a + v)
            .ln()
}

/// `v ← exp(v − top)` with `top` the largest `v` (`0` when all are `−∞`); returns `top`.
#[inline(always)]
fn exp_shifted<T: Real>(v: &mut [T]) -> T {
    let top = shift_of(v.iter().fold(T::neg_infinity(), |a, x| a.max(*x)));
    v.iter_mut().for_each(|x| *x -= top);
    T::exp_nonpositive_in_place(v);
    top
}

/// The column factors `exp(g_j − β_j − t)` into `factors`, a zero-weight column (`β = g = −∞`)
/// weighing nothing; returns `t`.
#[inline(always)]
fn column_factors<T: Real>(g: &[T], beta: &[T], factors: &mut [T]) -> T {
    for ((o, gj), b) in factors.iter_mut().zip(g).zip(beta) {
        *o = if *b == T::neg_infinity() {
            T::neg_infinity()
        } else {
            *gj - *b
        };
    }
    exp_shifted(factors)
}

/// `E_ij = exp(ℓ_ij + β_j − h_i)` with `h_i` the row's largest (`n × m`).
#[inline(always)]
fn build<T: Real>(logits: &[T], beta: &[T], e: &mut [T], h: &mut [T]) {
    let m = beta.len();
    for (i, hi) in h.iter_mut().enumerate() {
        let (src, dst) = (&logits[i * m..(i + 1) * m], &mut e[i * m..(i + 1) * m]);
        dst.iter_mut()
            .zip(src)
            .zip(beta)
            .for_each(|((o, l), b)| *o = *l + *b);
        *hi = shift_of(dst.iter().fold(T::neg_infinity(), |a, v| a.max(*v)));
        dst.iter_mut().for_each(|v| *v -= *hi);
    }
    T::exp_nonpositive_in_place(e);
}

/// `Σ_j |exp(g_j + c_j) − b_j|`, the marginal error of the potential `g` whose log-sums are `c`
/// (`b` the target marginal; `work` scratch of the same length).
#[inline(always)]
fn marginal_error<T: Real>(g: &[T], c: &[T], b: &[T], work: &mut [T]) -> f64 {
    work.iter_mut()
        .zip(g.iter().zip(c))
        .for_each(|(o, (gj, c))| *o = *gj + *c);
    T::exp_in_place(work);
    work.iter()
        .zip(b)
        .map(|(v, b)| (*v - *b).abs().as_f64())
        .sum()
}

/// Writes `sign` times the term's row-normalised plan into its block of `coeff` (`N` rows of
/// stride `stride`, from column `first`: `bar(X → block)` is then that block times the block's
/// columns), and returns the iterations and the final marginal error.
#[inline(always)]
pub(super) fn transport<T: Real>(
    t: &Term<'_, T>,
    stop: Stop,
    s: &mut LoopScratch<T>,
    coeff: &mut [T],
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
    let (e, h, beta) = (
        sized(&mut s.e, nm),
        sized(&mut s.h, n),
        sized(&mut s.beta, m),
    );
    beta.copy_from_slice(t.log_b);
    build(logits, beta, e, h);
    let (f, g) = (sized(&mut s.f, n), sized(&mut s.g, m));
    g.copy_from_slice(t.log_b);
    // The column weights, exponentiated once for every iteration's error.
    let b = sized(&mut s.b, m);
    b.iter_mut().zip(t.log_b).for_each(|(o, l)| *o = l.exp());
    let (phi, psi) = (sized(&mut s.phi, m), sized(&mut s.psi, n));
    let (row_sum, col_sum) = (sized(&mut s.row_sum, n), sized(&mut s.col_sum, m));
    let tiny = |len: usize| T::min_positive_value() / T::epsilon() * T::of(len as f64);
    let (row_floor, col_floor) = (tiny(m), tiny(n));
    let mut iterations = 0;
    let error = loop {
        let last = iterations >= stop.max_iters;
        // Rows: f_i = log a_i − LSE_j(g_j + ℓ_ij), rebuilding E when a sum could lose digits.
        let mut top = column_factors(g, beta, phi);
        for (i, sum) in row_sum.iter_mut().enumerate() {
            *sum = lane_dot(&e[i * m..(i + 1) * m], phi);
        }
        // A NaN sum (from an overflow) rebuilds too.
        if row_sum.iter().any(|v| v.is_nan() || *v < row_floor) {
            beta.copy_from_slice(g);
            build(logits, beta, e, h);
            top = column_factors(g, beta, phi);
            for (i, sum) in row_sum.iter_mut().enumerate() {
                *sum = lane_dot(&e[i * m..(i + 1) * m], phi);
            }
        }
        let row_ln = sized(&mut s.row_ln, n);
        row_ln.copy_from_slice(row_sum);
        T::ln_in_place(row_ln);
        if t.symmetric {
            // c_i = LSE_k(g_k + ℓ_ik), the error Σ_i |exp(g_i + c_i) − a_i| and the averaged
            // update g ← ½(g + log a − c).
            let lse = sized(&mut s.col_ln, n);
            for (c, (hi, l)) in lse.iter_mut().zip(h.iter().zip(row_ln.iter())) {
                *c = *hi + top + *l;
            }
            let error = marginal_error(g, lse, b, sized(&mut s.marginal, n));
            if error <= stop.tol || last {
                break error;
            }
            let half = T::of(0.5);
            for (gi, (c, la)) in g.iter_mut().zip(lse.iter().zip(t.log_a)) {
                *gi = half * scaling(*gi + *la, *c);
            }
            iterations += 1;
            continue;
        }
        for i in 0..n {
            f[i] = scaling(t.log_a[i], h[i] + top + row_ln[i]);
        }
        // Columns: c_j = LSE_i(f_i + ℓ_ij), and the error of (f, g).
        psi.iter_mut()
            .zip(f.iter().zip(h.iter()))
            .for_each(|(o, (fi, hi))| *o = *fi + *hi);
        let top_rows = exp_shifted(psi);
        col_sum.fill(T::zero());
        for i in 0..n {
            let (row, w) = (&e[i * m..(i + 1) * m], psi[i]);
            col_sum.iter_mut().zip(row).for_each(|(c, v)| *c += *v * w);
        }
        let col_ln = sized(&mut s.col_ln, m);
        col_ln.copy_from_slice(col_sum);
        T::ln_in_place(col_ln);
        for j in 0..m {
            col_sum[j] = if col_sum[j] >= col_floor && beta[j] != T::neg_infinity() {
                -beta[j] + top_rows + col_ln[j]
            } else {
                exact_lse((0..n).map(|i| f[i] + logits[i * m + j]))
            };
        }
        let error = marginal_error(g, col_sum, b, sized(&mut s.marginal, m));
        if error <= stop.tol || last {
            break error;
        }
        for (gj, (c, lb)) in g.iter_mut().zip(col_sum.iter().zip(t.log_b)) {
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
    // The row-normalised plan of the final g (the last row pass's): E_ij φ_j / Σ_j E_ij φ_j.
    for i in 0..n {
        let (row, w) = (&e[i * m..(i + 1) * m], sign / row_sum[i]);
        let out = &mut coeff[i * t.stride + t.first..i * t.stride + t.first + m];
        for ((o, v), p) in out.iter_mut().zip(row).zip(phi.iter()) {
            *o = *v * (*p * w);
        }
    }
    Ok((iterations, error))
}
