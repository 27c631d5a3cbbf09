//! A pair of point sets prepared once for the repeated potential-weighted log-sum-exps of an
//! iterative coupling (Sinkhorn scaling reduces the same rows and columns dozens of times).
//!
//! Preparing lets a backend choose how those passes run: the CPU backend keeps the `N × M` squared
//! distances in memory when they fit its budget (every pass is then exponentials over a stored
//! matrix instead of recomputed distances); a GPU backend can keep the points on the device. Any
//! backend that does not specialise gets [`FusedPairs`]: each pass is one [`Backend::row_reduce`],
//! with memory `O((N + M)·D)`.

use crate::error::Result;
use crate::kernel::Kernel;
use crate::kit::backend::{reduce, Backend, Displacement, RowReduction};
use crate::kit::scaling::{scaling_loop_on_host, ScalingLoop, ScalingOutcome};
use crate::points::PointCloud;
use crate::real::{answer_in, ByPrecision, PerPrecision, Real, Tagged};
use std::fmt;
use std::sync::Mutex;

/// The rows, columns and kernel of a coupling's passes (the temperature and potentials vary per
/// pass and are given to each call).
#[derive(Debug)]
pub struct PairSet<'a, T> {
    /// The row points `x_i`.
    pub rows: &'a PointCloud<T>,
    /// The column points `y_j`.
    pub cols: &'a PointCloud<T>,
    /// The kernel giving `ℓ`.
    pub kernel: &'a dyn Kernel,
    /// Exclude the pairs `j = i` (the self problem: `rows` and `cols` are the same set).
    pub mask_diagonal: bool,
}

impl<T> Clone for PairSet<'_, T> {
    fn clone(&self) -> Self {
        *self
    }
}
impl<T> Copy for PairSet<'_, T> {}

/// How a prepared pair set runs its passes, as coupling reports give it.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum PairPath {
    /// Every pass recomputes the pairs in streamed tiles: memory `O((N + M)·D)`.
    #[default]
    Fused,
    /// The pairs' squared distances are kept in memory (`bytes` of them) and every pass reads them.
    Cached {
        /// Memory held by the cache.
        bytes: usize,
    },
}

impl fmt::Display for PairPath {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            PairPath::Fused => write!(f, "fused"),
            PairPath::Cached { bytes } => {
                write!(f, "cached ({:.1} MiB)", *bytes as f64 / (1024.0 * 1024.0))
            }
        }
    }
}

/// A prepared pair set: the two log-sum-exps a scaling iteration needs, at any temperature.
///
/// ```text
/// row_lse_i = LSE_j (g_j + ℓ_τ(x_i, y_j))      col_lse_j = LSE_i (f_i + ℓ_τ(x_i, y_j))
/// ```
///
/// with the masked pairs left out and `−∞` for a row or column with no unmasked finite term. Both
/// paths of a backend agree to rounding.
///
/// ```
/// use drift_api::{PointCloud};
/// use drift_api::kit::{prepare_pairs, PairSet};
/// # #[derive(Debug, serde::Serialize, serde::Deserialize)] struct G;
/// # #[typetag::serde(name = "doc.pairs_g")] impl drift_api::Kernel for G {
/// #   fn log_weight_f64(&self, d: &mut [f64], t: f64) { d.iter_mut().for_each(|v| *v = -*v / t) } }
/// # #[derive(Debug)] struct Naive;
/// # impl drift_api::kit::Backend for Naive {
/// #   fn name(&self) -> &str { "naive" }
/// #   fn row_reduce(&self, job: drift_api::kit::ReductionJob<'_>) -> drift_api::Result<()> {
/// #     let drift_api::kit::ReductionJob::F64(r) = job else { unimplemented!() };
/// #     for i in 0..r.rows.len() {
/// #       let s: Vec<f64> = (0..r.cols.len()).map(|j| {
/// #         let d: f64 = r.rows.point(i).iter().zip(r.cols.point(j)).map(|(a, b)| (a - b) * (a - b)).sum();
/// #         -d / r.tau + r.col_potential.map_or(0.0, |g| g[j]) }).collect();
/// #       let m = s.iter().cloned().fold(f64::NEG_INFINITY, f64::max);
/// #       r.lse[i] = m + s.iter().map(|v| (v - m).exp()).sum::<f64>().ln();
/// #     }
/// #     Ok(())
/// #   }
/// # }
/// let x = PointCloud::new("x", vec![0.0f64, 1.0], 1).unwrap();
/// let y = PointCloud::new("y", vec![0.0f64], 1).unwrap();
/// let pairs = prepare_pairs(&Naive, PairSet { rows: &x, cols: &y, kernel: &G, mask_diagonal: false })
///     .unwrap();
/// let mut col = vec![0.0; 1];
/// pairs.col_lse(1.0, Some(&[0.0, 0.0]), &mut col).unwrap();
/// assert!((col[0] - (1.0 + (-1f64).exp()).ln()).abs() < 1e-12);
/// assert_eq!(pairs.path(), drift_api::kit::PairPath::Fused);
/// ```
pub trait PreparedPairs<T: Copy>: Send + Sync + fmt::Debug {
    /// `lse_i = LSE_j (g_j + ℓ_τ(x_i, y_j))` for every row (`g = 0` when `None`).
    fn row_lse(&self, tau: T, col_potential: Option<&[T]>, lse: &mut [T]) -> Result<()>;
    /// `lse_j = LSE_i (f_i + ℓ_τ(x_i, y_j))` for every column (`f = 0` when `None`).
    fn col_lse(&self, tau: T, row_potential: Option<&[T]>, lse: &mut [T]) -> Result<()>;
    /// Which path the passes run on.
    fn path(&self) -> PairPath;

