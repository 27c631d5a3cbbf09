//! `mpirun -np K drift-bench apply ...`: a batch of problems split over the ranks.
//!
//! Every rank checks its arguments and reads the inputs (rank 0 also prepares `--out`); the ranks
//! then agree that every one is ready and runs the same thing ([`agree`], [`check_same`]: the
//! inputs' shapes, precisions and contents, the operator, step, time and options), before any
//! work. A batch `(B, N, D)`, or a ragged batch (`(total, D)` sides with offsets, read whole by
//! every rank), is cut into contiguous ranges of problems ([`share`]); each rank runs the operator
//! on its range with an [`MpiCollective`], so batch-wide statistics (`deng_official`'s scale and
//! `λ_R`, a feature scale, a multi-temperature normaliser) are those of the whole batch; rank 0
//! gathers the fields and writes `(B, N, D)` (a ragged batch's `(total, D)`) atomically, as one
//! process does. An error after the agreement ends the job (`MPI_Abort`): the other ranks may wait
//! in a collective for the rank that failed.
//!
//! A single problem (`(N, D)` inputs) is split by rows ([`drift_ops::RowShards`]) by default: every
//! rank reads the whole inputs and runs the operator, computing its share of the rows of every
//! pass over pairs and gathering the others' through the collective, so that each iteration of a
//! Sinkhorn loop moves `O(N + M)` numbers; rank 0 writes the field (equal to one process's to
//! rounding). With `--split columns` ([`drift_ops::ColumnShards`]) every rank reads all of X and
//! only its contiguous range of Y's points and weights (`mpi/columns.rs`), and the
//! row passes' log-sum-exps are merged over the ranks (`MPI_MAX`, then sums: `2N + 1` numbers per
//! Sinkhorn iteration); the fingerprint covers the whole files and the split, not the ranges.

use crate::apply::{self, ApplyArgs, Inputs};
use crate::apply_batch::{self, BatchOutcome, ProblemSummary};
use crate::array::{Array, Shape, Values};
use crate::compare::operator_spec::expanded_ron;
use crate::mpi::agree::{agree, check_same, Fingerprint};
use crate::mpi::gather::gather_to_root;
use crate::mpi::inputs::{self, Share, Split};
use crate::mpi::slice::{share, slice_inputs};
use crate::mpi::watchdog::Watchdog;
use crate::mpi::{MpiCollective, MpiError, World};
use crate::pending_file::PendingFile;
use crate::point_files;
use anyhow::{anyhow, bail, Result};
use drift_api::kit::Collective;
use drift_api::{BatchReport, DriftOperator, Precision};
use mpi::collective::SystemOperation;
use mpi::traits::CommunicatorCollectives;
use std::io::Write;

/// What a rank holds once it is ready to work.
struct Ready {
    /// The output, prepared on rank 0 only.
    pending: Option<PendingFile>,
    op: Box<dyn DriftOperator>,
    /// This rank's problems' inputs when the batch is split, else the whole inputs.
    inputs: Inputs,
    split: Option<Split>,
    /// Split by columns: Y's points and this rank's.
    columns: Option<Split>,
    precision: Precision,
    fingerprint: Fingerprint,
}

/// Checks, reads and fingerprints this rank's run (rank 0 also prepares the output).
fn ready(world: &World, a: &ApplyArgs, err: &mut impl Write) -> Result<Ready> {
    let pending = if world.is_root() {
        apply::prepare(a)?
    } else {
        apply::check_args(a)?;
        None
    };
    let Share {
        op,
        inputs,
        split,
        columns,
        files,
    } = inputs::read(world, a)?;
    let precision = if world.is_root() {
        apply::precision_of(a, &inputs, err)?
    } else {
        apply::precision_of(a, &inputs, &mut std::io::sink())?
    };
    if inputs.is_batch() {
        if let Some(by) = a.split {
            bail!(
                "--split {}: --x {} holds a batch of problems, which the ranks split by problems; \
                 --split applies to a single (N, D) problem: leave it out",
                by.name(),
                a.x.display()
            );
        }
        apply_batch::check_shapes(&apply::batch_inputs(a, &inputs))?;
    }
    let fingerprint = fingerprint(a, op.as_ref(), files, precision)?;
    Ok(Ready {
        pending,
        op,
        inputs,
        split,
        columns,
        precision,
        fingerprint,
    })
}

