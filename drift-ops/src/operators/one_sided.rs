//! Deng et al.'s one-sided drift (Eq. 8–11).

use super::defaults::{laplace, yes};
use crate::couplings::RowNormalised;
use crate::engine::cross_minus_self;
use crate::engine::TermRef;
use drift_api::batch::BatchProblem;
use drift_api::{BatchReport, DriftProblem, DriftReport, Kernel, Real, Result};
use serde::{Deserialize, Serialize};

/// One-sided drift (Deng et al., Eq. 8–11): `V_i = bar⁺_i − bar⁻_i` with row-softmax plans,
/// `bar⁺_i = Σ_j softmax_j(ℓ(x_i, y_j) + log b_j) y_j` and `bar⁻_i` the same over `X` with the diagonal
/// masked. Not exactly zero when `X = Y` on finite samples when masked (the mask breaks the symmetry);
/// at low temperature it collapses to nearest-neighbour forces.
///
/// RON name `one_sided` (`kernel` defaults to Laplace, `mask_self` to `true`):
/// `{"one_sided": (temperature: 0.05, kernel: {"laplace": ()}, mask_self: true)}`.
///
/// ```
/// use drift_api::PointCloud;
/// let op = drift_ops::OneSided::new(0.5);
/// let x = PointCloud::new("x", vec![0.0f32, 0.0, 1.0, 0.0], 2).unwrap();
/// let y = PointCloud::new("y", vec![3.0f32, 0.0, 3.0, 1.0], 2).unwrap();
/// let (v, _) = drift_ops::drift(&op, &x, &y).unwrap();
/// assert!(v[0] > 0.0 && v[2] > 0.0); // both particles move toward the data on the right
/// ```
#[derive(Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OneSided {
    /// Kernel (default Laplace).
    #[serde(default = "laplace")]
    pub kernel: Box<dyn Kernel>,
    /// Temperature `τ > 0`.
    pub temperature: f64,
    /// Mask `j = i` in the repulsion (default true, as in the paper).
    #[serde(default = "yes")]
    pub mask_self: bool,
}

impl OneSided {
    /// The paper's form: Laplace kernel, masked repulsion diagonal.
    pub fn new(temperature: f64) -> Self {
        OneSided {
            kernel: laplace(),
            temperature,
            mask_self: true,
        }
    }

    fn term(&self) -> TermRef<'_> {
        TermRef::mean(self.kernel.as_ref(), &RowNormalised, self.temperature)
    }

    fn run<T: Real>(&self, p: DriftProblem<'_, T>) -> Result<DriftReport> {
        let t = self.term();
        cross_minus_self(p, "one_sided", t, t, self.mask_self, &crate::Unit)
    }

    /// A batch on the fused path (`crate::batched::fused`: distances once per problem for every
    /// temperature of a `multi_temperature` around it), else problem by problem.
    fn run_batch<T: Real>(&self, p: BatchProblem<'_, T>) -> Result<BatchReport> {
        crate::batched::fused::run_or_default(self, p)
    }
}

impl OneSided {
    /// Validates the whole parameter tree of this operator.
    fn check(&self) -> Result<()> {
        self.term().validate("one_sided")
    }
}

drift_api::operator!(
    OneSided = "one_sided",
    batched,
    summary: "Deng et al. one-sided drift: row-softmax barycentres, masked repulsion diagonal",
    params: "temperature: f64, kernel: Kernel = laplace, mask_self: bool = true",
    example: r#"(temperature: 0.05, kernel: {"laplace": ()}, mask_self: true)"#
);
