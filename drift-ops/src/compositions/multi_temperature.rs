//! Deng et al.'s multi-temperature drift with per-temperature normalisation.

use super::accumulate::run_into;
use crate::engine::add_field;
use drift_api::{DriftError, DriftOperator, DriftProblem, DriftReport, Real, Result};
use serde::{Deserialize, Serialize};

/// `V = Σ_τ V_τ / λ_τ` with `λ_τ = sqrt(mean_i ‖V_τ(x_i)‖² / D)` (Deng et al.; `normalise: false`
/// drops the division). Each `V_τ` is the inner operator with every temperature multiplied by the
/// factor `τ` (write the inner operator at temperature 1 to make the factors the temperatures). A
/// temperature whose field vanishes (`λ_τ = 0`) contributes nothing.
///
/// RON name `multi_temperature` (defaults `temperatures: [0.02, 0.05, 0.2]`, `normalise: true`):
/// `{"multi_temperature": (operator: {"one_sided": (temperature: 1.0)}, temperatures: [0.02, 0.05, 0.2], normalise: true)}`.
///
/// ```
/// use drift_api::PointCloud;
/// let op = drift_ops::MultiTemperature::deng(Box::new(drift_ops::OneSided::new(1.0)));
/// let x = PointCloud::new("x", vec![0.0f64, 0.3, 0.5], 1).unwrap();
/// let y = PointCloud::new("y", vec![1.0f64, 2.0], 1).unwrap();
/// let (_, report) = drift_ops::drift(&op, &x, &y).unwrap();
/// assert_eq!(report.parts.len(), 3);
/// ```
#[derive(Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MultiTemperature {
    /// The operator evaluated at each temperature.
    pub operator: Box<dyn DriftOperator>,
    /// Temperature factors (Deng et al.: 0.02, 0.05, 0.2).
    #[serde(default = "deng_temperatures")]
    pub temperatures: Vec<f64>,
    /// Divide each field by its drift norm `λ_τ` (default true).
    #[serde(default = "yes")]
    pub normalise: bool,
}

fn deng_temperatures() -> Vec<f64> {
    vec![0.02, 0.05, 0.2]
}
fn yes() -> bool {
    true
}

impl MultiTemperature {
    /// Deng et al.'s setting: temperatures 0.02, 0.05, 0.2, normalised.
    pub fn deng(operator: Box<dyn DriftOperator>) -> Self {
        MultiTemperature {
            operator,
            temperatures: deng_temperatures(),
            normalise: true,
        }
    }

    fn run<T: Real>(&self, mut p: DriftProblem<'_, T>) -> Result<DriftReport> {
        p.check()?;
        // Two buffers whatever the number of temperatures: one per-temperature field, one total.
        let mut one = vec![T::zero(); p.out.len()];
        let mut total = vec![T::zero(); p.out.len()];
        let mut parts = Vec::with_capacity(self.temperatures.len());
        for &tau in &self.temperatures {
            one.iter_mut().for_each(|v| *v = T::zero());
            let context = p.context.with_temperature_factor(tau);
            let report = run_into(
                self.operator.as_ref(),
                p.backend,
                p.x,
                p.y,
                p.negatives,
                &context,
                &mut one,
                T::one(),
            )?;
            let weight = match (self.normalise, report.drift_norm) {
                (false, _) => 1.0,
                (true, l) if l > 0.0 => 1.0 / l,
                (true, _) => 0.0,
            };
            let w = T::of(weight);
            total.iter_mut().zip(&one).for_each(|(t, v)| *t += w * *v);
            parts.push(report);
        }
        let norm = add_field(&mut p, &total, "composed drift field")?;
        Ok(DriftReport::of("multi_temperature", Vec::new(), norm).with_parts(parts))
    }
}

impl MultiTemperature {
    /// Validates the whole parameter tree of this operator.
    fn check(&self) -> Result<()> {
        if self.temperatures.is_empty() {
            return Err(DriftError::invalid(
                "multi_temperature.temperatures",
                "needs at least one temperature",
            ));
        }
        for (k, t) in self.temperatures.iter().enumerate() {
            drift_api::check_temperature(&format!("multi_temperature.temperatures[{k}]"), *t)?;
        }
        self.operator.validate()
    }
}

crate::operators::builtin_operator!(
    MultiTemperature,
    "multi_temperature",
    summary: "Deng multi-temperature sum of V_tau / lambda_tau (temperatures multiply the inner ones)",
    params: "operator: Operator, temperatures: [f64] = [0.02, 0.05, 0.2], normalise: bool = true",
    example: r#"{"multi_temperature": (operator: {"one_sided": (temperature: 1.0)}, temperatures: [0.02, 0.05, 0.2], normalise: true)}"#
);
