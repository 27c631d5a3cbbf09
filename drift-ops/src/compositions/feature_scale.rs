//! Deng et al.'s feature scale: normalise coordinates so the mean pairwise distance is `√D`.

use crate::couplings::passes::Passes;
use crate::kernels::LogDistance;
use drift_api::apply_drift;
use drift_api::batch::apply_drift_batch;
use drift_api::batch::support_len;
use drift_api::batch::{problem_by_problem, BatchProblem};
use drift_api::kit::Tagged;
use drift_api::kit::{Backend, BatchSets, ProblemBatch, Reduction};
use drift_api::{
    BatchReport, DriftError, DriftOperator, DriftProblem, DriftReport, PointCloud, Real, Result,
};
use rayon::prelude::*;
use serde::{Deserialize, Serialize};

/// Runs the inner operator on `X/S`, `Y/S` with every temperature multiplied by `√D`, where
/// `S = mean_{i,j} ‖x_i − y_j‖ / √D` (weighted by `a`, `b`; a constant, not differentiated), and
/// returns the field in the original units (`S · V`). Temperatures then mean the same thing in
/// every dimension (Deng et al.).
///
/// RON name `feature_scale`: `{"feature_scale": (operator: {"one_sided": (temperature: 0.05)})}`.
///
/// ```
/// use drift_api::PointCloud;
/// let op = drift_ops::FeatureScale::new(Box::new(drift_ops::OneSided::new(0.05)));
/// let x = PointCloud::new("x", vec![0.0f64, 0.0, 10.0, 0.0], 2).unwrap();
/// let y = PointCloud::new("y", vec![0.0f64, 10.0, 10.0, 10.0], 2).unwrap();
/// let s = drift_ops::mean_distance(&drift_ops::CpuBackend, &x, &y).unwrap();
/// assert!((s - (10.0 + 200f64.sqrt()) / 2.0).abs() < 1e-12);
/// let (v, _) = drift_ops::drift(&op, &x, &y).unwrap();
/// assert!(v[1] > 0.0 && v[3] > 0.0);
/// ```
#[derive(Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FeatureScale {
    /// The operator run on the normalised features.
    pub operator: Box<dyn DriftOperator>,
    /// On a batch of problems: one scale over the whole batch (`Batch`, the default: the
    /// official training code's semantics, `S` the mean distance over every pair of every
    /// problem) or one per problem (`Problem`). One problem: the same.
    #[serde(default)]
    pub over: Reduction,
}

/// `Σ_i a_i Σ_j b_j ‖x_i − y_j‖`, through one fused reduction with the [`LogDistance`] weight.
pub fn mean_distance<T: Real>(
    backend: &dyn Backend,
    x: &PointCloud<T>,
    y: &PointCloud<T>,
) -> Result<f64> {
    x.check_same_dim(y)?;
    let passes = Passes {
        backend,
        kernel: &LogDistance,
        tau: T::one(),
    };
    passes.mean_kernel(x, y)
}

/// A usable scale: all points coinciding (or a scale that overflows) leave the coordinates as they
/// are.
fn usable(s: f64) -> f64 {
    if s > 0.0 && s.is_finite() {
        s
    } else {
        1.0
    }
}

impl FeatureScale {
    /// The feature scale of `operator`, over the whole batch on batches.
    pub fn new(operator: Box<dyn DriftOperator>) -> Self {
        FeatureScale {
            operator,
            over: Reduction::Batch,
        }
    }

    fn run_batch<T: Real>(&self, mut p: BatchProblem<'_, T>) -> Result<BatchReport> {
        p.check()?;
        if let Some(report) = crate::batched::fused::try_fused(self, &mut p)? {
            return Ok(report);
        }
        if self.over == Reduction::Problem {
            return problem_by_problem(self, p.tagged());
        }
        let batch = p.batch;
        // S = Σ_b pairs_b · mean_b / Σ_b pairs_b / √D: the mean over every pair of the batch.
        let mut sums = (0..batch.problems())
            .into_par_iter()
            .map(|b| {
                let in_problem = |e| DriftError::InProblem {
                    index: b,
                    source: Box::new(e),
                };
                let x = batch.x.cloud(b).map_err(in_problem)?;
                let y = batch.y.cloud(b).map_err(in_problem)?;
                let pairs = (support_len(&batch.x, b) * support_len(&batch.y, b)) as f64;
                Ok(mean_distance(p.backend, &x, &y).map_err(in_problem)? * pairs)
                    .map(|m| [m, pairs])
            })
            .collect::<Result<Vec<[f64; 2]>>>()?
            .into_iter()
            .fold([0.0, 0.0], |a, s| [a[0] + s[0], a[1] + s[1]]);
        p.collective.all_reduce_sum(&mut sums)?;
        let root_d = (batch.dim() as f64).sqrt();
        let s = usable(sums[0] / sums[1] / root_d);
        let inv = T::of(1.0 / s);
        let xs = batch.x.map_coords(|v| v * inv);
        let ys = batch.y.map_coords(|v| v * inv);
        let ns = batch.negatives.as_ref().map(|n| n.map_coords(|v| v * inv));
        let mut scaled = ProblemBatch::new(batch.x.with_data(&xs), batch.y.with_data(&ys))?;
        if let (Some(n), Some(data)) = (&batch.negatives, &ns) {
            scaled = scaled.with_negatives(BatchSets::with_data(n, data))?;
        }
        let context = p.context.with_temperature_factor(root_d);
        let scale = p.scale * T::of(s);
        let inner = apply_drift_batch(
            self.operator.as_ref(),
            BatchProblem::new(p.backend, &scaled, &context, p.out)
                .scaled(scale)
                .across(p.collective),
        )?;
        Ok(BatchReport {
            operator: "feature_scale".into(),
            problems: batch.problems(),
            drift_norm: inner.drift_norm * s,
            reduction: Some(self.over),
            scale: Some(s),
            parts: vec![inner],
            ..Default::default()
        })
    }

    fn run<T: Real>(&self, p: DriftProblem<'_, T>) -> Result<DriftReport> {
        p.check()?;
        let root_d = (p.x.dim() as f64).sqrt();
        // All points coincide: nothing to normalise.
        let s = usable(mean_distance(p.backend, p.x, p.y)? / root_d);
        let inv = T::of(1.0 / s);
        let xs = p.x.map_coords(|_, v| v * inv)?;
        let ys = p.y.map_coords(|_, v| v * inv)?;
        let negs = match &p.negatives {
            Some(n) => Some(n.points.map_coords(|_, v| v * inv)?),
            None => None,
        };
        let negatives = p
            .negatives
            .zip(negs.as_ref())
            .map(|(n, points)| n.with_points(points));
        let context = p.context.with_temperature_factor(root_d);
        let inner = apply_drift(
            self.operator.as_ref(),
            DriftProblem::new(p.backend, &xs, &ys, &context, p.out)
                .scaled(p.scale * T::of(s))
                .with_negatives(negatives),
        )?;
        Ok(
            DriftReport::of("feature_scale", Vec::new(), inner.drift_norm * s)
                .with_parts(vec![inner]),
        )
    }
}

impl FeatureScale {
    /// Validates the whole parameter tree of this operator.
    fn check(&self) -> Result<()> {
        self.operator.validate()
    }
}

drift_api::operator!(
    FeatureScale = "feature_scale",
    batched,
    summary: "Deng feature scale: run on X/S, Y/S with tau sqrt(D), S = mean distance / sqrt(D)",
    params: "operator: Operator, over: Batch | Problem = Batch",
    example: r#"(operator: {"one_sided": (temperature: 0.05)})"#
);
