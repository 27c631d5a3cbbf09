//! One problem over several processes, split by columns: every process holds all of `X` and one
//! shard of `Y` ([`PointCloud::shard`]: contiguous rows of the data file, say), and every process
//! ends with the field of the whole problem, `X` against all of `Y`.
//!
//! Every process runs the same operator with a [`ColumnShards`] over its own backend. A
//! reduction whose columns are the shard (a row pass of `X` against `Y`: a Sinkhorn row update,
//! a displacement pass, a density) runs against the local shard, and the processes' partial
//! log-sum-exp states are merged exactly ([`ColumnSplit::merge_log_sum_exps`]): the row maxima
//! `m = max_p lse_p` (an all-reduce of `N` maxima), then the all-reduced shifted sums
//! `Σ_p exp(lse_p − m)` and `Σ_p exp(lse_p − m) · disp_p`, so `lse = m + ln Σ_p exp(lse_p − m)`
//! (a collective without a maximum gathers every process's `lse_p` instead, `P × N` values). A reduction whose rows are the shard (a Sinkhorn column
//! pass, `Y_p` against `X`) is complete locally, and so is one among `X` and the negatives (the
//! self problem), which every process holds. An iterative coupling's pairs are prepared by the
//! inner backend for the process's own points (the CPU pair cache serves them), and their passes
//! against the shard are merged the same way. A shard's weights are normalised over the whole set,
//! so operators written on the engine run unchanged; what they compute over `Y` outside the
//! reductions is completed through [`Backend::column_split`] (the barycentre origin, bounding
//! boxes, the Sinkhorn loop's column marginal error, so that every process stops at the same
//! iteration; GeomLoss' fixed loop, which has no stopping test, reports the marginal error of the
//! process's own shard). Per Sinkhorn iteration a process adds `2N + 1` numbers into the
//! collective (`P·N + 1` without a maximum), never points.
//!
//! What needs `Y` in one place is refused with [`DriftError::ColumnSplit`]: a reduction of `Y`
//! against itself, and the operators that read `Y`'s points themselves (`sliced_wasserstein`,
//! `deng_official`).
//!
//! ```
//! use drift_api::kit::{SingleProcess, Whole};
//! use drift_api::{apply_drift, Context, DriftProblem, PointCloud};
//! use drift_ops::{ColumnShards, CpuBackend, SinkhornDrift};
//! let x = PointCloud::new("x", vec![0.0f64, 0.3, 0.6, 0.9], 1).unwrap();
//! let y = PointCloud::new("y", vec![2.0f64, 2.5, 3.0], 1).unwrap();
//! let (context, op) = (Context::default(), SinkhornDrift::new(0.5));
//! // One process holding the only shard: the field of the plain backend.
//! let shard = PointCloud::shard("y", y.data().to_vec(), 1, None, Whole::of_part::<f64>(None, 3))
//!     .unwrap();
//! let shards = ColumnShards::new(&CpuBackend, &SingleProcess, 0, 1).unwrap();
//! let mut v = vec![0.0; 4];
//! apply_drift(&op, DriftProblem::new(&shards, &x, &shard, &context, &mut v)).unwrap();
//! let (plain, _) = drift_ops::drift(&op, &x, &y).unwrap();
//! assert!(v.iter().zip(&plain).all(|(a, b)| (a - b).abs() < 1e-12));
//! ```

pub(crate) mod complete;
mod pairs;

use drift_api::kit::pairs::Prepared;
use drift_api::kit::{
    check_len, check_square_mask, reduce, Backend, Collective, ColumnSplit, Displacement, PairSet,
    ReductionJob, ResidentBody, ResidentSets, RowReduction, SlicedJob,
};
use drift_api::{DriftError, PointCloud, Real, Result};
use pairs::ShardPairs;

/// A backend that completes, for process `rank` of `ranks`, the reductions against its shard of
/// `Y` over the other processes' shards through `collective` (see the module's documentation).
#[derive(Debug)]
pub struct ColumnShards<'a> {
    inner: &'a dyn Backend,
    split: ColumnSplit<'a>,
}

impl<'a> ColumnShards<'a> {
    /// Process `rank` of `ranks` (every process of `collective` makes one, with its own rank),
    /// computing on `inner`.
    pub fn new(
        inner: &'a dyn Backend,
        collective: &'a dyn Collective,
        rank: usize,
        ranks: usize,
    ) -> Result<Self> {
        Ok(ColumnShards {
            inner,
            split: ColumnSplit::new(collective, rank, ranks)?,
        })
    }

    /// A [`DriftError::ColumnSplit`] naming this backend.
    fn refuse(&self, reason: &str) -> DriftError {
        DriftError::ColumnSplit {
            operator: self.name().into(),
            reason: reason.into(),
        }
    }

    fn run<T: Real>(&self, r: RowReduction<'_, T>) -> Result<()> {
        match (r.rows.whole().is_some(), r.cols.whole().is_some()) {
            (true, true) => {
                Err(self
                    .refuse("a reduction of y against itself needs every process's points of y"))
            }
            (false, true) => self.merged(r),
            // A shard without points: no rows to compute.
            (true, false) if r.rows.is_empty() => check_outputs(&r),
            _ => reduce(self.inner, r),
        }
    }

