//! Built-in drift operators: the generic cross-minus-self operator and the named forms of the papers.
//! Every kernel operator runs on the same two engines (split and joint), which run on the backend's
//! single row reduction.

/// Implements [`drift_api::DriftOperator`] for a built-in (`drift` validates with the type's `check`,
/// then dispatches the precision to its generic `run`; `validate` is `check`) under a typetag name,
/// and registers the name for listings.
macro_rules! builtin_operator {
    ($ty:ty, $name:literal, summary: $summary:literal, params: $params:literal, example: $example:literal) => {
        $crate::operators::builtin_operator!(@impl $ty, $name, {}, $summary, $params, $example);
    };
    // An operator with its own batched evaluation (`run_batch`, generic over the precision).
    ($ty:ty, $name:literal, batched, summary: $summary:literal, params: $params:literal, example: $example:literal) => {
        $crate::operators::builtin_operator!(@impl $ty, $name, {
            fn drift_batch(
                &self,
                job: drift_api::BatchJob<'_>,
            ) -> drift_api::Result<drift_api::BatchReport> {
                self.check()?;
                match job {
                    drift_api::BatchJob::F32(p) => self.run_batch(p),
                    drift_api::BatchJob::F64(p) => self.run_batch(p),
                }
            }
        }, $summary, $params, $example);
    };
    (@impl $ty:ty, $name:literal, { $($extra:tt)* }, $summary:literal, $params:literal, $example:literal) => {
        #[typetag::serde(name = $name)]
        impl drift_api::DriftOperator for $ty {
            fn drift(
                &self,
                job: drift_api::DriftJob<'_>,
            ) -> drift_api::Result<drift_api::DriftReport> {
                self.check()?;
                drift_api::by_precision!(job, p => self.run(p))
            }
            fn validate(&self) -> drift_api::Result<()> {
                self.check()
            }
            $($extra)*
        }
        drift_api::register!(Operator, $name, summary: $summary, params: $params, example: $example);
    };
}
pub(crate) use builtin_operator;

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
pub use sinkhorn_drift::SinkhornDrift;
pub use sinkhorn_k::SinkhornK;
pub use sinkhorn_proxy::SinkhornProxy;
pub use sliced_wasserstein::{sliced_wasserstein_squared, SlicedWasserstein};
