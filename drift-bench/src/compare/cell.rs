//! One cell of a study's grid, run: a particle flow or a generator's training, ending in samples
//! and the run's own diagnostics. Both run in normalised coordinates (see
//! [`crate::compare::prepared`]).

use crate::compare::prepared::PreparedData;
use crate::compare::record::{Mode, RunStatus};
use crate::compare::sweep::Study;
use crate::flow::{run_flow_observed, FlowConfig, FlowStop};
use crate::generator::{train_generator, GeneratorConfig, TrainingData};
use anyhow::Result;
use drift_api::{Context, DriftOperator, PointCloud, Real};

/// What a cell produced before the metrics.
#[derive(Clone, Debug, Default)]
pub struct CellOutcome {
    /// Final samples, normalised coordinates (empty unless the run finished).
    pub samples: Vec<f64>,
    /// Class each sample was generated for (class-conditional generators).
    pub sample_classes: Option<Vec<usize>>,
    /// How it ended (`Ok` unless it diverged or failed).
    pub status: Option<RunStatus>,
    /// Mean wall time of a step, milliseconds.
    pub ms_per_step: Option<f64>,
    /// The last step's drift norm, normalised units.
    pub drift_norm: Option<f64>,
    /// Mean Sinkhorn iterations per solve.
    pub sinkhorn_iters: Option<f64>,
    /// The last step's largest Sinkhorn marginal error.
    pub sinkhorn_error: Option<f64>,
    /// The last step's couplings that stopped at their iteration cap unconverged (where the
    /// operator solves Sinkhorn couplings).
    pub sinkhorn_unconverged: Option<usize>,
}

/// Runs one cell: `op` at relative temperature `temperature` on `data`, by `mode`, from `seed`;
/// `tick` is called once per step (for the progress bar).
pub fn run_cell(
    op: &dyn DriftOperator,
    study: &Study,
    data: &PreparedData,
    mode: Mode,
    temperature: f64,
    seed: u64,
    tick: &(dyn Fn() + Sync),
) -> Result<CellOutcome> {
    let context = Context::default().with_temperature_factor(temperature);
    match mode {
        Mode::Flow if study.f64 => flow::<f64>(op, study, data, context, seed, tick),
        Mode::Flow => flow::<f32>(op, study, data, context, seed, tick),
        Mode::Train => train(op, study, data, context, seed, tick),
    }
}

/// The particle flow `x ← x + η V(x)` in precision `T` ([`run_flow_observed`]).
fn flow<T: Real>(
    op: &dyn DriftOperator,
    study: &Study,
    data: &PreparedData,
    context: Context,
    seed: u64,
    tick: &(dyn Fn() + Sync),
) -> Result<CellOutcome> {
    let dim = data.dim;
    let n = match study.flow.particles {
        0 => data.test_len(),
        n => n,
    };
    let start = study
        .flow
        .start
        .sample(n, dim, &data.mean, data.scale, seed)?;
    let cast = |v: &[f64]| v.iter().map(|c| T::of(*c)).collect::<Vec<T>>();
    let y = PointCloud::new("data", cast(&data.train), dim)?;
    let config = FlowConfig {
        steps: study.flow.steps,
        eta: study.flow.eta,
        backend: study.backend,
    };
    let x0 = cast(&data.to_normalised(&start));
    Ok(
        match run_flow_observed(op, x0, &y, config, context, &mut |_| tick()) {
            Ok(out) => CellOutcome {
                samples: out.particles.iter().map(|c| c.as_f64()).collect(),
                sample_classes: None,
                status: Some(RunStatus::Ok),
                ms_per_step: Some(1e3 * out.elapsed.as_secs_f64() / config.steps as f64),
                drift_norm: Some(out.last_drift_norm),
                sinkhorn_iters: out.mean_iterations(),
                sinkhorn_error: out.last_marginal_error,
                sinkhorn_unconverged: out.last_marginal_error.map(|_| out.last_unconverged),
            },
            Err(stop) => CellOutcome {
                status: Some(ended_by(&stop)),
                ..CellOutcome::default()
            },
        },
    )
}

/// A one-step generator trained with the drifting loss (class-conditional on labelled data).
fn train(
    op: &dyn DriftOperator,
    study: &Study,
    data: &PreparedData,
    context: Context,
    seed: u64,
    tick: &(dyn Fn() + Sync),
) -> Result<CellOutcome> {
    let t = &study.train;
    let config = GeneratorConfig {
        latent_dim: t.latent,
        hidden: t.hidden,
        layers: t.layers,
        steps: t.steps,
        batch: t.batch,
        learning_rate: t.learning_rate,
        seed,
        backend: study.backend,
        features: t.features,
        ..GeneratorConfig::default()
    };
    let training = TrainingData {
        points: &data.train,
        dim: data.dim,
        labels: data.train_labels.as_deref(),
        classes: data.classes.unwrap_or(1),
    };
    let mut on_step = |_step: usize| tick();
    let outcome = match train_generator(
        op,
        &training,
        &config,
        context,
        data.test_len(),
        &mut on_step,
    ) {
        Ok(o) => o,
        Err(e) => {
            return Ok(CellOutcome {
                status: Some(RunStatus::Failed {
                    message: format!("{e:#}"),
                }),
                ..CellOutcome::default()
            })
        }
    };
    let status = match outcome.diverged_at {
        Some(step) => RunStatus::Diverged { step },
        None => RunStatus::Ok,
    };
    let finished = status == RunStatus::Ok;
    Ok(CellOutcome {
        samples: if finished {
            outcome.samples
        } else {
            Vec::new()
        },
        sample_classes: outcome.sample_classes.filter(|_| finished),
        status: Some(status),
        ms_per_step: Some(outcome.ms_per_step),
        drift_norm: Some(outcome.last_drift_norm),
        sinkhorn_iters: outcome.sinkhorn_iters,
        sinkhorn_error: outcome.sinkhorn_error,
        sinkhorn_unconverged: outcome.sinkhorn_error.map(|_| outcome.sinkhorn_unconverged),
    })
}

/// A flow that stopped early: diverged (a non-finite field or particle) or failed, with its message.
fn ended_by(stop: &FlowStop) -> RunStatus {
    if stop.diverged() {
        RunStatus::Diverged { step: stop.step }
    } else {
        RunStatus::Failed {
            message: format!("step {}: {}", stop.step, stop.error),
        }
    }
}
