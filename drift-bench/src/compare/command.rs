//! The `drift-bench compare` command: a sweep from a file, a preset or the command line, run,
//! summarised on standard output and written as a report folder.

use crate::backend_kind::BackendKind;
use crate::compare::operator_spec::operator_file;
use crate::compare::presets::{preset, PRESETS};
use crate::compare::record::{DatasetSummary, Mode, RunOutput};
use crate::compare::run_sweep_part;
use crate::compare::shard::{choose_shard, Shard};
use crate::compare::shard_folder::{write_shard_folder, ShardParts};
use crate::compare::start::StartSpec;
use crate::compare::sweep::{Study, Sweep};
use crate::data::DataSpec;
use crate::report::{self, ReportFolder, ReportOptions};
use crate::same_file::check_no_input_inside;
use anyhow::{bail, Context as _, Result};
use clap::Args;
use std::io::Write;
use std::path::{Path, PathBuf};

/// Options of `drift-bench compare` (and of `drift-bench` without a command: the default preset).
#[derive(Clone, Debug, Default, Args)]
pub struct CompareArgs {
    /// A sweep file (RON): one or more studies (see the `compare::sweep` docs). Without it, the
    /// sweep comes from `--preset` or from the options below.
    #[arg(value_name = "SWEEP.ron")]
    pub sweep: Option<PathBuf>,
    /// A named sweep: `default` (the main comparison) or `quick` (seconds).
    #[arg(long)]
    pub preset: Option<String>,
    /// Operators (repeat): a registered name (taken at temperature 1), a .ron file, or RON text,
    /// each optionally `label=...`.
    #[arg(short = 'o', long = "operator", value_name = "OPERATOR")]
    pub operators: Vec<String>,
    /// Data sets, comma-separated: eight_gaussians, grid25, two_moons, checkerboard, spiral,
    /// unequal_modes, mixture:D:K, digits, file:PATH[:label=first|last|N|none] (a .csv
    /// whose columns look like labels needs `:label=`).
    #[arg(short = 'd', long = "data", value_delimiter = ',', value_name = "DATA")]
    pub datasets: Vec<String>,
    /// Temperatures relative to the data's scale, comma-separated [default: 0.005,0.02,0.1,0.5,1].
    #[arg(
        short = 't',
        long = "temperatures",
        value_delimiter = ',',
        allow_hyphen_values = true
    )]
    pub temperatures: Vec<f64>,
    /// Seeds of the runs, comma-separated [default: 0].
    #[arg(long, value_delimiter = ',')]
    pub seeds: Vec<u64>,
    /// Modes, comma-separated: flow, train [default: flow].
    #[arg(long = "mode", value_delimiter = ',', value_parser = parse_mode)]
    pub modes: Vec<Mode>,
    /// Points drawn from a generated data set, before the split [default: 1000].
    #[arg(long)]
    pub points: Option<usize>,
    /// Fraction of the data held out for the metrics [default: 1/3].
    #[arg(long, allow_hyphen_values = true)]
    pub test_fraction: Option<f64>,
    /// Seed of the data sets and their split [default: 0].
    #[arg(long)]
    pub data_seed: Option<u64>,
    /// Flow steps [default: 100].
    #[arg(long, allow_hyphen_values = true)]
    pub steps: Option<usize>,
    /// Flow step size eta [default: 0.5].
    #[arg(long, allow_hyphen_values = true)]
    pub eta: Option<f64>,
    /// Flow particles (0: as many as held-out points) [default: 0].
    #[arg(long)]
    pub particles: Option<usize>,
    /// Flow start: gaussian, gaussian:WIDTH (in data scales), blob:X,Y,...:STD (data units)
    /// [default: gaussian].
    #[arg(long)]
    pub start: Option<StartSpec>,
    /// Generator training steps [default: 300].
    #[arg(long)]
    pub train_steps: Option<usize>,
    /// Generated samples per training step, per class on labelled data [default: 64].
    #[arg(long)]
    pub batch: Option<usize>,
    /// Generator hidden width [default: 128].
    #[arg(long)]
    pub hidden: Option<usize>,
    /// Generator learning rate [default: 1e-3].
    #[arg(long, allow_hyphen_values = true)]
    pub learning_rate: Option<f64>,
    /// Run the drifts in f64 (f32 by default; metrics are always f64).
    #[arg(long)]
    pub f64: bool,
    /// Where the drifts run (`cuda` needs a build with the `cuda` feature, a driver and a device;
    /// otherwise the comparison stops before any run with the reason).
    #[arg(long, value_enum)]
    pub backend: Option<BackendKind>,
    /// Runs at once (each drift also uses every core; results do not depend on it).
    #[arg(long)]
    pub jobs: Option<usize>,
    /// The report folder. It is replaced whole, once every run is done (a new or empty folder, or a
    /// previous report's; none of the inputs may lie inside it), and locked while this command
    /// runs.
    #[arg(long, default_value = "compare-report")]
    pub out: PathBuf,
    /// Run only shard I of N (0-based, I < N): the runs whose 0-based index i in the sweep's run
    /// order has i mod N = I, written to --out as a shard folder (results.csv, results.json,
    /// shard.json, report.md) that `drift-bench merge` combines with the other shards into the
    /// report of the whole sweep. Without it, a task of a Slurm job array runs shard
    /// (SLURM_ARRAY_TASK_ID − SLURM_ARRAY_TASK_MIN) of SLURM_ARRAY_TASK_COUNT; `all` runs the
    /// whole sweep whatever those say.
    #[arg(long, value_name = "I/N")]
    pub shard: Option<String>,
    /// No progress bar.
    #[arg(long)]
    pub quiet: bool,
}

