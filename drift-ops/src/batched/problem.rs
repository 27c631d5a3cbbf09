//! One problem of a batch of the official loss's form: its generated samples, negatives and
//! positives as slices, with their weights, and its targets `[x; negatives; positives]`.

use drift_api::kit::{centre_rows, ProblemBatch};
use drift_api::Real;

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

/// The targets `[x; negatives; positives]` centred on their mean ([`centre_rows`]), into
/// `targets` (`M × D`).
pub(super) fn centred_targets<T: Real>(p: &Problem<'_, T>, targets: &mut Vec<T>) {
    let dim = p.dim;
    targets.clear();
    for (points, _, _) in p.blocks() {
        targets.extend_from_slice(points);
    }
    centre_rows(targets, dim);
}
