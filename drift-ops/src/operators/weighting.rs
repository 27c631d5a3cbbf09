//! How the attraction and repulsion displacements are weighted and combined into the field.

use crate::field::add_field;
use drift_api::{DriftError, DriftProblem, Real, Result};
use serde::{Deserialize, Serialize};

/// Row masses `α⁺_i, α⁻_i` in `V_i = α⁺_i D⁺_i − α⁻_i D⁻_i` (the table of operators in `MATH.md`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", deny_unknown_fields)]
pub enum RowWeighting {
    /// `α⁺ = α⁻ = 1`: `V = bar⁺ − bar⁻` (one-sided, Sinkhorn drift, score difference).
    #[default]
    Unit,
    /// `α⁺ = α⁻ = m⁺_i m⁻_i`, the product of the two plans' row masses (Sinkhorn proxy, Deng Alg. 2).
    MassProduct,
    /// `α± = scale · m±_i`, each plan's own row mass (MMD: `scale = 2/τ` with unnormalised plans).
    Masses {
        /// Factor applied to both masses.
        scale: f64,
    },
    /// `α⁺ = α⁻ = r_i f''(r_i)` with `r_i = q̂(x_i)/p̂(x_i) = exp(lse⁻_i − lse⁺_i)` the Parzen density
    /// ratio: the Wasserstein gradient flow of `D_f(q‖p)` (with row-normalised plans).
    FDivergence {
        /// Which `f`.
        divergence: FDivergenceKind,
    },
}

/// The `f` of an f-divergence `D_f(q‖p) = ∫ p f(q/p)`, through its flow weight `r f''(r)`.
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

impl RowWeighting {
    /// Checks the scale of [`RowWeighting::Masses`].
    pub fn validate(&self, what: &str) -> Result<()> {
        match self {
            RowWeighting::Masses { scale } if !scale.is_finite() => Err(DriftError::invalid(
                format!("{what}.weighting.scale"),
                format!("must be finite, got {scale}"),
            )),
            _ => Ok(()),
        }
    }

    /// Whether `α⁺ = α⁻` for every row, so that the field is `α (B⁺ − B⁻)`, a difference of
    /// barycentres that never involves the particle's position (every weighting but MMD's masses).
    pub(crate) fn equal_sides(&self) -> bool {
        !matches!(self, RowWeighting::Masses { .. })
    }

    /// `α±` from the row masses and `log r = lse⁻ − lse⁺` (the log density ratio `q̂/p̂`).
    fn alphas<T: Real>(&self, m_plus: T, m_minus: T, log_ratio: T) -> (T, T) {
        match *self {
            RowWeighting::FDivergence { divergence } => {
                let a = divergence.weight(log_ratio);
                (a, a)
            }
            RowWeighting::Unit => (T::one(), T::one()),
            RowWeighting::MassProduct => (m_plus * m_minus, m_plus * m_minus),
            RowWeighting::Masses { scale } => (T::of(scale) * m_plus, T::of(scale) * m_minus),
        }
    }
}

/// One side of the field: row log-densities, row masses and displacements (`N × D`), the latter
/// barycentres measured from the origin when `from_origin`.
pub(crate) struct Side<'a, T> {
    pub log_density: &'a [T],
    pub masses: &'a [T],
    pub displacements: &'a [T],
    pub from_origin: bool,
}

impl<T: Real> Side<'_, T> {
    /// The displacement `D` at flat index `idx`, converting a barycentre back by
    /// `D = B − (x_i − origin)`.
    fn displacement(&self, idx: usize, x_from_origin: T) -> T {
        if self.from_origin {
            self.displacements[idx] - x_from_origin
        } else {
            self.displacements[idx]
        }
    }
}

/// Adds `scale · (α⁺ D⁺ − α⁻ D⁻)` into the problem's output and returns the drift norm
/// `λ = sqrt(mean_i ‖V_i‖² / D)`. Fails, leaving the output untouched, if any value is not finite.
///
/// When both sides are barycentres `B±` measured from `origin` (the engines ask for them only when
/// `α⁺ = α⁻`, see [`RowWeighting::equal_sides`]), the field is formed as `α (B⁺ − B⁻)`: the
/// particle's own position never enters, so a particle far from both sets keeps every digit of its
/// field. A side with displacements `D` instead (unit displacements, or MMD's weighting) is combined
/// as `α⁺ D⁺ − α⁻ D⁻`, a barycentre converted back by `D = B − (x_i − origin)`.
pub(crate) fn accumulate_field<T: Real>(
    p: &mut DriftProblem<'_, T>,
    weighting: RowWeighting,
    plus: Side<'_, T>,
    minus: Side<'_, T>,
    origin: &[T],
) -> Result<f64> {
    debug_assert!(weighting.equal_sides() || !(plus.from_origin || minus.from_origin));
    let d = p.x.dim();
    let x = p.x.data();
    let field: Vec<T> = (0..p.out.len())
        .map(|idx| {
            let i = idx / d;
            let (ap, am) = weighting.alphas(
                plus.masses[i],
                minus.masses[i],
                minus.log_density[i] - plus.log_density[i],
            );
            if plus.from_origin && minus.from_origin {
                return ap * (plus.displacements[idx] - minus.displacements[idx]);
            }
            let x_from_origin = x[idx] - origin[idx % d];
            ap * plus.displacement(idx, x_from_origin) - am * minus.displacement(idx, x_from_origin)
        })
        .collect();
    add_field(p, &field, "drift field")
}