fn parse_mode(s: &str) -> Result<Mode, String> {
    match s {
        "flow" => Ok(Mode::Flow),
        "train" => Ok(Mode::Train),
        other => Err(format!("unknown mode `{other}` (flow or train)")),
    }
}

impl CompareArgs {
    /// The arguments of `drift-bench` with no command: the default comparison into
    /// `compare-report`, with a progress bar.
    pub fn default_command() -> Self {
        CompareArgs {
            out: PathBuf::from("compare-report"),
            ..CompareArgs::default()
        }
    }

    /// True when an option that builds a sweep from the command line is given.
    fn builds_a_study(&self) -> bool {
        !(self.operators.is_empty()
            && self.datasets.is_empty()
            && self.temperatures.is_empty()
            && self.seeds.is_empty()
            && self.modes.is_empty()
            && self.points.is_none()
            && self.test_fraction.is_none()
            && self.data_seed.is_none()
            && self.steps.is_none()
            && self.eta.is_none()
            && self.particles.is_none()
            && self.start.is_none()
            && self.train_steps.is_none()
            && self.batch.is_none()
            && self.hidden.is_none()
            && self.learning_rate.is_none()
            && !self.f64)
    }

    /// The sweep these arguments describe: a file, a preset, or one study from the options (the
    /// default preset when nothing is given).
    pub fn sweep(&self) -> Result<Sweep> {
        let sources = [
            self.sweep.is_some(),
            self.preset.is_some(),
            self.builds_a_study(),
        ];
        if sources.iter().filter(|s| **s).count() > 1 {
            bail!(
                "give a sweep file, --preset, or the sweep's options (--operator, --data, ...), not several"
            );
        }
        let mut sweep = if let Some(path) = &self.sweep {
            Sweep::from_file(path)?
        } else if let Some(name) = &self.preset {
            preset(name)?
        } else if self.builds_a_study() {
            self.study()?
        } else {
            preset(PRESETS[0])?
        };
        if let Some(jobs) = self.jobs {
            sweep.jobs = jobs;
        }
        if let Some(backend) = self.backend {
            sweep.studies.iter_mut().for_each(|s| s.backend = backend);
        }
        Ok(sweep)
    }

