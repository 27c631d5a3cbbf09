//! One problem of a batch of the official loss's form: its generated samples, negatives and
//! positives as slices, with their weights, and its targets `[x; negatives; positives]`.

use drift_api::kit::ProblemBatch;
use drift_api::Real;
use std::ops::Range;

/// One block of a problem's targets: its coordinates, its weights (1 when `None`) and its first
/// column among the targets.
pub(super) type TargetBlock<'a, T> = (&'a [T], Option<&'a [T]>, usize);

/// The inputs of one problem, as slices.
pub(super) struct Problem<'a, T> {
    pub(super) x: &'a [T],
    pub(super) neg: &'a [T],
    pub(super) pos: &'a [T],
    pub(super) wx: Option<&'a [T]>,
    pub(super) wn: Option<&'a [T]>,
    pub(super) wp: Option<&'a [T]>,
    pub(super) n: usize,
    pub(super) n_neg: usize,
    pub(super) n_pos: usize,
    pub(super) dim: usize,
}

impl<'a, T: Real> Problem<'a, T> {
    pub(super) fn of(batch: &'a ProblemBatch<'a, T>, b: usize) -> Self {
        let (neg, wn, n_neg) = match &batch.negatives {
            Some(s) => (s.points(b), s.weights_of(b), s.len(b)),
            None => (&[][..], None, 0),
        };
        Problem {
            x: batch.x.points(b),
            neg,
            pos: batch.y.points(b),
            wx: batch.x.weights_of(b),
            wn,
            wp: batch.y.weights_of(b),
            n: batch.x.len(b),
            n_neg,
            n_pos: batch.y.len(b),
            dim: batch.dim(),
        }
    }
    pub(super) fn m(&self) -> usize {
        self.n + self.n_neg + self.n_pos
    }
    /// The target blocks: coordinates, weights, first column.
    pub(super) fn blocks(&self) -> [TargetBlock<'a, T>; 3] {
        [
            (self.x, self.wx, 0),
            (self.neg, self.wn, self.n),
            (self.pos, self.wp, self.n + self.n_neg),
        ]
    }
    /// Every target's weight, in column order.
    pub(super) fn weights_into(&self, w: &mut Vec<T>) {
        w.clear();
        for (points, weights, _) in self.blocks() {
            let len = points.len() / self.dim;
            match weights {
                Some(ws) => w.extend_from_slice(ws),
                None => w.extend(std::iter::repeat_n(T::one(), len)),
            }
        }
    }
}

/// The mean of the targets `[x; negatives; positives]` over coordinates `cols` into `mean`
/// (`cols.len()` values), accumulated in `f64` row after row as
/// [`centre_rows`](drift_api::kit::centre_rows) does (so the centred targets equal its result bit
/// for bit): taken once per problem and reused by every pass that centres the targets.
#[inline(always)]
pub(super) fn targets_mean<T: Real>(p: &Problem<'_, T>, cols: Range<usize>, mean: &mut [T]) {
    let dim = p.dim;
    if dim == 0 {
        return;
    }
    let mut sum = vec![0.0f64; cols.len()];
    for (points, _, _) in p.blocks() {
        for row in points.chunks_exact(dim) {
            sum.iter_mut()
                .zip(&row[cols.clone()])
                .for_each(|(s, v)| *s += v.as_f64());
        }
    }
    let inv = 1.0 / p.m().max(1) as f64;
    mean.iter_mut()
        .zip(&sum)
        .for_each(|(m, s)| *m = T::of(s * inv));
}

/// Coordinates `cols` of the targets `[x; negatives; positives]` minus their `mean`
/// ([`targets_mean`]), into `targets` (`M × cols.len()`): one read of the inputs and one write,
/// where copying and then centring in place took two of each and a third read.
#[inline(always)]
pub(super) fn centred_targets<T: Real>(
    p: &Problem<'_, T>,
    cols: Range<usize>,
    mean: &[T],
    targets: &mut Vec<T>,
) {
    let (dim, width) = (p.dim, cols.len());
    targets.resize(p.m() * width, T::zero());
    if width == 0 {
        return;
    }
    for (points, _, first) in p.blocks() {
        let rows = points.len() / dim;
        let out = &mut targets[first * width..(first + rows) * width];
        for (o, row) in out.chunks_exact_mut(width).zip(points.chunks_exact(dim)) {
            o.iter_mut()
                .zip(row[cols.clone()].iter().zip(mean))
                .for_each(|(o, (v, m))| *o = *v - *m);
        }
    }
}
