//! The coupling trait: a transport plan between rows and columns, represented by its potentials.

use crate::error::Result;
use crate::kernel::Kernel;
use crate::kit::backend::Backend;
pub use crate::kit::pair_sets::ColumnBlock;
use crate::points::PointCloud;
use crate::real::ByPrecision;

/// Potentials `(f, g)` of a coupling: the plan is `π_ij = exp(f_i + g_j + ℓ_ij)` (so `g` already holds
/// `log b_j` where the coupling weighs columns).
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Potentials<T> {
    /// Row potentials, or `None` when the coupling normalises rows: then
    /// `f_i = −LSE_{blocks, j}(g_j + ℓ_ij)`, which the operator's final pass computes for free.
    pub f: Option<Vec<T>>,
    /// Column potentials, one vector per column block.
    pub g: Vec<Vec<T>>,
}

/// What a coupling solver reports about its run.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct CouplingReport {
    /// The coupling's registered name.
    pub coupling: String,
    /// Which term of the operator solved it (`attraction`, `repulsion`, `joint`); set by the engine.
    pub term: String,
    /// Scaling iterations performed (0 for closed-form couplings).
    pub iterations: usize,
    /// Final marginal error `‖π1 − a‖₁ + ‖πᵀ1 − b‖₁` where the coupling enforces marginals.
    pub marginal_error: Option<f64>,
    /// Whether the requested tolerance was met (always true for closed-form couplings).
    pub converged: bool,
    /// How an iterative coupling's passes ran (`None` for couplings that make one pass per block):
    /// cached only when every block's pairs were.
    pub path: Option<crate::kit::pairs::PairPath>,
}

/// Everything a coupling needs to compute its potentials.
#[derive(Debug)]
pub struct CouplingProblem<'a, T> {
    /// Where the reductions run.
    pub backend: &'a dyn Backend,
    /// The kernel giving `ℓ`.
    pub kernel: &'a dyn Kernel,
    /// Temperature.
    pub tau: T,
    /// The row points `x_i`.
    pub rows: &'a PointCloud<T>,
    /// Normalised log-weights `log a_i` of the rows; `−∞` for a zero-weight row, whose plan row is
    /// the limit of a vanishing weight (its potentials may be `−∞`, never `+∞` or NaN).
    pub row_log_weights: &'a [T],
    /// The column blocks.
    pub blocks: &'a [ColumnBlock<'a, T>],
    /// True when there is one block and it is the row set with the row weights: the self problem,
    /// where solvers may keep `f = g` and use the symmetric update.
    pub symmetric: bool,
    /// The rows against each block, prepared on first use for couplings that reduce them
    /// repeatedly ([`crate::kit::PairSource::block`]); the caller keeps them for its displacement pass.
    pub pairs: &'a dyn crate::kit::PairSource<T>,
    /// Output potentials (`g` gets one vector per block).
    pub out: &'a mut Potentials<T>,
    /// The problem's index in its batch ([`crate::Context::problem`]): solvers keep their state
    /// between calls (warm starts) per index.
    pub problem: usize,
}

crate::per_precision!(
    /// The kind of [`CouplingProblem`]s, for [`CouplingJob`].
    pub CouplingProblems = CouplingProblem
);

/// A [`CouplingProblem`] tagged with its precision.
pub type CouplingJob<'a> = ByPrecision<CouplingProblems<'a>>;

/// A coupling between rows and columns, computed as potentials through backend reductions.
///
/// Implementations write the potentials into `problem.out` and report iterations and marginal error.
/// Dispatch on the precision with a `match` and keep the body generic:
///
/// ```
/// use drift_api::{Coupling, CouplingJob, CouplingProblem, CouplingReport, Potentials, Real, Result};
/// use serde::{Deserialize, Serialize};
///
/// /// The unnormalised plan `π = k·b` (f = 0, g = log b).
/// #[derive(Debug, Serialize, Deserialize)]
/// struct Plain;
///
/// impl Plain {
///     fn run<T: Real>(&self, p: CouplingProblem<'_, T>) -> Result<CouplingReport> {
///         *p.out = Potentials {
///             f: Some(vec![T::zero(); p.rows.len()]),
///             g: p.blocks.iter().map(|b| b.log_weights.to_vec()).collect(),
///         };
///         Ok(CouplingReport { coupling: "doc.plain".into(), converged: true, ..Default::default() })
///     }
/// }
///
/// #[typetag::serde(name = "doc.plain")]
/// impl Coupling for Plain {
///     fn solve(&self, job: CouplingJob<'_>) -> Result<CouplingReport> {
///         match job {
///             CouplingJob::F32(p) => self.run(p),
///             CouplingJob::F64(p) => self.run(p),
///         }
///     }
/// }
/// ```
#[typetag::serde]
pub trait Coupling: Send + Sync + std::fmt::Debug {
    /// Computes the potentials of the plan into `job`'s output.
    fn solve(&self, job: CouplingJob<'_>) -> Result<CouplingReport>;

    /// Checks the coupling's parameters (iteration caps, tolerances); called once before use.
    fn validate(&self) -> Result<()> {
        Ok(())
    }

    /// The unit in which the engine reports this coupling's row masses to a
    /// [`Weighting`](crate::Weighting) (default [`RowMasses::PlanSums`]).
    fn row_masses(&self) -> RowMasses {
        RowMasses::PlanSums
    }
}

/// How a coupling's row masses `m_i = Σ_j π_ij` (over one column block) are reported to a row
/// weighting, so that a weighting such as `mass_product` means the same with every coupling.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum RowMasses {
    /// The plan's row sums as they are: right for couplings whose plan is already in relative units
    /// (row-normalising: shares that sum to 1 over the blocks; the two-sided proxy: relative masses
    /// near 1; unnormalised: the kernel density `Σ_j b_j k_ij`).
    #[default]
    PlanSums,
    /// The row sums divided by the row's weight `a_i`: right for couplings that enforce the row
    /// marginal `Σ_j π_ij = a_i` (Sinkhorn), whose plain sums would be `1/N` for uniform weights.
    /// Reported this way they are the share of each row's mass that the block receives (1 for a
    /// single block at convergence), as for a row-normalising coupling.
    FractionOfRowWeight,
}
