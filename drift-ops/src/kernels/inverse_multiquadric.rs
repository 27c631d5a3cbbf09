//! The inverse multiquadric kernel `k = (1 + ‖x − y‖²/τ)^(−β)`, heavy-tailed.

use drift_api::{check_param, Real, Result};
use serde::{Deserialize, Serialize};

/// Inverse multiquadric kernel: `log k(x, y) = −β · log(1 + ‖x − y‖² / τ)`.
///
/// `β = 1/2` is the classic IMQ, `β = 1` the Cauchy kernel, and `β = (ν + D)/2` with `τ = ν·s²` a
/// Student-t. Its polynomial tails keep far modes visible at temperatures where the Gaussian has
/// already decayed to nothing.
///
/// RON name `inverse_multiquadric`: `kernel: {"inverse_multiquadric": (beta: 0.5)}` (`beta`
/// defaults to `0.5`).
///
/// ```
/// use drift_api::Kernel;
/// let mut d2 = [3.0f64];
/// drift_ops::InverseMultiquadric { beta: 0.5 }.log_weight_f64(&mut d2, 1.0);
/// assert!((d2[0] + 0.5 * 4f64.ln()).abs() < 1e-15);
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct InverseMultiquadric {
    /// Exponent `β > 0`.
    #[serde(default = "half")]
    pub beta: f64,
}

fn half() -> f64 {
    0.5
}

impl Default for InverseMultiquadric {
    fn default() -> Self {
        InverseMultiquadric { beta: 0.5 }
    }
}

impl InverseMultiquadric {
    /// `ℓ = −β ln(1 + d²/τ)` in either precision.
    fn log_weight<T: Real>(&self, sq_dist: &mut [T], tau: T) {
        let (inv, beta) = (T::one() / tau, T::of(self.beta));
        sq_dist
            .iter_mut()
            .for_each(|v| *v = -beta * (*v * inv).ln_1p());
    }
}

drift_api::kernel!(
    InverseMultiquadric = "inverse_multiquadric",
    summary: "Inverse multiquadric: log k = -beta log(1 + |x - y|^2 / tau), heavy tails",
    params: "beta: f64 = 0.5",
    example: r#"(beta: 0.5)"#,
    impl {
        drift_api::log_weight_in_both_precisions!(log_weight);
        fn decreases_with_distance(&self) -> bool {
            true
        }
        fn temperature_scale(&self, distance: f64) -> f64 {
            distance * distance / (1.0 / self.beta).exp_m1()
        }
        fn validate(&self) -> Result<()> {
            check_param(
                "inverse_multiquadric.beta",
                self.beta,
                self.beta > 0.0,
                "> 0",
            )
        }
        fn cuda_log_weight(&self) -> Option<String> {
            Some(format!("-({:e}) * log1p(d2 / tau)", self.beta))
        }
    }
);
