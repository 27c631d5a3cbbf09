//! The built-in row weightings `α±` of cross-minus-self operators (the table of operators in
//! `docs/MATH.md`); plugins add theirs through [`drift_api::Weighting`].

mod f_divergence;
mod mass_product;
mod masses;
mod unit;

pub use f_divergence::{FDivergenceKind, FDivergenceWeighting};
pub use mass_product::MassProduct;
pub use masses::Masses;
pub use unit::Unit;

use drift_api::{Real, Result, RowSides};

/// A built-in weighting written once over the precision; [`builtin_weighting!`] implements
/// [`drift_api::Weighting`] from it, so both precisions run the same arithmetic.
trait GenericWeighting {
    /// Whether `α⁺ = α⁻` always.
    const EQUAL_SIDES: bool = true;
    /// Whether the kernel log-densities are read.
    const NEEDS_DENSITIES: bool = false;
    /// `(α⁺, α⁻)` of one row.
    fn alphas<T: Real>(&self, row: RowSides<T>) -> (T, T);
    /// Checks the parameters.
    fn check(&self) -> Result<()> {
        Ok(())
    }
}

/// Implements [`drift_api::Weighting`] for a [`GenericWeighting`] under a typetag name and
/// registers the name for listings.
macro_rules! builtin_weighting {
    ($ty:ty, $name:literal, summary: $summary:literal, params: $params:literal, example: $example:literal) => {
        #[typetag::serde(name = $name)]
        impl drift_api::Weighting for $ty {
            fn alphas_f64(&self, row: drift_api::RowSides<f64>) -> (f64, f64) {
                $crate::weightings::GenericWeighting::alphas(self, row)
            }
            fn alphas_f32(&self, row: drift_api::RowSides<f32>) -> (f32, f32) {
                $crate::weightings::GenericWeighting::alphas(self, row)
            }
            fn equal_sides(&self) -> bool {
                <$ty as $crate::weightings::GenericWeighting>::EQUAL_SIDES
            }
            fn needs_densities(&self) -> bool {
                <$ty as $crate::weightings::GenericWeighting>::NEEDS_DENSITIES
            }
            fn validate(&self) -> drift_api::Result<()> {
                $crate::weightings::GenericWeighting::check(self)
            }
        }
        drift_api::register!(Weighting, $name, summary: $summary, params: $params, example: $example);
    };
}
use builtin_weighting;
