//! The floating-point types the framework computes in, chosen at run time from the data.

use crate::backend::{Backend, ReductionJob, RowReduction};
use crate::batch::{BatchJob, BatchProblem};
use crate::coupling::{CouplingJob, CouplingProblem};
use crate::error::Result;
use crate::kernel::Kernel;
use crate::operator::{DriftJob, DriftProblem};
use crate::pairs::{PairSet, Prepared};
use crate::points::{PointCloud, Points};
use crate::resident::ResidentSets;
use crate::sliced::SlicedJob;
use crate::weighting::{RowSides, Weighting};
use std::fmt::{Debug, Display};
use std::iter::Sum;
use std::ops::{AddAssign, DivAssign, MulAssign, SubAssign};

/// Which floating-point precision a computation runs in.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Precision {
    /// Single precision.
    F32,
    /// Double precision.
    F64,
}

/// A floating-point scalar the framework computes in: `f32` or `f64`.
///
/// Generic code is written once over `T: Real`; the object-safe traits ([`crate::Kernel`],
/// [`crate::kit::Backend`], [`crate::Coupling`], [`crate::Weighting`], [`crate::DriftOperator`]) take precision-tagged jobs, and the
/// `wrap_*` functions turn a typed problem into such a job so that generic code can call them.
pub trait Real:
    num_traits::Float
    + num_traits::FloatConst
    + Default
    + Debug
    + Display
    + Send
    + Sync
    + Sum
    + AddAssign
    + SubAssign
    + MulAssign
    + DivAssign
    + crate::math::VectorMath
    + 'static
{
    /// The precision tag of this type.
    const PRECISION: Precision;
    /// Converts from `f64` (rounding for `f32`).
    fn of(v: f64) -> Self;
    /// Converts to `f64` (exact).
    fn as_f64(self) -> f64;
    /// Applies a kernel's log-weight to a tile of squared distances, in place.
    fn kernel_log_weight(kernel: &dyn Kernel, sq_dist: &mut [Self], tau: Self);
    /// A row weighting's `(α⁺, α⁻)` for one particle, in this precision.
    fn weighting_alphas(weighting: &dyn Weighting, row: RowSides<Self>) -> (Self, Self);
    /// Tags a row reduction with this precision.
    fn wrap_reduction(r: RowReduction<'_, Self>) -> ReductionJob<'_>;
    /// Tags a coupling problem with this precision.
    fn wrap_coupling(p: CouplingProblem<'_, Self>) -> CouplingJob<'_>;
    /// Tags a drift problem with this precision.
    fn wrap_drift(p: DriftProblem<'_, Self>) -> DriftJob<'_>;
    /// Tags a batched drift problem with this precision.
    fn wrap_batch(p: BatchProblem<'_, Self>) -> BatchJob<'_>;
    /// Wraps a typed point cloud into the run-time tagged [`Points`].
    fn wrap_points(p: PointCloud<Self>) -> Points;
    /// Tags the point sets of a residency scope with this precision.
    fn wrap_resident<'s>(sets: &'s [&'s PointCloud<Self>]) -> ResidentSets<'s>;
    /// The backend's own preparation of a pair set in this precision, if it has one.
    fn prepare_pairs_on<'a>(
        backend: &'a dyn Backend,
        set: PairSet<'a, Self>,
    ) -> Result<Option<Prepared<'a, Self>>>;
    /// The backend's sliced-Wasserstein field in this precision, if it computes one.
    fn sliced_wasserstein_on(
        backend: &dyn Backend,
        job: SlicedJob<'_, Self>,
    ) -> Option<Result<Vec<Self>>>;
}

impl Real for f32 {
    const PRECISION: Precision = Precision::F32;
    fn of(v: f64) -> Self {
        v as f32
    }
    fn as_f64(self) -> f64 {
        self as f64
    }
    fn kernel_log_weight(kernel: &dyn Kernel, sq_dist: &mut [Self], tau: Self) {
        kernel.log_weight_f32(sq_dist, tau)
    }
    fn weighting_alphas(weighting: &dyn Weighting, row: RowSides<Self>) -> (Self, Self) {
        weighting.alphas_f32(row)
    }
    fn wrap_reduction(r: RowReduction<'_, Self>) -> ReductionJob<'_> {
        ReductionJob::F32(r)
    }
    fn wrap_coupling(p: CouplingProblem<'_, Self>) -> CouplingJob<'_> {
        CouplingJob::F32(p)
    }
    fn wrap_drift(p: DriftProblem<'_, Self>) -> DriftJob<'_> {
        DriftJob::F32(p)
    }
    fn wrap_batch(p: BatchProblem<'_, Self>) -> BatchJob<'_> {
        BatchJob::F32(p)
    }
    fn wrap_points(p: PointCloud<Self>) -> Points {
        Points::F32(p)
    }
    fn wrap_resident<'s>(sets: &'s [&'s PointCloud<Self>]) -> ResidentSets<'s> {
        ResidentSets::F32(sets)
    }
    fn prepare_pairs_on<'a>(
        backend: &'a dyn Backend,
        set: PairSet<'a, Self>,
    ) -> Result<Option<Prepared<'a, Self>>> {
        backend.prepare_pairs_f32(set)
    }
    fn sliced_wasserstein_on(
        backend: &dyn Backend,
        job: SlicedJob<'_, Self>,
    ) -> Option<Result<Vec<Self>>> {
        backend.sliced_wasserstein_f32(job)
    }
}

impl Real for f64 {
    const PRECISION: Precision = Precision::F64;
    fn of(v: f64) -> Self {
        v
    }
    fn as_f64(self) -> f64 {
        self
    }
    fn kernel_log_weight(kernel: &dyn Kernel, sq_dist: &mut [Self], tau: Self) {
        kernel.log_weight_f64(sq_dist, tau)
    }
    fn weighting_alphas(weighting: &dyn Weighting, row: RowSides<Self>) -> (Self, Self) {
        weighting.alphas_f64(row)
    }
    fn wrap_reduction(r: RowReduction<'_, Self>) -> ReductionJob<'_> {
        ReductionJob::F64(r)
    }
    fn wrap_coupling(p: CouplingProblem<'_, Self>) -> CouplingJob<'_> {
        CouplingJob::F64(p)
    }
    fn wrap_drift(p: DriftProblem<'_, Self>) -> DriftJob<'_> {
        DriftJob::F64(p)
    }
    fn wrap_batch(p: BatchProblem<'_, Self>) -> BatchJob<'_> {
        BatchJob::F64(p)
    }
    fn wrap_points(p: PointCloud<Self>) -> Points {
        Points::F64(p)
    }
    fn wrap_resident<'s>(sets: &'s [&'s PointCloud<Self>]) -> ResidentSets<'s> {
        ResidentSets::F64(sets)
    }
    fn prepare_pairs_on<'a>(
        backend: &'a dyn Backend,
        set: PairSet<'a, Self>,
    ) -> Result<Option<Prepared<'a, Self>>> {
        backend.prepare_pairs_f64(set)
    }
    fn sliced_wasserstein_on(
        backend: &dyn Backend,
        job: SlicedJob<'_, Self>,
    ) -> Option<Result<Vec<Self>>> {
        backend.sliced_wasserstein_f64(job)
    }
}

/// `log(exp(a) + exp(b))` without overflow; `-inf` stays neutral.
///
/// ```
/// use drift_api::kit::log_add_exp;
/// assert!((log_add_exp(0.0f64, 0.0) - 2f64.ln()).abs() < 1e-15);
/// assert_eq!(log_add_exp(f64::NEG_INFINITY, 1.5), 1.5);
/// ```
pub fn log_add_exp<T: Real>(a: T, b: T) -> T {
    let m = a.max(b);
    if m == T::neg_infinity() {
        return m;
    }
    m + ((a - m).exp() + (b - m).exp()).ln()
}
