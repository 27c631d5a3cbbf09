//! Column weights of the repulsion when classifier-free-guidance negatives join it.

use drift_api::{DriftProblem, PointCloud, Real};

/// The negative column set: the generated samples (relative mass 1 each) and, optionally, guidance
/// negatives (relative mass `w` each), plus `others` columns of mass 1 that share the same
/// normalisation (the `Y` block of the joint engine). Only points with positive weight are counted,
/// so that zero-weight points change no block's share.
pub struct NegativeColumns<'a, T> {
    /// The guidance negatives, when given with a positive weight.
    pub points: Option<&'a PointCloud<T>>,
    n: f64,
    extra_mass: f64,
    others: f64,
}

impl<'a, T: Real> NegativeColumns<'a, T> {
    /// The negative columns of `p`, next to `others` columns of mass 1; marks the problem's
    /// negatives as used.
    pub fn new(p: &DriftProblem<'a, T>, others: usize) -> Self {
        if let Some(neg) = &p.negatives {
            neg.mark_used();
        }
        let (points, extra_mass) = match &p.negatives {
            Some(neg) if neg.weight > 0.0 => (
                Some(neg.points),
                neg.weight * neg.points.support_len() as f64,
            ),
            _ => (None, 0.0),
        };
        NegativeColumns {
            points,
            n: p.x.support_len() as f64,
            extra_mass,
            others: others as f64,
        }
    }

    /// `log(mass / total)`: the log-share of a block of the given relative mass.
    pub fn share(&self, mass: f64) -> f64 {
        (mass / (self.others + self.n + self.extra_mass)).ln()
    }

    /// Joint log-weights of the generated samples' block, and of the negatives' block if any.
    pub fn log_weights(&self, log_a: &[T]) -> (Vec<T>, Option<Vec<T>>) {
        let own_shift = T::of(self.share(self.n));
        let own = log_a.iter().map(|v| *v + own_shift).collect();
        let extra = self.points.map(|pts| {
            let shift = T::of(self.share(self.extra_mass));
            pts.log_weights().iter().map(|v| *v + shift).collect()
        });
        (own, extra)
    }
}