    /// One sweep of alternating scaling: `lse = row_lse(τ, g)`, then `f_i = row_update(i, lse_i)`
    /// for every row, written to `f`, then `col_lse(τ, f)` into `col`. A backend may run both passes
    /// in one read of the pairs (the CPU cache does, once it holds the scaled matrix); the default
    /// makes the two calls, and every implementation gives their results to rounding.
    ///
    /// ```
    /// # use drift_api::kit::{prepare_pairs, PairSet, PreparedPairs};
    /// # use drift_api::PointCloud;
    /// # #[derive(Debug, serde::Serialize, serde::Deserialize)] struct G;
    /// # #[typetag::serde(name = "doc.sweep_g")] impl drift_api::Kernel for G {
    /// #   fn log_weight_f64(&self, d: &mut [f64], t: f64) { d.iter_mut().for_each(|v| *v = -*v / t) } }
    /// # #[derive(Debug)] struct Naive;
    /// # impl drift_api::kit::Backend for Naive {
    /// #   fn name(&self) -> &str { "naive" }
    /// #   fn row_reduce(&self, job: drift_api::kit::ReductionJob<'_>) -> drift_api::Result<()> {
    /// #     let drift_api::kit::ReductionJob::F64(r) = job else { unimplemented!() };
    /// #     for i in 0..r.rows.len() {
    /// #       let s: Vec<f64> = (0..r.cols.len()).map(|j| {
    /// #         let d: f64 = r.rows.point(i).iter().zip(r.cols.point(j)).map(|(a, b)| (a - b) * (a - b)).sum();
    /// #         -d / r.tau + r.col_potential.map_or(0.0, |g| g[j]) }).collect();
    /// #       let m = s.iter().cloned().fold(f64::NEG_INFINITY, f64::max);
    /// #       r.lse[i] = m + s.iter().map(|v| (v - m).exp()).sum::<f64>().ln();
    /// #     }
    /// #     Ok(())
    /// #   }
    /// # }
    /// let x = PointCloud::new("x", vec![0.0f64, 1.0], 1).unwrap();
    /// let y = PointCloud::new("y", vec![0.0f64], 1).unwrap();
    /// let pairs = prepare_pairs(&Naive, PairSet { rows: &x, cols: &y, kernel: &G, mask_diagonal: false })
    ///     .unwrap();
    /// // f = log(1/2) − lse: the row potentials of a uniform source.
    /// let (mut f, mut col) = (vec![0.0; 2], vec![0.0; 1]);
    /// pairs.sweep(1.0, None, &|_, lse| 0.5f64.ln() - lse, &mut f, &mut col).unwrap();
    /// assert_eq!(f[0], 0.5f64.ln());
    /// // Both rows carry their mass 1/2 to the only column.
    /// assert!(col[0].abs() < 1e-12);
    /// ```
    fn sweep(
        &self,
        tau: T,
        col_potential: Option<&[T]>,
        row_update: &RowUpdate<'_, T>,
        f: &mut [T],
        col: &mut [T],
    ) -> Result<()> {
        sweep_in_two_passes(self, tau, col_potential, row_update, f, col)
    }

