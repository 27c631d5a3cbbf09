//! `drift-bench compare`: operators × temperatures × data sets × seeds × modes, with metrics
//! against held-out data and a report folder of tables and figures.
//!
//! A [`Sweep`] is one or more [`Study`] grids. Every setting is checked, every operator resolved
//! and every data set drawn, split and tried with every operator before the first run, so a bad
//! name, file, temperature list or dimension fails at once with its name. A run that diverges is
//! recorded as diverged and the sweep goes on.
//!
//! **Temperatures are relative to the data's scale.** Each run works in coordinates
//! `x' = (x − ȳ)/s` where `s` is the mean distance between two points of the seen data
//! ([`prepared`]): a Laplace kernel's length is then `τ·s`, a Gaussian kernel's `τ = 2σ²` is in
//! units of `s²`. The sweep's temperature multiplies every kernel temperature of the operator (the
//! context's temperature factor), so operators are written at temperature 1 and named operators
//! are taken at temperature 1.
//!
//! **Runs are seeded**: the data and their split come from the study's `data_seed`; a run's seed
//! draws its start (or its generator's weights and latents) and its metrics' random directions.
//! Every operator sees the same start for the same seed. Runs may go in parallel (`jobs`);
//! their results do not depend on it.

pub mod cell;
pub mod command;
pub mod evaluate;
pub mod operator_spec;
pub mod prepared;
pub mod presets;
pub mod record;
pub mod start;
pub mod sweep;

pub use record::{DatasetSummary, Mode, RunKey, RunMetrics, RunOutput, RunRecord, RunStatus};
pub use sweep::{FlowSettings, Study, Sweep, TrainSettings};

use crate::compare::cell::run_cell;
use crate::compare::operator_spec::{make_labels_unique, resolve, ResolvedOperator};
use crate::compare::prepared::PreparedData;
use crate::data::DataSpec;
use anyhow::{Context as _, Result};
use drift_api::{Context, PointCloud};
use indicatif::{ProgressBar, ProgressStyle};
use rayon::prelude::*;
use std::time::Instant;

/// A study with its operators resolved and its data prepared.
struct ReadyStudy<'a> {
    study: &'a Study,
    operators: Vec<ResolvedOperator>,
    datasets: Vec<usize>,
}

/// One run to do.
struct Cell {
    study: usize,
    operator: usize,
    dataset: usize,
    temperature: f64,
    seed: u64,
    mode: Mode,
}

/// Everything a sweep produced: the runs in grid order and the data sets they ran on.
#[derive(Debug)]
pub struct SweepResults {
    /// Every run, in the order of the studies and their grids.
    pub runs: Vec<RunOutput>,
    /// The data sets, as the report needs them.
    pub datasets: Vec<DatasetSummary>,
    /// Notes on the data sets for the report (classifier accuracy, scale).
    pub notes: Vec<String>,
}

/// Runs a sweep: checks and prepares everything, then runs every cell (in parallel up to
/// `sweep.jobs`), showing a progress bar on standard error when `progress` is set.
pub fn run_sweep(sweep: &Sweep, progress: bool) -> Result<SweepResults> {
    sweep.check()?;
    let mut data: Vec<(String, PreparedData)> = Vec::new();
    let mut ready = Vec::new();
    for (s, study) in sweep.studies.iter().enumerate() {
        let at = format!("study {}", s + 1);
        let mut operators = study
            .operators
            .iter()
            .map(|o| resolve(o))
            .collect::<Result<Vec<_>>>()
            .with_context(|| at.clone())?;
        make_labels_unique(&mut operators);
        let mut datasets = Vec::new();
        for name in &study.datasets {
            let spec = DataSpec::parse(name).with_context(|| format!("{at}: data set `{name}`"))?;
            // The digits and files keep all their rows: `points` does not change them.
            let points = match spec {
                DataSpec::Digits | DataSpec::File { .. } => 0,
                _ => study.points,
            };
            let key = format!(
                "{}|{}|{}|{}",
                spec.name(),
                points,
                study.test_fraction,
                study.data_seed
            );
            let index = match data.iter().position(|(k, _)| *k == key) {
                Some(i) => i,
                None => {
                    let prepared = PreparedData::new(
                        &spec,
                        study.points,
                        study.test_fraction,
                        study.data_seed,
                    )
                    .with_context(|| at.clone())?;
                    data.push((key, prepared));
                    data.len() - 1
                }
            };
            for op in &operators {
                try_once(op, &data[index].1, study).with_context(|| at.clone())?;
            }
            datasets.push(index);
        }
        ready.push(ReadyStudy {
            study,
            operators,
            datasets,
        });
    }
    let cells = grid(&ready);
    let total_steps: u64 = cells
        .iter()
        .map(|c| steps_of(ready[c.study].study, c.mode) as u64)
        .sum();
    let bar = if progress {
        let bar = ProgressBar::new(total_steps);
        bar.set_style(
            ProgressStyle::with_template(
                "{elapsed_precise} [{bar:40}] {percent:>3}% runs {msg} eta {eta}",
            )
            .expect("a valid template")
            .progress_chars("=> "),
        );
        bar
    } else {
        ProgressBar::hidden()
    };
    let done = std::sync::atomic::AtomicUsize::new(0);
    let total_runs = cells.len();
    let run_one = |cell: &Cell| -> Result<RunOutput> {
        let out = run_one_cell(cell, &ready, &data, &|| bar.inc(1));
        let n = done.fetch_add(1, std::sync::atomic::Ordering::Relaxed) + 1;
        bar.set_message(format!("{n}/{total_runs}"));
        out
    };
    bar.set_message(format!("0/{total_runs}"));
    let runs: Vec<RunOutput> = if sweep.jobs <= 1 {
        cells.iter().map(run_one).collect::<Result<_>>()?
    } else {
        let pool = rayon::ThreadPoolBuilder::new()
            .num_threads(sweep.jobs)
            .build()
            .context("cannot start the run threads")?;
        pool.install(|| cells.par_iter().map(run_one).collect::<Result<_>>())?
    };
    bar.finish_and_clear();
    let notes = data
        .iter()
        .map(|(_, d)| {
            let mut note = format!(
                "`{}`: dimension {}, {} seen and {} held-out points, scale s = {:.4} (mean distance between two seen points)",
                d.name,
                d.dim,
                d.train.len() / d.dim,
                d.test_len(),
                d.scale
            );
            if let Some(acc) = d.classifier_accuracy {
                note.push_str(&format!(
                    "; the {}-nearest-neighbour classifier fitted on the seen points labels {:.1}% of the held-out points correctly",
                    prepared::CLASSIFIER_NEIGHBOURS,
                    100.0 * acc
                ));
            }
            note
        })
        .collect();
    Ok(SweepResults {
        runs,
        datasets: data.iter().map(|(_, d)| d.summary()).collect(),
        notes,
    })
}

