//! What an evaluation computes over `Y` itself, outside the backend's reductions, completed over
//! the processes when `Y` is split by columns: the barycentre origin (a median) and bounding
//! boxes (the precision guard's diameter, the Sinkhorn schedules' starting temperatures).

use crate::bounding_box::BoundingBox;
use crate::engine::data_origin;
use drift_api::kit::{Backend, ColumnSplit};
use drift_api::{PointCloud, Real, Result};

/// The backend's column split when one of `sets` is a shard of a set split by columns (every
/// process then makes the same collective calls), else `None`.
pub(crate) fn split_of<'b, T: Real>(
    backend: &'b dyn Backend,
    sets: &[&PointCloud<T>],
) -> Option<ColumnSplit<'b>> {
    if sets.iter().any(|s| s.whole().is_some()) {
        backend.column_split()
    } else {
        None
    }
}

/// The point barycentres are measured from: the coordinate-wise median of `y`
/// ([`data_origin`]), or, for a shard, the median of the shards' medians weighted by their
/// numbers of points (the same point on every process; the shard's own median on one process).
/// Any common point gives the same field up to rounding.
pub(crate) fn problem_origin<T: Real>(
    backend: &dyn Backend,
    y: &PointCloud<T>,
) -> Result<Vec<f64>> {
    let Some(split) = split_of(backend, &[y]) else {
        return Ok(data_origin(y));
    };
    let d = y.dim();
    let mut local = vec![0.0; d + 1];
    if !y.is_empty() {
        local[0] = y.len() as f64;
        local[1..].copy_from_slice(&data_origin(y));
    }
    let all = split.gather(&local)?;
    let shards: Vec<&[f64]> = all.chunks_exact(d + 1).filter(|s| s[0] > 0.0).collect();
    let total: f64 = shards.iter().map(|s| s[0]).sum();
    let median = |k: usize| {
        let mut values: Vec<(f64, f64)> = shards.iter().map(|s| (s[1 + k], s[0])).collect();
        values.sort_by(|a, b| a.0.total_cmp(&b.0));
        let mut seen = 0.0;
        for (v, count) in &values {
            seen += count;
            if seen > total / 2.0 {
                return *v;
            }
        }
        values.last().map_or(0.0, |v| v.0)
    };
    Ok((0..d).map(median).collect())
}

/// `values`' element-wise maximum over the processes of `split` (unchanged without one).
pub(crate) fn max_over(split: Option<ColumnSplit<'_>>, values: &mut [f64]) -> Result<()> {
    match split {
        Some(s) => s.max(values),
        None => Ok(()),
    }
}

impl BoundingBox {
    /// The box of every process's points: this process's box joined with the others' over
    /// `split` (unchanged without one). Exact: the box of a union is the union of the boxes.
    pub(crate) fn completed(mut self, split: Option<ColumnSplit<'_>>) -> Result<Self> {
        if let Some(s) = split {
            s.min(&mut self.lo)?;
            s.max(&mut self.hi)?;
        }
        Ok(self)
    }
}

/// The diagonal of the bounding box of every point of `sets`, over every process's shard where
/// one of them is a shard of `Y` (GeomLoss' `max_diameter`).
pub(crate) fn box_diagonal_on<T: Real>(
    backend: &dyn Backend,
    sets: &[&PointCloud<T>],
) -> Result<f64> {
    let d = sets.first().map_or(0, |s| s.dim());
    let points = sets.iter().flat_map(|s| s.data().chunks_exact(d.max(1)));
    Ok(BoundingBox::of(d, points)
        .completed(split_of(backend, sets))?
        .diagonal())
}
