//! The official drifting loss's field (Deng et al.'s JAX release), exactly: the method their
//! training code computes, on one problem or a batch.

use crate::batched::official::{official_field, OfficialConstants};
use drift_api::batch::{BatchProblem, TemperatureNorm};
use drift_api::kit::{BatchSets, ProblemBatch, Reduction, SingleProcess};
use drift_api::{check_param, BatchReport, DriftError, DriftProblem, DriftReport, Real, Result};
use serde::{Deserialize, Serialize};

/// The drift field of the official release's loss, step by step as `MATH.md` ("The training
/// workload") gives it: targets `[x; negatives; positives]` with weights (1 for the generated
/// samples, the negatives' weights, the positives' weights), the feature scale
/// `s = mean(w d)/mean(w)`, coordinates divided by `c = max(s/√D, 1e-3)`, distances normalised by
/// `max(s, 1e-3)` with `+100` on the self diagonal, and per temperature `R` the joint affinity
/// `A = sqrt(max(softmax_row ⊙ softmax_col, 1e-6)) · w`, the force
/// `F = A⁺ΣA⁻ t̃ − A⁻ΣA⁺ t̃` and its norm `λ_R = sqrt(max(mean F², 1e-8))`; the field is
/// `V = c Σ_R F/λ_R` (data units), the loss `mean((x/c − stopgrad(x/c + Σ_R F/λ_R))²)`.
///
/// `s` and every `λ_R` are taken over the whole batch (`over: Batch`, the release's semantics,
/// completed across processes by the batch's collective) or per problem (`over: Problem`). The
/// Laplace kernel's temperatures `R` are multiplied by the context's temperature factor. Data
/// weights are the positives' weights, generated samples' weights weigh their columns, and guidance
/// negatives weigh their relative weight. The paper's Algorithm 2 (no floors, no finite mask, per
/// problem) is `deng_alg2`.
///
/// RON name `deng_official`: `{"deng_official": ()}` is the release's drift (temperatures
/// `[0.02, 0.05, 0.2]`).
///
/// ```
/// use drift_api::PointCloud;
/// let x = PointCloud::new("x", vec![0.0f64, 0.0, 1.0, 0.0, 0.0, 1.0], 2).unwrap();
/// let y = PointCloud::new("y", vec![3.0f64, 3.0, 4.0, 3.0], 2).unwrap();
/// let op = drift_ops::DengOfficial::default();
/// let (v, report) = drift_ops::drift(&op, &x, &y).unwrap();
/// assert!(v.iter().all(|c| *c > 0.0)); // toward the data
/// assert!(report.drift_norm > 0.0);
/// ```
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DengOfficial {
    /// The temperatures `R` (release: 0.02, 0.05, 0.2), relative to the feature scale.
    #[serde(default = "release_temperatures")]
    pub temperatures: Vec<f64>,
    /// Where the scale and the `λ_R` are taken (default `Batch`, the release's).
    #[serde(default)]
    pub over: Reduction,
    /// Floor of the product of the two softmaxes (release: 1e-6).
    #[serde(default = "release_affinity_floor")]
    pub affinity_floor: f64,
    /// Added to a generated sample's normalised distance to itself (release: 100).
    #[serde(default = "release_self_mask")]
    pub self_mask: f64,
}

fn release_temperatures() -> Vec<f64> {
    vec![0.02, 0.05, 0.2]
}
fn release_affinity_floor() -> f64 {
    1e-6
}
fn release_self_mask() -> f64 {
    100.0
}

impl Default for DengOfficial {
    fn default() -> Self {
        DengOfficial {
            temperatures: release_temperatures(),
            over: Reduction::Batch,
            affinity_floor: release_affinity_floor(),
            self_mask: release_self_mask(),
        }
    }
}

impl DengOfficial {
    fn constants(&self) -> OfficialConstants {
        OfficialConstants {
            distance_floor: 1e-8,
            scale_floor: 1e-3,
            self_mask: self.self_mask,
            affinity_floor: self.affinity_floor,
            norm_floor: 1e-8,
        }
    }

    fn check(&self) -> Result<()> {
        if self.temperatures.is_empty() {
            return Err(DriftError::invalid(
                "deng_official.temperatures",
                "needs at least one temperature",
            ));
        }
        for (k, t) in self.temperatures.iter().enumerate() {
            drift_api::check_temperature(&format!("deng_official.temperatures[{k}]"), *t)?;
        }
        let floor = self.affinity_floor;
        check_param("deng_official.affinity_floor", floor, floor >= 0.0, ">= 0")?;
        let mask = self.self_mask;
        check_param("deng_official.self_mask", mask, mask >= 0.0, ">= 0")
    }

    fn run_batch<T: Real>(&self, p: BatchProblem<'_, T>) -> Result<BatchReport> {
        p.check()?;
        let factor = p.context.temperature_factor;
        let taus: Vec<f64> = self.temperatures.iter().map(|t| t * factor).collect();
        let outcome = official_field(
            p.backend,
            p.batch,
            p.out,
            p.scale,
            &taus,
            self.over,
            &self.constants(),
            p.collective,
        )?;
        let drift_norm = drift_api::batch::batch_norm(p.collective, &outcome.field_sums)?;
        Ok(BatchReport {
            operator: "deng_official".into(),
            problems: p.batch.problems(),
            drift_norm,
            reduction: Some(self.over),
            scale: Some(outcome.scale),
            temperature_norms: self
                .temperatures
                .iter()
                .zip(&outcome.lambdas)
                .map(|(t, l)| TemperatureNorm {
                    temperature: *t,
                    lambda: *l,
                })
                .collect(),
            fused: true,
            ..Default::default()
        })
    }

    /// One problem as a batch of one.
    fn run<T: Real>(&self, p: DriftProblem<'_, T>) -> Result<DriftReport> {
        p.check()?;
        p.needs_whole_y("deng_official", "its dense products hold every point of y")?;
        let dim = p.x.dim();
        let x = BatchSets::dense("x", p.x.data(), 1, p.x.len(), dim)?;
        let x = match p.x.weights() {
            Some(w) => x.with_weights(w)?,
            None => x,
        };
        let y = BatchSets::dense("y", p.y.data(), 1, p.y.len(), dim)?;
        let y = match p.y.weights() {
            Some(w) => y.with_weights(w)?,
            None => y,
        };
        let negative_weights: Vec<T>;
        let mut batch = ProblemBatch::new(x, y)?;
        if let Some(neg) = &p.negatives {
            neg.mark_used();
            let points = neg.points;
            negative_weights = neg.point_weights().into_iter().map(T::of).collect();
            let sets = BatchSets::dense("negatives", points.data(), 1, points.len(), dim)?
                .with_weights(&negative_weights)?;
            batch = batch.with_negatives(sets)?;
        }
        let report = self.run_batch(BatchProblem {
            backend: p.backend,
            batch: &batch,
            context: p.context,
            out: p.out,
            scale: p.scale,
            collective: &SingleProcess,
        })?;
        Ok(DriftReport::of(
            "deng_official",
            Vec::new(),
            report.drift_norm,
        ))
    }
}

drift_api::operator!(
    DengOfficial = "deng_official",
    batched,
    summary: "the official drifting loss's field (JAX release): batch-wide scale and lambda_R, floors, finite self mask",
    params: "temperatures: [f64] = [0.02, 0.05, 0.2], over: Batch | Problem = Batch, affinity_floor: f64 = 1e-6, self_mask: f64 = 100",
    example: r#"()"#
);
