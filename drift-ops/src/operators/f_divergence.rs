//! The Wasserstein gradient flow of an f-divergence between Parzen densities.

use super::defaults::gaussian;
use crate::couplings::RowNormalised;
use crate::engine::cross_minus_self;
use crate::engine::TermRef;
use crate::weightings::{FDivergenceKind, FDivergenceWeighting};
use drift_api::{DriftProblem, DriftReport, Kernel, Real, Result};
use serde::{Deserialize, Serialize};

/// KDE f-divergence drift: the Wasserstein gradient flow of `D_f(q‖p)` with Parzen estimates
/// `q̂` (particles) and `p̂` (data). Its velocity is `r f''(r) (∇log p̂ − ∇log q̂)`, so
/// `V_i = r_i f''(r_i) (bar⁺_i − bar⁻_i)` with `r_i = q̂(x_i)/p̂(x_i) = exp(lse⁻_i − lse⁺_i)`. KL gives
/// the score difference; reverse KL (`1/r`), χ² (`2r`), Jensen–Shannon (`1/(1 + r)`) and squared
/// Hellinger (`½ r^{−1/2}`) reweight particles by how over- or under-represented they are.
///
/// RON name `f_divergence` (`kernel` defaults to Gaussian, `mask_self` to `false`):
/// `{"f_divergence": (divergence: jensen_shannon, temperature: 0.1)}`.
///
/// ```
/// use drift_api::PointCloud;
/// use drift_ops::{FDivergence, FDivergenceKind};
/// let op = FDivergence::new(FDivergenceKind::JensenShannon, 0.5);
/// let x = PointCloud::new("x", vec![0.0f64, 0.2], 1).unwrap();
/// let y = PointCloud::new("y", vec![1.0f64, 1.2], 1).unwrap();
/// let (v, _) = drift_ops::drift(&op, &x, &y).unwrap();
/// assert!(v.iter().all(|c| *c > 0.0));
/// ```
#[derive(Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FDivergence {
    /// Which f-divergence.
    pub divergence: FDivergenceKind,
    /// Parzen kernel (default Gaussian).
    #[serde(default = "gaussian")]
    pub kernel: Box<dyn Kernel>,
    /// Temperature `τ > 0` of the Parzen kernel.
    pub temperature: f64,
    /// Leave each particle out of its own density estimate (default false).
    #[serde(default)]
    pub mask_self: bool,
}

impl FDivergence {
    /// Gaussian Parzen kernel, self included.
    pub fn new(divergence: FDivergenceKind, temperature: f64) -> Self {
        FDivergence {
            divergence,
            kernel: gaussian(),
            temperature,
            mask_self: false,
        }
    }

    fn term(&self) -> TermRef<'_> {
        TermRef::mean(self.kernel.as_ref(), &RowNormalised, self.temperature)
    }

    fn run<T: Real>(&self, p: DriftProblem<'_, T>) -> Result<DriftReport> {
        let t = self.term();
        let weighting = FDivergenceWeighting {
            divergence: self.divergence,
        };
        cross_minus_self(p, "f_divergence", t, t, self.mask_self, &weighting)
    }
}

impl FDivergence {
    /// Validates the whole parameter tree of this operator.
    fn check(&self) -> Result<()> {
        self.term().validate("f_divergence")
    }
}

drift_api::operator!(
    FDivergence = "f_divergence",
    summary: "Wasserstein gradient flow of an f-divergence between Parzen densities",
    params: "divergence: kl|reverse_kl|chi_squared|jensen_shannon|squared_hellinger, temperature: f64, kernel: Kernel = gaussian, mask_self: bool = false",
    example: r#"(divergence: jensen_shannon, temperature: 0.1)"#
);
