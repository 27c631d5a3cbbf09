//! The one primitive every kernel operator is built from: a row reduction with potentials.

use crate::error::{DriftError, Result};
use crate::kernel::Kernel;
use crate::kit::column_split::ColumnSplit;
use crate::kit::official::{OfficialJob, Stages};
use crate::kit::pairs::{PairSet, Prepared};
use crate::kit::resident::{ResidentBody, ResidentSets};
use crate::kit::sliced::SlicedJob;
use crate::points::PointCloud;
use crate::real::{ByPrecision, Real, Tagged};

/// What a row reduction accumulates besides the row log-mass.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum Displacement {
    /// Only the row log-mass `lse_i`.
    #[default]
    None,
    /// The mean displacement `bar_i − x_i = Σ_j p_ij (y_j − x_i)` with `p_ij = exp(s_ij − lse_i)`.
    Mean,
    /// The mean unit displacement `Σ_j p_ij (y_j − x_i)/‖y_j − x_i‖` (zero for coincident points): the
    /// exact gradient direction of non-Gaussian radial kernels such as Laplace.
    Unit,
}

/// One row reduction: for every row `i` of `rows`,
///
/// ```text
/// s_ij  = g_j + ℓ(x_i, y_j)          (g_j = 0 when absent; j = i skipped when mask_diagonal)
/// lse_i = LSE_j s_ij
/// disp_i = Σ_j exp(s_ij − lse_i) · (y_j − x_i)     (or the unit displacement)
/// ```
///
/// A row whose every term is masked gets `lse_i = −∞` and a zero displacement. A column reduction is
/// the same job with the two sets swapped.
#[derive(Debug)]
pub struct RowReduction<'a, T> {
    /// The points indexing the rows (`x_i`).
    pub rows: &'a PointCloud<T>,
    /// The points indexing the columns (`y_j`).
    pub cols: &'a PointCloud<T>,
    /// The kernel giving `ℓ`.
    pub kernel: &'a dyn Kernel,
    /// Temperature.
    pub tau: T,
    /// Column potentials `g_j` (length `cols.len()`), or `None` for zero.
    pub col_potential: Option<&'a [T]>,
    /// Skip the pairs `j = i` (requires `rows` and `cols` of the same length: the self problem).
    pub mask_diagonal: bool,
    /// Which displacement to accumulate.
    pub displacement: Displacement,
    /// For [`Displacement::Mean`]: accumulate the barycentre relative to this point,
    /// `Σ_j p_ij (y_j − origin)`, instead of the displacement `Σ_j p_ij (y_j − x_i)` (length `dim`).
    /// Operators that take a difference of two barycentres use it so that a particle far from both
    /// sets does not cancel its own position away (`(bar⁺ − x_i) − (bar⁻ − x_i)` loses every digit of
    /// the field when `‖x_i‖` dwarfs it). Ignored by the other displacements.
    pub origin: Option<&'a [T]>,
    /// Output: `lse_i`, length `rows.len()`.
    pub lse: &'a mut [T],
    /// Output: displacements, `rows.len() × dim`, row-major; required unless `displacement` is `None`.
    pub disp: Option<&'a mut [T]>,
}

crate::per_precision!(
    /// The kind of [`RowReduction`]s, for [`ReductionJob`].
    pub Reductions = RowReduction
);

/// A [`RowReduction`] tagged with its precision, as the object-safe [`Backend`] receives it.
pub type ReductionJob<'a> = ByPrecision<Reductions<'a>>;