    fn study(&self) -> Result<Sweep> {
        if self.operators.is_empty() {
            bail!("--operator: give at least one operator (a name, a .ron file or RON text)");
        }
        if self.datasets.is_empty() {
            bail!("--data: give at least one data set");
        }
        let mut s = Study::new(self.operators.clone(), self.datasets.clone());
        if !self.temperatures.is_empty() {
            s.temperatures = self.temperatures.clone();
        }
        if !self.seeds.is_empty() {
            s.seeds = self.seeds.clone();
        }
        if !self.modes.is_empty() {
            s.modes = self.modes.clone();
        }
        s.points = self.points.unwrap_or(s.points);
        s.test_fraction = self.test_fraction.unwrap_or(s.test_fraction);
        s.data_seed = self.data_seed.unwrap_or(s.data_seed);
        s.f64 = self.f64;
        s.flow.steps = self.steps.unwrap_or(s.flow.steps);
        s.flow.eta = self.eta.unwrap_or(s.flow.eta);
        s.flow.particles = self.particles.unwrap_or(s.flow.particles);
        s.flow.start = self.start.clone().unwrap_or(s.flow.start);
        s.train.steps = self.train_steps.unwrap_or(s.train.steps);
        s.train.batch = self.batch.unwrap_or(s.train.batch);
        s.train.hidden = self.hidden.unwrap_or(s.train.hidden);
        s.train.learning_rate = self.learning_rate.unwrap_or(s.train.learning_rate);
        Ok(Sweep {
            studies: vec![s],
            jobs: 1,
        })
    }
}

/// Runs `drift-bench compare`: the sweep, its Markdown summary on `out`, the report folder.
/// `command` is the command line shown in the report. With a shard (`--shard`, or a Slurm job
/// array's variables), only the shard's runs, written as a shard folder
/// ([`crate::compare::shard_folder`]).
pub fn run(args: &CompareArgs, command: &str, out: &mut impl Write) -> Result<()> {
    let sweep = checked_sweep(args)?;
    let (shard, shard_note) = choose_shard(args.shard.as_deref(), |k| std::env::var(k).ok())?;
    // The report replaces the whole folder: checked, locked and prepared before the first run.
    check_inputs_outside(args, &sweep)?;
    let folder = ReportFolder::claim(&args.out)?;
    if let Some(note) = &shard_note {
        writeln!(out, "note: {note}")?;
    }
    let total = sweep.runs();
    let runs_here = shard.map_or(total, |s| s.runs(total));
    match shard {
        None => writeln!(
            out,
            "{} runs ({} studies); report folder {}",
            total,
            sweep.studies.len(),
            args.out.display()
        )?,
        Some(s) => writeln!(
            out,
            "shard {s}: {runs_here} of the sweep's {total} runs ({} studies); shard folder {} \
             (`drift-bench merge` combines the {} shards)",
            sweep.studies.len(),
            args.out.display(),
            s.count
        )?,
    }
    // Said before the runs: how many run at once when --jobs asks for more than can.
    let (_, jobs_note) = crate::compare::effective_jobs(sweep.jobs, runs_here);
    if let Some(note) = &jobs_note {
        writeln!(out, "note: {note}")?;
    }
    out.flush()?;
    let clock = std::time::Instant::now();
    let keep = |i: usize| shard.is_none_or(|s: Shard| s.holds(i));
    let mut results = run_sweep_part(&sweep, !args.quiet, &keep)?;
    for run in &mut results.runs {
        run.record.key.settings.command = command.to_string();
    }
    for notice in &results.notes[..results.notices] {
        if Some(notice) != jobs_note.as_ref() {
            writeln!(out, "note: {}", notice.replace('`', ""))?;
        }
    }
    let records: Vec<_> = results.runs.iter().map(|r| r.record.clone()).collect();
    if !records.is_empty() {
        writeln!(out, "{}", report::summary_table(&records))?;
    }
    let mut notes = report_notes(args);
    notes.extend(results.notes.iter().cloned());
    if let Some(shard) = shard {
        // What the merged report says of the sweep, not how this process ran its part.
        notes.retain(|n| Some(n) != jobs_note.as_ref());
        let files = write_shard_folder(
            folder,
            &ShardParts {
                shard,
                sweep: &sweep,
                command,
                notes,
                seconds: clock.elapsed().as_secs_f64(),
                results: &results,
            },
        )?;
        writeln!(
            out,
            "wrote shard {shard} of sweep {} to {} ({} runs); total {:.1} s",
            files.fingerprint,
            args.out.display(),
            results.runs.len(),
            clock.elapsed().as_secs_f64()
        )?;
        return Ok(());
    }
    notes.push(format!(
        "Total wall time {:.1} s with {} job(s) on {} hardware thread(s).",
        clock.elapsed().as_secs_f64(),
        results.jobs,
        std::thread::available_parallelism().map_or(1, |n| n.get())
    ));
    write_sweep_report(
        out,
        folder,
        (&results.runs, &results.datasets),
        (command, notes),
        &args.out,
        clock,
    )
}

