//! `drift-bench apply` on a batch of problems: dense (`--x` of shape `(B, N, D)`, `--y` `(B, M, D)`,
//! `--negatives` `(B, K, D)`, weights `(B, n)`) or ragged (every side `(total, D)` with its
//! offsets, weights `(total,)`; see [`crate::batch_layout`]); one call of the operator on the whole
//! batch ([`drift_api::batch::apply_drift_batch`]), the field written in `--x`'s layout.

use crate::apply::{name, print_elapsed, ApplyArgs};
use crate::array::Array;
use crate::batch_layout::{weight_values, Layout, Layouts, OffsetsInput};
use crate::point_files::{self, label};
use anyhow::{anyhow, Result};
use drift_api::batch::{apply_drift_batch, BatchProblem};
use drift_api::kit::{BatchSets, Collective, ProblemBatch};
use drift_api::{BatchReport, Context, DriftOperator, Real};
use std::io::Write;
use std::path::Path;
use std::time::Instant;

/// One input of a batch: its argument, file and array, and its offsets in a ragged batch.
pub struct BatchInput<'a> {
    /// The argument (`--y`).
    pub arg: &'a str,
    /// Its file.
    pub path: &'a Path,
    /// What the file holds.
    pub array: &'a Array,
    /// The offsets of its problems, for the points of a ragged batch.
    pub offsets: Option<OffsetsInput<'a>>,
}

impl BatchInput<'_> {
    pub(crate) fn label(&self) -> String {
        label(self.arg, self.path)
    }
}

/// The batched inputs: points and their optional weights.
pub struct BatchInputs<'a> {
    /// Generated samples `(B, N, D)`, or `(total, D)` with offsets.
    pub x: BatchInput<'a>,
    /// Data `(B, M, D)`, or `(total, D)` with offsets.
    pub y: BatchInput<'a>,
    /// Weights of the generated samples `(B, N)`, or `(total,)`.
    pub x_weights: Option<BatchInput<'a>>,
    /// Weights of the data `(B, M)`, or `(total,)`.
    pub y_weights: Option<BatchInput<'a>>,
    /// Negatives `(B, K, D)`, or `(total, D)` with offsets.
    pub negatives: Option<BatchInput<'a>>,
    /// Weights of the negatives `(B, K)`, or `(total,)`.
    pub negative_weights: Option<BatchInput<'a>>,
}

/// Per-problem sets from one input (split by its layout) and its optional weights.
fn sets<'a, T: Real>(
    input: &BatchInput<'_>,
    layout: &Layout,
    data: &'a [T],
    weights: Option<&'a [T]>,
) -> Result<BatchSets<'a, T>> {
    let s = BatchSets::ragged(&input.label(), data, layout.offsets.clone(), layout.dim)
        .map_err(|e| anyhow!("{e}"))?;
    match weights {
        Some(w) => s.with_weights(w).map_err(|e| anyhow!("{e}")),
        None => Ok(s),
    }
}

/// What a batched run computed.
pub struct BatchOutcome {
    /// `B 256 problems: X 64 x 16, Y 128 x 16, 16 negatives, f32`
    pub sizes: String,
    /// The report of the last evaluation.
    pub report: BatchReport,
    /// The time of each evaluation.
    pub times: Vec<std::time::Duration>,
    /// The field, in `--x`'s layout: `(B, N, D)`, or `(total, D)` for a ragged batch.
    pub v: Array,
    /// The rows of `v` that belong to problem 0 (those the summary shows).
    pub first_rows: usize,
    /// The report's problem-by-problem lines ([`problem_summaries`] of `report`, or those of the
    /// whole batch when the report is one process's part of it).
    pub summaries: Vec<Option<ProblemSummary>>,
}

/// The problem-by-problem line of a report node, for operators that ran the problems one by one.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct ProblemSummary {
    /// Scaling iterations over every problem.
    pub iterations: usize,
    /// Problems with a coupling not converged.
    pub unconverged: usize,
    /// The worst Sinkhorn marginal error (of the node and its parts), if any coupling gave one.
    pub worst: Option<f64>,
}

/// Every node's [`ProblemSummary`] in the order the report prints them (a node, then its parts):
/// `None` for a node without per-problem reports.
pub fn problem_summaries(r: &BatchReport) -> Vec<Option<ProblemSummary>> {
    let own = (!r.per_problem.is_empty()).then(|| ProblemSummary {
        iterations: r.per_problem.iter().map(|p| p.total_iterations()).sum(),
        unconverged: r
            .per_problem
            .iter()
            .filter(|p| p.couplings.iter().any(|c| !c.converged))
            .count(),
        worst: r.max_marginal_error(),
    });
    std::iter::once(own)
        .chain(r.parts.iter().flat_map(problem_summaries))
        .collect()
}

/// Checks the shapes (and offsets) of every batched input against `--x`'s, before anything is
/// computed, and returns how each side splits into problems.
pub fn check_shapes(inputs: &BatchInputs<'_>) -> Result<Layouts> {
    Layouts::of(inputs)
}

