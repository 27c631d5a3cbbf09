//! The official drifting loss on a batch as a backend job: its three passes over the problems,
//! which a backend may run itself (a GPU, one block of threads per problem) while the caller
//! completes the batch-wide statistics between them, once, whichever backend ran the passes.
//!
//! Per problem `b` (targets `t = [x; negatives; positives]`, target weights `w`; `MATH.md`):
//!
//! ```text
//! pass 1   d_ij = sqrt(max(‖x_i − t_j‖², distance_floor))   (d_ii = sqrt(distance_floor))
//!          returns (Σ_ij w_j d_ij, N Σ_j w_j)
//! caller   s_b, the feature scale (over the batch or per problem)
//! pass 2   d̂ = d / max(s_b, scale_floor) + self_mask·[j = i]
//!          per R: ℓ = −d̂/R,  A = sqrt(max(softmax_j ℓ ⊙ softmax_i ℓ, affinity_floor)) · w_j
//!                 C_ij = −A_ij ΣA⁺_i (j in [x; negatives]),  A_ij ΣA⁻_i (j a positive)
//!                 G_R = C t − (Σ_j C_ij) x_i
//!          returns Σ G_R² per temperature
//! caller   the weight of each G_R (1/λ_R, from the sums, over the batch or per problem)
//! pass 3   out += out_scale · Σ_R weight_R · G_R;  returns (Σ v², N·D) of v = Σ_R weight_R G_R
//! ```

use crate::error::Result;
use crate::kit::backend::Backend;
use crate::kit::batch::ProblemBatch;
use crate::real::{answer_in, ByPrecision, PerPrecision, Real, Tagged};

/// The constants of the official loss (the release's values: `1e-8`, `1e-3`, `100`, `1e-6`,
/// `1e-8`).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct OfficialConstants {
    /// Floor of the squared distances.
    pub distance_floor: f64,
    /// Floor of the scale (and of `s/√D`).
    pub scale_floor: f64,
    /// Added to the normalised distance of a generated sample to itself.
    pub self_mask: f64,
    /// Floor of the product of the two softmaxes.
    pub affinity_floor: f64,
    /// Floor of each `mean F_R²`.
    pub norm_floor: f64,
}

impl OfficialConstants {
    /// The floors of the softmax passes in precision `T`, which every backend's passes use alike.
    ///
    /// No subnormal numbers: they cost a micro-code assist per operation on x86 (the official
    /// code runs with them flushed to zero). Exponents stop where a term is below 2⁻²³ (f32) of
    /// the smallest normal number divided by the row's or column's length: a sum that holds its
    /// largest term, 1, cannot see it. Each softmax factor stops at the floor (when the floor is
    /// positive, a factor below it makes the product floored anyway: the same result), else at
    /// the root of the smallest normal number. The passes take exponentials of half the logits,
    /// so the floors are halved exponents and roots.
    pub fn softmax_floors<T: Real>(&self) -> SoftmaxFloors<T> {
        let floor = T::of(self.affinity_floor);
        let lowest = T::min_positive_value().ln() + T::of(16.0);
        let tiny = if self.affinity_floor > 0.0 {
            floor
        } else {
            T::min_positive_value().sqrt()
        };
        SoftmaxFloors {
            lowest_half: lowest * T::of(0.5),
            root_tiny: tiny.sqrt(),
            root_floor: floor.sqrt(),
        }
    }
}

/// The floors of the official loss's softmax passes ([`OfficialConstants::softmax_floors`]).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct SoftmaxFloors<T> {
    /// The least exponent of half a logit: `(ln(min positive) + 16) / 2`.
    pub lowest_half: T,
    /// The least softmax factor: the root of the affinity floor (or of the smallest normal
    /// number without one).
    pub root_tiny: T,
    /// The root of the affinity floor: the least joint affinity.
    pub root_floor: T,
}

