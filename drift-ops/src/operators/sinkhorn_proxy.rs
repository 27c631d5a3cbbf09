//! The split two-sided Sinkhorn proxy drift.

use super::defaults::gaussian;
use crate::couplings::TwoSidedProxy;
use crate::engine::cross_minus_self;
use crate::engine::TermRef;
use drift_api::batch::BatchProblem;
use drift_api::{BatchReport, DriftProblem, DriftReport, Kernel, Real, Result};
use serde::{Deserialize, Serialize};

/// Split Sinkhorn proxy (the two-sided baseline analysed by Gretton et al.): the proxy plan
/// `sqrt(softmax_row ⊙ softmax_col)` on `X × Y` for the attraction and on `X × X` for the repulsion,
/// `V_i = m⁺_i m⁻_i (bar⁺_i − bar⁻_i)` with `m±` the two plans' row masses. Consistent (`V = 0` at
/// `X = Y`) with the unmasked repulsion diagonal, the default. It does not move mass between well-separated
/// modes: a far, uncovered mode stays empty. On a batch of problems (Gaussian or Laplace kernel),
/// alone or under `feature_scale` / `multi_temperature` / `guidance`, it runs on a fused batched
/// path (`crate::batched::proxy`).
///
/// RON name `sinkhorn_proxy` (`kernel` defaults to Gaussian, `mask_self` to `false`):
/// `{"sinkhorn_proxy": (temperature: 0.05, kernel: {"gaussian": ()}, mask_self: false)}`.
///
/// ```
/// use drift_api::PointCloud;
/// let op = drift_ops::SinkhornProxy::new(0.5);
/// let x = PointCloud::new("x", vec![0.0f64, 1.0, 2.0], 1).unwrap();
/// let (v, _) = drift_ops::drift(&op, &x, &x).unwrap();
/// assert!(v.iter().all(|vi| vi.abs() < 1e-12));
/// ```
#[derive(Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SinkhornProxy {
    /// Kernel (default Gaussian).
    #[serde(default = "gaussian")]
    pub kernel: Box<dyn Kernel>,
    /// Temperature `τ > 0`.
    pub temperature: f64,
    /// Mask `j = i` in the repulsion (default false).
    #[serde(default)]
    pub mask_self: bool,
}

impl SinkhornProxy {
    /// Gaussian kernel, unmasked repulsion diagonal.
    pub fn new(temperature: f64) -> Self {
        SinkhornProxy {
            kernel: gaussian(),
            temperature,
            mask_self: false,
        }
    }

    fn term(&self) -> TermRef<'_> {
        TermRef::mean(self.kernel.as_ref(), &TwoSidedProxy, self.temperature)
    }

    fn run<T: Real>(&self, p: DriftProblem<'_, T>) -> Result<DriftReport> {
        let t = self.term();
        cross_minus_self(
            p,
            "sinkhorn_proxy",
            t,
            t,
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

impl SinkhornProxy {
    /// Validates the whole parameter tree of this operator.
    fn check(&self) -> Result<()> {
        self.term().validate("sinkhorn_proxy")
    }
}

drift_api::operator!(
    SinkhornProxy = "sinkhorn_proxy",
    batched,
    summary: "Split two-sided Sinkhorn proxy on X x Y and X x X, weighted by row masses",
    params: "temperature: f64, kernel: Kernel = gaussian, mask_self: bool = false",
    example: r#"(temperature: 0.05, kernel: {"gaussian": ()}, mask_self: false)"#
);
