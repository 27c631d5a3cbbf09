//! Every temperature's field of one problem on the fused batched path: each leaf writes its
//! coefficients `C` (`N × columns`, such that the field is `C · columns`), and one product
//! `[C_1; …; C_R] · columns` forms them all.

use super::lanes::{sized, with_avx2_copy};
use super::mmd::{mmd_coefficients, MmdTerm};
use super::one_sided::{one_sided_coefficients, OneSidedTerm};
use super::plan::Leaf;
use super::prepared::Prepared;
use super::proxy::{proxy_coefficients, ProxyTerm};
use super::sinkhorn::{transport, Stop, Term};
use crate::dense::{matmul, View};
use drift_api::{CouplingReport, Real, Result};

/// One temperature's coefficients `C` (`N × columns`) of one problem into `coeff`, such that its
/// field (`N × D`, data units) is `C · columns` ([`Prepared::fields`]): `shape` is
/// `(N, M, columns, D)`, `kd` the kernel distances to the columns, `inv_tau` `1/τ` in their units,
/// `gain` the leaf's factor in data units (MMD's gradient scale). Returns whether the leaf wrote
/// a factor per row into `row_scale` (`N`) by which the product's rows are to be multiplied.
#[inline(always)]
fn coefficients_body<T: Real>(
    leaf: Leaf,
    s: &mut Prepared<T>,
    kd: &[T],
    (n, m, stride, _): (usize, usize, usize, usize),
    (inv_tau, gain): (T, T),
    (coeff, row_scale): (&mut [T], &mut [T]),
    couplings: &mut Vec<CouplingReport>,
) -> Result<bool> {
    match leaf {
        Leaf::Sinkhorn {
            max_iters,
            tol,
            particles,
        } => {
            let stop = Stop { max_iters, tol };
            let terms = ["attraction", "repulsion"];
            // The repulsion's columns: the particles (their own plan is the symmetric loop's
            // unless negatives join them), or the second generated batch.
            let repulsion = match particles {
                true => (&s.log_w[m..], s.log_n.is_empty()),
                false => (&s.log_n[..], false),
            };
            let halves = [
                (&s.log_b[..], 0, T::one(), false),
                (repulsion.0, m, -T::one(), repulsion.1),
            ];
            for ((log_b, first, sign, symmetric), term_name) in halves.into_iter().zip(terms) {
                let term = Term {
                    log_a: &s.log_a,
                    log_b,
                    sq: kd,
                    stride,
                    first,
                    inv_tau,
                    symmetric,
                };
                let (iterations, error) = transport(&term, stop, &mut s.terms, coeff, sign)?;
                // What the general path's Sinkhorn coupling reports, so that a batch's
                // unconverged problems and worst marginal error show on this path too.
                couplings.push(CouplingReport {
                    coupling: "sinkhorn".into(),
                    term: term_name.into(),
                    iterations,
                    marginal_error: Some(error),
                    converged: error <= tol,
                    path: None,
                });
            }
        }
        Leaf::OneSided { mask_self } => {
            let term = OneSidedTerm {
                kd,
                log_w: &s.log_w,
                m,
                mask_self,
                inv: inv_tau,
            };
            one_sided_coefficients(&term, n, coeff);
        }
        Leaf::Joint { mask_self } | Leaf::Proxy { mask_self } => {
            let term = ProxyTerm {
                kd,
                log_a: &s.log_a,
                log_w: &s.log_w,
                m,
                mask_self,
                inv: inv_tau,
                joint: matches!(leaf, Leaf::Joint { .. }),
            };
            proxy_coefficients(&term, &mut s.proxy, coeff);
        }
        Leaf::Mmd => {
            let term = MmdTerm {
                kd,
                log_w: &s.log_w,
                m,
                inv: inv_tau,
                gain,
            };
            mmd_coefficients(&term, n, coeff, row_scale);
            return Ok(true);
        }
    }
    Ok(false)
}

with_avx2_copy! {
    /// [`coefficients_body`], in its AVX2+FMA copy where the CPU has it (the logits, shifts and
    /// normalisations are elementwise passes over the `N × columns` block).
    fn leaf_coefficients / leaf_coefficients_avx2_fma = coefficients_body(
        leaf: Leaf,
        s: &mut Prepared<T>,
        kd: &[T],
        shape: (usize, usize, usize, usize),
        scales: (T, T),
        out: (&mut [T], &mut [T]),
        couplings: &mut Vec<CouplingReport>
    ) -> Result<bool>
}

/// Every temperature's coefficients of one problem, stacked: `R` blocks of `N × columns`.
pub(super) struct Stacked<'a, T> {
    /// The leaf.
    pub leaf: Leaf,
    /// The kernel distances to the columns (`N × columns`).
    pub kd: &'a [T],
    /// `(N, M, columns, D)`.
    pub shape: (usize, usize, usize, usize),
    /// `1/τ` per temperature, in the kernel distances' units.
    pub inv_taus: &'a [T],
    /// The leaf's factor per temperature in data units (MMD's `2/τ`; unused by the others).
    pub gains: &'a [T],
}

impl<T: Real> Prepared<T> {
    /// Every temperature's field of the problem (`R × N × D`, data units) into `g`: the
    /// coefficients of each temperature, then one product `[C_1; …; C_R] · columns` (the
    /// product's shape is then `R·N × columns × D`, which the `gemm` kernels run near their
    /// peak, where one product per temperature ran a third as tall).
    pub(super) fn fields(
        &mut self,
        t: &Stacked<'_, T>,
        g: &mut [T],
        couplings: &mut Vec<CouplingReport>,
    ) -> Result<()> {
        let (n, _, stride, dim) = t.shape;
        let rows = n * t.inv_taus.len();
        let (mut coeff, mut row_scales) = (
            std::mem::take(&mut self.coeff),
            std::mem::take(&mut self.row_scales),
        );
        let c = sized(&mut coeff, rows * stride);
        let r = sized(&mut row_scales, rows);
        let mut outcome = Ok(false);
        let blocks = c.chunks_exact_mut(n * stride).zip(r.chunks_exact_mut(n));
        for ((out, inv_tau), gain) in blocks.zip(t.inv_taus).zip(t.gains) {
            let scales = (*inv_tau, *gain);
            outcome = leaf_coefficients(t.leaf, self, t.kd, t.shape, scales, out, couplings);
            if outcome.is_err() {
                break;
            }
        }
        if let Ok(scaled) = outcome {
            matmul(
                g,
                dim,
                false,
                View::new(c, rows, stride),
                View::new(&self.columns, stride, dim),
                false,
                T::one(),
            );
            if scaled {
                for (row, scale) in g.chunks_exact_mut(dim).zip(r.iter()) {
                    row.iter_mut().for_each(|v| *v *= *scale);
                }
            }
        }
        (self.coeff, self.row_scales) = (coeff, row_scales);
        outcome.map(|_| ())
    }
}
