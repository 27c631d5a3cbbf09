//! An operator of a new family: attraction only, written directly on the backend's row reduction.

use drift_api::kit::{reduce, Displacement, RowReduction};
use drift_api::{check_temperature, DriftProblem, DriftReport, Kernel, Real, Result};
use drift_ops::engine::add_field;
use serde::{Deserialize, Serialize};

/// Mean shift toward the data: `V_i = Σ_j softmax_j(ℓ(x_i, y_j) + log b_j) (y_j − x_i)`, the
/// attraction of the one-sided drift without its repulsion (so it collapses modes: a baseline).
/// One fused reduction on whatever backend the caller passes. RON name `example.mean_shift`:
/// `{"example.mean_shift": (kernel: {"example.student_t": (nu: 3.0)}, temperature: 0.1)}`.
///
/// It has no repulsion for guidance negatives to join, so it never marks them used: given
/// negatives, it fails with [`drift_api::DriftError::NegativesIgnored`] rather than ignore them.
///
/// ```
/// use drift_api::PointCloud;
/// let op = drift_example_plugin::MeanShift {
///     kernel: Box::new(drift_example_plugin::StudentT { nu: 3.0 }),
///     temperature: 0.5,
/// };
/// let x = PointCloud::new("x", vec![0.0f64], 1).unwrap();
/// let y = PointCloud::new("y", vec![1.0f64, 3.0], 1).unwrap();
/// let (v, _) = drift_ops::drift(&op, &x, &y).unwrap();
/// assert!(v[0] > 1.0 && v[0] < 2.0); // toward the data, the nearer point weighing more
/// ```
#[derive(Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MeanShift {
    /// Any registered kernel.
    pub kernel: Box<dyn Kernel>,
    /// Temperature `τ > 0`.
    pub temperature: f64,
}

impl MeanShift {
    fn check(&self) -> Result<()> {
        check_temperature(&format!("{}.temperature", Self::NAME), self.temperature)?;
        self.kernel.validate()
    }

    fn run<T: Real>(&self, mut p: DriftProblem<'_, T>) -> Result<DriftReport> {
        let tau = self.temperature * p.context.temperature_factor;
        let log_b = p.y.log_weights();
        let mut lse = vec![T::zero(); p.x.len()];
        let mut disp = vec![T::zero(); p.out.len()];
        reduce(
            p.backend,
            RowReduction {
                rows: p.x,
                cols: p.y,
                kernel: self.kernel.as_ref(),
                tau: T::of(tau),
                col_potential: Some(&log_b),
                mask_diagonal: false,
                displacement: Displacement::Mean,
                origin: None,
                lse: &mut lse,
                disp: Some(&mut disp),
            },
        )?;
        let norm = add_field(&mut p, &disp, Self::NAME)?;
        Ok(DriftReport::of(Self::NAME, Vec::new(), norm))
    }
}

drift_api::operator!(
    MeanShift = "example.mean_shift",
    summary: "Mean shift toward the data, attraction only (example plugin)",
    params: "kernel: Kernel, temperature: f64",
    example: r#"(kernel: {"example.student_t": (nu: 3.0)}, temperature: 0.1)"#
);
