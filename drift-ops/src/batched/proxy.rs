//! The two-sided proxy plans of one problem on the fused batched path, from the problem's kernel
//! distances shared by every temperature: Deng et al.'s Algorithm 2 (one plan over the joint
//! columns `[Y; X; negatives]`) and the split Sinkhorn proxy (one plan over `Y`, one over
//! `[X; negatives]`), the `X` diagonal masked when asked.
//!
//! On a range of columns with relative weights `ã_i = a_i N`, `b̃_j = w_j M` (`w` the range's
//! column weights, `N`, `M` the counts of points with mass): `f_i = ½(ã_i − LSE_j(b̃_j + ℓ_ij))`,
//! `g_j = ½(b̃_j − LSE_i(ã_i + ℓ_ij))` (`g = f` for the self plan of `X` alone, as the general
//! path's symmetric coupling), `A_ij = exp(f_i + g_j + ℓ_ij)`. With `m±_i` the row sums of `A`
//! over `Y` and over `[X; negatives]`, `V_i = m⁻_i Σ_{j∈Y} A_ij t_j − m⁺_i Σ_{j∉Y} A_ij t_j`
//! (`= m⁺ m⁻ (bar⁺ − bar⁻)`, the mass-product weighting): one product of the coefficients
//! `[A⁺ m⁻ | −A⁻ m⁺]` with the columns. This file writes the coefficients; the caller multiplies
//! every temperature's at once.

use super::lanes::{lane_sum, sized};
use super::one_sided::logits_into;
use super::sinkhorn::shift_of;
use drift_api::kit::scaling::scaling;
use drift_api::Real;
use std::ops::Range;

/// One problem's proxy field at one temperature.
pub(super) struct ProxyTerm<'a, T> {
    /// Kernel distances (`d` for Laplace, `d²` for Gaussian), `N × (M + N + K)`.
    pub kd: &'a [T],
    /// Row log-weights `log a`.
    pub log_a: &'a [T],
    /// Column log-weights over `[Y; X; negatives]`: the joint shares (Algorithm 2), or `log b`
    /// then the repulsion's shares (split).
    pub log_w: &'a [T],
    /// Columns of the `Y` block.
    pub m: usize,
    /// Mask `j = i` in the `X` block.
    pub mask_self: bool,
    /// `1/τ` in the kernel distances' units.
    pub inv: T,
    /// One plan over every column (Algorithm 2), or one per side (the split proxy).
    pub joint: bool,
}

/// Per-thread buffers.
#[derive(Default)]
pub(super) struct ProxyScratch<T> {
    logits: Vec<T>,
    rel_a: Vec<T>,
    rel_b: Vec<T>,
    /// `f` per plan and row (`plans × N`).
    f: Vec<T>,
    g: Vec<T>,
    top: Vec<T>,
    /// `exp(f_i + top_i)` per plan and row (`plans × N`): `A_ij = scales_i · work_ij`.
    scales: Vec<T>,
}

/// Count of finite log-weights: the points with mass.
fn support<T: Real>(log_w: &[T]) -> f64 {
    log_w.iter().filter(|l| l.is_finite()).count() as f64
}

