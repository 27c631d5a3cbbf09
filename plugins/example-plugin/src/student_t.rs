//! A Student-t kernel.

use drift_api::{DriftError, Result};
use serde::{Deserialize, Serialize};

/// Student-t kernel with `nu` degrees of freedom:
/// `log k(x, y) = −(ν + 1)/2 · log(1 + ‖x − y‖² / (ν τ))`. Heavy tails (polynomial decay) keep
/// distant modes in view at temperatures where the Gaussian has vanished; `ν → ∞` gives the
/// Gaussian `exp(−‖x − y‖²/(2τ))`.
///
/// RON name `example.student_t`: `kernel: {"example.student_t": (nu: 3.0)}`.
///
/// ```
/// use drift_api::Kernel;
/// let k = drift_example_plugin::StudentT { nu: 1.0 };
/// let mut d2 = [1.0f64];
/// k.log_weight_f64(&mut d2, 1.0);
/// assert!((d2[0] + 2f64.ln()).abs() < 1e-15); // Cauchy: 1/(1 + d²)
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StudentT {
    /// Degrees of freedom `ν > 0`.
    pub nu: f64,
}

drift_api::kernel!(
    StudentT = "example.student_t",
    summary: "Student-t kernel with nu degrees of freedom (example plugin)",
    params: "nu: f64",
    example: r#"(nu: 3.0)"#,
    impl {
        fn log_weight_f64(&self, sq_dist: &mut [f64], tau: f64) {
            let (scale, power) = (1.0 / (self.nu * tau), 0.5 * (self.nu + 1.0));
            sq_dist
                .iter_mut()
                .for_each(|v| *v = -power * (*v * scale).ln_1p());
        }

        /// `−(ν + 1)/2 · ln(1 + d²/(ντ))` falls with the distance for `ν > 0`.
        fn decreases_with_distance(&self) -> bool {
            true
        }

        fn validate(&self) -> Result<()> {
            if self.nu.is_finite() && self.nu > 0.0 {
                Ok(())
            } else {
                Err(DriftError::invalid(
                    format!("{}.nu", Self::NAME),
                    format!("must be finite and > 0, got {}", self.nu),
                ))
            }
        }
    }
);
