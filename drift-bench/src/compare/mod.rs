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
//!
//! **A sweep may be split over processes** without MPI (a scheduler's job array): each runs a
//! [`shard`] of the runs into a [`shard_folder`], and [`merge`] writes the whole sweep's report
//! from them.

pub mod cell;
pub mod command;
pub mod cost;
pub mod evaluate;
pub mod merge;
pub mod merge_error;
pub mod operator_spec;
pub mod prepared;
pub mod presets;
pub mod record;
pub mod rerun;
pub mod shard;
pub mod shard_folder;
pub mod start;
pub mod sweep;

pub use record::{
    DatasetSummary, Mode, RunKey, RunMetrics, RunOutput, RunRecord, RunSettings, RunStatus,
};
pub use sweep::{FlowSettings, Study, Sweep, TrainSettings};

use crate::compare::cell::run_cell;
use crate::compare::operator_spec::{make_labels_unique, resolve, ResolvedOperator};
use crate::compare::prepared::PreparedData;
use crate::compare::start::StartSpec;
use crate::data::{self, DataSpec};
use anyhow::{bail, Context as _, Result};
use drift_api::{Context, PointCloud};
use indicatif::{ProgressBar, ProgressStyle};
use rayon::prelude::*;
use std::io::IsTerminal;
use std::time::Instant;

/// A study with its operators resolved and its data prepared.
struct ReadyStudy<'a> {
    study: &'a Study,
    operators: Vec<ResolvedOperator>,
    /// Indices into the prepared data, with the data set's name as the study gives it.
    datasets: Vec<(usize, String)>,
}

/// One run to do.
struct Cell {
    study: usize,
    operator: usize,
    /// Index into the study's data sets.
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
    /// Each run's 0-based index in the sweep's run order (`0..` for a whole sweep; the runs of a
    /// part, [`run_sweep_part`]).
    pub indices: Vec<usize>,
    /// The data sets, as the report needs them.
    pub datasets: Vec<DatasetSummary>,
    /// Notes for the report: `--jobs` capped, a first line of a file read as a header, a file's
    /// features standardised or one of them carrying most of the variance, then each
    /// data set's (classifier accuracy, scale). The command also prints the first two kinds.
    pub notes: Vec<String>,
    /// How many of `notes` come before the data sets' own (the ones worth printing at once).
    pub notices: usize,
    /// The runs evaluated at once: the sweep's `jobs`, capped at the number of runs and of
    /// hardware threads.
    pub jobs: usize,
}

/// The runs to evaluate at once for `jobs` asked for: at most one per run and per hardware thread
/// (more only queue, and each thread's stack costs memory). Returns the number and, when it is
/// smaller than asked for, a note saying why.
///
/// ```
/// use drift_bench::compare::effective_jobs;
/// assert_eq!(effective_jobs(1, 10).0, 1);
/// let (jobs, note) = effective_jobs(100_000, 3);
/// assert!(jobs <= 3 && note.unwrap().contains("100000"));
/// ```
pub fn effective_jobs(jobs: usize, runs: usize) -> (usize, Option<String>) {
    let threads = std::thread::available_parallelism().map_or(1, |n| n.get());
    let capped = jobs.min(runs.max(1)).min(threads).max(1);
    let note = (capped < jobs).then(|| {
        format!("--jobs {jobs}: running {capped} at once ({runs} runs, {threads} hardware threads)")
    });
    (capped, note)
}

/// Runs a sweep: checks and prepares everything, then runs every cell (in parallel up to
/// `sweep.jobs`), showing a progress bar on standard error when `progress` is set.
pub fn run_sweep(sweep: &Sweep, progress: bool) -> Result<SweepResults> {
    run_sweep_part(sweep, progress, &|_| true)
}

