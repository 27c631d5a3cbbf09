//! The one-sided drift of one problem on the fused batched path (Deng et al., Eq. 8–11):
//! `V_i = bar⁺_i − bar⁻_i` with row-softmax plans over the columns `[Y | X; negatives]`, from the
//! problem's kernel distances shared by every temperature.
//!
//! Per row, the logits `−k_ij · inv + log w_j` of both blocks are exponentiated in one pass
//! (shifted by each block's largest), and the field is the product `[P⁺ | −P⁻] · [Y; X; neg]`
//! with `P±` the two blocks' row-normalised plans (the masked diagonal gets no mass): this file
//! writes the coefficients `[P⁺ | −P⁻]`, the caller multiplies every temperature's at once.

use super::lanes::lane_sum;
use super::sinkhorn::shift_of;
use drift_api::Real;

/// One problem's one-sided field at one temperature.
pub(super) struct OneSidedTerm<'a, T> {
    /// Kernel distances (`d` for Laplace, `d²` for Gaussian), `N × (M + N + K)`.
    pub kd: &'a [T],
    /// Column log-weights: `log b` over `Y`, then the repulsion's shares over `X` and negatives.
    pub log_w: &'a [T],
    /// Columns of the attraction block (`M`).
    pub m: usize,
    /// Mask `j = i` in the `X` block.
    pub mask_self: bool,
    /// `1/τ` in the kernel distances' units.
    pub inv: T,
}

/// Writes the coefficients `[P⁺ | −P⁻]` (`N × (M + N + K)`) of `V = bar⁺ − bar⁻` into `p`.
#[inline(always)]
pub(super) fn one_sided_coefficients<T: Real>(t: &OneSidedTerm<'_, T>, n: usize, p: &mut [T]) {
    let cols = t.log_w.len();
    let p = &mut p[..n * cols];
    logits_into(
        t.kd,
        cols,
        Some(t.log_w),
        t.inv,
        t.mask_self.then_some(t.m),
        p,
    );
    for row in p.chunks_exact_mut(cols) {
        let (plus, minus) = row.split_at_mut(t.m);
        for block in [plus, minus] {
            let shift = shift_of(block.iter().fold(T::neg_infinity(), |a, v| a.max(*v)));
            block.iter_mut().for_each(|v| *v -= shift);
        }
    }
    T::exp_nonpositive_in_place(p);
    for row in p.chunks_exact_mut(cols) {
        let (plus, minus) = row.split_at_mut(t.m);
        let inv_plus = T::one() / lane_sum(plus);
        let inv_minus = -T::one() / lane_sum(minus);
        plus.iter_mut().for_each(|v| *v *= inv_plus);
        minus.iter_mut().for_each(|v| *v *= inv_minus);
    }
}

/// `log w_j − kd_ij · inv` (`log w` taken as 0 when `None`) into `dst` (`N × cols`), with the
/// diagonal of the `X` block, which starts at column `mask`, at `−∞` when asked: the logits the
/// fused leaves start from.
#[inline(always)]
pub(super) fn logits_into<T: Real>(
    kd: &[T],
    cols: usize,
    log_w: Option<&[T]>,
    inv: T,
    mask: Option<usize>,
    dst: &mut [T],
) {
    for (i, (o, k)) in dst
        .chunks_exact_mut(cols)
        .zip(kd.chunks_exact(cols))
        .enumerate()
    {
        match log_w {
            Some(w) => {
                for ((o, k), w) in o.iter_mut().zip(k).zip(w) {
                    *o = *w - *k * inv;
                }
            }
            None => o.iter_mut().zip(k).for_each(|(o, k)| *o = -*k * inv),
        }
        if let Some(m) = mask {
            o[m + i] = T::neg_infinity();
        }
    }
}