    /// The alternating-scaling iterations of a Sinkhorn coupling at one temperature
    /// ([`ScalingLoop`]: asymmetric or symmetric, stopping at a tolerance or a cap), called on the
    /// first block's pairs with `blocks`, the pairs of every column block of the same rows, this
    /// one first. The default runs them on the host with the blocks' passes
    /// ([`scaling_loop_on_host`]); a device backend runs them on the device when every block is
    /// its own ([`PreparedPairs::as_any`]), and the potentials then stay there between
    /// iterations. Every implementation gives the default's result to rounding.
    fn scaling_loop(
        &self,
        blocks: &[&dyn PreparedPairs<T>],
        l: ScalingLoop<'_, T>,
    ) -> Result<ScalingOutcome<T>>
    where
        T: Real,
    {
        scaling_loop_on_host(blocks, l)
    }

    /// This preparation as a type its backend can recognise among a coupling's blocks (the CUDA
    /// pair sets give their device buffers, so that a loop over several blocks runs on the
    /// device). `None`, the default, for preparations nothing needs to recognise.
    fn as_any(&self) -> Option<&dyn std::any::Any> {
        None
    }

    /// A drift term's displacement pass over these pairs, after its coupling has been solved on
    /// them: what [`crate::kit::reduce`] computes for a [`RowReduction`] of the same rows, columns,
    /// kernel and mask with the pass's temperature, column potential, displacement and origin.
    /// Returns `Ok(false)`, having written nothing, when this preparation has no faster way than
    /// the backend's fused reduction, which the caller then runs (the default); `Ok(true)` when
    /// `lse` and `disp` hold the result, to rounding of the fused one. (The CPU cache answers a
    /// mean displacement at the temperature of its stored exponentials as a matrix product over
    /// them, with no distance or exponential recomputed.)
    fn displacement_pass(&self, pass: PairDisplacement<'_, T>) -> Result<bool> {
        let _ = pass;
        Ok(false)
    }

    /// The row pass of a coupling's last iteration (of a fixed count), whose column potential is
    /// the one the coupling returns: what [`PreparedPairs::row_lse`] computes. A preparation that
    /// knows the term's displacement ([`FusedPairs::with_follow_up`]) computes it in the same pass
    /// and answers the [`PreparedPairs::displacement_pass`] that follows from it, saving the term
    /// one pass over every pair. The default is [`PreparedPairs::row_lse`].
    fn last_row_lse(&self, tau: T, col_potential: Option<&[T]>, lse: &mut [T]) -> Result<()> {
        self.row_lse(tau, col_potential, lse)
    }

    /// The sweep of a coupling's last iteration: [`PreparedPairs::sweep`] with its row pass
    /// [`PreparedPairs::last_row_lse`]. The default runs the two passes; an implementation whose
    /// sweep reads the pairs once and keeps nothing for the displacement runs its sweep.
    fn last_sweep(
        &self,
        tau: T,
        col_potential: Option<&[T]>,
        row_update: &RowUpdate<'_, T>,
        f: &mut [T],
        col: &mut [T],
    ) -> Result<()> {
        let last_pass = |lse: &mut [T]| self.last_row_lse(tau, col_potential, lse);
        two_passes(self, last_pass, tau, row_update, f, col)
    }
}

/// The arguments of [`PreparedPairs::displacement_pass`]: one row reduction's temperature,
/// potential, displacement, origin and outputs over a prepared pair set.
#[derive(Debug)]
pub struct PairDisplacement<'p, T> {
    /// Temperature `τ`.
    pub tau: T,
    /// Column potential `g_j` (log-domain, as [`RowReduction::col_potential`]).
    pub col_potential: &'p [T],
    /// Which displacement to accumulate.
    pub displacement: Displacement,
    /// Mean displacements are measured from this point instead of the row (see
    /// [`RowReduction::origin`]).
    pub origin: Option<&'p [T]>,
    /// Row log-sum-exps `lse_i`, one per row.
    pub lse: &'p mut [T],
    /// Displacements, `N × D` row-major.
    pub disp: &'p mut [T],
}

