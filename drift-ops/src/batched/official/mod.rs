//! The official drifting loss's field on a batch of problems: the fast path behind
//! [`crate::DengOfficial`].
//!
//! Per problem `b` (targets `t = [x; negatives; positives]`, target weights `w`, `MATH.md`):
//!
//! ```text
//! d_ij  = sqrt(max(‖x_i − t_j‖², 1e-8))
//! s     = Σ_{b,i,j} w_j d_ij / Σ_b N_b Σ_j w_j          (over the batch, or per problem)
//! c     = max(s/√D, 1e-3),  d̂ = d / max(s, 1e-3) + 100·[j = i]
//! per R: ℓ = −d̂/R,  A = sqrt(max(softmax_j ℓ ⊙ softmax_i ℓ, floor)) · w_j
//!        C_ij = −A_ij ΣA⁺_i (j in [x; negatives]),  A_ij ΣA⁻_i (j a positive)
//!        G = C t − (Σ_j C_ij) x_i                        (data units: F_R = G/c)
//!        λ_R = sqrt(max(mean F_R², 1e-8))                 (over the batch, or per problem)
//! V = c Σ_R F_R/λ_R = Σ_R G_R / λ_R
//! ```
//!
//! The passes over the problems are [`OfficialStages`]: the backend's own where it offers them
//! ([`official_stages_on`]: the CUDA backend runs one block of threads per problem), else the host
//! stages of [`cpu`]. The batch-wide statistics between the passes are taken here, once, for both.

mod cpu;

use super::statistics::{ratio_of_sums, temperature_lambdas};
use cpu::CpuStages;
pub use drift_api::kit::OfficialConstants;
use drift_api::kit::{
    official_stages_on, Backend, Collective, OfficialJob, OfficialStages, ProblemBatch, Reduction,
};
use drift_api::{DriftError, Real, Result};
use rayon::prelude::*;

/// Distances are kept between the first two passes up to this many bytes (recomputed beyond).
pub const KEPT_DISTANCES_BYTES: usize = 512 << 20;

/// What the pass reports: the scale(s) and the normalisers.
#[derive(Clone, Debug, Default)]
pub struct OfficialOutcome {
    /// The feature scale `s` (over the batch, or the mean of the per-problem scales).
    pub scale: f64,
    /// `λ_R` per temperature (over the batch, or the mean of the per-problem values).
    pub lambdas: Vec<f64>,
    /// The sum of the field's squares and the count of its values (for the drift norm).
    pub field_sums: Vec<(f64, f64)>,
}

/// The official loss's passes on `backend` where it takes them, else on the host.
fn stages<'a, T: Real>(
    backend: &'a dyn Backend,
    batch: &'a ProblemBatch<'a, T>,
    temperatures: &'a [f64],
    k: &OfficialConstants,
) -> Result<Box<dyn OfficialStages<T> + 'a>> {
    let job = OfficialJob {
        batch,
        temperatures,
        constants: *k,
    };
    Ok(match official_stages_on(backend, job)? {
        Some(stages) => stages,
        None => Box::new(CpuStages::new(batch, temperatures, *k)?),
    })
}

/// Adds `scale · V` of the official loss for every problem into `out`; `temperatures` are the
/// effective ones (the operator's times the context's factor).
#[allow(clippy::too_many_arguments)]
pub fn official_field<T: Real>(
    backend: &dyn Backend,
    batch: &ProblemBatch<'_, T>,
    out: &mut [T],
    out_scale: T,
    temperatures: &[f64],
    over: Reduction,
    k: &OfficialConstants,
    collective: &dyn Collective,
) -> Result<OfficialOutcome> {
    let (problems, dim) = (batch.problems(), batch.dim());
    if let Some(b) = (0..problems).find(|&b| batch.x.len(b) == 0 || batch.y.len(b) == 0) {
        return Err(DriftError::InProblem {
            index: b,
            source: Box::new(DriftError::TooFewPoints {
                what: "deng_official (generated samples and positives)".into(),
                needed: 1,
                found: 0,
            }),
        });
    }
    let mut passes = stages(backend, batch, temperatures, k)?;
    // Pass 1: distances and the scale's sums.
    let sums = passes.scale_sums()?;
    let scales = ratio_of_sums(&sums, over, collective)?;
    if let Some(b) = scales.iter().position(|s| !s.is_finite()) {
        return Err(DriftError::InProblem {
            index: b,
            source: Box::new(DriftError::NonFiniteResult {
                what: "deng_official scale".into(),
                index: 0,
            }),
        });
    }
    // Pass 2: every temperature's G_R per problem.
    let squares = passes.forces(&scales)?;
    // λ_R, then the normalised sum (pass 3). Σ F_R² = Σ G_R² / c².
    let c: Vec<f64> = scales
        .iter()
        .map(|s| (s / (dim as f64).sqrt()).max(k.scale_floor))
        .collect();
    let counts: Vec<f64> = (0..problems)
        .map(|b| (batch.x.len(b) * dim) as f64)
        .collect();
    let lambda_of = |sq: f64, count: f64| (sq / count).max(k.norm_floor).sqrt();
    // Σ F_R² = Σ G_R² / c², in the order the sums were taken before.
    let scaled: Vec<Vec<f64>> = squares
        .iter()
        .zip(&c)
        .map(|(s, c)| s.iter().map(|sq| sq / (c * c)).collect())
        .collect();
    let lambdas = temperature_lambdas(&scaled, &counts, over, collective, lambda_of)?;
    // V = c Σ_R F_R/λ_R = Σ_R G_R/λ_R.
    let weights: Vec<Vec<f64>> = lambdas
        .iter()
        .map(|l| l.iter().map(|v| 1.0 / v).collect())
        .collect();
    let field_sums = passes.combine(&weights, out, out_scale)?;
    drop(passes);
    // The scan runs over every thread: read alone, it was 2 % of a 256 × 256 evaluation.
    const SCAN: usize = 1 << 14;
    let bad = out
        .par_chunks(SCAN)
        .enumerate()
        .find_map_first(|(c, v)| v.iter().position(|v| !v.is_finite()).map(|i| c * SCAN + i));
    if let Some(index) = bad {
        return Err(DriftError::NonFiniteResult {
            what: "deng_official field".into(),
            index,
        });
    }
    let mean = |v: &mut dyn Iterator<Item = f64>| v.sum::<f64>() / problems.max(1) as f64;
    Ok(OfficialOutcome {
        scale: mean(&mut scales.iter().copied()),
        lambdas: (0..temperatures.len())
            .map(|r| mean(&mut lambdas.iter().map(|l| l[r])))
            .collect(),
        field_sums,
    })
}
