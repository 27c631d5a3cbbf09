//! Running an operator on a batch: the entry point, the per-problem default (every problem through
//! the single-problem call, in parallel) and the sums batch-wide statistics are made of.

use super::{BatchJob, BatchProblem, BatchReport};
use crate::error::{DriftError, Result};
use crate::kit::batch::{BatchSets, Collective};
use crate::operator::{apply_drift_to, DriftOperator, DriftProblem, Negatives};
use crate::points::PointCloud;
use crate::real::{Real, Tagged};
use rayon::prelude::*;

/// Runs an operator on a batch of problems: `out += scale · V` for every problem. The operator's
/// own batched path runs if it has one ([`DriftOperator::drift_batch`]); otherwise the problems
/// run one by one, in parallel ([`problem_by_problem`]).
///
/// ```
/// use drift_api::*;
/// use drift_api::kit::*;
/// use drift_api::batch::*;
/// # #[derive(Debug, serde::Serialize, serde::Deserialize)] struct ToMean;
/// # fn to_mean<T: Real>(p: DriftProblem<'_, T>) -> Result<DriftReport> {
/// #     let (d, m) = (p.y.dim(), p.y.len() as f64);
/// #     for i in 0..p.x.len() { for k in 0..d {
/// #         let mean = (0..p.y.len()).map(|j| p.y.point(j)[k].as_f64()).sum::<f64>() / m;
/// #         p.out[i * d + k] += p.scale * T::of(mean - p.x.point(i)[k].as_f64());
/// #     } }
/// #     Ok(DriftReport::of("doc.batch_to_mean", vec![], 0.0))
/// # }
/// # #[typetag::serde(name = "doc.batch_to_mean")]
/// # impl DriftOperator for ToMean {
/// #     fn drift(&self, job: DriftJob<'_>) -> Result<DriftReport> {
/// #         by_precision!(job, p => to_mean(p))
/// #     }
/// # }
/// # #[derive(Debug)] struct NoBackend;
/// # impl Backend for NoBackend {
/// #     fn name(&self) -> &str { "none" }
/// #     fn row_reduce(&self, _: ReductionJob<'_>) -> Result<()> { unreachable!() }
/// # }
/// let x = [0.0f64, 10.0];
/// let y = [1.0f64, 3.0, 20.0, 22.0];
/// let batch = ProblemBatch::new(
///     BatchSets::dense("x", &x, 2, 1, 1)?,
///     BatchSets::dense("y", &y, 2, 2, 1)?,
/// )?;
/// let mut out = vec![0.0; 2];
/// let report = apply_drift_batch(&ToMean, BatchProblem {
///     backend: &NoBackend, batch: &batch, context: &Context::default(), out: &mut out,
///     scale: 1.0, collective: &SingleProcess,
/// })?;
/// assert_eq!(out, vec![2.0, 11.0]);
/// assert_eq!(report.per_problem.len(), 2);
/// # Ok::<(), DriftError>(())
/// ```
pub fn apply_drift_batch<T: Real>(
    op: &dyn DriftOperator,
    problem: BatchProblem<'_, T>,
) -> Result<BatchReport> {
    problem.check()?;
    let backend = problem.backend;
    crate::operator::on_threads(backend, || op.drift_batch(problem.tagged()))
}

/// The default batched evaluation: every problem through [`crate::apply_drift`], in parallel over
/// the problems; statistics are then per problem. The first failing problem's error is returned,
/// naming the problem ([`DriftError::InProblem`]).
pub fn problem_by_problem<O: DriftOperator + ?Sized>(
    op: &O,
    job: BatchJob<'_>,
) -> Result<BatchReport> {
    match job {
        BatchJob::F32(p) => run_each(op, p),
        BatchJob::F64(p) => run_each(op, p),
    }
}

