//! `drift-bench apply`: runs an operator from a RON file on point sets from `.npy` or `.csv` files.
//!
//! ```no_run
//! use drift_bench::apply::{self, ApplyArgs};
//! use std::path::PathBuf;
//!
//! let args = ApplyArgs {
//!     out: Some(PathBuf::from("v.npy")),
//!     ..ApplyArgs::new("op.ron".into(), "x.npy".into(), "y.csv".into())
//! };
//! apply::run(&args, &mut std::io::stdout(), &mut std::io::stderr())?;
//! # Ok::<(), anyhow::Error>(())
//! ```

mod print;
mod single;

pub(crate) use print::print_elapsed;
use print::{print_report, print_summary};
use single::run_in;

use crate::apply_batch::{self, BatchInput, BatchInputs};
use crate::array::{Array, Shape};
use crate::backend_kind::BackendKind;
use crate::batch_layout::{BatchOffsets, OffsetsInput};
use crate::pending_file::PendingFile;
use crate::point_files::{self, label};
use crate::{csv, invalid_arg, same_file};
use anyhow::{anyhow, bail, Result};
use clap::Args;
use drift_api::{DriftOperator, Precision};
use std::io::Write;
use std::path::{Path, PathBuf};

/// The default `--negative-weight`: a negative weighs as much as one generated sample.
pub const DEFAULT_NEGATIVE_WEIGHT: f64 = 1.0;

/// The default `--show`: rows of V printed when there is no `--out`.
pub const DEFAULT_SHOW: usize = 5;

