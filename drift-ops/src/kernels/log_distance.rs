//! A utility log-weight `ℓ = log(‖x − y‖/τ)`: reductions with it sum distances.

use drift_api::Kernel;
use serde::{Deserialize, Serialize};

/// `exp(ℓ) = ‖x − y‖/τ`. Not a similarity kernel: it grows with distance. With it the fused
/// reduction computes `log Σ_j b_j ‖x_i − y_j‖` in `O((N + M)·D)` memory, which the feature-scale
/// composition uses for the mean pairwise distance (and which gives energy distances).
///
/// RON name `log_distance`: `kernel: {"log_distance": ()}`.
///
/// ```
/// use drift_api::Kernel;
/// let mut d2 = [9.0f64, 0.0];
/// drift_ops::LogDistance.log_weight_f64(&mut d2, 1.0);
/// assert!((d2[0] - 3f64.ln()).abs() < 1e-15 && d2[1] == f64::NEG_INFINITY);
/// ```
#[derive(Clone, Copy, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LogDistance;

#[typetag::serde(name = "log_distance")]
impl Kernel for LogDistance {
    fn log_weight_f64(&self, sq_dist: &mut [f64], tau: f64) {
        let shift = tau.ln();
        sq_dist.iter_mut().for_each(|v| *v = 0.5 * v.ln() - shift);
    }
    fn log_weight_f32(&self, sq_dist: &mut [f32], tau: f32) {
        let shift = tau.ln();
        sq_dist.iter_mut().for_each(|v| *v = 0.5 * v.ln() - shift);
    }
    fn cuda_log_weight(&self) -> Option<String> {
        Some("0.5 * log(d2) - log(tau)".into())
    }
}

drift_api::register!(
    Kernel,
    "log_distance",
    summary: "Utility log-weight log(|x - y| / tau): reductions with it sum distances",
    params: "",
    example: r#"{"log_distance": ()}"#
);
