//! He et al.'s Sinkhorn drift: full two-sided scaling on both terms.

use super::defaults::gaussian;
use crate::couplings::Sinkhorn;
use crate::engine::cross_minus_self;
use crate::engine::TermRef;
use drift_api::{DriftProblem, DriftReport, Kernel, Real, Result};
use serde::{Deserialize, Serialize};

/// Sinkhorn drift (He et al., Sinkhorn drifting): the balanced Sinkhorn plan of `X × Y`, row-normalised,
/// for the attraction, and the symmetric Sinkhorn plan of `X × X` (unmasked) for the repulsion;
/// `V_i = bar⁺_i − bar⁻_i`. Zero at `X = Y` (definiteness), stable at low temperature, and at small `τ`
/// it tends to the optimal-transport displacement `T(x) − x`, sending mass to uncovered modes.
///
/// RON name `sinkhorn_drift` (`kernel` defaults to Gaussian; `sinkhorn` is a [`crate::Sinkhorn`]
/// without its name):
/// `{"sinkhorn_drift": (temperature: 0.05, kernel: {"gaussian": ()}, sinkhorn: (max_iters: 50, tol: 1e-5))}`.
///
/// ```
/// use drift_api::PointCloud;
/// let op = drift_ops::SinkhornDrift::new(0.1);
/// let x = PointCloud::new("x", vec![0.0f64, 0.1], 1).unwrap();
/// let y = PointCloud::new("y", vec![0.0f64, 3.0], 1).unwrap();
/// let (v, report) = drift_ops::drift(&op, &x, &y).unwrap();
/// // Balanced transport: the particle nearer the far mode goes there.
/// assert!(v[1] > 2.0);
/// assert!(report.couplings.iter().all(|c| c.converged));
/// ```
#[derive(Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SinkhornDrift {
    /// Kernel (default Gaussian).
    #[serde(default = "gaussian")]
    pub kernel: Box<dyn Kernel>,
    /// Temperature `τ > 0`.
    pub temperature: f64,
    /// Sinkhorn solver settings, shared by both terms.
    #[serde(default)]
    pub sinkhorn: Sinkhorn,
}

impl SinkhornDrift {
    /// Gaussian kernel, default solver settings.
    pub fn new(temperature: f64) -> Self {
        SinkhornDrift {
            kernel: gaussian(),
            temperature,
            sinkhorn: Sinkhorn::default(),
        }
    }

    fn term(&self) -> TermRef<'_> {
        TermRef::mean(self.kernel.as_ref(), &self.sinkhorn, self.temperature)
    }

    fn run<T: Real>(&self, p: DriftProblem<'_, T>) -> Result<DriftReport> {
        let t = self.term();
        cross_minus_self(p, "sinkhorn_drift", t, t, false, &crate::Unit)
    }
}

impl SinkhornDrift {
    /// Validates the whole parameter tree of this operator.
    fn check(&self) -> Result<()> {
        self.term().validate("sinkhorn_drift")
    }
}

drift_api::operator!(
    SinkhornDrift = "sinkhorn_drift",
    summary: "He et al. Sinkhorn drift: balanced Sinkhorn plans on both terms",
    params: "temperature: f64, kernel: Kernel = gaussian, sinkhorn: (max_iters, tol, epsilon_scaling, warm_start)",
    example: r#"(temperature: 0.05, kernel: {"gaussian": ()}, sinkhorn: (max_iters: 50, tol: 1e-5))"#
);
