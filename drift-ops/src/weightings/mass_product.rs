//! The mass-product weighting of the two-sided proxy and Deng et al.'s Algorithm 2.

use super::{builtin_weighting, GenericWeighting};
use drift_api::{Real, RowSides};
use serde::{Deserialize, Serialize};

/// `α⁺ = α⁻ = m⁺_i m⁻_i`, the product of the two sides' row masses (Sinkhorn proxy, Deng et al.
/// Algorithm 2). RON name `mass_product`: `weighting: {"mass_product": ()}`.
///
/// The masses are each coupling's row masses in its declared unit ([`drift_api::RowMasses`]), so
/// the product means the same thing whatever the couplings: with the two-sided proxy it is Deng's
/// `rowsum(A_pos) · rowsum(A_neg)`; with row-normalising or converged Sinkhorn plans of a split
/// operator it is 1 (the plain difference of barycentres); in a joint plan it is the product of the
/// two blocks' shares of each row. `docs/MATH.md` has the table.
#[derive(Clone, Copy, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MassProduct;

impl GenericWeighting for MassProduct {
    fn alphas<T: Real>(&self, row: RowSides<T>) -> (T, T) {
        let m = row.attraction.mass * row.repulsion.mass;
        (m, m)
    }
}

builtin_weighting!(
    MassProduct,
    "mass_product",
    summary: "alpha+ = alpha- = m+ m-, the product of the two sides' row masses (proxy, Deng Alg. 2)",
    params: "",
    example: r#"{"mass_product": ()}"#
);
