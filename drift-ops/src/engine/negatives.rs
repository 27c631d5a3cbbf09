//! The repulsion's columns: the particles, and classifier-free-guidance negatives when given.

use drift_api::{ColumnBlock, DriftProblem, PointCloud, Real};

/// The negative column set: the generated samples (relative mass 1 each) and, optionally, guidance
/// negatives (relative mass `w` each), plus `others` columns of mass 1 that share the same
/// normalisation (the `Y` block of the joint engine). Only points with positive weight are counted,
/// so that zero-weight points change no block's share.
pub struct NegativeColumns<'a, T> {
    x: &'a PointCloud<T>,
    negatives: Option<&'a PointCloud<T>>,
    /// Log-weights of the particles' block and of the negatives' block, over the joint set.
    own: Vec<T>,
    extra: Option<Vec<T>>,
    total: f64,
}

impl<'a, T: Real> NegativeColumns<'a, T> {
    /// The negative columns of `p` (whose particles have log-weights `log_a`), next to `others`
    /// columns of mass 1; marks the problem's negatives as used.
    pub fn new(p: &DriftProblem<'a, T>, log_a: &[T], others: usize) -> Self {
        if let Some(neg) = &p.negatives {
            neg.mark_used();
        }
        let (negatives, extra_mass) = match &p.negatives {
            Some(neg) if neg.weight > 0.0 => (
                Some(neg.points),
                neg.weight * neg.points.support_len() as f64,
            ),
            _ => (None, 0.0),
        };
        let n = p.x.support_len() as f64;
        let total = others as f64 + n + extra_mass;
        let shifted = |log_w: &[T], mass: f64| {
            let shift = T::of((mass / total).ln());
            log_w.iter().map(|v| *v + shift).collect::<Vec<T>>()
        };
        NegativeColumns {
            x: p.x,
            negatives,
            own: shifted(log_a, n),
            extra: negatives.map(|pts| shifted(&pts.log_weights(), extra_mass)),
            total,
        }
    }

    /// `log(mass / total)`: the log-share of a block of the given relative mass.
    pub fn share(&self, mass: f64) -> f64 {
        (mass / self.total).ln()
    }

    /// The column blocks: the particles (their diagonal masked when `mask_self`), then the
    /// negatives if any.
    pub fn blocks(&self, mask_self: bool) -> Vec<ColumnBlock<'_, T>> {
        let own = ColumnBlock {
            points: self.x,
            log_weights: &self.own,
            mask_diagonal: mask_self,
        };
        let extra = self
            .negatives
            .zip(self.extra.as_deref())
            .map(|(points, log_weights)| ColumnBlock {
                points,
                log_weights,
                mask_diagonal: false,
            });
        std::iter::once(own).chain(extra).collect()
    }
}
