//! The reductions couplings are made of: row and column log-sum-exps over column blocks.

pub(crate) use drift_api::kit::scaling::{marginal_l1, scaling, scaling_all};
use drift_api::kit::{
    log_add_exp, Backend, FusedPairs, PairPath, PairSet, PairSource, PreparedPairs,
};
use drift_api::{ColumnBlock, Kernel, PointCloud, Real, Result};

/// A backend, kernel and temperature: everything a coupling's passes share.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Passes<'a, T> {
    pub backend: &'a dyn Backend,
    pub kernel: &'a dyn Kernel,
    pub tau: T,
}

impl<T: Real> Passes<'_, T> {
    /// The rows against one block, each pass one fused reduction.
    fn fused<'p>(
        &'p self,
        rows: &'p PointCloud<T>,
        block: &'p ColumnBlock<'_, T>,
    ) -> FusedPairs<'p, T> {
        FusedPairs::new(
            self.backend,
            PairSet {
                rows,
                cols: block.points,
                kernel: self.kernel,
                mask_diagonal: block.mask_diagonal,
            },
        )
    }

    /// `LSE_j (g_j + ℓ(x_i, y_j))` over one block, for every row `i`.
    pub fn row_lse(
        &self,
        rows: &PointCloud<T>,
        block: &ColumnBlock<'_, T>,
        g: Option<&[T]>,
    ) -> Result<Vec<T>> {
        let mut lse = vec![T::zero(); rows.len()];
        self.fused(rows, block).row_lse(self.tau, g, &mut lse)?;
        Ok(lse)
    }

    /// `LSE_{b, j} (g_bj + ℓ(x_i, y_bj))` over every block, for every row `i`.
    pub fn row_lse_all(
        &self,
        rows: &PointCloud<T>,
        blocks: &[ColumnBlock<'_, T>],
        g: &[&[T]],
    ) -> Result<Vec<T>> {
        lse_over_blocks(rows.len(), blocks.len(), |b| {
            self.row_lse(rows, &blocks[b], Some(g[b]))
        })
    }

    /// `LSE_i (f_i + ℓ(x_i, y_j))` for every column `j` of a block (the column reduction).
    pub fn col_lse(
        &self,
        rows: &PointCloud<T>,
        block: &ColumnBlock<'_, T>,
        f: Option<&[T]>,
    ) -> Result<Vec<T>> {
        let mut lse = vec![T::zero(); block.points.len()];
        self.fused(rows, block).col_lse(self.tau, f, &mut lse)?;
        Ok(lse)
    }
}

/// `LSE_b lse_b` element-wise over the per-block row log-sum-exps `block_lse(b)`, `b < blocks`.
fn lse_over_blocks<T: Real>(
    rows: usize,
    blocks: usize,
    mut block_lse: impl FnMut(usize) -> Result<Vec<T>>,
) -> Result<Vec<T>> {
    let mut total = vec![T::neg_infinity(); rows];
    for b in 0..blocks {
        total
            .iter_mut()
            .zip(block_lse(b)?)
            .for_each(|(t, l)| *t = log_add_exp(*t, l));
    }
    Ok(total)
}

impl<T: Real> Passes<'_, T> {
    /// `Σ_i a_i Σ_j b_j k(x_i, y_j)` with the points' normalised weights: one reduction with
    /// `g = log b`, then the `a`-weighted sum of the row masses (MMD² terms, mean distances).
    pub fn mean_kernel(&self, x: &PointCloud<T>, y: &PointCloud<T>) -> Result<f64> {
        let (la, lb) = (x.log_weights(), y.log_weights());
        let block = ColumnBlock {
            points: y,
            log_weights: &lb,
            mask_diagonal: false,
        };
        let lse = self.row_lse(x, &block, Some(&lb))?;
        Ok(lse
            .iter()
            .zip(&la)
            .map(|(l, a)| (*l + *a).exp().as_f64())
            .sum())
    }
}

/// The pair sets of a coupling problem (the rows against each column block), prepared once for an
/// iterative solver: the backend decides per block whether passes run over cached distances or
/// fused ([`drift_api::kit::prepare_pairs`]). They come from the problem's [`PairSource`], which keeps
/// them for the term's displacement pass.
pub(crate) struct PreparedBlocks<'a, T> {
    blocks: Vec<&'a dyn PreparedPairs<T>>,
}

impl<'a, T: Real> PreparedBlocks<'a, T> {
    /// Prepares the rows against each of `blocks` blocks.
    pub fn new(source: &'a dyn PairSource<T>, blocks: usize) -> Result<Self> {
        let blocks = (0..blocks)
            .map(|b| source.block(b))
            .collect::<Result<_>>()?;
        Ok(PreparedBlocks { blocks })
    }

    /// `LSE_j (g_j + ℓ_ij)` over block `b`, for every row.
    pub fn row_lse(&self, b: usize, tau: T, g: Option<&[T]>, rows: usize) -> Result<Vec<T>> {
        let mut lse = vec![T::zero(); rows];
        self.blocks[b].row_lse(tau, g, &mut lse)?;
        Ok(lse)
    }

    /// The prepared pairs of every block, in order.
    pub fn all(&self) -> &[&'a dyn PreparedPairs<T>] {
        &self.blocks
    }

    /// The prepared pairs of block `b`.
    pub fn block(&self, b: usize) -> &'a dyn PreparedPairs<T> {
        self.blocks[b]
    }

    /// Cached (with the total bytes) when every block is, else fused.
    pub fn path(&self) -> PairPath {
        let mut total = 0;
        for block in &self.blocks {
            match block.path() {
                PairPath::Cached { bytes } => total += bytes,
                PairPath::Fused => return PairPath::Fused,
            }
        }
        PairPath::Cached { bytes: total }
    }
}
