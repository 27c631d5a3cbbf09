//! One problem over several processes, split by rows: a backend that runs each reduction's share
//! of rows on the backend it wraps and completes the rest through a [`Collective`].
//!
//! Every process runs the same operator on the same problem (every process holds `X` and `Y`)
//! with a [`RowShards`] over its own backend. Each pass over all pairs, whichever set indexes its
//! rows (`X` for a row pass, `Y` for a Sinkhorn column pass, which is a row reduction with the
//! sets swapped), is computed by each process for its contiguous share of the rows only, and the
//! shares are gathered, so that every process continues with the whole result: the pairwise work is
//! divided by the number of processes, and what crosses between them per pass is the pass's output
//! (`O(N)` log-sum-exps for a Sinkhorn iteration, `O(N·D)` displacements for the final pass),
//! never points or pair blocks. Every process takes the same decisions from the same numbers (the
//! tolerance stop of a Sinkhorn loop included), so the collective calls match, and every process
//! ends with the field of the whole problem, equal to one process's to rounding.
//!
//! It splits one problem: every process must make the same collective calls in the same order, so
//! a batch (whose problems run in parallel, each with its own passes) is split by problems instead
//! (`drift_api::batch`, with the collective completing its batch-wide statistics).
//!
//! A share of the self problem (`mask_diagonal`: rows `s..e` against all of `X`) is three
//! reductions, against the columns before the share, the share itself (square, masked) and after
//! it, merged as log-sum-exp states: `lse = LSE_k lse_k` and `disp = Σ_k exp(lse_k − lse) disp_k`.
//!
//! ```
//! use drift_api::{apply_drift, Context, DriftProblem, PointCloud};
//! use drift_api::kit::SingleProcess;
//! use drift_ops::{CpuBackend, RowShards, SinkhornDrift};
//! let x = PointCloud::new("x", vec![0.0f64, 0.3, 0.6, 0.9], 1).unwrap();
//! let y = PointCloud::new("y", vec![2.0f64, 2.5, 3.0], 1).unwrap();
//! let (context, op) = (Context::default(), SinkhornDrift::new(0.5));
//! // One process holding the only share: the field of the plain backend.
//! let shards = RowShards::new(&CpuBackend, &SingleProcess, 0, 1).unwrap();
//! let mut v = vec![0.0; 4];
//! apply_drift(&op, DriftProblem::new(&shards, &x, &y, &context, &mut v)).unwrap();
//! let (plain, _) = drift_ops::drift(&op, &x, &y).unwrap();
//! assert!(v.iter().zip(&plain).all(|(a, b)| (a - b).abs() < 1e-12));
//! ```

use drift_api::kit::{
    check_rank, log_add_exp, Backend, Collective, Displacement, ReductionJob, ResidentBody,
    ResidentSets, RowReduction, SlicedJob,
};
use drift_api::{PointCloud, Real, Result};
use std::ops::Range;

/// A backend that computes each reduction's share of rows for process `rank` of `ranks` on
/// `inner` and gathers the other shares through `collective` (see the module's documentation).
#[derive(Debug)]
pub struct RowShards<'a> {
    inner: &'a dyn Backend,
    collective: &'a dyn Collective,
    rank: usize,
    ranks: usize,
}

impl<'a> RowShards<'a> {
    /// Process `rank` of `ranks` (every process of `collective` makes one, with its own rank).
    pub fn new(
        inner: &'a dyn Backend,
        collective: &'a dyn Collective,
        rank: usize,
        ranks: usize,
    ) -> Result<Self> {
        check_rank("row shards", rank, ranks)?;
        Ok(RowShards {
            inner,
            collective,
            rank,
            ranks,
        })
    }

    /// The rows process `rank` computes of a reduction with `rows` rows: contiguous, sizes
    /// differing by at most one.
    pub fn share(&self, rows: usize) -> Range<usize> {
        let at = |r: usize| (rows as u128 * r as u128 / self.ranks as u128) as usize;
        at(self.rank)..at(self.rank + 1)
    }

    fn run<T: Real>(&self, r: RowReduction<'_, T>) -> Result<()> {
        let (n, dim) = (r.rows.len(), r.rows.dim());
        drift_api::kit::check_len("lse", r.lse.len(), n)?;
        drift_api::kit::check_square_mask(r.mask_diagonal, n, r.cols.len())?;
        let with_disp = r.displacement != Displacement::None;
        if let (true, Some(d)) = (with_disp, &r.disp) {
            drift_api::kit::check_len("displacement", d.len(), n * dim)?;
        }
        let share = self.share(n);
        let mut lse = vec![T::zero(); share.len()];
        let mut disp = vec![T::zero(); if with_disp { share.len() * dim } else { 0 }];
        if !share.is_empty() {
            self.own_share(&r, share.clone(), &mut lse, &mut disp)?;
        }
        self.gather(&lse, share.start, 1, r.lse)?;
        match r.disp {
            Some(out) if with_disp => self.gather(&disp, share.start, dim, out),
            _ => Ok(()),
        }
    }

