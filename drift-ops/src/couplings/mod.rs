//! Built-in couplings: each turns reductions into potentials `(f, g)` of a plan
//! `π_ij = exp(f_i + g_j + ℓ_ij)`.

pub(crate) mod passes;
mod proxy;
mod row;
mod sinkhorn;
mod unnormalised;

pub use proxy::TwoSidedProxy;
pub use row::RowNormalised;
pub use sinkhorn::{Schedule, Sinkhorn};
pub use unnormalised::Unnormalised;
