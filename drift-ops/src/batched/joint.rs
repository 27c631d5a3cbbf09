//! Deng et al.'s Algorithm 2 of one problem on the fused batched path: the two-sided proxy plan
//! over the joint columns `[Y; X; negatives]` (the `X` diagonal masked when asked), weighted by the
//! product of the two blocks' row masses, from the problem's kernel distances shared by every
//! temperature.
//!
//! With the relative weights `ã_i = a_i N`, `b̃_j = w_j M` (`w` the joint column weights, `N`, `M`
//! the counts of points with mass): `f_i = ½(ã_i − LSE_j(b̃_j + ℓ_ij))`,
//! `g_j = ½(b̃_j − LSE_i(ã_i + ℓ_ij))`, `A_ij = exp(f_i + g_j + ℓ_ij)`; with `m±_i` the row sums of
//! `A` over `Y` and over `[X; negatives]`, `V_i = m⁻_i Σ_{j∈Y} A_ij t_j − m⁺_i Σ_{j∉Y} A_ij t_j`
//! (`= m⁺ m⁻ (bar⁺ − bar⁻)`): one product of the coefficients `[A⁺ m⁻ | −A⁻ m⁺]` with the columns.
//! This file writes the coefficients; the caller multiplies every temperature's at once.

use super::lanes::{lane_sum, sized};
use super::sinkhorn::shift_of;
use drift_api::kit::scaling::scaling;
use drift_api::Real;

/// One problem's Algorithm 2 field at one temperature.
pub(super) struct JointTerm<'a, T> {
    /// Kernel distances (`d` for Laplace, `d²` for Gaussian), `N × (M + N + K)`.
    pub kd: &'a [T],
    /// Row log-weights `log a`.
    pub log_a: &'a [T],
    /// Joint column log-weights (shares over `[Y; X; negatives]`).
    pub log_w: &'a [T],
    /// Columns of the `Y` block.
    pub m: usize,
    /// Mask `j = i` in the `X` block.
    pub mask_self: bool,
    /// `1/τ` in the kernel distances' units.
    pub inv: T,
}

/// Per-thread buffers.
#[derive(Default)]
pub(super) struct JointScratch<T> {
    logits: Vec<T>,
    rel_a: Vec<T>,
    rel_b: Vec<T>,
    f: Vec<T>,
    g: Vec<T>,
    top: Vec<T>,
}

/// Count of finite log-weights: the points with mass.
fn support<T: Real>(log_w: &[T]) -> f64 {
    log_w.iter().filter(|l| l.is_finite()).count() as f64
}

/// Writes the coefficients `[A⁺ m⁻ | −A⁻ m⁺]` (`N × (M + N + K)`) of `V` into `work`.
#[inline(always)]
pub(super) fn joint_coefficients<T: Real>(
    t: &JointTerm<'_, T>,
    s: &mut JointScratch<T>,
    work: &mut [T],
) {
    let (n, cols) = (t.log_a.len(), t.log_w.len());
    let logits = sized(&mut s.logits, n * cols);
    for i in 0..n {
        let (src, dst) = (
            &t.kd[i * cols..(i + 1) * cols],
            &mut logits[i * cols..(i + 1) * cols],
        );
        dst.iter_mut().zip(src).for_each(|(o, k)| *o = -*k * t.inv);
        if t.mask_self {
            dst[t.m + i] = T::neg_infinity();
        }
    }
    let (log_n, log_m) = (T::of(support(t.log_a).ln()), T::of(support(t.log_w).ln()));
    s.rel_a.clear();
    s.rel_a.extend(t.log_a.iter().map(|l| *l + log_n));
    s.rel_b.clear();
    s.rel_b.extend(t.log_w.iter().map(|l| *l + log_m));
    let half = T::of(0.5);
    // f_i = ½ (ã_i − LSE_j(b̃_j + ℓ_ij)).
    let f = sized(&mut s.f, n);
    row_exponentials(logits, &s.rel_b, work, f);
    for (i, fi) in f.iter_mut().enumerate() {
        let lse = *fi + lane_sum(&work[i * cols..(i + 1) * cols]).ln();
        *fi = half * scaling(s.rel_a[i], lse);
    }
    // g_j = ½ (b̃_j − LSE_i(ã_i + ℓ_ij)).
    let top = sized(&mut s.top, cols);
    top.fill(T::neg_infinity());
    for i in 0..n {
        let (src, dst) = (
            &logits[i * cols..(i + 1) * cols],
            &mut work[i * cols..(i + 1) * cols],
        );
        for ((o, l), c) in dst.iter_mut().zip(src).zip(top.iter_mut()) {
            *o = *l + s.rel_a[i];
            *c = c.max(*o);
        }
    }
    top.iter_mut().for_each(|v| *v = shift_of(*v));
    for i in 0..n {
        let dst = &mut work[i * cols..(i + 1) * cols];
        dst.iter_mut().zip(top.iter()).for_each(|(v, c)| *v -= *c);
    }
    T::exp_in_place(work);
    let g = sized(&mut s.g, cols);
    g.fill(T::zero());
    for i in 0..n {
        let src = &work[i * cols..(i + 1) * cols];
        g.iter_mut().zip(src).for_each(|(c, v)| *c += *v);
    }
    for ((gj, c), b) in g.iter_mut().zip(top.iter()).zip(&s.rel_b) {
        *gj = half * scaling(*b, *c + gj.ln());
    }
    // A_ij = exp(f_i + top_i) · exp(g_j + ℓ_ij − top_i), then the coefficients.
    let tops = &mut s.rel_a;
    row_exponentials(logits, g, work, tops);
    for i in 0..n {
        let row = &mut work[i * cols..(i + 1) * cols];
        let scale = (f[i] + tops[i]).exp();
        let (plus, minus) = row.split_at_mut(t.m);
        let (m_plus, m_minus) = (lane_sum(plus) * scale, lane_sum(minus) * scale);
        let (c_plus, c_minus) = (scale * m_minus, -scale * m_plus);
        plus.iter_mut().for_each(|v| *v *= c_plus);
        minus.iter_mut().for_each(|v| *v *= c_minus);
    }
}

/// `work_ij = exp(w_j + ℓ_ij − top_i)` with `top_i` the row's largest (into `tops`; `0` for a row
/// of `−∞`), so that `LSE_j(w_j + ℓ_ij) = top_i + ln Σ_j work_ij`.
fn row_exponentials<T: Real>(logits: &[T], w: &[T], work: &mut [T], tops: &mut [T]) {
    let cols = w.len();
    for (i, top) in tops.iter_mut().enumerate() {
        let (src, dst) = (
            &logits[i * cols..(i + 1) * cols],
            &mut work[i * cols..(i + 1) * cols],
        );
        let mut largest = T::neg_infinity();
        for ((o, l), wj) in dst.iter_mut().zip(src).zip(w) {
            *o = *l + *wj;
            largest = largest.max(*o);
        }
        *top = shift_of(largest);
        dst.iter_mut().for_each(|v| *v -= *top);
    }
    T::exp_in_place(work);
}