    /// This process's rows `share` of `r` into `lse` and `disp` (empty without a displacement).
    fn own_share<T: Real>(
        &self,
        r: &RowReduction<'_, T>,
        share: Range<usize>,
        lse: &mut [T],
        disp: &mut [T],
    ) -> Result<()> {
        let rows = sub_cloud(r.rows, share.clone())?;
        if !r.mask_diagonal {
            return self.reduce(r, &rows, r.cols, r.col_potential, false, lse, disp);
        }
        // The self problem: the columns before the share, the share (square, masked), after it.
        let m = r.cols.len();
        let blocks = [0..share.start, share.clone(), share.end..m];
        let mut merged = false;
        let (mut block_lse, mut block_disp) =
            (vec![T::zero(); lse.len()], vec![T::zero(); disp.len()]);
        for (k, cols) in blocks.into_iter().enumerate() {
            if cols.is_empty() {
                continue;
            }
            let points = sub_cloud(r.cols, cols.clone())?;
            let potential = r.col_potential.map(|g| &g[cols]);
            let (l, d) = if merged {
                (&mut block_lse[..], &mut block_disp[..])
            } else {
                (&mut lse[..], &mut disp[..])
            };
            self.reduce(r, &rows, &points, potential, k == 1, l, d)?;
            if merged {
                merge_states(lse, disp, &block_lse, &block_disp, r.rows.dim());
            }
            merged = true;
        }
        Ok(())
    }

    /// One reduction of `r`'s kind on the inner backend, with other rows, columns and mask.
    #[allow(clippy::too_many_arguments)]
    fn reduce<T: Real>(
        &self,
        r: &RowReduction<'_, T>,
        rows: &PointCloud<T>,
        cols: &PointCloud<T>,
        col_potential: Option<&[T]>,
        mask_diagonal: bool,
        lse: &mut [T],
        disp: &mut [T],
    ) -> Result<()> {
        drift_api::kit::reduce(
            self.inner,
            RowReduction {
                rows,
                cols,
                kernel: r.kernel,
                tau: r.tau,
                col_potential,
                mask_diagonal,
                displacement: r.displacement,
                origin: r.origin,
                lse,
                disp: (r.displacement != Displacement::None).then_some(disp),
            },
        )
    }

    /// Every process's `share` (`width` values per row, this one's starting at row `start`) into
    /// `out`: each process writes its rows into zeros and the collective adds them, which is exact.
    fn gather<T: Real>(
        &self,
        share: &[T],
        start: usize,
        width: usize,
        out: &mut [T],
    ) -> Result<()> {
        let mut all = vec![0.0f64; out.len()];
        for (a, v) in all[start * width..].iter_mut().zip(share) {
            *a = v.as_f64();
        }
        // A row whose every pair is masked has lse −∞, which stays −∞: the others add zeros.
        self.collective.all_reduce_sum(&mut all)?;
        for (o, a) in out.iter_mut().zip(&all) {
            *o = T::of(*a);
        }
        Ok(())
    }
}

/// Rows `range` of `cloud` as a cloud of their own (without weights: reductions read only the
/// coordinates of their rows and columns).
fn sub_cloud<T: Real>(cloud: &PointCloud<T>, range: Range<usize>) -> Result<PointCloud<T>> {
    let dim = cloud.dim();
    PointCloud::new(
        cloud.name(),
        cloud.data()[range.start * dim..range.end * dim].to_vec(),
        dim,
    )
}

/// `(lse, disp) ← (LSE(lse, other_lse), weighted mean of the two displacements)`, row by row.
fn merge_states<T: Real>(lse: &mut [T], disp: &mut [T], other_lse: &[T], other: &[T], dim: usize) {
    for (i, (l, o)) in lse.iter_mut().zip(other_lse).enumerate() {
        let total = log_add_exp(*l, *o);
        if total == T::neg_infinity() {
            continue;
        }
        let (a, b) = ((*l - total).exp(), (*o - total).exp());
        if !disp.is_empty() {
            let (d, e) = (&mut disp[i * dim..][..dim], &other[i * dim..][..dim]);
            d.iter_mut().zip(e).for_each(|(d, e)| *d = a * *d + b * *e);
        }
        *l = total;
    }
}

impl Backend for RowShards<'_> {
    fn name(&self) -> &str {
        "row shards"
    }

    fn row_reduce(&self, job: ReductionJob<'_>) -> Result<()> {
        match job {
            ReductionJob::F32(r) => self.run(r),
            ReductionJob::F64(r) => self.run(r),
        }
    }

    fn sliced_wasserstein_f32(&self, job: SlicedJob<'_, f32>) -> Option<Result<Vec<f32>>> {
        self.inner.sliced_wasserstein_f32(job)
    }

    fn sliced_wasserstein_f64(&self, job: SlicedJob<'_, f64>) -> Option<Result<Vec<f64>>> {
        self.inner.sliced_wasserstein_f64(job)
    }

    fn keep_resident(&self, sets: ResidentSets<'_>, body: &mut ResidentBody<'_>) -> Result<()> {
        self.inner.keep_resident(sets, body)
    }

    fn run_on_threads(&self, work: &mut (dyn FnMut() + Send)) {
        self.inner.run_on_threads(work)
    }
}
