//! The row-mass weighting of the MMD gradient.

use super::{builtin_weighting, GenericWeighting};
use drift_api::{check_param, Real, Result, RowSides};
use serde::{Deserialize, Serialize};

/// `α± = scale · m±_i`, each side's own row mass: with unnormalised plans (masses = kernel
/// densities `Σ_j b_j k_ij`) and `scale = 2/τ` this is the MMD witness gradient. RON name `masses`:
/// `weighting: {"masses": (scale: 4.0)}`.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Masses {
    /// Factor applied to both masses (finite).
    pub scale: f64,
}

impl GenericWeighting for Masses {
    const EQUAL_SIDES: bool = false;
    fn alphas<T: Real>(&self, row: RowSides<T>) -> (T, T) {
        let scale = T::of(self.scale);
        (scale * row.attraction.mass, scale * row.repulsion.mass)
    }
    fn check(&self) -> Result<()> {
        check_param(
            "weighting.scale",
            self.scale,
            self.scale.is_finite(),
            "finite",
        )
    }
}

builtin_weighting!(
    Masses,
    "masses",
    summary: "alpha+- = scale * m+-, each side's own row mass (MMD with unnormalised plans)",
    params: "scale: f64",
    example: r#"{"masses": (scale: 2.0)}"#
);
