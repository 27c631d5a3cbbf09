//! Temperature (bandwidth) annealing driven by the step or time of the context.

use drift_api::batch::{apply_drift_batch, BatchProblem};
use drift_api::{
    apply_drift, check_param, BatchReport, DriftOperator, DriftProblem, DriftReport, Real, Result,
};
use serde::{Deserialize, Serialize};

/// Which clock drives a schedule.
///
/// In RON: `time` or `step` (the `clock` field of `annealed`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Clock {
    /// The continuous time of the flow.
    #[default]
    Time,
    /// The step counter.
    Step,
}

/// Bandwidth annealing (Turan & Ovsjanikov): every temperature of the inner operator is multiplied
/// by `e^{−r t}`, floored at `min_factor`, with `t` the context's time or step.
///
/// RON name `annealed` (`clock` is a [`Clock`], `time` by default; `min_factor` defaults to `1e-3`):
/// `{"annealed": (operator: {"score_difference": (temperature: 1.0)}, rate: 0.5, clock: time)}`.
///
/// ```
/// use drift_api::{Context, PointCloud};
/// use drift_ops::{Annealed, Clock, ScoreDifference};
/// let op = Annealed { operator: Box::new(ScoreDifference::new(1.0)), rate: 0.5, clock: Clock::Step, min_factor: 1e-3 };
/// assert!((op.factor(&Context::at(2, 0.0)) - (-1.0f64).exp()).abs() < 1e-15);
/// ```
#[derive(Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Annealed {
    /// The annealed operator.
    pub operator: Box<dyn DriftOperator>,
    /// Decay rate `r >= 0`.
    pub rate: f64,
    /// The clock `t` (default time).
    #[serde(default)]
    pub clock: Clock,
    /// Smallest factor, in `(0, 1]`, so temperatures never reach zero (default 1e-3).
    #[serde(default = "default_floor")]
    pub min_factor: f64,
}

fn default_floor() -> f64 {
    1e-3
}

impl Annealed {
    /// The temperature factor at `context`.
    pub fn factor(&self, context: &drift_api::Context) -> f64 {
        let t = match self.clock {
            Clock::Time => context.time,
            Clock::Step => context.step as f64,
        };
        (-self.rate * t).exp().max(self.min_factor)
    }

    fn run_batch<T: Real>(&self, p: BatchProblem<'_, T>) -> Result<BatchReport> {
        p.check()?;
        let context = p.context.with_temperature_factor(self.factor(p.context));
        let inner = apply_drift_batch(
            self.operator.as_ref(),
            BatchProblem {
                context: &context,
                ..p
            },
        )?;
        Ok(BatchReport {
            operator: "annealed".into(),
            problems: inner.problems,
            drift_norm: inner.drift_norm,
            parts: vec![inner],
            ..Default::default()
        })
    }

    fn run<T: Real>(&self, p: DriftProblem<'_, T>) -> Result<DriftReport> {
        p.check()?;
        let context = p.context.with_temperature_factor(self.factor(p.context));
        let inner = apply_drift(
            self.operator.as_ref(),
            DriftProblem {
                context: &context,
                ..p
            },
        )?;
        Ok(DriftReport::of("annealed", Vec::new(), inner.drift_norm).with_parts(vec![inner]))
    }
}

impl Annealed {
    /// Validates the whole parameter tree of this operator.
    fn check(&self) -> Result<()> {
        check_param("annealed.rate", self.rate, self.rate >= 0.0, ">= 0")?;
        let f = self.min_factor;
        // A floor of 0 lets the factor underflow to 0 at late times: a zero temperature that
        // only the flow would find. The floor must keep the temperature positive.
        check_param("annealed.min_factor", f, f > 0.0 && f <= 1.0, "in (0, 1]")?;
        self.operator.validate()
    }
}

drift_api::operator!(
    Annealed = "annealed",
    batched,
    summary: "Temperature annealing tau0 exp(-r t) by flow time or step",
    params: "operator: Operator, rate: f64, clock: time|step = time, min_factor: f64 = 1e-3",
    example: r#"(operator: {"score_difference": (temperature: 1.0)}, rate: 0.5, clock: time)"#
);