/// Arguments of `drift-bench apply` (the field docs are the command's help).
///
/// Precision: the computation runs in the precision of X and Y (`.npy` files keep theirs, `.csv`
/// files are f64). If X and Y differ, they are widened to f64, which is exact, and a note is printed;
/// `--f32` or `--f64` choose the precision explicitly (narrowing rounds to nearest). Weights and
/// negatives are converted to the working precision. A `.npy` output has the working precision.
#[derive(Debug, Args)]
pub struct ApplyArgs {
    /// The operator: a RON file (see `drift-bench list --examples`).
    #[arg(long, value_name = "FILE")]
    pub op: PathBuf,
    /// Generated samples X: `.npy` (float32/float64, shape (N, D) or (N,)) or `.csv`. A
    /// three-dimensional `.npy` (B, N, D) is a batch of B problems: then `--y` is (B, M, D),
    /// `--negatives` (B, K, D), the weights (B, n), the operator runs once on the whole batch
    /// (batch-wide statistics such as `deng_official`'s scale over every problem) and V is
    /// written as (B, N, D). A ragged batch (problems of different sizes) gives every side as
    /// (total, D), its problems' points back to back, with `--x-offsets`, `--y-offsets` and
    /// `--negative-offsets`; its weights are (total,) and V is written as (total, D).
    #[arg(long, value_name = "FILE")]
    pub x: PathBuf,
    /// Data samples Y, same dimension as X.
    #[arg(long, value_name = "FILE")]
    pub y: PathBuf,
    /// Where to write the field V (N x D, same shape form as X): `.npy` or `.csv`. Without it, a
    /// summary is printed.
    #[arg(long, value_name = "FILE")]
    pub out: Option<PathBuf>,
    /// Per-point weights of X (relative masses; (N,) `.npy` or a one-column `.csv`).
    #[arg(long, value_name = "FILE")]
    pub x_weights: Option<PathBuf>,
    /// Per-point weights of Y.
    #[arg(long, value_name = "FILE")]
    pub y_weights: Option<PathBuf>,
    /// Extra negatives (unconditional samples) joining the repulsion, for `guidance`.
    #[arg(long, value_name = "FILE")]
    pub negatives: Option<PathBuf>,
    /// Per-negative weights ((K,) or, for a batch, (B, K), for a ragged batch (total,)): each negative's weight relative to one
    /// generated sample, multiplied by `--negative-weight`.
    #[arg(long, value_name = "FILE")]
    pub negative_weights: Option<PathBuf>,
    /// A ragged batch: X's offsets, a one-dimensional integer `.npy` (int32, int64, uint32 or
    /// uint64) of B + 1 offsets, 0 first, never decreasing, the last the number of rows of
    /// `--x`; problem b holds rows `offsets[b]..offsets[b + 1]`. Offsets for one side make the
    /// batch ragged: then every side (`--y`, `--negatives`) needs its own, with the same B.
    #[arg(long, value_name = "FILE")]
    pub x_offsets: Option<PathBuf>,
    /// A ragged batch: Y's offsets (B + 1 values, see `--x-offsets`).
    #[arg(long, value_name = "FILE")]
    pub y_offsets: Option<PathBuf>,
    /// A ragged batch: the negatives' offsets (B + 1 values, see `--x-offsets`; a problem may
    /// have no negatives).
    #[arg(long, value_name = "FILE")]
    pub negative_offsets: Option<PathBuf>,
    /// Relative weight of each negative against one generated sample (`guidance` sets its own,
    /// (alpha - 1)(N - 1)/N_unc, and ignores this).
    // A value starting with `-` (`-1`, `-1e-3`) is a value, not an option, so that the range check
    // names it.
    #[arg(
        long,
        default_value_t = DEFAULT_NEGATIVE_WEIGHT,
        value_name = "W",
        allow_hyphen_values = true
    )]
    pub negative_weight: f64,
    /// Compute in single precision, whatever the inputs hold.
    #[arg(long, conflicts_with = "f64")]
    pub f32: bool,
    /// Compute in double precision, whatever the inputs hold.
    #[arg(long)]
    pub f64: bool,
    /// Flow step passed to the operator (schedules such as `annealed` read it).
    #[arg(long, default_value_t = 0)]
    pub step: u64,
    /// Flow time passed to the operator.
    #[arg(long, default_value_t = 0.0, allow_hyphen_values = true)]
    pub time: f64,
    /// Rows of V shown in the summary when there is no `--out`.
    #[arg(long, default_value_t = DEFAULT_SHOW, value_name = "N")]
    pub show: usize,
    /// Every `.csv` input starts with a header line (without it, a first line is a header only if
    /// none of its cells is a number).
    #[arg(long)]
    pub header: bool,
    /// Allow `--out` to be one of the inputs (it is replaced once every input has been read).
    #[arg(long)]
    pub force: bool,
    /// Evaluate the operator K times on the same inputs and print the median and minimum time of
    /// one evaluation (file reading and writing excluded), for benchmarks; V is the last
    /// evaluation's (every evaluation starts from a zero field, so all are the same).
    #[arg(long, default_value_t = 1, value_name = "K", value_parser = clap::value_parser!(u32).range(1..=MAX_REPEAT as i64))]
    pub repeat: u32,
    /// Where the drift is computed (`cuda` needs a build with the `cuda` feature, a driver and a
    /// device; otherwise the command stops with the reason).
    #[arg(long, value_enum, default_value_t = BackendKind::Cpu)]
    pub backend: BackendKind,
    /// Under `mpirun -np K` (a build with the `mpi` feature), how a single problem (N, D) is
    /// split over the ranks: `rows` (the default; every rank holds X and Y and computes its
    /// share of the rows of every pass over pairs) or `columns` (every rank holds X and reads
    /// only its contiguous range of Y's points and `--y-weights`; operators that need all of Y
    /// in one place, `sliced_wasserstein` and `deng_official`, refuse). Refused without MPI and
    /// for a batch, which the ranks split by problems.
    #[arg(long, value_enum, value_name = "HOW")]
    pub split: Option<SplitBy>,
}

/// How `mpirun apply` splits a single problem over the ranks (`--split`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, clap::ValueEnum)]
pub enum SplitBy {
    /// Every rank holds both sets and computes its share of every pass's rows (`RowShards`).
    #[default]
    Rows,
    /// Every rank holds all of X and a contiguous shard of Y (`ColumnShards`).
    Columns,
}