/// What decides the run's result, for [`check_same`].
fn fingerprint(
    a: &ApplyArgs,
    op: &dyn DriftOperator,
    files: Fingerprint,
    precision: Precision,
) -> Result<Fingerprint> {
    let mut f = Fingerprint::default();
    f.push("the operator", expanded_ron(op)?);
    f.0.extend(files.0);
    f.push("the precision", apply::name(precision));
    f.push("--step", a.step);
    f.push("--time", a.time);
    f.push("--negative-weight", a.negative_weight);
    f.push("--repeat", a.repeat);
    f.push("--backend", format!("{:?}", a.backend));
    // The ranks' ranges of Y differ; the whole files (above) and the way they split do not.
    f.push("--split", a.split.unwrap_or_default().name());
    Ok(f)
}

/// Runs `apply` as rank `world.rank()` of an MPI job of `world.size()` ranks (see the module
/// docs); rank 0 prints and writes, the other ranks print nothing but their errors.
pub fn run(world: &World, a: &ApplyArgs, out: &mut impl Write, err: &mut impl Write) -> Result<()> {
    let mut ready = agree(world, ready(world, a, err))?;
    check_same(world, &ready.fingerprint)?;
    // From the agreement on, each wait in a collective may be bounded (DRIFT_MPI_WAIT_S).
    let watchdog = Watchdog::from_env(world.rank())?;
    if !ready.inputs.is_batch() {
        return abort_on_error(world, err, run_split(world, a, ready, watchdog, out));
    }
    let layouts = apply_batch::check_shapes(&apply::batch_inputs(a, &ready.inputs))?;
    // Split inputs hold this rank's problems only: the batch's are counted in the split.
    let problems = ready
        .split
        .as_ref()
        .map_or(layouts.x.problems(), |s| s.problems);
    if problems < world.size() {
        return Err(MpiError::Unfit {
            reason: format!(
                "--x holds {problems} problems for {} MPI ranks: a rank needs at least one \
                 problem (run at most {problems} ranks)",
                world.size()
            ),
        }
        .into());
    }
    // The whole batch's sizes, before a batch read whole is cut (the problems of a dense batch
    // all have one size, so a rank's share tells them too).
    let sizes = format!(
        "{} over {} MPI ranks",
        layouts.sizes(problems, apply::name(ready.precision)),
        world.size()
    );
    if ready.split.is_none() {
        // Read whole (not a `.npy` file, or a ragged batch): cut here.
        let range = share(problems, world.rank(), world.size());
        ready.inputs = slice_inputs(&ready.inputs, &range)?;
        ready.split = Some(Split { problems, range });
    }
    // From here on every rank is in the collectives: a failure ends the job.
    abort_on_error(world, err, run_batch(world, a, ready, sizes, watchdog, out))
}

/// The outcome of work inside the collectives: an error ends the job (`MPI_Abort`), since the
/// other ranks may wait in a collective for this one.
fn abort_on_error(world: &World, err: &mut impl Write, outcome: Result<()>) -> Result<()> {
    match outcome {
        Ok(()) => Ok(()),
        Err(e) => {
            let _ = writeln!(
                err,
                "error: MPI rank {} of {}: {e:#}; ending the job",
                world.rank(),
                world.size()
            );
            let _ = err.flush();
            world.abort(1)
        }
    }
}

/// A single problem split over the ranks, by rows ([`drift_ops::RowShards`]: every rank holds
/// the whole inputs and computes its share of the rows of every pass over pairs) or by columns
/// ([`drift_ops::ColumnShards`]: every rank holds X and its range of Y); rank 0 writes the field
/// and prints, with the traffic.
fn run_split(
    world: &World,
    a: &ApplyArgs,
    ready: Ready,
    watchdog: Option<Watchdog>,
    out: &mut impl Write,
) -> Result<()> {
    let collective = MpiCollective::new(world).watched(watchdog);
    let split = apply::ProcessSplit {
        collective: &collective,
        rank: world.rank(),
        ranks: world.size(),
        columns: ready.columns.as_ref().map(|c| c.problems),
    };
    let (op, inputs) = (ready.op.as_ref(), &ready.inputs);
    if !world.is_root() {
        let mut quiet = std::io::sink();
        return apply::finish(
            a,
            op,
            inputs,
            ready.precision,
            None,
            &mut quiet,
            Some(split),
        );
    }
    apply::finish(
        a,
        op,
        inputs,
        ready.precision,
        ready.pending,
        out,
        Some(split),
    )?;
    let traffic = collective.traffic();
    let what = match &ready.columns {
        Some(c) => format!(
            "split the points of Y by columns (rank 0 held points {}..{} of {})",
            c.range.start, c.range.end, c.problems
        ),
        None => "split the rows of every pass over pairs".to_string(),
    };
    writeln!(
        out,
        "mpi: {} ranks {what}; over {} evaluation(s) each rank all-reduced {} f64 values in {} \
         calls ({} bytes)",
        world.size(),
        a.repeat,
        traffic.values,
        traffic.calls,
        traffic.values * 8
    )?;
    Ok(())
}

