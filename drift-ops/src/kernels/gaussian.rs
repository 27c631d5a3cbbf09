//! The Gaussian kernel `ℓ = −‖x − y‖²/τ`.

use drift_api::Real;
use serde::{Deserialize, Serialize};

/// Gaussian kernel: `log k(x, y) = −‖x − y‖² / τ`, so `τ = 2σ²` (and `τ = 2ε` in GeomLoss' `p = 2`
/// convention `C = ½‖x − y‖²`).
///
/// RON name `gaussian`: `kernel: {"gaussian": ()}`.
///
/// ```
/// use drift_api::Kernel;
/// let mut d2 = [4.0f32];
/// drift_ops::Gaussian.log_weight_f32(&mut d2, 2.0);
/// assert_eq!(d2[0], -2.0);
/// ```
#[derive(Clone, Copy, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Gaussian;

impl Gaussian {
    /// `ℓ = −d²/τ` in either precision.
    fn log_weight<T: Real>(&self, sq_dist: &mut [T], tau: T) {
        let inv = T::one() / tau;
        sq_dist.iter_mut().for_each(|v| *v = -*v * inv);
    }
}

drift_api::kernel!(
    Gaussian = "gaussian",
    summary: "Gaussian kernel: log k = -|x - y|^2 / tau (tau = 2 sigma^2)",
    params: "",
    example: r#"()"#,
    impl {
        drift_api::log_weight_in_both_precisions!(log_weight);
        fn decreases_with_distance(&self) -> bool {
            true
        }
        fn temperature_scale(&self, distance: f64) -> f64 {
            distance * distance
        }
        fn cuda_log_weight(&self) -> Option<String> {
            Some("-d2 / tau".into())
        }
    }
);