impl SplitBy {
    /// The value as given on the command line.
    pub fn name(self) -> &'static str {
        match self {
            SplitBy::Rows => "rows",
            SplitBy::Columns => "columns",
        }
    }
}

/// The largest `--repeat`.
pub const MAX_REPEAT: u32 = 10_000;

impl ApplyArgs {
    /// The arguments of `apply --op OP --x X --y Y` with every option at its default: no output
    /// file (a summary is printed), no weights or negatives, the inputs' precision, step 0 and
    /// time 0. Set the other fields with struct update syntax.
    pub fn new(op: PathBuf, x: PathBuf, y: PathBuf) -> Self {
        ApplyArgs {
            op,
            x,
            y,
            out: None,
            x_weights: None,
            y_weights: None,
            negatives: None,
            negative_weights: None,
            x_offsets: None,
            y_offsets: None,
            negative_offsets: None,
            negative_weight: DEFAULT_NEGATIVE_WEIGHT,
            f32: false,
            f64: false,
            step: 0,
            time: 0.0,
            show: DEFAULT_SHOW,
            header: false,
            force: false,
            repeat: 1,
            backend: BackendKind::Cpu,
            split: None,
        }
    }

    /// The input files, each with its argument.
    fn input_files(&self) -> Vec<(&'static str, &Path)> {
        let optional = [
            ("--x-weights", &self.x_weights),
            ("--y-weights", &self.y_weights),
            ("--negatives", &self.negatives),
            ("--negative-weights", &self.negative_weights),
            ("--x-offsets", &self.x_offsets),
            ("--y-offsets", &self.y_offsets),
            ("--negative-offsets", &self.negative_offsets),
        ];
        [("--op", &*self.op), ("--x", &*self.x), ("--y", &*self.y)]
            .into_iter()
            .chain(
                optional
                    .into_iter()
                    .filter_map(|(arg, p)| p.as_deref().map(|p| (arg, p))),
            )
            .collect()
    }

    fn header(&self) -> csv::Header {
        if self.header {
            csv::Header::Declared
        } else {
            csv::Header::Detect
        }
    }
}

/// The inputs read from disk, before conversion to the working precision.
#[derive(Clone)]
pub(crate) struct Inputs {
    pub(crate) x: Array,
    pub(crate) y: Array,
    pub(crate) x_weights: Option<Array>,
    pub(crate) y_weights: Option<Array>,
    pub(crate) negatives: Option<Array>,
    pub(crate) negative_weights: Option<Array>,
    /// The offsets of a ragged batch's sides.
    pub(crate) offsets: BatchOffsets,
}

impl Inputs {
    /// Whether the inputs are a batch of problems: a three-dimensional `--x`, or offsets.
    pub(crate) fn is_batch(&self) -> bool {
        matches!(self.x.shape(), Shape::Batch(..)) || self.offsets.any()
    }
}

fn read_optional(arg: &str, path: &Option<PathBuf>, header: csv::Header) -> Result<Option<Array>> {
    path.as_deref()
        .map(|p| point_files::read_array(arg, p, header))
        .transpose()
}

/// Checks every argument, before anything is read, computed or written.
pub(crate) fn check_args(a: &ApplyArgs) -> Result<()> {
    // The command line cannot ask for both (clap refuses it); a program filling the fields can.
    if a.f32 && a.f64 {
        bail!("--f32 and --f64 choose different precisions: pass one of them");
    }
    invalid_arg::finite("--time", a.time)?;
    // clap checks the range on the command line; a program filling the fields may not.
    if !(1..=MAX_REPEAT).contains(&a.repeat) {
        bail!(
            "--repeat: must be between 1 and {MAX_REPEAT}, got {}",
            a.repeat
        );
    }
    invalid_arg::finite_at_least("--negative-weight", a.negative_weight, 0.0, true)?;
    if a.negative_offsets.is_some() && a.negatives.is_none() {
        bail!("--negative-offsets: there are no --negatives to split into problems");
    }
    Ok(())
}

