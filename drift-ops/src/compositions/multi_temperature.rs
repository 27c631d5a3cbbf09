//! Deng et al.'s multi-temperature drift with per-temperature normalisation.

use super::accumulate::add_batch_field;
use crate::engine::add_field;
use drift_api::apply_drift;
use drift_api::batch::apply_drift_batch;
use drift_api::batch::{problem_by_problem, BatchProblem, TemperatureNorm};
use drift_api::kit::Reduction;
use drift_api::kit::Tagged;
use drift_api::{BatchReport, DriftError, DriftOperator, DriftProblem, DriftReport, Real, Result};
use serde::{Deserialize, Serialize};

/// `V = Σ_τ V_τ / λ_τ` with `λ_τ = sqrt(mean_i ‖V_τ(x_i)‖² / D)` (Deng et al.; `normalise: false`
/// drops the division). Each `V_τ` is the inner operator with every temperature multiplied by the
/// factor `τ` (write the inner operator at temperature 1 to make the factors the temperatures). A
/// temperature whose field vanishes (`λ_τ = 0`) contributes nothing; a `λ_τ` that is not finite
/// (the field's squares overflow) is an error naming the temperature, never a silent zero.
///
/// `λ_τ` is the mean over the points of positive weight, each counted once whatever its weight.
/// A point of positive weight below `2^-52` times the largest weight (e.g. `1e-300` beside weights
/// near 1) would therefore move every other point's field through `λ_τ` while carrying no mass
/// in any sum: when normalising, such a weight is refused with an error naming the point (give it
/// weight 0, which leaves the others' fields unchanged, or a weight within `2^52` of the largest).
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
    /// On a batch of problems: one `λ_τ` over the whole batch (`Batch`, the default: the official
    /// training code's semantics) or one per problem (`Problem`). One problem: the same.
    #[serde(default)]
    pub over: Reduction,
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
            over: Reduction::Batch,
        }
    }

    /// The weight of the field of temperature factor `tau` (index `k`) of norm `lambda`
    /// ([`temperature_weight`]).
    fn weight(&self, k: usize, tau: f64, lambda: f64) -> Result<f64> {
        temperature_weight(self.normalise, k, tau, lambda)
    }

    /// Refuses (when normalising) a negligible positive weight ([`refuse_negligible_weights`]).
    fn check_negligible_weights<T: Real>(&self, what: &str, weights: Option<&[T]>) -> Result<()> {
        match self.normalise {
            true => refuse_negligible_weights(what, weights),
            false => Ok(()),
        }
    }

    /// `Σ_τ w(λ_τ) V_τ` in a new buffer of `len` values, with the inner reports: `eval(τ, field)`
    /// runs the inner operator at temperature factor `τ` into the zeroed `field` and returns its
    /// report and drift norm `λ_τ`. Two buffers whatever the number of temperatures.
    fn normalised_sum<T: Real, R>(
        &self,
        len: usize,
        mut eval: impl FnMut(f64, &mut [T]) -> Result<(R, f64)>,
    ) -> Result<(Vec<T>, Vec<R>)> {
        let mut one = drift_api::kit::try_vec("multi_temperature field", len, T::zero())?;
        let mut total = drift_api::kit::try_vec("multi_temperature total", len, T::zero())?;
        let mut parts = Vec::with_capacity(self.temperatures.len());
        for (k, &tau) in self.temperatures.iter().enumerate() {
            one.iter_mut().for_each(|v| *v = T::zero());
            let (report, lambda) = eval(tau, &mut one)?;
            let w = T::of(self.weight(k, tau, lambda)?);
            total.iter_mut().zip(&one).for_each(|(t, v)| *t += w * *v);
            parts.push(report);
        }
        Ok((total, parts))
    }

    fn run_batch<T: Real>(&self, mut p: BatchProblem<'_, T>) -> Result<BatchReport> {
        p.check()?;
        if let Some(report) = crate::batched::fused::try_fused(self, &mut p)? {
            return Ok(report);
        }
        if self.over == Reduction::Problem {
            return problem_by_problem(self, p.tagged());
        }
        for b in 0..p.batch.problems() {
            self.check_negligible_weights(&format!("x[{b}]"), p.batch.x.weights_of(b))?;
        }
        let (total, parts) = self.normalised_sum(p.out.len(), |tau, one| {
            let context = p.context.with_temperature_factor(tau);
            let report = apply_drift_batch(
                self.operator.as_ref(),
                BatchProblem::new(p.backend, p.batch, &context, one).across(p.collective),
            )?;
            // The child's norm is over the whole batch (and every process).
            let lambda = report.drift_norm;
            Ok((report, lambda))
        })?;
        let norms = self
            .temperatures
            .iter()
            .zip(&parts)
            .map(|(t, r)| TemperatureNorm {
                temperature: *t,
                lambda: r.drift_norm,
            })
            .collect();
        let norm = add_batch_field(&mut p, &total, "composed drift field")?;
        Ok(BatchReport {
            operator: "multi_temperature".into(),
            problems: p.batch.problems(),
            drift_norm: norm,
            reduction: Some(self.over),
            temperature_norms: norms,
            parts,
            ..Default::default()
        })
    }

    fn run<T: Real>(&self, mut p: DriftProblem<'_, T>) -> Result<DriftReport> {
        p.check()?;
        self.check_negligible_weights(p.x.name(), p.x.weights())?;
        let (total, parts) = self.normalised_sum(p.out.len(), |tau, one| {
            let context = p.context.with_temperature_factor(tau);
            let report = apply_drift(
                self.operator.as_ref(),
                DriftProblem::new(p.backend, p.x, p.y, &context, one).with_negatives(p.negatives),
            )?;
            let lambda = report.drift_norm;
            Ok((report, lambda))
        })?;
        let norm = add_field(&mut p, &total, "composed drift field")?;
        Ok(DriftReport::of("multi_temperature", Vec::new(), norm).with_parts(parts))
    }
}