/// A compute backend: implements the fused row reduction for both precisions.
///
/// Backends never materialise the `rows × cols` matrix on their default path; memory is
/// `O((N + M)·D)`.
///
/// ```
/// use drift_api::{Result};
/// use drift_api::kit::{Backend, Displacement, ReductionJob, RowReduction};
///
/// /// A naive single-threaded backend (f64 only), for illustration.
/// #[derive(Debug)]
/// struct Naive;
/// impl Backend for Naive {
///     fn name(&self) -> &str { "naive" }
///     fn row_reduce(&self, job: ReductionJob<'_>) -> Result<()> {
///         let ReductionJob::F64(r) = job else { unimplemented!() };
///         for i in 0..r.rows.len() {
///             let mut s: Vec<f64> = (0..r.cols.len()).map(|j| {
///                 r.rows.point(i).iter().zip(r.cols.point(j)).map(|(a, b)| (a - b) * (a - b)).sum()
///             }).collect();
///             r.kernel.log_weight_f64(&mut s, r.tau);
///             let m = s.iter().cloned().fold(f64::NEG_INFINITY, f64::max);
///             r.lse[i] = m + s.iter().map(|v| (v - m).exp()).sum::<f64>().ln();
///         }
///         Ok(())
///     }
/// }
/// # #[derive(Debug, serde::Serialize, serde::Deserialize)] struct G;
/// # #[typetag::serde(name = "doc.g")] impl drift_api::Kernel for G {
/// #   fn log_weight_f64(&self, d: &mut [f64], t: f64) { d.iter_mut().for_each(|v| *v = -*v / t) } }
/// let x = drift_api::PointCloud::new("x", vec![0.0f64, 1.0], 1).unwrap();
/// let mut lse = vec![0.0; 2];
/// drift_api::kit::reduce(&Naive, RowReduction {
///     rows: &x, cols: &x, kernel: &G, tau: 1.0, col_potential: None, mask_diagonal: false,
///     displacement: Displacement::None, origin: None, lse: &mut lse, disp: None,
/// }).unwrap();
/// assert!((lse[0] - (1.0 + (-1f64).exp()).ln()).abs() < 1e-12);
/// ```
pub trait Backend: Send + Sync + std::fmt::Debug {
    /// A short name for reports.
    fn name(&self) -> &str;
    /// Runs one row reduction.
    fn row_reduce(&self, job: ReductionJob<'_>) -> Result<()>;

    /// Prepares a pair set for repeated passes in single precision, or `None` to let every pass run
    /// as one fused [`row_reduce`](Backend::row_reduce) (the default; see
    /// [`prepare_pairs`](crate::kit::prepare_pairs)).
    fn prepare_pairs_f32<'a>(&'a self, set: PairSet<'a, f32>) -> Result<Option<Prepared<'a, f32>>> {
        let _ = set;
        Ok(None)
    }

    /// [`prepare_pairs_f32`](Backend::prepare_pairs_f32) in double precision.
    fn prepare_pairs_f64<'a>(&'a self, set: PairSet<'a, f64>) -> Result<Option<Prepared<'a, f64>>> {
        let _ = set;
        Ok(None)
    }

    /// Computes a sliced-Wasserstein field in single precision and returns it (`x.len() × dim`,
    /// row-major), or `None` (the default) when this backend leaves it to the operator's CPU code;
    /// see [`sliced_wasserstein_on`](crate::kit::sliced_wasserstein_on).
    fn sliced_wasserstein_f32(&self, job: SlicedJob<'_, f32>) -> Option<Result<Vec<f32>>> {
        let _ = job;
        None
    }

    /// [`sliced_wasserstein_f32`](Backend::sliced_wasserstein_f32) in double precision.
    fn sliced_wasserstein_f64(&self, job: SlicedJob<'_, f64>) -> Option<Result<Vec<f64>>> {
        let _ = job;
        None
    }

    /// Takes the passes of the official loss on a batch in single precision ([`OfficialJob`]):
    /// `Ok(Some(stages))` when this backend runs them itself, `Ok(None)` (the default) when it
    /// leaves them to the operator's CPU code; see
    /// [`official_stages_on`](crate::kit::official_stages_on).
    fn official_stages_f32<'a>(
        &'a self,
        job: OfficialJob<'a, f32>,
    ) -> Result<Option<Stages<'a, f32>>> {
        let _ = job;
        Ok(None)
    }

    /// [`official_stages_f32`](Backend::official_stages_f32) in double precision.
    fn official_stages_f64<'a>(
        &'a self,
        job: OfficialJob<'a, f64>,
    ) -> Result<Option<Stages<'a, f64>>> {
        let _ = job;
        Ok(None)
    }

    /// Runs `body` (one drift evaluation) once, with `sets` kept where this backend computes: a
    /// device backend copies them to its memory here, once, and finds them there in every
    /// reduction, preparation or sliced job of the evaluation, instead of uploading them per call.
    /// The sets stay borrowed, so unchanged, until this returns; an implementation must forget
    /// them before returning (see [`crate::kit::resident`] and its [`ResidentMap`](crate::kit::resident::ResidentMap)).
    /// The default (host backends) only runs the body.
    fn keep_resident(&self, sets: ResidentSets<'_>, body: &mut ResidentBody<'_>) -> Result<()> {
        let _ = sets;
        body()
    }

    /// Runs `work` (one whole evaluation: [`crate::apply_drift`] and
    /// [`crate::batch::apply_drift_batch`] call it) on the host threads this backend is set to
    /// use, so that everything the evaluation runs in parallel (its passes, the problems of a
    /// batch, an operator's own parallel loops) shares one thread count. The default runs it
    /// where it is called, on the process's thread pool.
    fn run_on_threads(&self, work: &mut (dyn FnMut() + Send)) {
        work()
    }

    /// This process's place among the processes that each hold one shard of `Y`, when this
    /// backend runs one process's share of a problem split by columns (`drift_ops::ColumnShards`:
    /// its reductions against the shard are completed over the processes); what an evaluation
    /// computes over `Y` itself is completed with it. `None`, the default: the backend sees the
    /// whole problem, and [`crate::apply_drift`] refuses a shard.
    fn column_split(&self) -> Option<ColumnSplit<'_>> {
        None
    }
}

/// A [`DriftError::ShapeMismatch`] naming `what` unless `found == expected`: the length check every
/// backend makes on the buffers of a reduction, so that all of them fail alike on bad input.
pub fn check_len(what: &str, found: usize, expected: usize) -> Result<()> {
    if found == expected {
        Ok(())
    } else {
        Err(DriftError::ShapeMismatch {
            what: what.into(),
            expected,
            found,
        })
    }
}

/// The check every backend makes on `mask_diagonal`: masking the pairs `j = i` needs as many rows
/// as columns (the self problem).
pub fn check_square_mask(mask_diagonal: bool, rows: usize, cols: usize) -> Result<()> {
    if mask_diagonal && rows != cols {
        return Err(DriftError::invalid(
            "mask_diagonal",
            format!("needs a square self problem, got {rows} rows and {cols} columns"),
        ));
    }
    Ok(())
}

/// Runs a typed row reduction on an object-safe backend (generic code calls this).
pub fn reduce<T: Real>(backend: &dyn Backend, r: RowReduction<'_, T>) -> Result<()> {
    backend.row_reduce(r.tagged())
}
