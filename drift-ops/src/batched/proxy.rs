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
    f: Vec<T>,
    g: Vec<T>,
    top: Vec<T>,
    /// `exp(f_i + top_i)` of the plan over `Y` (or over every column) and over the rest.
    plus: Vec<T>,
    minus: Vec<T>,
}

/// Count of finite log-weights: the points with mass.
fn support<T: Real>(log_w: &[T]) -> f64 {
    log_w.iter().filter(|l| l.is_finite()).count() as f64
}

/// Writes the coefficients `[A⁺ m⁻ | −A⁻ m⁺]` (`N × (M + N + K)`) of `V` into `work`.
#[inline(always)]
pub(super) fn proxy_coefficients<T: Real>(
    t: &ProxyTerm<'_, T>,
    s: &mut ProxyScratch<T>,
    work: &mut [T],
) {
    let (n, cols) = (t.log_a.len(), t.log_w.len());
    let mut logit_buffer = std::mem::take(&mut s.logits);
    let logits = sized(&mut logit_buffer, n * cols);
    logits_into(t.kd, cols, None, t.inv, t.mask_self.then_some(t.m), logits);
    let log_n = T::of(support(t.log_a).ln());
    s.rel_a.clear();
    s.rel_a.extend(t.log_a.iter().map(|l| *l + log_n));
    let ranges = match t.joint {
        true => [0..cols, 0..0],
        false => [0..t.m, t.m..cols],
    };
    // The self plan of X alone: the general path's symmetric coupling (g = f).
    let symmetric = !t.joint && cols == t.m + n;
    let mut sides = [std::mem::take(&mut s.plus), std::mem::take(&mut s.minus)];
    for (range, scales) in ranges.into_iter().zip(&mut sides) {
        if range.is_empty() {
            continue;
        }
        let log_w = &t.log_w[range.clone()];
        let log_m = T::of(support(log_w).ln());
        s.rel_b.clear();
        s.rel_b.extend(log_w.iter().map(|l| *l + log_m));
        let plan = Plan {
            logits,
            cols,
            range: range.clone(),
            symmetric: symmetric && range.start > 0,
        };
        plan.write(s, work, sized(scales, n));
    }
    let [plus, minus] = &sides;
    for i in 0..n {
        let row = &mut work[i * cols..(i + 1) * cols];
        let (sp, sm) = (plus[i], if t.joint { plus[i] } else { minus[i] });
        let (a_plus, a_minus) = row.split_at_mut(t.m);
        let (m_plus, m_minus) = (lane_sum(a_plus) * sp, lane_sum(a_minus) * sm);
        let (c_plus, c_minus) = (sp * m_minus, -sm * m_plus);
        a_plus.iter_mut().for_each(|v| *v *= c_plus);
        a_minus.iter_mut().for_each(|v| *v *= c_minus);
    }
    [s.plus, s.minus] = sides;
    s.logits = logit_buffer;
}

/// The proxy plan of one range of columns.
struct Plan<'a, T> {
    /// `ℓ_ij`, `N × cols`.
    logits: &'a [T],
    cols: usize,
    range: Range<usize>,
    /// The rows and the range's columns are the same points with the same weights.
    symmetric: bool,
}

impl<T: Real> Plan<'_, T> {
    /// Writes `work_ij = exp(g_j + ℓ_ij − top_i)` over the range and `scales_i = exp(f_i + top_i)`,
    /// so that `A_ij = scales_i · work_ij` there; `s.rel_a`, `s.rel_b` hold the relative weights.
    #[inline(always)]
    fn write(&self, s: &mut ProxyScratch<T>, work: &mut [T], scales: &mut [T]) {
        let (n, cols, range) = (s.rel_a.len(), self.cols, self.range.clone());
        let half = T::of(0.5);
        // f_i = ½ (ã_i − LSE_j(b̃_j + ℓ_ij)).
        let f = sized(&mut s.f, n);
        self.row_exponentials(&s.rel_b, work, f);
        for (i, fi) in f.iter_mut().enumerate() {
            let lse = *fi + lane_sum(&work[i * cols + range.start..i * cols + range.end]).ln();
            *fi = half * scaling(s.rel_a[i], lse);
        }
        // g_j = ½ (b̃_j − LSE_i(ã_i + ℓ_ij)).
        let g = sized(&mut s.g, range.len());
        if self.symmetric {
            g.copy_from_slice(f);
        } else {
            let top = sized(&mut s.top, range.len());
            top.fill(T::neg_infinity());
            for i in 0..n {
                let at = i * cols + range.start..i * cols + range.end;
                let (src, dst) = (&self.logits[at.clone()], &mut work[at]);
                for ((o, l), c) in dst.iter_mut().zip(src).zip(top.iter_mut()) {
                    *o = *l + s.rel_a[i];
                    *c = c.max(*o);
                }
            }
            top.iter_mut().for_each(|v| *v = shift_of(*v));
            for i in 0..n {
                let dst = &mut work[i * cols + range.start..i * cols + range.end];
                dst.iter_mut().zip(top.iter()).for_each(|(v, c)| *v -= *c);
            }
            self.exp_range(work, n);
            g.fill(T::zero());
            for i in 0..n {
                let src = &work[i * cols + range.start..i * cols + range.end];
                g.iter_mut().zip(src).for_each(|(c, v)| *c += *v);
            }
            for ((gj, c), b) in g.iter_mut().zip(top.iter()).zip(&s.rel_b) {
                *gj = half * scaling(*b, *c + gj.ln());
            }
        }
        // A_ij = exp(f_i + top_i) · exp(g_j + ℓ_ij − top_i).
        self.row_exponentials(g, work, scales);
        scales
            .iter_mut()
            .zip(f.iter())
            .for_each(|(v, fi)| *v = (*fi + *v).exp());
    }

    /// `work_ij = exp(w_j + ℓ_ij − top_i)` over the range, with `top_i` the row's largest (into
    /// `tops`; `0` for a row of `−∞`), so that `LSE_j(w_j + ℓ_ij) = top_i + ln Σ_j work_ij`.
    #[inline(always)]
    fn row_exponentials(&self, w: &[T], work: &mut [T], tops: &mut [T]) {
        let (cols, range) = (self.cols, self.range.clone());
        for (i, top) in tops.iter_mut().enumerate() {
            let at = i * cols + range.start..i * cols + range.end;
            let (src, dst) = (&self.logits[at.clone()], &mut work[at]);
            let mut largest = T::neg_infinity();
            for ((o, l), wj) in dst.iter_mut().zip(src).zip(w) {
                *o = *l + *wj;
                largest = largest.max(*o);
            }
            *top = shift_of(largest);
            dst.iter_mut().for_each(|v| *v -= *top);
        }
        self.exp_range(work, tops.len());
    }

    /// `exp` over the range of the first `n` rows (one call when it spans whole rows).
    #[inline(always)]
    fn exp_range(&self, work: &mut [T], n: usize) {
        let (cols, range) = (self.cols, self.range.clone());
        if range.len() == cols {
            T::exp_in_place(&mut work[..n * cols]);
        } else {
            for i in 0..n {
                T::exp_in_place(&mut work[i * cols + range.start..i * cols + range.end]);
            }
        }
    }
}
