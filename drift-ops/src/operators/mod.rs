//! Built-in drift operators: the generic cross-minus-self operator and the named forms of the papers.
//! Every kernel operator runs on the same two engines (split and joint), which run on the backend's
//! single row reduction.

// Every built-in operator is declared with `drift_api::operator!`, as a plugin's is.

pub(crate) mod cross_minus_self;
mod defaults;
mod deng_alg2;
mod deng_official;
mod f_divergence;
pub(crate) mod joint;
mod mmd;
mod one_sided;
mod score_difference;
mod sinkhorn_divergence;
mod sinkhorn_drift;
mod sinkhorn_k;
mod sinkhorn_proxy;
mod sliced_wasserstein;

pub use cross_minus_self::CrossMinusSelf;
pub use deng_alg2::DengAlg2;
pub use deng_official::DengOfficial;
pub use f_divergence::FDivergence;
pub use joint::JointCrossMinusSelf;
pub use mmd::{mmd_squared, mmd_squared_with, Mmd, MmdKernel};
pub use one_sided::OneSided;
pub use score_difference::ScoreDifference;
pub use sinkhorn_divergence::{sinkhorn_divergence, sinkhorn_divergence_with, SinkhornDivergence};
pub use sinkhorn_drift::{SelfTransport, SinkhornDrift};
pub use sinkhorn_k::SinkhornK;
pub use sinkhorn_proxy::SinkhornProxy;
pub use sliced_wasserstein::{sliced_wasserstein_squared, SlicedWasserstein};
