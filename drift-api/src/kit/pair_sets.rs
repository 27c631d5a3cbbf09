//! The pair sets of one coupling problem (its rows against each column block), prepared when a
//! coupling first asks for them and kept for the drift term's displacement pass.
//!
//! An iterative coupling reduces the same pairs dozens of times, so it prepares them
//! ([`crate::kit::prepare_pairs`]); the term's displacement pass that follows reduces them once more, at
//! the same temperature and with the coupling's final potentials. Holding the preparations in the
//! term rather than in the coupling lets that last pass use them too (the CPU cache answers it from
//! its stored exponentials), while a coupling that never asks (a one-sided, closed-form one)
//! prepares nothing: a preparation may cost a full pass of its own.

use crate::error::Result;
use crate::kernel::Kernel;
use crate::kit::backend::{Backend, Displacement};
use crate::kit::pairs::{prepare_pairs_with_follow_up, PairSet, Prepared, PreparedPairs};
use crate::points::PointCloud;
use crate::real::Real;
use std::cell::OnceCell;
use std::fmt;

/// One set of columns of a coupling problem. Most problems have one block (`Y` for the attraction, `X`
/// for the repulsion); Deng et al.'s Algorithm 2 couples `X` with the joint set `[Y; X]`, two blocks.
#[derive(Debug)]
pub struct ColumnBlock<'a, T> {
    /// The column points.
    pub points: &'a PointCloud<T>,
    /// Normalised log-weights `log b_j` over the joint column set (all blocks together sum to one);
    /// `−∞` for a zero-weight column, which carries no mass: a coupling must give it no share of
    /// any row and must not let it change the potentials of the other points.
    pub log_weights: &'a [T],
    /// Exclude the pairs `j = i` (the block is the row set itself).
    pub mask_diagonal: bool,
}

/// Where a coupling gets the prepared pairs of its problem ([`crate::CouplingProblem::pairs`]).
///
/// ```
/// use drift_api::{ColumnBlock, PointCloud};
/// use drift_api::kit::{PairPath, PairSets, PairSource};
/// # #[derive(Debug, serde::Serialize, serde::Deserialize)] struct G;
/// # #[typetag::serde(name = "doc.pair_sets_g")] impl drift_api::Kernel for G {
/// #   fn log_weight_f64(&self, d: &mut [f64], t: f64) { d.iter_mut().for_each(|v| *v = -*v / t) } }
/// # #[derive(Debug)] struct Naive;
/// # impl drift_api::kit::Backend for Naive {
/// #   fn name(&self) -> &str { "naive" }
/// #   fn row_reduce(&self, _: drift_api::kit::ReductionJob<'_>) -> drift_api::Result<()> { Ok(()) }
/// # }
/// let x = PointCloud::new("x", vec![0.0f64, 1.0], 1).unwrap();
/// let log_a = x.log_weights();
/// let blocks = [ColumnBlock { points: &x, log_weights: &log_a, mask_diagonal: true }];
/// let sets = PairSets::new(&Naive, &G, &x, &blocks);
/// assert!(sets.prepared(0).is_none()); // nothing is prepared before a coupling asks
/// let source: &dyn PairSource<f64> = &sets;
/// assert_eq!(source.block(0).unwrap().path(), PairPath::Fused);
/// assert!(sets.prepared(0).is_some()); // and then it is kept
/// ```
pub trait PairSource<T: Copy>: fmt::Debug {
    /// The rows against column block `b`, prepared on the first call and the same object after.
    fn block(&self, b: usize) -> Result<&dyn PreparedPairs<T>>;
}

/// The pair sets of a coupling problem, each prepared on first use ([`PairSource::block`]).
pub struct PairSets<'a, T> {
    backend: &'a dyn Backend,
    kernel: &'a dyn Kernel,
    rows: &'a PointCloud<T>,
    blocks: &'a [ColumnBlock<'a, T>],
    prepared: Vec<OnceCell<Prepared<'a, T>>>,
    /// The term's displacement after the coupling, for fused pair sets to compute alongside the
    /// coupling's last row pass ([`FusedPairs::with_follow_up`]).
    follow_up: (Displacement, Option<&'a [T]>),
}

impl<'a, T> PairSets<'a, T> {
    /// The rows against every block, none prepared yet.
    pub fn new(
        backend: &'a dyn Backend,
        kernel: &'a dyn Kernel,
        rows: &'a PointCloud<T>,
        blocks: &'a [ColumnBlock<'a, T>],
    ) -> Self {
        PairSets {
            backend,
            kernel,
            rows,
            blocks,
            prepared: blocks.iter().map(|_| OnceCell::new()).collect(),
            follow_up: (Displacement::None, None),
        }
    }

    /// The displacement (from `origin`, if given) the term will ask of every block once the
    /// coupling is solved; fused blocks compute it in the coupling's last row pass
    /// ([`crate::kit::PreparedPairs::last_row_lse`]).
    pub fn with_follow_up(mut self, displacement: Displacement, origin: Option<&'a [T]>) -> Self {
        self.follow_up = (displacement, origin);
        self
    }

    /// Block `b`'s preparation if a coupling asked for it.
    pub fn prepared(&self, b: usize) -> Option<&(dyn PreparedPairs<T> + 'a)>
    where
        T: Copy,
    {
        self.prepared.get(b)?.get().map(|p| p.as_ref())
    }
}

impl<T: Real> PairSource<T> for PairSets<'_, T> {
    fn block(&self, b: usize) -> Result<&dyn PreparedPairs<T>> {
        let cell = self.prepared.get(b).ok_or_else(|| {
            crate::DriftError::invalid(
                "pair sets",
                format!("block {b} asked for, the problem has {}", self.blocks.len()),
            )
        })?;
        if let Some(p) = cell.get() {
            return Ok(p.as_ref());
        }
        let block = &self.blocks[b];
        let set = PairSet {
            rows: self.rows,
            cols: block.points,
            kernel: self.kernel,
            mask_diagonal: block.mask_diagonal,
        };
        let (displacement, origin) = self.follow_up;
        let prepared = prepare_pairs_with_follow_up(self.backend, set, displacement, origin)?;
        Ok(cell.get_or_init(|| prepared).as_ref())
    }
}

impl<T> fmt::Debug for PairSets<'_, T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let prepared: Vec<bool> = self.prepared.iter().map(|c| c.get().is_some()).collect();
        f.debug_struct("PairSets")
            .field("blocks", &self.blocks.len())
            .field("prepared", &prepared)
            .finish()
    }
}