/// One evaluation of the official loss's passes on a batch (see the module's documentation).
#[derive(Debug)]
pub struct OfficialJob<'a, T> {
    /// The problems: generated samples, positives and (optional) weighted negatives.
    pub batch: &'a ProblemBatch<'a, T>,
    /// The effective temperatures `R` (the operator's times the context's factor).
    pub temperatures: &'a [f64],
    /// The loss's constants.
    pub constants: OfficialConstants,
}

/// The three passes of the official loss on one batch, run once each and in order; between them
/// the caller turns their sums into the batch-wide statistics.
pub trait OfficialStages<T> {
    /// Pass 1: every problem's distances (kept for pass 2 where the backend can), and its scale's
    /// sums `(Σ_ij w_j d_ij, N Σ_j w_j)`.
    fn scale_sums(&mut self) -> Result<Vec<(f64, f64)>>;
    /// Pass 2: with each problem's feature scale `scales[b]`, every temperature's `G_R`; returns
    /// `Σ G_R²` per problem and temperature.
    fn forces(&mut self, scales: &[f64]) -> Result<Vec<Vec<f64>>>;
    /// Pass 3: adds `out_scale · Σ_R weights[b][R] · G_R` to each problem's rows of `out` (the
    /// batch's field layout); returns each problem's `(Σ v², N·D)` of `v = Σ_R weights[b][R] G_R`.
    fn combine(
        &mut self,
        weights: &[Vec<f64>],
        out: &mut [T],
        out_scale: T,
    ) -> Result<Vec<(f64, f64)>>;
}

/// Shifts `rows` (`dim` coordinates each) to their mean, accumulated in `f64`: how every backend's
/// stages centre a problem's targets `[x; negatives; positives]` before the distances (they and
/// the force are invariant under the shift, and the Gram form's cancellation then scales with the
/// problem's spread, not with its distance from the origin).
///
/// ```
/// let mut rows = vec![1.0f32, 10.0, 3.0, 20.0];
/// drift_api::kit::centre_rows(&mut rows, 2);
/// assert_eq!(rows, vec![-1.0, -5.0, 1.0, 5.0]);
/// ```
pub fn centre_rows<T: Real>(rows: &mut [T], dim: usize) {
    let count = rows.len() / dim.max(1);
    if count == 0 {
        return;
    }
    let mut mean = vec![0.0f64; dim];
    for row in rows.chunks_exact(dim) {
        mean.iter_mut().zip(row).for_each(|(m, v)| *m += v.as_f64());
    }
    let inv = 1.0 / count as f64;
    let mean: Vec<T> = mean.iter().map(|m| T::of(m * inv)).collect();
    for row in rows.chunks_exact_mut(dim) {
        row.iter_mut().zip(&mean).for_each(|(v, m)| *v -= *m);
    }
}

/// A backend's stages for one official job.
pub type Stages<'a, T> = Box<dyn OfficialStages<T> + 'a>;

/// Offers an official job to `backend` (generic code calls this): `None` when the backend leaves
/// the passes to the caller's own code, else the backend's stages or its error.
pub fn official_stages_on<'a, T: Real>(
    backend: &'a dyn Backend,
    job: OfficialJob<'a, T>,
) -> Result<Option<Stages<'a, T>>> {
    let answer = match job.tagged() {
        ByPrecision::F32(job) => ByPrecision::F32(backend.official_stages_f32(job)),
        ByPrecision::F64(job) => ByPrecision::F64(backend.official_stages_f64(job)),
    };
    answer_in::<T, StagesAnswers<'a>>(answer)
}

crate::per_precision!(
    /// The kind of [`OfficialJob`]s.
    pub OfficialJobs = OfficialJob
);

/// The kind of a backend's answer to an official job.
struct StagesAnswers<'a>(std::marker::PhantomData<&'a ()>);

impl<'a> PerPrecision for StagesAnswers<'a> {
    type Of<T: Real> = Result<Option<Stages<'a, T>>>;
}