/// Writes the coefficients `[A⁺ m⁻ | −A⁻ m⁺]` (`N × (M + N + K)`) of `V` into `work`.
///
/// Every pass runs over the whole `N × columns` block at once (one exponential call each), the
/// plans differing only in their rows' shifts and sums (per plan) and their relative column
/// weights.
#[inline(always)]
pub(super) fn proxy_coefficients<T: Real>(
    t: &ProxyTerm<'_, T>,
    s: &mut ProxyScratch<T>,
    work: &mut [T],
) {
    let (n, cols, m) = (t.log_a.len(), t.log_w.len(), t.m);
    let (joint_plan, split_plans) = (0..cols, [0..m, m..cols]);
    let plans: &[Range<usize>] = match t.joint {
        true => std::slice::from_ref(&joint_plan),
        false => &split_plans,
    };
    let logits = sized(&mut s.logits, n * cols);
    logits_into(t.kd, cols, None, t.inv, t.mask_self.then_some(m), logits);
    let log_n = T::of(support(t.log_a).ln());
    s.rel_a.clear();
    s.rel_a.extend(t.log_a.iter().map(|l| *l + log_n));
    s.rel_b.clear();
    for plan in plans {
        let log_w = &t.log_w[plan.clone()];
        let log_m = T::of(support(log_w).ln());
        s.rel_b.extend(log_w.iter().map(|l| *l + log_m));
    }
    let half = T::of(0.5);
    // f_i = ½ (ã_i − LSE_j(b̃_j + ℓ_ij)) per plan.
    let f = sized(&mut s.f, plans.len() * n);
    row_exponentials(logits, plans, &s.rel_b, work, f);
    for (k, plan) in plans.iter().enumerate() {
        for i in 0..n {
            let sum = lane_sum(&work[i * cols + plan.start..i * cols + plan.end]);
            f[k * n + i] = half * scaling(s.rel_a[i], f[k * n + i] + sum.ln());
        }
    }
    // g_j = ½ (b̃_j − LSE_i(ã_i + ℓ_ij)), each column in its own plan.
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
    T::exp_nonpositive_in_place(&mut work[..n * cols]);
    let g = sized(&mut s.g, cols);
    g.fill(T::zero());
    for i in 0..n {
        let src = &work[i * cols..(i + 1) * cols];
        g.iter_mut().zip(src).for_each(|(c, v)| *c += *v);
    }
    for ((gj, c), b) in g.iter_mut().zip(top.iter()).zip(&s.rel_b) {
        *gj = half * scaling(*b, *c + gj.ln());
    }
    // The self plan of X alone (the split proxy without negatives): the same points and weights
    // on both sides, whose column potentials are the rows' (the general path's symmetric
    // coupling).
    if !t.joint && cols == m + n {
        g[m..].copy_from_slice(&f[n..2 * n]);
    }
    // A_ij = exp(f_i + top_i) · exp(g_j + ℓ_ij − top_i), then the coefficients.
    let scales = sized(&mut s.scales, plans.len() * n);
    row_exponentials(logits, plans, g, work, scales);
    scales
        .iter_mut()
        .zip(f.iter())
        .for_each(|(v, fi)| *v = (*fi + *v).exp());
    for i in 0..n {
        let row = &mut work[i * cols..(i + 1) * cols];
        let (sp, sm) = (scales[i], scales[(plans.len() - 1) * n + i]);
        let (a_plus, a_minus) = row.split_at_mut(m);
        let (m_plus, m_minus) = (lane_sum(a_plus) * sp, lane_sum(a_minus) * sm);
        let (c_plus, c_minus) = (sp * m_minus, -sm * m_plus);
        a_plus.iter_mut().for_each(|v| *v *= c_plus);
        a_minus.iter_mut().for_each(|v| *v *= c_minus);
    }
}

/// `work_ij = exp(w_j + ℓ_ij − top_i)` with `top_i` the largest of row `i` within each plan's
/// columns (into `tops`, plan after plan; `0` for a row of `−∞`), so that within a plan
/// `LSE_j(w_j + ℓ_ij) = top_i + ln Σ_j work_ij`.
#[inline(always)]
fn row_exponentials<T: Real>(
    logits: &[T],
    plans: &[Range<usize>],
    w: &[T],
    work: &mut [T],
    tops: &mut [T],
) {
    let cols = w.len();
    let n = logits.len() / cols.max(1);
    for i in 0..n {
        let (src, dst) = (
            &logits[i * cols..(i + 1) * cols],
            &mut work[i * cols..(i + 1) * cols],
        );
        for (k, plan) in plans.iter().enumerate() {
            let (src, dst, w) = (&src[plan.clone()], &mut dst[plan.clone()], &w[plan.clone()]);
            let mut largest = T::neg_infinity();
            for ((o, l), wj) in dst.iter_mut().zip(src).zip(w) {
                *o = *l + *wj;
                largest = largest.max(*o);
            }
            let top = shift_of(largest);
            tops[k * n + i] = top;
            dst.iter_mut().for_each(|v| *v -= top);
        }
    }
    T::exp_nonpositive_in_place(&mut work[..n * cols]);
}