/// Runs the runs of a sweep whose 0-based index in the sweep's run order (study, data set, mode,
/// operator, temperature, seed) `keep` accepts, as [`run_sweep`] runs them all: every check and
/// every data set is done and prepared as for the whole sweep, so a part's runs are the whole
/// sweep's runs of the same indices, and its data sets are all the sweep's.
pub fn run_sweep_part(
    sweep: &Sweep,
    progress: bool,
    keep: &dyn Fn(usize) -> bool,
) -> Result<SweepResults> {
    sweep.check()?;
    let mut data: Vec<(String, PreparedData)> = Vec::new();
    let mut ready = Vec::new();
    let mut data_notes: Vec<String> = Vec::new();
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
            spec.check_label_column().with_context(|| at.clone())?;
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
                    let mut prepared = PreparedData::new(
                        &spec,
                        study.points,
                        study.test_fraction,
                        study.data_seed,
                    )
                    .with_context(|| at.clone())?;
                    for note in data::file_notes(&spec, &prepared.train, prepared.dim) {
                        if !data_notes.contains(&note) {
                            data_notes.push(note);
                        }
                    }
                    // The same data set drawn or split differently by another study: its own
                    // name, so that the report never shows one as the other.
                    let base = prepared.name.clone();
                    let mut k = 1;
                    while data.iter().any(|(_, d)| d.name == prepared.name) {
                        k += 1;
                        prepared.name = format!("{base}#{k}");
                    }
                    data.push((key, prepared));
                    data.len() - 1
                }
            };
            let prepared = &data[index].1;
            if study.modes.contains(&Mode::Flow) {
                if let StartSpec::Blob { centre, .. } = &study.flow.start {
                    if centre.len() != prepared.dim {
                        bail!(
                            "{at}: the blob start's centre has {} coordinates but data set `{}` has dimension {}",
                            centre.len(),
                            prepared.name,
                            prepared.dim
                        );
                    }
                }
            }
            for op in &operators {
                try_once(op, prepared, study).with_context(|| at.clone())?;
            }
            datasets.push((index, spec.name()));
        }
        ready.push(ReadyStudy {
            study,
            operators,
            datasets,
        });
    }
    let (indices, cells): (Vec<usize>, Vec<Cell>) = grid(&ready)
        .into_iter()
        .enumerate()
        .filter(|(i, _)| keep(*i))
        .unzip();
    // Each step advances the bar by its run's expected cost, so that the slow runs the grid puts
    // last (training, low temperatures, Sinkhorn) do not leave the ETA short.
    let units = cost::step_units(
        &cells
            .iter()
            .map(|c| {
                (
                    expected_step_cost(c, &ready, &data),
                    steps_of(ready[c.study].study, c.mode),
                )
            })
            .collect::<Vec<_>>(),
    );
    let total_units: u64 = cells
        .iter()
        .zip(&units)
        .map(|(c, u)| u * steps_of(ready[c.study].study, c.mode) as u64)
        .sum();
    let bar = if progress {
        let bar = ProgressBar::new(total_units);
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
    let (jobs, jobs_note) = effective_jobs(sweep.jobs, total_runs);
    // Where standard error is not a terminal (a log file, a batch job) the bar draws nothing: a
    // line per finished run says how far the sweep is instead.
    let lines = progress && !std::io::stderr().is_terminal();
    let started = std::time::Instant::now();
    let run_one = |(cell, units): (&Cell, &u64)| -> Result<RunOutput> {
        let ticked = std::sync::atomic::AtomicU64::new(0);
        let out = run_one_cell(cell, &ready, &data, &|| {
            ticked.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            bar.inc(*units)
        });
        // A run that diverged or failed stopped short: the work it will not do counts as done.
        let steps = steps_of(ready[cell.study].study, cell.mode) as u64;
        bar.inc(steps.saturating_sub(ticked.into_inner()) * units);
        let n = done.fetch_add(1, std::sync::atomic::Ordering::Relaxed) + 1;
        bar.set_message(format!("{n}/{total_runs}"));
        if let (true, Ok(run)) = (lines, &out) {
            let key = &run.record.key;
            let elapsed = started.elapsed().as_secs_f64();
            let fraction = bar.position() as f64 / total_units.max(1) as f64;
            eprintln!(
                "run {n}/{total_runs} done after {:.1} s: {} on {}, {}, T {}, seed {}: {} in {:.1} s; \
                 {:.0}% of the expected work done, about {:.0} s left",
                elapsed,
                key.operator,
                key.dataset,
                key.mode.name(),
                key.temperature,
                key.seed,
                run.record.status.name(),
                run.record.seconds,
                100.0 * fraction,
                elapsed * (1.0 - fraction) / fraction.max(1e-9)
            );
        }
        out
    };
    bar.set_message(format!("0/{total_runs}"));
    let runs: Vec<RunOutput> = if jobs <= 1 {
        cells
            .iter()
            .zip(&units)
            .map(run_one)
            .collect::<Result<_>>()?
    } else {
        let pool = rayon::ThreadPoolBuilder::new()
            .num_threads(jobs)
            .build()
            .context("cannot start the run threads")?;
        pool.install(|| {
            cells
                .par_iter()
                .zip(&units)
                .map(run_one)
                .collect::<Result<_>>()
        })?
    };
    bar.finish_and_clear();
    let mut notes: Vec<String> = jobs_note.into_iter().chain(data_notes).collect();
    let notices = notes.len();
    notes.extend(data.iter()
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
        }));
    Ok(SweepResults {
        runs,
        indices,
        datasets: data.iter().map(|(_, d)| d.summary()).collect(),
        notes,
        notices,
        jobs,
    })
}