/// Every cell of every study, in order: study, data set, mode, operator, temperature, seed.
fn grid(ready: &[ReadyStudy]) -> Vec<Cell> {
    let mut cells = Vec::new();
    for (s, r) in ready.iter().enumerate() {
        for &dataset in &r.datasets {
            for &mode in &r.study.modes {
                for operator in 0..r.operators.len() {
                    for &temperature in &r.study.temperatures {
                        for &seed in &r.study.seeds {
                            cells.push(Cell {
                                study: s,
                                operator,
                                dataset,
                                temperature,
                                seed,
                                mode,
                            });
                        }
                    }
                }
            }
        }
    }
    cells
}

fn steps_of(study: &Study, mode: Mode) -> usize {
    match mode {
        Mode::Flow => study.flow.steps,
        Mode::Train => study.train.steps,
    }
}

/// Runs a cell and scores it. The operator is rebuilt from its RON for every run, so that state an
/// operator keeps between calls (warm-started potentials) never passes from one run to another.
fn run_one_cell(
    cell: &Cell,
    ready: &[ReadyStudy],
    data: &[(String, PreparedData)],
    tick: &(dyn Fn() + Sync),
) -> Result<RunOutput> {
    let r = &ready[cell.study];
    let resolved = &r.operators[cell.operator];
    let prepared = &data[cell.dataset].1;
    let key = RunKey {
        operator: resolved.label.clone(),
        operator_ron: resolved.ron.clone(),
        dataset: prepared.name.clone(),
        dim: prepared.dim,
        mode: cell.mode,
        temperature: cell.temperature,
        seed: cell.seed,
    };
    let clock = Instant::now();
    let op = drift_api::operator_from_str(&resolved.ron, &resolved.label)?;
    let outcome = run_cell(
        op.as_ref(),
        r.study,
        prepared,
        cell.mode,
        cell.temperature,
        cell.seed,
        tick,
    )?;
    let status = outcome.status.clone().unwrap_or(RunStatus::Ok);
    let samples = if status == RunStatus::Ok {
        prepared.to_data_units(&outcome.samples)
    } else {
        Vec::new()
    };
    let mut metrics = if status == RunStatus::Ok {
        evaluate::sample_metrics(
            &samples,
            outcome.sample_classes.as_deref(),
            prepared,
            cell.seed,
        )
        .with_context(|| format!("metrics of {} on {}", key.operator, key.dataset))?
    } else {
        RunMetrics::default()
    };
    metrics.ms_per_step = outcome.ms_per_step;
    metrics.drift_norm = outcome.drift_norm.map(|l| l * prepared.scale);
    metrics.sinkhorn_iters = outcome.sinkhorn_iters;
    metrics.sinkhorn_error = outcome.sinkhorn_error;
    Ok(RunOutput {
        record: RunRecord {
            key,
            status,
            metrics,
            seconds: clock.elapsed().as_secs_f64(),
        },
        samples,
        sample_classes: outcome.sample_classes,
    })
}

/// Evaluates `op` once on a few points of `data` at the study's first temperature, so that an
/// operator that cannot handle the data (its dimension, say) fails before any run.
fn try_once(op: &ResolvedOperator, data: &PreparedData, study: &Study) -> Result<()> {
    let dim = data.dim;
    let n = (data.train.len() / dim).min(8);
    let y = PointCloud::new("data", data.train[..n * dim].to_vec(), dim)?;
    let x: Vec<f64> = data.train[..n * dim].iter().map(|v| v * 0.5).collect();
    let x = PointCloud::new("particles", x, dim)?;
    let context = Context::default().with_temperature_factor(study.temperatures[0]);
    let backend = study.backend.open()?;
    drift_ops::drift_with(backend.as_ref(), op.operator.as_ref(), &x, &y, &context)
        .map(|_| ())
        .with_context(|| {
            format!(
                "operator `{}` cannot run on data set `{}` (dimension {dim})",
                op.label, data.name
            )
        })
}