/// [`PreparedPairs::sweep`] as its two passes: what the default does, and what an implementation
/// that runs it in one read falls back to.
pub fn sweep_in_two_passes<T: Copy, P: PreparedPairs<T> + ?Sized>(
    pairs: &P,
    tau: T,
    col_potential: Option<&[T]>,
    row_update: &RowUpdate<'_, T>,
    f: &mut [T],
    col: &mut [T],
) -> Result<()> {
    let row_pass = |lse: &mut [T]| pairs.row_lse(tau, col_potential, lse);
    two_passes(pairs, row_pass, tau, row_update, f, col)
}

/// A sweep's row pass (`row_pass`), its row update and its column pass.
fn two_passes<T: Copy, P: PreparedPairs<T> + ?Sized>(
    pairs: &P,
    row_pass: impl FnOnce(&mut [T]) -> Result<()>,
    tau: T,
    row_update: &RowUpdate<'_, T>,
    f: &mut [T],
    col: &mut [T],
) -> Result<()> {
    row_pass(f)?;
    for (i, v) in f.iter_mut().enumerate() {
        *v = row_update(i, *v);
    }
    pairs.col_lse(tau, Some(f), col)
}

/// The row potential of a sweep ([`PreparedPairs::sweep`]) from a row's index and log-sum-exp.
pub type RowUpdate<'a, T> = dyn Fn(usize, T) -> T + Sync + 'a;

/// The default preparation: nothing is kept, every pass is one fused row reduction on the backend
/// (a column pass is a row reduction with the two sets swapped).
#[derive(Debug)]
pub struct FusedPairs<'a, T> {
    backend: &'a dyn Backend,
    set: PairSet<'a, T>,
    /// The displacement (and origin) the term will ask for after the coupling.
    follow_up: Option<(Displacement, Option<&'a [T]>)>,
    /// The last kept row pass with its displacement.
    kept: Mutex<Option<KeptPass<T>>>,
}

/// A row pass computed with the term's displacement, for [`PreparedPairs::displacement_pass`].
#[derive(Debug)]
struct KeptPass<T> {
    tau: T,
    potential: Option<Vec<T>>,
    lse: Vec<T>,
    disp: Vec<T>,
}

impl<'a, T> FusedPairs<'a, T> {
    /// The fused passes of `set` on `backend`.
    pub fn new(backend: &'a dyn Backend, set: PairSet<'a, T>) -> Self {
        FusedPairs {
            backend,
            set,
            follow_up: None,
            kept: Mutex::new(None),
        }
    }

    /// The displacement (from `origin`, if given) that the term will ask for once the coupling is
    /// solved: its [`PreparedPairs::last_row_lse`] computes it alongside.
    pub fn with_follow_up(mut self, displacement: Displacement, origin: Option<&'a [T]>) -> Self {
        self.follow_up = (displacement != Displacement::None).then_some((displacement, origin));
        self
    }
}

impl<T: Real> FusedPairs<'_, T> {
    /// One fused pass; with `follow_up`, the displacement too (into `disp`).
    #[allow(clippy::too_many_arguments)]
    fn pass(
        &self,
        rows: &PointCloud<T>,
        cols: &PointCloud<T>,
        tau: T,
        potential: Option<&[T]>,
        follow_up: Option<(Displacement, Option<&[T]>)>,
        lse: &mut [T],
        disp: Option<&mut [T]>,
    ) -> Result<()> {
        let (displacement, origin) = follow_up.unwrap_or((Displacement::None, None));
        reduce(
            self.backend,
            RowReduction {
                rows,
                cols,
                kernel: self.set.kernel,
                tau,
                col_potential: potential,
                mask_diagonal: self.set.mask_diagonal,
                displacement,
                origin,
                lse,
                disp,
            },
        )
    }

    /// The kept pass, if it was computed at `tau` with `potential` and the displacement asked.
    fn take_kept(&self, pass: &PairDisplacement<'_, T>) -> Option<KeptPass<T>> {
        let mut kept = self.kept.lock().unwrap_or_else(|e| e.into_inner());
        let matches = kept.as_ref().is_some_and(|k| {
            k.tau == pass.tau
                && k.potential.as_deref() == Some(pass.col_potential)
                && self.follow_up == Some((pass.displacement, pass.origin))
        });
        if matches {
            kept.take()
        } else {
            None
        }
    }
}