/// Runs this rank's problems and gathers the field on rank 0, which writes and prints it (with
/// `sizes`, the whole batch's sizes line).
fn run_batch(
    world: &World,
    a: &ApplyArgs,
    mut ready: Ready,
    sizes: String,
    watchdog: Option<Watchdog>,
    out: &mut impl Write,
) -> Result<()> {
    let Some(Split { problems, range }) = ready.split.clone() else {
        return Err(anyhow!("the batch was not split over the ranks"));
    };
    let collective = MpiCollective::new(world).watched(watchdog);
    let batch = apply::batch_inputs(a, &ready.inputs);
    let op = ready.op.as_ref();
    let outcome = match ready.precision {
        Precision::F32 => apply_batch::run_batch_in::<f32>(a, op, &batch, &collective),
        Precision::F64 => apply_batch::run_batch_in::<f64>(a, op, &batch, &collective),
    }
    .map_err(|e| {
        anyhow!(
            "problems {}..{} (indices in this message count from the rank's first problem, {}): {e:#}",
            range.start,
            range.end,
            range.start
        )
    })?;
    let traffic = collective.traffic();
    // Every rank is here before the blocking gathers (within the wait limit, when one is set).
    collective.all_reduce_sum(&mut [0.0])?;
    let summaries = whole_batch_summaries(world, &outcome.summaries);
    let gathered = match outcome.v.values() {
        Values::F32(v) => gather_to_root(world, v, "the field")?.map(|p| Values::F32(p.concat())),
        Values::F64(v) => gather_to_root(world, v, "the field")?.map(|p| Values::F64(p.concat())),
    };
    let Some(values) = gathered else {
        return Ok(());
    };
    let field_bytes = values.len() * precision_bytes(ready.precision);
    // The ranks' fields back to back: the whole batch's, in `--x`'s layout.
    let shape = match ready.inputs.x.shape() {
        Shape::Batch(_, n, d) => Shape::Batch(problems, n, d),
        local => Shape::Matrix(values.len() / local.cols().max(1), local.cols()),
    };
    let v = Array::new(shape, values)?;
    if let Some(pending) = ready.pending.take() {
        point_files::commit_array("--out", pending, &v)?;
    }
    let mut whole = BatchOutcome {
        sizes,
        v,
        summaries,
        ..outcome
    };
    count_every_problem(&mut whole.report, problems);
    apply_batch::print_outcome(out, a, &whole)?;
    let repeat = u64::from(a.repeat);
    writeln!(
        out,
        "mpi: {} ranks, rank 0 ran problems {}..{}; per evaluation each rank all-reduced {} f64 \
         values in {} calls ({} bytes); rank 0 gathered the field once ({field_bytes} bytes)",
        world.size(),
        range.start,
        range.end,
        traffic.values / repeat,
        traffic.calls / repeat,
        traffic.values / repeat * 8,
    )?;
    Ok(())
}

/// Every rank's problem-by-problem lines combined (all ranks call it, with reports of one shape:
/// the same operator): iterations and unconverged problems added, the worst marginal error the
/// largest, so that rank 0 prints the lines of the whole batch.
fn whole_batch_summaries(
    world: &World,
    local: &[Option<ProblemSummary>],
) -> Vec<Option<ProblemSummary>> {
    let part = |s: &Option<ProblemSummary>| s.unwrap_or_default();
    let counts: Vec<f64> = local
        .iter()
        .flat_map(|s| [part(s).iterations as f64, part(s).unconverged as f64])
        .collect();
    let worst: Vec<f64> = local
        .iter()
        .map(|s| part(s).worst.unwrap_or(f64::NEG_INFINITY))
        .collect();
    let (mut all_counts, mut all_worst) = (counts.clone(), worst.clone());
    let comm = world.comm();
    comm.all_reduce_into(&counts[..], &mut all_counts[..], SystemOperation::sum());
    comm.all_reduce_into(&worst[..], &mut all_worst[..], SystemOperation::max());
    local
        .iter()
        .enumerate()
        .map(|(k, s)| {
            s.map(|_| ProblemSummary {
                iterations: all_counts[2 * k] as usize,
                unconverged: all_counts[2 * k + 1] as usize,
                worst: Some(all_worst[k]).filter(|w| *w > f64::NEG_INFINITY),
            })
        })
        .collect()
}

/// The report (rank 0's, whose batch-wide values are the whole batch's) counts every problem.
fn count_every_problem(report: &mut BatchReport, problems: usize) {
    report.problems = problems;
    for part in &mut report.parts {
        count_every_problem(part, problems);
    }
}

fn precision_bytes(p: Precision) -> usize {
    match p {
        Precision::F32 => 4,
        Precision::F64 => 8,
    }
}
