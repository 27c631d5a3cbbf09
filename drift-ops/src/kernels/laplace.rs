//! The Laplace kernel `ℓ = −‖x − y‖/τ` (Deng et al.'s default).

use drift_api::{math, Real};
use serde::{Deserialize, Serialize};

/// Laplace kernel: `log k(x, y) = −‖x − y‖ / τ` (plain, not squared, distance).
///
/// RON name `laplace`: `kernel: {"laplace": ()}`.
///
/// ```
/// use drift_api::Kernel;
/// let mut d2 = [4.0f64];
/// drift_ops::Laplace.log_weight_f64(&mut d2, 0.5);
/// assert_eq!(d2[0], -4.0);
/// ```
#[derive(Clone, Copy, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Laplace;

impl Laplace {
    /// `ℓ = −d/τ` in either precision (the square roots vectorised, exact).
    fn log_weight<T: Real>(&self, sq_dist: &mut [T], tau: T) {
        let inv = T::one() / tau;
        math::sqrt(sq_dist);
        sq_dist.iter_mut().for_each(|v| *v = -*v * inv);
    }
}

drift_api::kernel!(
    Laplace = "laplace",
    summary: "Laplace kernel: log k = -|x - y| / tau (Deng et al. default)",
    params: "",
    example: r#"()"#,
    impl {
        drift_api::log_weight_in_both_precisions!(log_weight);
        fn decreases_with_distance(&self) -> bool {
            true
        }
        fn temperature_scale(&self, distance: f64) -> f64 {
            distance
        }
        fn cuda_log_weight(&self) -> Option<String> {
            Some("-sqrt(d2) / tau".into())
        }
    }
);
