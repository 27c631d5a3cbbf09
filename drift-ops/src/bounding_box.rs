//! Axis-aligned bounding boxes of points, in `f64`: the Sinkhorn schedules' diameters and the
//! tile bounds of [`crate::tile_skip`].

use drift_api::Real;

/// The smallest axis-aligned box holding some points: `lo[k] ≤ x_k ≤ hi[k]`. Empty (every
/// `lo > hi`) when there are none.
#[derive(Clone, Debug, PartialEq)]
pub(crate) struct BoundingBox {
    pub lo: Vec<f64>,
    pub hi: Vec<f64>,
}

impl BoundingBox {
    /// The box of `points`, each `dim` coordinates.
    pub fn of<'p, T: Real>(dim: usize, points: impl IntoIterator<Item = &'p [T]>) -> Self {
        let (mut lo, mut hi) = (vec![f64::INFINITY; dim], vec![f64::NEG_INFINITY; dim]);
        for point in points {
            for (k, v) in point.iter().enumerate() {
                let v = v.as_f64();
                lo[k] = lo[k].min(v);
                hi[k] = hi[k].max(v);
            }
        }
        BoundingBox { lo, hi }
    }

    /// The box of a row-major block of points.
    pub fn of_block<T: Real>(dim: usize, data: &[T]) -> Self {
        Self::of(dim, data.chunks_exact(dim.max(1)))
    }

    /// The coordinate along which the box is widest (0 for an empty or 0-dimensional one).
    pub fn widest_axis(&self) -> usize {
        (0..self.lo.len())
            .max_by(|&a, &b| (self.hi[a] - self.lo[a]).total_cmp(&(self.hi[b] - self.lo[b])))
            .unwrap_or(0)
    }

    /// Length of the diagonal; zero for an empty box.
    pub fn diagonal(&self) -> f64 {
        self.lo
            .iter()
            .zip(&self.hi)
            .filter(|(l, h)| l <= h)
            .map(|(l, h)| (h - l) * (h - l))
            .sum::<f64>()
            .sqrt()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn boxes_hold_their_points() {
        let b = BoundingBox::of_block(2, &[0.0f64, 1.0, 3.0, -1.0, 1.0, 0.5]);
        assert_eq!((b.lo, b.hi), (vec![0.0, -1.0], vec![3.0, 1.0]));
        let b = BoundingBox::of_block(2, &[0.0f32, 0.0, 3.0, 4.0]);
        assert_eq!((b.diagonal(), b.widest_axis()), (5.0, 1));
        assert_eq!(BoundingBox::of_block::<f64>(3, &[]).diagonal(), 0.0);
    }
}