/// The weight of the field of temperature factor `tau` (index `k`) of norm `lambda`: `1/λ`
/// (`0` for a vanishing field) when normalising, else 1; a non-finite `lambda` is an error naming
/// the temperature.
pub(crate) fn temperature_weight(normalise: bool, k: usize, tau: f64, lambda: f64) -> Result<f64> {
    if !normalise {
        return Ok(1.0);
    }
    if !lambda.is_finite() {
        return Err(DriftError::invalid(
            format!("multi_temperature.temperatures[{k}]"),
            format!(
                "the drift norm λ of the field at temperature factor {} is {} (its squares \
                 overflow f64); the field cannot be normalised (rescale the data or change \
                 the temperature)",
                drift_api::kit::fmt_num(tau),
                drift_api::kit::fmt_num(lambda)
            ),
        ));
    }
    Ok(if lambda > 0.0 { 1.0 / lambda } else { 0.0 })
}

/// Refuses a positive weight below `2^-52` times the largest weight of `weights` (the points of
/// set `what`): see [`MultiTemperature`]'s documentation.
pub(crate) fn refuse_negligible_weights<T: Real>(what: &str, weights: Option<&[T]>) -> Result<()> {
    let Some(w) = weights else {
        return Ok(());
    };
    let largest = w.iter().fold(0.0f64, |m, v| m.max(v.as_f64()));
    let floor = largest * f64::EPSILON;
    match w
        .iter()
        .position(|v| v.as_f64() > 0.0 && v.as_f64() < floor)
    {
        None => Ok(()),
        Some(i) => Err(DriftError::invalid(
            format!("multi_temperature: weight of point {i} of `{what}`"),
            format!(
                "{} is positive but below 2^-52 times the largest weight {}: the drift norm λ \
                 counts every point of positive weight once, so this point would change every \
                 other point's field; give it weight 0 or a weight within 2^52 of the largest",
                drift_api::kit::fmt_num(w[i].as_f64()),
                drift_api::kit::fmt_num(largest)
            ),
        )),
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

drift_api::operator!(
    MultiTemperature = "multi_temperature",
    batched,
    summary: "Deng multi-temperature sum of V_tau / lambda_tau (temperatures multiply the inner ones)",
    params: "operator: Operator, temperatures: [f64] = [0.02, 0.05, 0.2], normalise: bool = true, over: Batch | Problem = Batch",
    example: r#"(operator: {"one_sided": (temperature: 1.0)}, temperatures: [0.02, 0.05, 0.2], normalise: true)"#
);