/// Checks every argument and prepares the output file, before anything is read or computed.
pub(crate) fn prepare(a: &ApplyArgs) -> Result<Option<PendingFile>> {
    check_args(a)?;
    let Some(path) = &a.out else {
        return Ok(None);
    };
    if !a.force {
        same_file::check_output_is_no_input("--out", path, &a.input_files())?;
    }
    // Created now, so that a folder that cannot take it fails before the computation.
    Ok(Some(point_files::prepare_output("--out", path)?))
}

/// Runs the command: checks the arguments and opens the output, reads the inputs, computes the
/// field, writes it, and only then prints the diagnostics to `out` (notes go to `err`), so that
/// printing cannot keep the result from being written.
pub fn run(a: &ApplyArgs, out: &mut impl Write, err: &mut impl Write) -> Result<()> {
    if let Some(by) = a.split {
        bail!(
            "--split {}: splits a single problem over the ranks of an MPI job (a build with the \
             `mpi` feature started by `mpirun -np K`, K > 1); this process runs alone: leave \
             --split out",
            by.name()
        );
    }
    let pending = prepare(a)?;
    let (op, inputs) = read(a)?;
    let precision = precision_of(a, &inputs, err)?;
    finish(a, op.as_ref(), &inputs, precision, pending, out, None)
}

/// Loads the operator and reads every input.
pub(crate) fn read(a: &ApplyArgs) -> Result<(Box<dyn DriftOperator>, Inputs)> {
    let op = drift_api::load_operator(&a.op).map_err(|e| anyhow!("--op {e}"))?;
    let header = a.header();
    let inputs = Inputs {
        x: point_files::read_array("--x", &a.x, header)?,
        y: point_files::read_array("--y", &a.y, header)?,
        x_weights: read_optional("--x-weights", &a.x_weights, header)?,
        y_weights: read_optional("--y-weights", &a.y_weights, header)?,
        negatives: read_optional("--negatives", &a.negatives, header)?,
        negative_weights: read_optional("--negative-weights", &a.negative_weights, header)?,
        offsets: read_offsets(a)?,
    };
    if a.negative_weights.is_some() && a.negatives.is_none() {
        bail!("--negative-weights: there are no --negatives to weigh");
    }
    Ok((op, inputs))
}

/// The offsets files of a ragged batch given in `a`.
pub(crate) fn read_offsets(a: &ApplyArgs) -> Result<BatchOffsets> {
    BatchOffsets::read(
        a.x_offsets.as_ref(),
        a.y_offsets.as_ref(),
        a.negative_offsets.as_ref(),
    )
}

/// The working precision (see [`ApplyArgs`]); a note on `err` when X and Y differ and no flag
/// chooses.
pub(crate) fn precision_of(
    a: &ApplyArgs,
    inputs: &Inputs,
    err: &mut impl Write,
) -> Result<Precision> {
    let (px, py) = (inputs.x.values().precision(), inputs.y.values().precision());
    Ok(if a.f32 {
        Precision::F32
    } else if a.f64 || px != py {
        if !a.f64 {
            writeln!(
                err,
                "note: --x holds {} and --y holds {}; computing in f64 (pass --f32 or --f64 to choose)",
                name(px),
                name(py)
            )?;
        }
        Precision::F64
    } else {
        px
    })
}

/// One process's part of a single problem split over several: by rows
/// ([`drift_ops::RowShards`]), or by columns ([`drift_ops::ColumnShards`], the inputs' `y` and
/// `y_weights` then this process's range of the points of Y).
#[derive(Clone, Copy)]
pub(crate) struct ProcessSplit<'c> {
    /// Completes what the processes compute.
    pub(crate) collective: &'c dyn drift_api::kit::Collective,
    /// This process.
    pub(crate) rank: usize,
    /// The processes.
    pub(crate) ranks: usize,
    /// By columns: the points of the whole of Y; by rows: `None`.
    pub(crate) columns: Option<usize>,
}