/// Every cell of every study, in order: study, data set, mode, operator, temperature, seed.
fn grid(ready: &[ReadyStudy]) -> Vec<Cell> {
    let mut cells = Vec::new();
    for (s, r) in ready.iter().enumerate() {
        for dataset in 0..r.datasets.len() {
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

/// The expected cost of one step of `cell` ([`cost::step_cost`]).
fn expected_step_cost(cell: &Cell, ready: &[ReadyStudy], data: &[(String, PreparedData)]) -> f64 {
    let r = &ready[cell.study];
    let prepared = &data[r.datasets[cell.dataset].0].1;
    let operator = &r.operators[cell.operator].expanded;
    let shape = cost::RunShape::of(operator, cell.temperature, r.study, prepared);
    cost::step_cost(r.study, cell.mode, steps_of(r.study, cell.mode), &shape)
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
    let (index, data_name) = &r.datasets[cell.dataset];
    let prepared = &data[*index].1;
    let study = r.study;
    let flow = (cell.mode == Mode::Flow).then_some(&study.flow);
    let train = (cell.mode == Mode::Train).then_some(&study.train);
    let key = RunKey {
        operator: resolved.label.clone(),
        operator_ron: resolved.ron.clone(),
        dataset: prepared.name.clone(),
        dim: prepared.dim,
        mode: cell.mode,
        temperature: cell.temperature,
        seed: cell.seed,
        settings: RunSettings {
            study: cell.study + 1,
            data: data_name.clone(),
            points: study.points,
            data_seed: study.data_seed,
            test_fraction: study.test_fraction,
            precision: if study.f64 { "f64" } else { "f32" }.to_string(),
            backend: match study.backend {
                crate::backend_kind::BackendKind::Cpu => "cpu",
                crate::backend_kind::BackendKind::Cuda => "cuda",
            }
            .to_string(),
            flow_steps: flow.map(|f| f.steps),
            eta: flow.map(|f| f.eta),
            particles: flow.map(|f| f.particles),
            start: flow.map(|f| f.start.to_string()),
            train_steps: train.map(|t| t.steps),
            batch: train.map(|t| t.batch),
            hidden: train.map(|t| t.hidden),
            layers: train.map(|t| t.layers),
            latent: train.map(|t| t.latent),
            learning_rate: train.map(|t| t.learning_rate),
            features: train.and_then(|t| ron::to_string(&t.features).ok()),
            operator_expanded: resolved.expanded.clone(),
            command: String::new(),
            version: env!("CARGO_PKG_VERSION").to_string(),
        },
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
    metrics.sinkhorn_unconverged = outcome.sinkhorn_unconverged;
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
