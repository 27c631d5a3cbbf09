//! The particle flow `x ← x + η V(x)` driven by any drift operator, with its diagnostics.

use crate::backend_kind::BackendKind;
use drift_api::{Context, DriftError, DriftOperator, DriftReport, PointCloud, Real, Result};
use std::time::{Duration, Instant};

/// Settings of a particle flow.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct FlowConfig {
    /// Number of explicit Euler steps.
    pub steps: usize,
    /// Step size `η`. The built-in drifts are displacements `bar − x`, so `η < 1` is stable.
    pub eta: f64,
    /// Where the drifts are computed.
    pub backend: BackendKind,
}

/// What a flow did: the final particles and totals of the per-step drift reports.
#[derive(Clone, Debug, PartialEq)]
pub struct FlowOutcome<T> {
    /// Final particle coordinates, row-major.
    pub particles: Vec<T>,
    /// Sinkhorn iterations summed over all steps and all couplings that report a marginal error.
    pub sinkhorn_iterations: usize,
    /// Number of coupling solves that report a marginal error (Sinkhorn solves), over all steps.
    pub sinkhorn_solves: usize,
    /// Largest Sinkhorn marginal error of the last step, if the operator solves Sinkhorn couplings.
    pub last_marginal_error: Option<f64>,
    /// Couplings of the last step that stopped at their iteration cap unconverged.
    pub last_unconverged: usize,
    /// The drift norm `λ` reported at the last step.
    pub last_drift_norm: f64,
    /// Wall time of the whole flow.
    pub elapsed: Duration,
}

impl<T> FlowOutcome<T> {
    /// Mean Sinkhorn iterations per Sinkhorn solve, or `None` if the operator solved none.
    pub fn mean_iterations(&self) -> Option<f64> {
        (self.sinkhorn_solves > 0)
            .then(|| self.sinkhorn_iterations as f64 / self.sinkhorn_solves as f64)
    }
}

/// Runs `steps` Euler steps of `x ← x + η V(x)` from `x0` (row-major, `y.dim()` columns) toward the
/// targets `y` on the CPU backend. The context carries the step counter and the flow time `step · η`.
///
/// Fails if the operator fails or the particles leave the finite numbers.
pub fn run_flow<T: Real>(
    op: &dyn DriftOperator,
    x0: Vec<T>,
    y: &PointCloud<T>,
    config: FlowConfig,
) -> Result<FlowOutcome<T>> {
    run_flow_observed(op, x0, y, config, Context::default(), &mut |_| {}).map_err(|s| s.error)
}

/// Why a flow stopped before its last step.
#[derive(Debug)]
pub struct FlowStop {
    /// The step at which it stopped.
    pub step: usize,
    /// What went wrong.
    pub error: DriftError,
}

impl FlowStop {
    /// True when the field or the particles left the finite numbers (the flow diverged), false
    /// when the operator failed for another reason.
    pub fn diverged(&self) -> bool {
        matches!(
            self.error,
            DriftError::NonFiniteResult { .. } | DriftError::NonFiniteCoordinate { .. }
        )
    }
}

/// [`run_flow`] with a base context (its temperature factor applies to every step; step and time
/// are the flow's) and `on_step(step)` called after each step; a stop says at which step.
pub fn run_flow_observed<T: Real>(
    op: &dyn DriftOperator,
    x0: Vec<T>,
    y: &PointCloud<T>,
    config: FlowConfig,
    context: Context,
    on_step: &mut dyn FnMut(usize),
) -> std::result::Result<FlowOutcome<T>, FlowStop> {
    let at = |step: usize| move |error: DriftError| FlowStop { step, error };
    op.validate().map_err(at(0))?;
    let backend = config.backend.open().map_err(at(0))?;
    let start = Instant::now();
    let eta = T::of(config.eta);
    let mut x = PointCloud::new("particles", x0, y.dim()).map_err(at(0))?;
    let mut outcome = FlowOutcome {
        particles: Vec::new(),
        sinkhorn_iterations: 0,
        sinkhorn_solves: 0,
        last_marginal_error: None,
        last_unconverged: 0,
        last_drift_norm: 0.0,
        elapsed: Duration::ZERO,
    };
    for step in 0..config.steps {
        let context = Context {
            step: step as u64,
            time: step as f64 * config.eta,
            ..context
        };
        let (v, report) =
            drift_ops::drift_with(backend.as_ref(), op, &x, y, &context).map_err(at(step))?;
        let (iterations, solves) = sinkhorn_totals(&report);
        outcome.sinkhorn_iterations += iterations;
        outcome.sinkhorn_solves += solves;
        outcome.last_marginal_error = report.max_marginal_error();
        outcome.last_unconverged = report.unconverged();
        outcome.last_drift_norm = report.drift_norm;
        let mut data = x.into_data();
        for (p, d) in data.iter_mut().zip(&v) {
            *p += eta * *d;
        }
        if let Some(index) = data.iter().position(|c| !c.is_finite()) {
            return Err(at(step)(DriftError::NonFiniteResult {
                what: format!("particles after flow step {step}"),
                index,
            }));
        }
        x = PointCloud::new("particles", data, y.dim()).map_err(at(step))?;
        on_step(step);
    }
    outcome.particles = x.into_data();
    outcome.elapsed = start.elapsed();
    Ok(outcome)
}

/// Iterations and count of the couplings (including sub-operators') that report a marginal error.
pub fn sinkhorn_totals(report: &DriftReport) -> (usize, usize) {
    let own = report
        .couplings
        .iter()
        .filter(|c| c.marginal_error.is_some())
        .fold((0, 0), |(i, n), c| (i + c.iterations, n + 1));
    report
        .parts
        .iter()
        .map(sinkhorn_totals)
        .fold(own, |a, b| (a.0 + b.0, a.1 + b.1))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_flow_moves_particles_toward_the_data() {
        let y = PointCloud::new("y", vec![3.0f64, 3.0, 3.2, 3.0, 3.0, 3.2], 2).unwrap();
        let op = drift_ops::SinkhornDrift::new(0.5);
        let cfg = FlowConfig {
            backend: BackendKind::Cpu,
            steps: 20,
            eta: 0.5,
        };
        let out = run_flow(&op, vec![0.0, 0.0, 0.1, 0.0, 0.0, 0.1], &y, cfg).unwrap();
        assert!(
            out.particles.iter().all(|c| *c > 2.5),
            "{:?}",
            out.particles
        );
        assert_eq!(out.sinkhorn_solves, 40); // attraction and repulsion coupling at every step
        assert!(out.mean_iterations().is_some());
        let x0 = vec![0.0, 0.0, 0.1, 0.0];
        let one_sided = run_flow(&drift_ops::OneSided::new(0.5), x0, &y, cfg).unwrap();
        assert_eq!(one_sided.mean_iterations(), None);
    }
}
