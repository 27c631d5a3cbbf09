//! The sliced-Wasserstein drift as a backend job: a backend that can project, sort and match
//! quantiles itself (a GPU) takes the whole evaluation; the others leave it to the operator's CPU
//! code. The directions and the weights are the operator's, so both paths compute the same field.

use crate::error::Result;
use crate::kit::backend::Backend;
use crate::points::PointCloud;
use crate::real::{answer_in, ByPrecision, PerPrecision, Real, Tagged};

/// The operator's stream of unit directions `θ_l`, drawn block by block so that memory does not
/// grow with their number.
pub trait DirectionSource {
    /// How many directions the stream holds in all (including those already taken).
    fn total(&self) -> usize;
    /// Replaces the contents of `thetas` with the next block of directions (`k × dim`,
    /// row-major, unit length) and returns `k`; `0` once the stream is exhausted.
    fn next_block(&mut self, thetas: &mut Vec<f64>) -> usize;
}

/// One evaluation of the sliced-Wasserstein field
///
/// ```text
/// V(x_i) = scale · Σ_l (q_l(x_i) − θ_l·x_i) θ_l
/// ```
///
/// with the clouds' probabilities `a = x.probabilities()` and `b = y.probabilities()`, where, for
/// each direction, `q_l(x_i)` is the quantile of the projected targets at the weighted
/// mid-rank `Σ_{k<i} a_k + a_i/2` of `θ_l·x_i` among the projected particles (ties broken by
/// index), the target quantile function interpolating linearly between the weighted mid-ranks of
/// the sorted targets of positive weight, clamped at the ends. Projections, levels, quantiles
/// and the sum over directions are computed in double precision whatever `T` is, so a backend's
/// field agrees with the operator's CPU code to rounding in both precisions.
pub struct SlicedJob<'a, T> {
    /// The particles.
    pub x: &'a PointCloud<T>,
    /// The targets.
    pub y: &'a PointCloud<T>,
    /// The directions, consumed in order.
    pub directions: &'a mut dyn DirectionSource,
    /// The factor in front of the sum (the operator's `D / L`).
    pub scale: f64,
}

impl<T: Real> std::fmt::Debug for SlicedJob<'_, T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SlicedJob")
            .field("particles", &self.x.len())
            .field("targets", &self.y.len())
            .field("directions", &self.directions.total())
            .field("scale", &self.scale)
            .finish()
    }
}

impl<T: Real> SlicedJob<'_, T> {
    /// Shapes: the two clouds share a dimension (their weights are valid by construction).
    pub fn check(&self) -> Result<()> {
        self.x.check_same_dim(self.y)
    }
}

/// Offers a sliced-Wasserstein evaluation to `backend` (generic code calls this): `None` when the
/// backend does not take it and the caller computes the field itself, else the field `V`
/// (`x.len() × dim`, row-major) or the backend's error.
pub fn sliced_wasserstein_on<T: Real>(
    backend: &dyn Backend,
    job: SlicedJob<'_, T>,
) -> Option<Result<Vec<T>>> {
    let answer = match job.tagged() {
        ByPrecision::F32(job) => ByPrecision::F32(backend.sliced_wasserstein_f32(job)),
        ByPrecision::F64(job) => ByPrecision::F64(backend.sliced_wasserstein_f64(job)),
    };
    answer_in::<T, SlicedAnswers>(answer)
}

crate::per_precision!(
    /// The kind of [`SlicedJob`]s.
    pub SlicedJobs = SlicedJob
);

/// The kind of a backend's answer to a sliced job.
struct SlicedAnswers;

impl PerPrecision for SlicedAnswers {
    type Of<T: Real> = Option<Result<Vec<T>>>;
}