impl<T: Real> PreparedPairs<T> for FusedPairs<'_, T> {
    fn row_lse(&self, tau: T, col_potential: Option<&[T]>, lse: &mut [T]) -> Result<()> {
        let (rows, cols) = (self.set.rows, self.set.cols);
        self.pass(rows, cols, tau, col_potential, None, lse, None)
    }

    fn last_row_lse(&self, tau: T, col_potential: Option<&[T]>, lse: &mut [T]) -> Result<()> {
        let (rows, cols) = (self.set.rows, self.set.cols);
        match self.follow_up {
            None => self.pass(rows, cols, tau, col_potential, None, lse, None),
            Some(follow_up) => {
                let mut disp = vec![T::zero(); rows.len() * rows.dim()];
                self.pass(
                    rows,
                    cols,
                    tau,
                    col_potential,
                    Some(follow_up),
                    lse,
                    Some(&mut disp),
                )?;
                *self.kept.lock().unwrap_or_else(|e| e.into_inner()) = Some(KeptPass {
                    tau,
                    potential: col_potential.map(<[T]>::to_vec),
                    lse: lse.to_vec(),
                    disp,
                });
                Ok(())
            }
        }
    }

    fn col_lse(&self, tau: T, row_potential: Option<&[T]>, lse: &mut [T]) -> Result<()> {
        let (rows, cols) = (self.set.cols, self.set.rows);
        self.pass(rows, cols, tau, row_potential, None, lse, None)
    }

    fn path(&self) -> PairPath {
        PairPath::Fused
    }

    fn displacement_pass(&self, pass: PairDisplacement<'_, T>) -> Result<bool> {
        match self.take_kept(&pass) {
            Some(kept)
                if kept.lse.len() == pass.lse.len() && kept.disp.len() == pass.disp.len() =>
            {
                pass.lse.copy_from_slice(&kept.lse);
                pass.disp.copy_from_slice(&kept.disp);
                Ok(true)
            }
            _ => Ok(false),
        }
    }
}

/// A boxed prepared pair set borrowing its backend and points.
pub type Prepared<'a, T> = Box<dyn PreparedPairs<T> + 'a>;

/// Prepares `set` on `backend`: the backend's own preparation where it has one for this set
/// ([`Backend::prepare_pairs_f32`] / [`Backend::prepare_pairs_f64`]), else [`FusedPairs`].
pub fn prepare_pairs<'a, T: Real>(
    backend: &'a dyn Backend,
    set: PairSet<'a, T>,
) -> Result<Prepared<'a, T>> {
    prepare_pairs_with_follow_up(backend, set, Displacement::None, None)
}

/// [`prepare_pairs`], with the displacement the term will ask for afterwards given to the
/// [`FusedPairs`] fallback ([`FusedPairs::with_follow_up`]).
pub(crate) fn prepare_pairs_with_follow_up<'a, T: Real>(
    backend: &'a dyn Backend,
    set: PairSet<'a, T>,
    displacement: Displacement,
    origin: Option<&'a [T]>,
) -> Result<Prepared<'a, T>> {
    let answer = match set.tagged() {
        ByPrecision::F32(set) => ByPrecision::F32(backend.prepare_pairs_f32(set)),
        ByPrecision::F64(set) => ByPrecision::F64(backend.prepare_pairs_f64(set)),
    };
    match answer_in::<T, PreparedAnswers<'a>>(answer)? {
        Some(prepared) => Ok(prepared),
        None => Ok(Box::new(
            FusedPairs::new(backend, set).with_follow_up(displacement, origin),
        )),
    }
}

crate::per_precision!(
    /// The kind of [`PairSet`]s.
    pub PairSetKind = PairSet
);

/// The kind of a backend's answer to a pair set ([`Backend::prepare_pairs_f32`]).
struct PreparedAnswers<'a>(std::marker::PhantomData<&'a ()>);

impl<'a> PerPrecision for PreparedAnswers<'a> {
    type Of<T: Real> = Result<Option<Prepared<'a, T>>>;
}
