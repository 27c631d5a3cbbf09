//! The unit weighting `α⁺ = α⁻ = 1`.

use super::{builtin_weighting, GenericWeighting};
use drift_api::{Real, RowSides};
use serde::{Deserialize, Serialize};

/// `α⁺ = α⁻ = 1`: `V = bar⁺ − bar⁻` (one-sided, Sinkhorn drift, score difference). RON name `unit`:
/// `weighting: {"unit": ()}`, the default of `cross_minus_self` and `joint`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Unit;

impl GenericWeighting for Unit {
    fn alphas<T: Real>(&self, _: RowSides<T>) -> (T, T) {
        (T::one(), T::one())
    }
}

builtin_weighting!(
    Unit,
    "unit",
    summary: "alpha+ = alpha- = 1: V = bar+ - bar-",
    params: "",
    example: r#"{"unit": ()}"#
);