/// Writes the sweep's report into `folder` (committed whole) and says where: the last step of
/// `compare`, in one process or on MPI rank 0.
pub(crate) fn write_sweep_report(
    out: &mut impl Write,
    folder: ReportFolder,
    (runs, datasets): (&[RunOutput], &[DatasetSummary]),
    (command, notes): (&str, Vec<String>),
    target: &Path,
    clock: std::time::Instant,
) -> Result<()> {
    let files = report::write_report_in(
        folder,
        runs,
        datasets,
        &ReportOptions {
            title: REPORT_TITLE.into(),
            command: command.to_string(),
            notes,
        },
    )?;
    writeln!(
        out,
        "wrote {} files to {} (open report.md); total {:.1} s",
        files.files.len(),
        target.display(),
        clock.elapsed().as_secs_f64()
    )?;
    Ok(())
}

/// The sweep of `args`, checked (a file whose column looks like labels needs `:label=`: said
/// before anything is printed).
pub(crate) fn checked_sweep(args: &CompareArgs) -> Result<Sweep> {
    let sweep = args.sweep()?;
    sweep.check()?;
    for (s, study) in sweep.studies.iter().enumerate() {
        for name in &study.datasets {
            if let Ok(spec) = DataSpec::parse(name) {
                spec.check_label_column()
                    .with_context(|| format!("study {}", s + 1))?;
            }
        }
    }
    Ok(sweep)
}

/// The title of a comparison's report (a merged one's too).
pub const REPORT_TITLE: &str = "drift-bench compare";

/// The report's first notes: the preset (when the sweep is one), the temperature convention and
/// the metrics' definitions. The sweep's own notes (data sets) follow them.
pub(crate) fn report_notes(args: &CompareArgs) -> Vec<String> {
    let mut notes = vec![
        "Temperatures are relative to the data's scale s: each run works in coordinates (x - mean)/s, where s is the mean distance between two seen data points, and every kernel temperature of the operator is multiplied by the sweep's temperature.".to_string(),
        format!(
            "Metrics compare the final samples with the held-out data (never seen by a drift): W2^2 by exact assignment (a seeded subsample of at most {} points per side), sliced W2 over {} directions, MMD^2 with a Gaussian kernel whose bandwidth is the median distance of the held-out data, energy distance; modes covered = modes holding at least {}/K of the samples within std*(sqrt(D)+3) of their centre; classes covered likewise by the nearest-neighbour classifier.",
            crate::compare::evaluate::W2_MAX_POINTS,
            crate::compare::evaluate::SLICED_DIRECTIONS,
            crate::compare::evaluate::COVERAGE_SHARE
        ),
    ];
    if args.sweep.is_none() && !args.builds_a_study() {
        let name = args.preset.as_deref().unwrap_or(PRESETS[0]);
        notes.insert(
            0,
            format!("The sweep is the `{name}` preset (`drift-bench compare --preset {name}`); every setting is under Settings below."),
        );
    }
    notes
}

/// Fails, naming the input and the folder, when a file the sweep reads (the sweep file, an
/// operator file, a `file:` data set) lies inside the report folder, which the report replaces
/// whole.
pub(crate) fn check_inputs_outside(args: &CompareArgs, sweep: &Sweep) -> Result<()> {
    let mut inputs: Vec<(String, PathBuf)> = Vec::new();
    if let Some(path) = &args.sweep {
        inputs.push((format!("the sweep file {}", path.display()), path.clone()));
    }
    for study in &sweep.studies {
        for op in &study.operators {
            if let Some(path) = operator_file(op) {
                inputs.push((format!("the operator file {}", path.display()), path.into()));
            }
        }
        for name in &study.datasets {
            if let Ok(DataSpec::File { path, .. }) = DataSpec::parse(name) {
                inputs.push((format!("the data set {}", name.trim()), path));
            }
        }
    }
    let inputs: Vec<(&str, &Path)> = inputs
        .iter()
        .map(|(what, path)| (what.as_str(), path.as_path()))
        .collect();
    Ok(check_no_input_inside("--out", &args.out, &inputs)?)
}
