//! A new composition: a linear warm-up of any operator's field.

use drift_api::{apply_drift, check_param, DriftOperator, DriftProblem, DriftReport, Real, Result};
use serde::{Deserialize, Serialize};

/// RON name `example.warmup`: the inner operator's field scaled by `min(1, (step + 1)/steps)`, so
/// that a flow or a training run eases into the drift over its first `steps` steps. The inner
/// operator sees the problem as it is (negatives, context) and adds into the same output.
///
/// ```
/// use drift_api::{Context, PointCloud};
/// use drift_example_plugin::Warmup;
/// let op = Warmup { operator: Box::new(drift_ops::OneSided::new(0.5)), steps: 4 };
/// let x = PointCloud::new("x", vec![0.0f64, 0.5], 1).unwrap();
/// let y = PointCloud::new("y", vec![2.0f64, 2.5], 1).unwrap();
/// let backend = drift_ops::CpuBackend;
/// let (early, _) = drift_ops::drift_with(&backend, &op, &x, &y, &Context::at(0, 0.0)).unwrap();
/// let (late, _) = drift_ops::drift_with(&backend, &op, &x, &y, &Context::at(9, 0.0)).unwrap();
/// assert!((early[0] - 0.25 * late[0]).abs() < 1e-12);
/// ```
#[derive(Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Warmup {
    /// The operator warmed up.
    pub operator: Box<dyn DriftOperator>,
    /// Steps until the full field (at least 1).
    pub steps: u64,
}

impl Warmup {
    fn check(&self) -> Result<()> {
        let steps = self.steps as f64;
        check_param(
            &format!("{}.steps", Self::NAME),
            steps,
            self.steps >= 1,
            ">= 1",
        )?;
        self.operator.validate()
    }

    fn run<T: Real>(&self, p: DriftProblem<'_, T>) -> Result<DriftReport> {
        let ramp = ((p.context.step + 1) as f64 / self.steps as f64).min(1.0);
        let scale = p.scale * T::of(ramp);
        let inner = apply_drift(self.operator.as_ref(), DriftProblem { scale, ..p })?;
        let norm = ramp * inner.drift_norm;
        Ok(DriftReport::of(Self::NAME, Vec::new(), norm).with_parts(vec![inner]))
    }
}

drift_api::operator!(
    Warmup = "example.warmup",
    summary: "Linear warm-up: the inner field times min(1, (step + 1)/steps) (example plugin)",
    params: "operator: Operator, steps: u64 >= 1",
    example: r#"(operator: {"one_sided": (temperature: 0.1)}, steps: 100)"#
);