    /// `r`, whose columns are this process's shard, against every process's shard.
    fn merged<T: Real>(&self, r: RowReduction<'_, T>) -> Result<()> {
        check_outputs(&r)?;
        if r.mask_diagonal {
            return Err(self.refuse("a masked diagonal pairs rows with y's points by index"));
        }
        let RowReduction {
            rows,
            cols,
            kernel,
            tau,
            col_potential,
            mask_diagonal: _,
            displacement,
            origin,
            lse: out_lse,
            disp: out_disp,
        } = r;
        let (n, dim) = (rows.len(), rows.dim());
        let with_disp = displacement != Displacement::None;
        let mut lse = vec![T::neg_infinity(); n];
        let mut disp = vec![T::zero(); if with_disp { n * dim } else { 0 }];
        if !cols.is_empty() {
            reduce(
                self.inner,
                RowReduction {
                    rows,
                    cols,
                    kernel,
                    tau,
                    col_potential,
                    mask_diagonal: false,
                    displacement,
                    origin,
                    lse: &mut lse,
                    disp: with_disp.then_some(&mut disp[..]),
                },
            )?;
        }
        let mut merged: Vec<f64> = lse.iter().map(|v| v.as_f64()).collect();
        let mut vectors: Vec<f64> = disp.iter().map(|v| v.as_f64()).collect();
        self.split.merge_log_sum_exps(&mut merged, &mut vectors)?;
        if let (true, Some(out)) = (with_disp, out_disp) {
            out.iter_mut()
                .zip(&vectors)
                .for_each(|(o, s)| *o = T::of(*s));
        }
        out_lse
            .iter_mut()
            .zip(&merged)
            .for_each(|(o, t)| *o = T::of(*t));
        Ok(())
    }

    /// `lse`, this process's log-sums against its shard (`−∞` for an empty one), replaced by the
    /// log-sums against every process's shard.
    fn merge_lse<T: Real>(&self, lse: &mut [T]) -> Result<()> {
        let mut merged: Vec<f64> = lse.iter().map(|v| v.as_f64()).collect();
        self.split.merge_log_sum_exps(&mut merged, &mut [])?;
        lse.iter_mut()
            .zip(&merged)
            .for_each(|(o, t)| *o = T::of(*t));
        Ok(())
    }
}

/// The output checks every backend makes, for a reduction answered without the inner backend.
fn check_outputs<T: Real>(r: &RowReduction<'_, T>) -> Result<()> {
    let n = r.rows.len();
    check_len("lse", r.lse.len(), n)?;
    check_square_mask(r.mask_diagonal, n, r.cols.len())?;
    match (&r.disp, r.displacement) {
        (_, Displacement::None) => Ok(()),
        (Some(d), _) => check_len("displacement", d.len(), n * r.rows.dim()),
        (None, _) => Err(DriftError::invalid(
            "displacement",
            "a reduction with a displacement needs its buffer",
        )),
    }
}

/// Whether `cloud` is a shard (the marker every copy of it keeps).
fn is_shard<T: Real>(cloud: &PointCloud<T>) -> bool {
    cloud.whole().is_some()
}

impl Backend for ColumnShards<'_> {
    fn name(&self) -> &str {
        "column shards"
    }

    fn row_reduce(&self, job: ReductionJob<'_>) -> Result<()> {
        match job {
            ReductionJob::F32(r) => self.run(r),
            ReductionJob::F64(r) => self.run(r),
        }
    }

    fn prepare_pairs_f32<'a>(&'a self, set: PairSet<'a, f32>) -> Result<Option<Prepared<'a, f32>>> {
        Ok(Some(Box::new(ShardPairs::new(self, set)?)))
    }

    fn prepare_pairs_f64<'a>(&'a self, set: PairSet<'a, f64>) -> Result<Option<Prepared<'a, f64>>> {
        Ok(Some(Box::new(ShardPairs::new(self, set)?)))
    }

    fn sliced_wasserstein_f32(&self, job: SlicedJob<'_, f32>) -> Option<Result<Vec<f32>>> {
        if is_shard(job.y) {
            return Some(Err(self.refuse("sliced jobs sort y as a whole")));
        }
        self.inner.sliced_wasserstein_f32(job)
    }

    fn sliced_wasserstein_f64(&self, job: SlicedJob<'_, f64>) -> Option<Result<Vec<f64>>> {
        if is_shard(job.y) {
            return Some(Err(self.refuse("sliced jobs sort y as a whole")));
        }
        self.inner.sliced_wasserstein_f64(job)
    }

    fn keep_resident(&self, sets: ResidentSets<'_>, body: &mut ResidentBody<'_>) -> Result<()> {
        self.inner.keep_resident(sets, body)
    }

    fn run_on_threads(&self, work: &mut (dyn FnMut() + Send)) {
        self.inner.run_on_threads(work)
    }

    fn column_split(&self) -> Option<ColumnSplit<'_>> {
        Some(self.split)
    }
}