fn run_each<O: DriftOperator + ?Sized, T: Real>(
    op: &O,
    mut p: BatchProblem<'_, T>,
) -> Result<BatchReport> {
    p.check()?;
    let (backend, batch, context, scale) = (p.backend, p.batch, p.context, p.scale);
    let outs = p.out_per_problem();
    let reports = outs
        .into_par_iter()
        .enumerate()
        .map(|(b, out)| {
            let in_problem = |e| DriftError::InProblem {
                index: b,
                source: Box::new(e),
            };
            let x = batch.x.cloud(b).map_err(in_problem)?;
            let y = batch.y.cloud(b).map_err(in_problem)?;
            let negatives = match &batch.negatives {
                Some(n) if n.len(b) > 0 => Some(negatives_cloud(n, b).map_err(in_problem)?),
                _ => None,
            };
            // Each problem its own index, so solver state kept between calls is per problem.
            let context = context.for_problem(context.problem + b);
            let problem = DriftProblem {
                backend,
                x: &x,
                y: &y,
                context: &context,
                out,
                scale,
                negatives: negatives.as_ref().map(|(n, w)| Negatives::new(n, *w)),
            };
            apply_drift_to(op, problem).map_err(in_problem)
        })
        .collect::<Result<Vec<_>>>()?;
    let mut sums = vec![0.0; 2];
    for (b, r) in reports.iter().enumerate() {
        let counted = (support_len(&batch.x, b) * batch.dim()) as f64;
        sums[0] += r.drift_norm * r.drift_norm * counted;
        sums[1] += counted;
    }
    let local_count = sums[1];
    p.collective.all_reduce_sum(&mut sums)?;
    // A batch of one problem (over every process) reports that problem's norm as it is, so that a
    // batch of one equals the single-problem call bit for bit.
    let drift_norm = match reports.as_slice() {
        [only] if sums[1] == local_count => only.drift_norm,
        _ => (sums[0] / sums[1].max(1.0)).sqrt(),
    };
    Ok(BatchReport {
        operator: reports
            .first()
            .map(|r| r.operator.clone())
            .unwrap_or_default(),
        problems: batch.problems(),
        drift_norm,
        per_problem: reports,
        ..Default::default()
    })
}

/// The negatives of problem `b` as the single-problem API takes them: the points weighted by
/// their weights, with the mean weight per point of positive weight as the relative weight, so
/// that each negative weighs its own weight.
fn negatives_cloud<T: Real>(n: &BatchSets<'_, T>, b: usize) -> Result<(PointCloud<T>, f64)> {
    match n.weights_of(b) {
        None => Ok((n.cloud(b)?, 1.0)),
        // Weights that sum to zero make no weighted cloud: the negatives then weigh nothing.
        Some(w) if Negatives::relative_weight_of(w) == 0.0 => Ok((
            PointCloud::new(format!("{}[{b}]", n.what()), n.points(b).to_vec(), n.dim())?,
            0.0,
        )),
        Some(w) => Ok((n.cloud(b)?, Negatives::relative_weight_of(w))),
    }
}

/// Points of positive weight in problem `b` of `sets` (all of them when unweighted).
pub fn support_len<T: Real>(sets: &BatchSets<'_, T>, b: usize) -> usize {
    match sets.weights_of(b) {
        Some(w) => w.iter().filter(|v| **v > T::zero()).count(),
        None => sets.len(b),
    }
}

/// The local sums `(Σ ‖V‖² over points of positive weight, their count × D)` of a batched field
/// per problem: `λ_b = sqrt(sum / count)` (the same order of summation as a single problem's drift
/// norm).
pub fn field_sums<T: Real>(x: &BatchSets<'_, T>, field: &[T]) -> Vec<(f64, f64)> {
    let d = x.dim();
    (0..x.problems())
        .map(|b| {
            let base = x.offsets()[b];
            let mut sq = 0.0f64;
            let part = &field[base * d..x.offsets()[b + 1] * d];
            for (idx, v) in part.iter().enumerate() {
                let has_mass = x.weights_of(b).is_none_or(|w| w[idx / d] > T::zero());
                if has_mass {
                    sq += v.as_f64() * v.as_f64();
                }
            }
            (sq, (support_len(x, b) * d) as f64)
        })
        .collect()
}

/// The drift norm over the whole batch (and every process) from per-problem [`field_sums`].
pub fn batch_norm(collective: &dyn Collective, sums: &[(f64, f64)]) -> Result<f64> {
    let mut total = [
        sums.iter().map(|s| s.0).sum::<f64>(),
        sums.iter().map(|s| s.1).sum::<f64>(),
    ];
    collective.all_reduce_sum(&mut total)?;
    Ok((total[0] / total[1].max(1.0)).sqrt())
}
