//! Deng et al.'s Algorithm 2: the joint two-sided normalisation, exactly as in the paper.

use super::defaults::{laplace, yes};
use crate::couplings::TwoSidedProxy;
use crate::engine::joint;
use crate::engine::TermRef;
use drift_api::batch::BatchProblem;
use drift_api::{BatchReport, DriftProblem, DriftReport, Kernel, Real, Result};
use serde::{Deserialize, Serialize};

/// Deng et al. Algorithm 2 (the paper's form): `logit = [ℓ(x, Y) | ℓ(x, X)]` with the self diagonal
/// masked, `A = sqrt(softmax_row(logit) ⊙ softmax_col(logit))`, `W_pos = A_pos · rowsum(A_neg)`,
/// `W_neg = A_neg · rowsum(A_pos)`, `V = W_pos Y − W_neg X`. In potential form
/// `V_i = s⁺_i s⁻_i (bar⁺_i − bar⁻_i)` with `s±` the row masses of the two blocks of the joint proxy
/// plan. The official JAX release's extras (a 1e-3 floor on `A`, a finite mask) are not applied.
///
/// RON name `deng_alg2` (`kernel` defaults to Laplace, `mask_self` to `true`):
/// `{"deng_alg2": (temperature: 0.05, kernel: {"laplace": ()}, mask_self: true)}`.
///
/// ```
/// use drift_api::PointCloud;
/// let op = drift_ops::DengAlg2::new(0.2);
/// let x = PointCloud::new("x", vec![0.0f64, 0.5], 1).unwrap();
/// let y = PointCloud::new("y", vec![2.0f64, 2.5, 3.0], 1).unwrap();
/// let (v, report) = drift_ops::drift(&op, &x, &y).unwrap();
/// assert!(v.iter().all(|vi| *vi > 0.0));
/// assert_eq!(report.operator, "deng_alg2");
/// ```
#[derive(Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DengAlg2 {
    /// Kernel (default Laplace, the paper's).
    #[serde(default = "laplace")]
    pub kernel: Box<dyn Kernel>,
    /// Temperature `τ > 0`.
    pub temperature: f64,
    /// Mask `j = i` in the self block (default true, as in the paper).
    #[serde(default = "yes")]
    pub mask_self: bool,
}

impl DengAlg2 {
    /// The paper's form: Laplace kernel, masked self block.
    pub fn new(temperature: f64) -> Self {
        DengAlg2 {
            kernel: laplace(),
            temperature,
            mask_self: true,
        }
    }

    fn term(&self) -> TermRef<'_> {
        TermRef::mean(self.kernel.as_ref(), &TwoSidedProxy, self.temperature)
    }

    fn run<T: Real>(&self, p: DriftProblem<'_, T>) -> Result<DriftReport> {
        joint(
            p,
            "deng_alg2",
            self.term(),
            self.mask_self,
            &crate::MassProduct,
        )
    }

    /// A batch on the fused path (`crate::batched::fused`: distances once per problem for every
    /// temperature of a `multi_temperature` around it), else problem by problem.
    fn run_batch<T: Real>(&self, p: BatchProblem<'_, T>) -> Result<BatchReport> {
        crate::batched::fused::run_or_default(self, p)
    }
}

impl DengAlg2 {
    /// Validates the whole parameter tree of this operator.
    fn check(&self) -> Result<()> {
        self.term().validate("deng_alg2")
    }
}

drift_api::operator!(
    DengAlg2 = "deng_alg2",
    batched,
    summary: "Deng et al. Algorithm 2: joint two-sided normalisation over [Y; X], the paper form",
    params: "temperature: f64, kernel: Kernel = laplace, mask_self: bool = true",
    example: r#"(temperature: 0.05, kernel: {"laplace": ()}, mask_self: true)"#
);