/// Runs the operator on the batch in precision `T`, `a.repeat` times, its batch-wide sums
/// completed by `collective` ([`drift_api::kit::SingleProcess`] in one process).
pub fn run_batch_in<T: Real>(
    a: &ApplyArgs,
    op: &dyn DriftOperator,
    inputs: &BatchInputs<'_>,
    collective: &dyn Collective,
) -> Result<BatchOutcome> {
    let layouts = check_shapes(inputs)?;
    let coords = |i: &BatchInput<'_>| i.array.values().to_real::<T>();
    let weights = |w: &Option<BatchInput<'_>>| w.as_ref().map(weight_values::<T>);
    let (xd, yd) = (coords(&inputs.x), coords(&inputs.y));
    let (xw, yw) = (weights(&inputs.x_weights), weights(&inputs.y_weights));
    let nd = inputs.negatives.as_ref().map(coords);
    let nw = layouts.negatives.as_ref().map(|k| {
        match weights(&inputs.negative_weights) {
            // `--negative-weight` multiplies the per-negative weights (default 1).
            Some(w) => w
                .into_iter()
                .map(|v| v * T::of(a.negative_weight))
                .collect(),
            None => vec![T::of(a.negative_weight); k.total()],
        }
    });
    let x = sets(&inputs.x, &layouts.x, &xd, xw.as_deref())?;
    let y = sets(&inputs.y, &layouts.y, &yd, yw.as_deref())?;
    let mut batch = ProblemBatch::new(x, y).map_err(|e| anyhow!("{e}"))?;
    if let (Some(n), Some(k), Some(data)) = (&inputs.negatives, &layouts.negatives, &nd) {
        let s = sets(n, k, data, nw.as_deref())?;
        batch = batch.with_negatives(s).map_err(|e| anyhow!("{e}"))?;
    }
    let context = Context::at(a.step, a.time);
    let backend = a.backend.open()?;
    let mut field = vec![T::zero(); batch.field_len()];
    let mut times = Vec::with_capacity(a.repeat as usize);
    let mut report = BatchReport::default();
    for _ in 0..a.repeat {
        field.iter_mut().for_each(|v| *v = T::zero());
        let clock = Instant::now();
        report = apply_drift_batch(
            op,
            BatchProblem {
                backend: backend.as_ref(),
                batch: &batch,
                context: &context,
                out: &mut field,
                scale: T::one(),
                collective,
            },
        )
        .map_err(|e| anyhow!("--op {}: {e}", a.op.display()))?;
        times.push(clock.elapsed());
    }
    Ok(BatchOutcome {
        sizes: layouts.sizes(layouts.x.problems(), name(T::PRECISION)),
        summaries: problem_summaries(&report),
        report,
        times,
        v: point_files::field_array(inputs.x.array.shape(), &field)?,
        first_rows: layouts.x.len(0),
    })
}

/// `B 256 problems: X 64 x 16, Y 128 x 16, 16 negatives, f32`: the batch's sizes
/// ([`Layouts::sizes`]), naming `problems` problems (a share of a batch split over processes
/// names the whole batch's count).
pub fn sizes_of(
    inputs: &BatchInputs<'_>,
    precision: drift_api::Precision,
    problems: usize,
) -> Result<String> {
    Ok(check_shapes(inputs)?.sizes(problems, name(precision)))
}

/// The batched report tree: each operator with its drift norm over the batch, its scale and
/// normalisers, and a summary of the per-problem reports.
pub fn print_batch_report(
    out: &mut impl Write,
    r: &BatchReport,
    depth: usize,
) -> std::io::Result<()> {
    print_report_with(out, r, depth, &mut problem_summaries(r).into_iter())
}

/// [`print_batch_report`] with the problem-by-problem lines taken from `summaries`, in order.
fn print_report_with(
    out: &mut impl Write,
    r: &BatchReport,
    depth: usize,
    summaries: &mut impl Iterator<Item = Option<ProblemSummary>>,
) -> std::io::Result<()> {
    let indent = "  ".repeat(depth);
    writeln!(
        out,
        "{indent}operator {}: {} problems, drift norm over the batch λ = {:.6e}{}",
        r.operator,
        r.problems,
        r.drift_norm,
        r.reduction
            .map_or(String::new(), |o| format!(", statistics over: {o:?}"))
    )?;
    if let Some(s) = r.scale {
        writeln!(out, "{indent}  scale {s:.6e}")?;
    }
    for t in &r.temperature_norms {
        writeln!(
            out,
            "{indent}  temperature {}: λ = {:.6e}",
            drift_api::kit::fmt_num(t.temperature),
            t.lambda
        )?;
    }
    if let Some(Some(p)) = summaries.next() {
        writeln!(
            out,
            "{indent}  problem by problem: {} scaling iterations in all, worst marginal error {}, {} problems with a coupling NOT converged",
            p.iterations,
            p.worst.map_or("-".into(), |e| format!("{e:.3e}")),
            p.unconverged
        )?;
    }
    for p in &r.parts {
        print_report_with(out, p, depth + 1, summaries)?;
    }
    Ok(())
}

/// Prints a batched run's outcome (after the field is written).
pub fn print_outcome(out: &mut impl Write, a: &ApplyArgs, o: &BatchOutcome) -> Result<()> {
    writeln!(out, "{}", o.sizes)?;
    print_report_with(out, &o.report, 0, &mut o.summaries.iter().copied())?;
    print_elapsed(out, &o.times)?;
    match &a.out {
        Some(path) => writeln!(out, "wrote V, shape {}, to {}", o.v.shape(), path.display())?,
        None => {
            let per_problem = o.first_rows;
            let rows = per_problem.min(a.show);
            writeln!(
                out,
                "V: shape {}, first {rows} rows of problem 0:",
                o.v.shape()
            )?;
            for i in 0..rows {
                let row: Vec<String> = o.v.row(i).iter().map(|c| format!("{c:>13.6e}")).collect();
                writeln!(out, "  {}", row.join(" "))?;
            }
        }
    }
    Ok(())
}
