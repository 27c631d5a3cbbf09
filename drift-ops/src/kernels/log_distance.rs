//! A utility log-weight `ℓ = log(‖x − y‖/τ)`: reductions with it sum distances.

use drift_api::Real;
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

impl LogDistance {
    /// `ℓ = ½ ln d² − ln τ` in either precision.
    fn log_weight<T: Real>(&self, sq_dist: &mut [T], tau: T) {
        let (half, shift) = (T::of(0.5), tau.ln());
        sq_dist.iter_mut().for_each(|v| *v = half * v.ln() - shift);
    }
}

drift_api::kernel!(
    LogDistance = "log_distance",
    summary: "Utility log-weight log(|x - y| / tau): reductions with it sum distances",
    params: "",
    example: r#"()"#,
    impl {
        drift_api::log_weight_in_both_precisions!(log_weight);
        fn cuda_log_weight(&self) -> Option<String> {
            Some("0.5 * log(d2) - log(tau)".into())
        }
    }
);
