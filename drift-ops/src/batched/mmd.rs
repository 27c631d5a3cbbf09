//! The MMD gradient drift of one problem on the fused batched path (Gaussian kernel), from the
//! problem's squared distances shared by every temperature.
//!
//! With the unnormalised plans `π_ij = w_j k_ij` over the columns `[Y | X; negatives]` (`log b`
//! over `Y`, the repulsion's shares over the rest, the diagonal included) and the gradient scale
//! `c = 2/τ`: `V_i = c Σ_{j∈Y} π_ij (y_j − x_i) − c Σ_{j∉Y} π_ij (t_j − x_i)`, the row masses
//! weighting each side's displacement (the `masses` weighting). As one product with the columns:
//! the coefficients `[c π⁺ | −c π⁻]`, the particle's own pair left out (its displacement is
//! zero), with the row's total `−Σ_j C_ij` at the particle's own column (`x_i` is column
//! `M + i`); each row shifted by its largest log-weight, the scale applied to the product's row.

use super::lanes::lane_sum;
use super::one_sided::logits_into;
use super::sinkhorn::shift_of;
use drift_api::Real;

/// One problem's MMD field at one temperature.
pub(super) struct MmdTerm<'a, T> {
    /// Squared distances, `N × (M + N + K)`.
    pub kd: &'a [T],
    /// Column log-weights: `log b` over `Y`, then the repulsion's shares over `X` and negatives.
    pub log_w: &'a [T],
    /// Columns of the attraction block (`M`).
    pub m: usize,
    /// `1/τ` in the squared distances' units.
    pub inv: T,
    /// The gradient scale `2/τ` in data units.
    pub gain: T,
}

/// Writes the coefficients of `V` (`N × (M + N + K)`) into `p`, each row divided by its scale
/// `c · exp(h_i)` (`h_i` the row's largest log-weight), which goes into `row_scale`: the caller
/// multiplies each row of the product by it, so that no coefficient is subnormal where a row's
/// plan is (far points at a low temperature: subnormal products run many times slower).
#[inline(always)]
pub(super) fn mmd_coefficients<T: Real>(
    t: &MmdTerm<'_, T>,
    n: usize,
    p: &mut [T],
    row_scale: &mut [T],
) {
    let cols = t.log_w.len();
    let p = &mut p[..n * cols];
    logits_into(t.kd, cols, Some(t.log_w), t.inv, None, p);
    for (i, (row, scale)) in p
        .chunks_exact_mut(cols)
        .zip(row_scale.iter_mut())
        .enumerate()
    {
        // The particle's own pair moves nothing (`x_i − x_i = 0`); left in, its mass would
        // cancel in the row's total, losing the digits of a field made of far smaller terms.
        row[t.m + i] = T::neg_infinity();
        let top = shift_of(row.iter().fold(T::neg_infinity(), |a, v| a.max(*v)));
        row.iter_mut().for_each(|v| *v -= top);
        *scale = t.gain * top.exp();
    }
    T::exp_nonpositive_in_place(p);
    for (i, row) in p.chunks_exact_mut(cols).enumerate() {
        let (plus, minus) = row.split_at_mut(t.m);
        minus.iter_mut().for_each(|v| *v = -*v);
        let total = lane_sum(plus) + lane_sum(minus);
        minus[i] -= total;
    }
}
