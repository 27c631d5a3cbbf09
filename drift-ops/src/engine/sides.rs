//! Combining the two sides of a cross-minus-self field with a row weighting.

use super::field::add_field;
use drift_api::{DriftError, DriftProblem, Real, Result, RowSide, RowSides, Weighting};

/// One side of the field (the attraction or the repulsion): row masses, kernel log-densities when
/// computed, and displacements (`N × D`), the latter barycentres measured from the origin when
/// `from_origin`. [`crate::engine::TermOutput::side`] makes one.
#[derive(Clone, Copy, Debug)]
pub struct Side<'a, T> {
    /// Row masses `m_i`.
    pub masses: &'a [T],
    /// Kernel log-densities, when the weighting asked for them.
    pub log_densities: Option<&'a [T]>,
    /// Displacements or barycentres, `N × D` row-major.
    pub displacements: &'a [T],
    /// Whether `displacements` are barycentres measured from the origin.
    pub from_origin: bool,
}

impl<T: Real> Side<'_, T> {
    /// What a weighting sees of row `i`.
    fn row(&self, i: usize) -> RowSide<T> {
        RowSide {
            mass: self.masses[i],
            log_density: self.log_densities.map_or(T::nan(), |l| l[i]),
        }
    }

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
/// `λ = sqrt(mean_i ‖V_i‖² / D)`. Fails, leaving the output untouched, if any value is not finite,
/// or if a weighting that declares equal sides returns different weights.
///
/// When both sides are barycentres `B±` measured from `origin` (the engines ask for them only when
/// the weighting has equal sides, [`Weighting::equal_sides`]), the field is formed as `α (B⁺ − B⁻)`:
/// the particle's own position never enters, so a particle far from both sets keeps every digit of
/// its field. A side with displacements `D` instead (unit displacements, or unequal weights) is
/// combined as `α⁺ D⁺ − α⁻ D⁻`, a barycentre converted back by `D = B − (x_i − origin)`.
pub fn add_weighted_difference<T: Real>(
    p: &mut DriftProblem<'_, T>,
    weighting: &dyn Weighting,
    attraction: Side<'_, T>,
    repulsion: Side<'_, T>,
    origin: &[T],
) -> Result<f64> {
    let equal = weighting.equal_sides();
    debug_assert!(equal || !(attraction.from_origin || repulsion.from_origin));
    let d = p.x.dim();
    let alphas: Vec<(T, T)> = (0..p.x.len())
        .map(|i| {
            let row = RowSides {
                attraction: attraction.row(i),
                repulsion: repulsion.row(i),
            };
            weighting.alphas(row)
        })
        .collect();
    if equal {
        if let Some(i) = alphas.iter().position(|(a, b)| a != b && !a.is_nan()) {
            return Err(DriftError::invalid(
                "weighting",
                format!(
                    "{weighting:?} declares equal sides but weighs particle {i} by {} and {}",
                    alphas[i].0, alphas[i].1
                ),
            ));
        }
    }
    let x = p.x.data();
    let field: Vec<T> = (0..p.out.len())
        .map(|idx| {
            let (ap, am) = alphas[idx / d];
            if attraction.from_origin && repulsion.from_origin {
                return ap * (attraction.displacements[idx] - repulsion.displacements[idx]);
            }
            let x_from_origin = x[idx] - origin[idx % d];
            ap * attraction.displacement(idx, x_from_origin)
                - am * repulsion.displacement(idx, x_from_origin)
        })
        .collect();
    add_field(p, &field, "drift field")
}
