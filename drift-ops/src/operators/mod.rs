//! Built-in drift operators: the generic cross-minus-self operator and the named forms of the papers.
//! Every kernel operator runs on the same two engines (split and joint), which run on the backend's
//! single row reduction.

/// Dispatches a precision-tagged drift job to the operator's generic `run`.
macro_rules! dispatch {
    ($op:ident, $job:ident) => {
        match $job {
            drift_api::DriftJob::F32(p) => $op.run(p),
            drift_api::DriftJob::F64(p) => $op.run(p),
        }
    };
}
pub(crate) use dispatch;

/// Implements [`drift_api::DriftOperator`] for a built-in (`drift` validates with the type's `check`,
/// then dispatches the precision to its generic `run`; `validate` is `check`) under a typetag name,
/// and registers the name for listings.
macro_rules! builtin_operator {
    ($ty:ty, $name:literal, summary: $summary:literal, params: $params:literal, example: $example:literal) => {
        #[typetag::serde(name = $name)]
        impl drift_api::DriftOperator for $ty {
            fn drift(
                &self,
                job: drift_api::DriftJob<'_>,
            ) -> drift_api::Result<drift_api::DriftReport> {
                self.check()?;
                $crate::operators::dispatch!(self, job)
            }
            fn validate(&self) -> drift_api::Result<()> {
                self.check()
            }
        }
        drift_api::register!(Operator, $name, summary: $summary, params: $params, example: $example);
    };
}
pub(crate) use builtin_operator;

mod cross_minus_self;
mod defaults;
mod deng_alg2;
mod f_divergence;
mod joint;
mod joint_cross_minus_self;
mod mmd;
mod negatives;
mod one_sided;
mod origin;
mod precision;
mod score_difference;
mod sinkhorn_divergence;
mod sinkhorn_drift;
mod sinkhorn_k;
mod sinkhorn_proxy;
mod sliced_wasserstein;
mod term;
mod weighting;

pub use cross_minus_self::{CrossMinusSelf, Term};
pub use deng_alg2::DengAlg2;
pub use f_divergence::FDivergence;
pub use joint_cross_minus_self::JointCrossMinusSelf;
pub use mmd::{mmd_squared, mmd_squared_with, Mmd, MmdKernel};
pub use one_sided::OneSided;
pub use score_difference::ScoreDifference;
pub use sinkhorn_divergence::{sinkhorn_divergence, sinkhorn_divergence_with, SinkhornDivergence};
pub use sinkhorn_drift::SinkhornDrift;
pub use sinkhorn_k::SinkhornK;
pub use sinkhorn_proxy::SinkhornProxy;
pub use sliced_wasserstein::{sliced_wasserstein_squared, SlicedWasserstein};
pub use term::{DisplacementKind, TermRef};
pub use weighting::{FDivergenceKind, RowWeighting};
