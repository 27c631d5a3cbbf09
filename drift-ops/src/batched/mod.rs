//! Batched fast paths: kernels that evaluate a whole [`drift_api::kit::ProblemBatch`] at once, with
//! per-thread scratch reused over the problems.
//!
//! * [`official`]: the official loss (`deng_official`);
//! * `fused`: a leaf drift with `feature_scale` / `multi_temperature` around it, recognised by
//!   `plan` (the Sinkhorn drift against a second generated batch, `sinkhorn`; the one-sided drift,
//!   `one_sided`; Algorithm 2, `joint`), taken from the
//!   leaf's and the compositions' batched calls.

pub mod buffers;
pub(crate) mod fused;
mod joint;
mod lanes;
pub mod official;
mod one_sided;
mod plan;
mod prepared;
mod problem;
mod sinkhorn;
mod statistics;