/// Computes the field of the inputs in `precision` (a single problem split over processes when
/// `split` is given), writes it to `pending` and prints the diagnostics.
pub(crate) fn finish(
    a: &ApplyArgs,
    op: &dyn DriftOperator,
    inputs: &Inputs,
    precision: Precision,
    pending: Option<PendingFile>,
    out: &mut impl Write,
    split: Option<ProcessSplit<'_>>,
) -> Result<()> {
    if inputs.is_batch() {
        let batch = batch_inputs(a, inputs);
        let collective = &drift_api::kit::SingleProcess;
        let outcome = match precision {
            Precision::F32 => apply_batch::run_batch_in::<f32>(a, op, &batch, collective)?,
            Precision::F64 => apply_batch::run_batch_in::<f64>(a, op, &batch, collective)?,
        };
        if let Some(pending) = pending {
            point_files::commit_array("--out", pending, &outcome.v)?;
        }
        return apply_batch::print_outcome(out, a, &outcome);
    }
    refuse_batches(a, inputs)?;
    let outcome = match precision {
        Precision::F32 => run_in::<f32>(a, op, inputs, split)?,
        Precision::F64 => run_in::<f64>(a, op, inputs, split)?,
    };
    if let Some(pending) = pending {
        point_files::commit_array("--out", pending, &outcome.v)?;
    }

    writeln!(out, "{}", outcome.sizes)?;
    print_report(out, &outcome.report, 0)?;
    print_elapsed(out, &outcome.times)?;
    match &a.out {
        Some(path) => writeln!(
            out,
            "wrote V, shape {}, {}, to {}",
            outcome.v.shape(),
            name(outcome.precision),
            path.display()
        )?,
        None => print_summary(out, &outcome.v, a.show)?,
    }
    Ok(())
}

/// The inputs of a batched run, each with its argument and file.
pub(crate) fn batch_inputs<'a>(a: &'a ApplyArgs, i: &'a Inputs) -> BatchInputs<'a> {
    let offsets = |arg, path: &'a Option<PathBuf>, values: &'a Option<Vec<usize>>| {
        path.as_deref()
            .zip(values.as_deref())
            .map(|(path, values)| OffsetsInput { arg, path, values })
    };
    let input = |arg, path: &'a Option<PathBuf>, array: &'a Option<Array>| {
        path.as_deref()
            .zip(array.as_ref())
            .map(|(path, array)| BatchInput {
                arg,
                path,
                array,
                offsets: None,
            })
    };
    BatchInputs {
        x: BatchInput {
            arg: "--x",
            path: &a.x,
            array: &i.x,
            offsets: offsets("--x-offsets", &a.x_offsets, &i.offsets.x),
        },
        y: BatchInput {
            arg: "--y",
            path: &a.y,
            array: &i.y,
            offsets: offsets("--y-offsets", &a.y_offsets, &i.offsets.y),
        },
        x_weights: input("--x-weights", &a.x_weights, &i.x_weights),
        y_weights: input("--y-weights", &a.y_weights, &i.y_weights),
        negatives: input("--negatives", &a.negatives, &i.negatives).map(|n| BatchInput {
            offsets: offsets(
                "--negative-offsets",
                &a.negative_offsets,
                &i.offsets.negatives,
            ),
            ..n
        }),
        negative_weights: input(
            "--negative-weights",
            &a.negative_weights,
            &i.negative_weights,
        ),
    }
}

/// A three-dimensional input when `--x` is not a batch is a mistake: say which.
fn refuse_batches(a: &ApplyArgs, i: &Inputs) -> Result<()> {
    let b = batch_inputs(a, i);
    let others = [Some(b.y), b.negatives];
    for input in others.into_iter().flatten() {
        if let Shape::Batch(..) = input.array.shape() {
            bail!(
                "{}: shape {} is a batch of problems but --x {} has shape {}: give --x as (B, N, D) too",
                label(input.arg, input.path),
                input.array.shape(),
                a.x.display(),
                i.x.shape()
            );
        }
    }
    Ok(())
}

/// The name of a precision, as the command prints it.
pub(crate) fn name(p: Precision) -> &'static str {
    match p {
        Precision::F32 => "f32",
        Precision::F64 => "f64",
    }
}
