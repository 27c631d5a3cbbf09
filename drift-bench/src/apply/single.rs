//! `drift-bench apply` on one problem: the point sets built in the working precision, with their
//! weights and negatives, and the field computed by the engine.

use super::{name, ApplyArgs, Inputs, ProcessSplit};
use crate::array::Array;
use crate::point_files::{self, label};
use anyhow::{anyhow, bail, Result};
use drift_api::kit::{Backend, ColumnSplit, Whole};
use drift_api::{Context, DriftOperator, DriftReport, Negatives, PointCloud, Precision, Real};
use drift_ops::{ColumnShards, RowShards};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

/// What a run computed, printed once the output is in place.
pub(super) struct Outcome {
    /// `X 6 x 2, Y 8 x 2, f32`
    pub(super) sizes: String,
    pub(super) report: DriftReport,
    /// The time of each evaluation, in order.
    pub(super) times: Vec<Duration>,
    pub(super) precision: Precision,
    pub(super) v: Array,
}

/// The weights argument, file and array, if given.
fn with<'a>(
    arg: &'a str,
    path: &'a Option<PathBuf>,
    array: &'a Option<Array>,
) -> Option<(&'a str, &'a Path, &'a Array)> {
    path.as_deref()
        .zip(array.as_ref())
        .map(|(p, w)| (arg, p, w))
}

/// Builds a point set with optional weights, `arg` and `weights_arg` naming them in errors.
fn cloud<T: Real>(
    arg: &str,
    path: &Path,
    array: &Array,
    weights: Option<(&str, &Path, &Array)>,
) -> Result<PointCloud<T>> {
    let (points, w) = cloud_parts(arg, path, array, weights)?;
    let Some((w, (warg, wpath, _))) = w.zip(weights) else {
        return Ok(points);
    };
    points
        .with_weights(w)
        .map_err(|e| anyhow!("{}: {e}", label(warg, wpath)))
}

/// The points and, if given, their weights (one per point), not yet joined.
fn cloud_parts<T: Real>(
    arg: &str,
    path: &Path,
    array: &Array,
    weights: Option<(&str, &Path, &Array)>,
) -> Result<(PointCloud<T>, Option<Vec<T>>)> {
    let points = point_files::points::<T>(arg, path, array)?;
    let Some((warg, wpath, warray)) = weights else {
        return Ok((points, None));
    };
    let w = point_files::weights::<T>(warg, wpath, warray)?;
    if w.len() != points.len() {
        bail!(
            "{}: {} weights for the {} points of {}",
            label(warg, wpath),
            w.len(),
            points.len(),
            label(arg, path)
        );
    }
    Ok((points, Some(w)))
}

/// This process's shard of Y (its range of the points and weights of `--y`), standing for the
/// whole set: its total weight and support summed over the processes of `split`.
fn shard<T: Real>(a: &ApplyArgs, inputs: &Inputs, split: ColumnSplit<'_>) -> Result<PointCloud<T>> {
    let weights = with("--y-weights", &a.y_weights, &inputs.y_weights);
    let (points, w) = cloud_parts::<T>("--y", &a.y, &inputs.y, weights)?;
    let whole = split.whole(Whole::of_part(w.as_deref(), points.len()))?;
    let (name, dim) = (points.name().to_string(), points.dim());
    PointCloud::shard(name, points.data().to_vec(), dim, w, whole)
        .map_err(|e| anyhow!("{}: {e}", label("--y", &a.y)))
}

fn same_dim<T: Real>(a: &PointCloud<T>, b: &PointCloud<T>) -> Result<()> {
    if a.dim() != b.dim() {
        bail!(
            "dimension mismatch: {} has dimension {} but {} has dimension {}",
            a.name(),
            a.dim(),
            b.name(),
            b.dim()
        );
    }
    Ok(())
}

/// The relative weight handed to the operator with the negatives: `--negative-weight`, times the
/// mean of `--negative-weights` over the negatives of positive weight, so that each negative weighs
/// its own weight times `--negative-weight` (the engine spreads the relative weight over the
/// negatives in proportion to their weights).
fn negative_weight<T: Real>(a: &ApplyArgs, points: &PointCloud<T>) -> f64 {
    match points.weights() {
        Some(w) => a.negative_weight * Negatives::relative_weight_of(w),
        None => a.negative_weight,
    }
}

/// Builds the point sets in precision `T` and computes the field.
pub(super) fn run_in<T: Real>(
    a: &ApplyArgs,
    op: &dyn DriftOperator,
    inputs: &Inputs,
    split: Option<ProcessSplit<'_>>,
) -> Result<Outcome> {
    let x = cloud::<T>(
        "--x",
        &a.x,
        &inputs.x,
        with("--x-weights", &a.x_weights, &inputs.x_weights),
    )?;
    let column_split = match split {
        Some(
            s @ ProcessSplit {
                columns: Some(_), ..
            },
        ) => Some(ColumnSplit::new(s.collective, s.rank, s.ranks)?),
        _ => None,
    };
    let y = match column_split {
        Some(c) => shard::<T>(a, inputs, c)?,
        None => cloud::<T>(
            "--y",
            &a.y,
            &inputs.y,
            with("--y-weights", &a.y_weights, &inputs.y_weights),
        )?,
    };
    same_dim(&x, &y)?;
    let negatives = match (&a.negatives, &inputs.negatives) {
        (Some(path), Some(array)) => {
            let n = cloud::<T>(
                "--negatives",
                path,
                array,
                with(
                    "--negative-weights",
                    &a.negative_weights,
                    &inputs.negative_weights,
                ),
            )?;
            same_dim(&x, &n)?;
            Some(n)
        }
        _ => None,
    };

    let context = Context::at(a.step, a.time);
    let mut field = vec![T::zero(); x.len() * x.dim()];
    let mut times = Vec::with_capacity(a.repeat as usize);
    let mut report = DriftReport::default();
    let opened = a.backend.open()?;
    let inner = opened.as_ref();
    let shards: Option<Box<dyn Backend + '_>> = match split {
        Some(s) if s.columns.is_some() => Some(Box::new(ColumnShards::new(
            inner,
            s.collective,
            s.rank,
            s.ranks,
        )?)),
        Some(s) => Some(Box::new(RowShards::new(
            inner,
            s.collective,
            s.rank,
            s.ranks,
        )?)),
        None => None,
    };
    let backend: &dyn Backend = shards.as_deref().unwrap_or(inner);
    for _ in 0..a.repeat {
        let clock = Instant::now();
        // Operators add into their output: each repetition starts from zero.
        field.fill(T::zero());
        report = drift_api::apply_drift(
            op,
            drift_api::DriftProblem::new(backend, &x, &y, &context, &mut field).with_negatives(
                negatives
                    .as_ref()
                    .map(|points| Negatives::new(points, negative_weight(a, points))),
            ),
        )
        .map_err(|e| anyhow!("--op {}: {e}", a.op.display()))?;
        times.push(clock.elapsed());
    }
    // A shard's line names the whole of Y.
    let y_points = split.and_then(|s| s.columns).unwrap_or(y.len());
    let sizes = format!(
        "X {} x {}, Y {} x {}{}, {}",
        x.len(),
        x.dim(),
        y_points,
        y.dim(),
        negatives
            .as_ref()
            .map_or(String::new(), |n| format!(", {} negatives", n.len())),
        name(T::PRECISION)
    );
    Ok(Outcome {
        sizes,
        report,
        times,
        precision: T::PRECISION,
        v: point_files::field_array(inputs.x.shape(), &field)?,
    })
}
