//! The score-difference drift of Parzen densities (Turan & Ovsjanikov).

use crate::couplings::RowNormalised;
use crate::engine::cross_minus_self;
use crate::engine::TermRef;
use crate::kernels::Gaussian;
use drift_api::{check_temperature, DriftProblem, DriftReport, Real, Result};
use serde::{Deserialize, Serialize};

/// Score difference: `V(x) = σ² (∇log p_σ(x) − ∇log q_σ(x))` with `p_σ`, `q_σ` the Gaussian Parzen
/// densities of the data and of the particles (bandwidth `σ`, temperature `τ = 2σ²`). Since
/// `σ² ∇log p_σ(x) = bar⁺(x) − x` for the kernel `exp(−‖x − y‖²/τ)`, this is exactly
/// `V_i = bar⁺_i − bar⁻_i` with row-softmax Gaussian plans, repulsion diagonal unmasked (the Parzen estimate
/// includes the particle itself). Consistent: zero at `X = Y`. Anneal the bandwidth with the
/// `annealed` composition.
///
/// RON name `score_difference`: `{"score_difference": (temperature: 0.1)}`.
///
/// ```
/// use drift_api::PointCloud;
/// let op = drift_ops::ScoreDifference::new(0.5);
/// let x = PointCloud::new("x", vec![0.0f64, 1.0], 1).unwrap();
/// let (v, _) = drift_ops::drift(&op, &x, &x).unwrap();
/// assert!(v.iter().all(|c| c.abs() < 1e-15));
/// ```
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ScoreDifference {
    /// Temperature `τ = 2σ²` of the Gaussian Parzen kernel.
    pub temperature: f64,
}

impl ScoreDifference {
    /// The score difference at temperature `τ = 2σ²`.
    pub fn new(temperature: f64) -> Self {
        ScoreDifference { temperature }
    }

    fn term(&self) -> TermRef<'static> {
        TermRef::mean(&Gaussian, &RowNormalised, self.temperature)
    }

    fn run<T: Real>(&self, p: DriftProblem<'_, T>) -> Result<DriftReport> {
        let t = self.term();
        cross_minus_self(p, "score_difference", t, t, false, &crate::Unit)
    }
}

impl ScoreDifference {
    /// Validates the whole parameter tree of this operator.
    fn check(&self) -> Result<()> {
        check_temperature("score_difference.temperature", self.temperature)
    }
}

drift_api::operator!(
    ScoreDifference = "score_difference",
    summary: "Score difference of Gaussian Parzen densities, sigma^2 (grad log p - grad log q)",
    params: "temperature: f64 (= 2 sigma^2)",
    example: r#"(temperature: 0.1)"#
);
