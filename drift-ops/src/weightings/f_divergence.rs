//! The f-divergence weighting: Wasserstein gradient flows of `D_f(q‖p)` with Parzen densities.

use super::{builtin_weighting, GenericWeighting};
use drift_api::{Real, RowSides};
use serde::{Deserialize, Serialize};

/// `α⁺ = α⁻ = r_i f''(r_i)` with `r_i = q̂(x_i)/p̂(x_i)` the ratio of the kernel density estimates of
/// the particles (repulsion side) and of the data (attraction side): the Wasserstein gradient flow
/// of `D_f(q‖p)`. RON name `f_divergence`: `weighting: {"f_divergence": (divergence: kl)}`.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FDivergenceWeighting {
    /// Which `f`.
    pub divergence: FDivergenceKind,
}

impl GenericWeighting for FDivergenceWeighting {
    const NEEDS_DENSITIES: bool = true;
    fn alphas<T: Real>(&self, row: RowSides<T>) -> (T, T) {
        let a = self
            .divergence
            .weight(row.repulsion.log_density - row.attraction.log_density);
        (a, a)
    }
}

builtin_weighting!(
    FDivergenceWeighting,
    "f_divergence",
    summary: "alpha+ = alpha- = r f''(r), r = q/p the ratio of kernel density estimates",
    params: "divergence: kl|reverse_kl|chi_squared|jensen_shannon|squared_hellinger",
    example: r#"{"f_divergence": (divergence: jensen_shannon)}"#
);

/// The `f` of an f-divergence `D_f(q‖p) = ∫ p f(q/p)`, through its flow weight `r f''(r)`.
///
/// In RON: `kl`, `reverse_kl`, `chi_squared`, `jensen_shannon` or `squared_hellinger` (the
/// `divergence` field of the `f_divergence` operator and weighting).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FDivergenceKind {
    /// `KL(q‖p)`: weight 1 (the score difference).
    Kl,
    /// `KL(p‖q)`: weight `1/r`.
    ReverseKl,
    /// Pearson χ²: weight `2r`.
    ChiSquared,
    /// Jensen–Shannon: weight `1/(1 + r)`.
    JensenShannon,
    /// Squared Hellinger: weight `½ r^{−1/2}`.
    SquaredHellinger,
}

impl FDivergenceKind {
    /// `r f''(r)` from `log r`. The ratio is clamped to `[e^−60, e^60]`: where the two Parzen
    /// estimates do not overlap at all (very low temperatures) the weights of χ² or reverse KL would
    /// otherwise overflow; the clamp keeps them finite in both precisions and ordered.
    pub fn weight<T: Real>(&self, log_r: T) -> T {
        let bound = T::of(60.0);
        let log_r = log_r.max(-bound).min(bound);
        let half = T::of(0.5);
        match self {
            FDivergenceKind::Kl => T::one(),
            FDivergenceKind::ReverseKl => (-log_r).exp(),
            FDivergenceKind::ChiSquared => T::of(2.0) * log_r.exp(),
            // 1/(1 + r) = sigmoid(−log r), stable for either sign.
            FDivergenceKind::JensenShannon => {
                if log_r > T::zero() {
                    let e = (-log_r).exp();
                    e / (T::one() + e)
                } else {
                    T::one() / (T::one() + log_r.exp())
                }
            }
            FDivergenceKind::SquaredHellinger => half * (-half * log_r).exp(),
        }
    }
}
