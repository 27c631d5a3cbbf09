//! Batched fast paths: kernels that evaluate a whole [`drift_api::kit::ProblemBatch`] at once, with
//! per-thread scratch reused over the problems.
//!
//! * [`official`]: the official loss (`deng_official`);
//! * `fused`: a leaf drift with `feature_scale` / `multi_temperature` around it, recognised by
//!   `plan` (the Sinkhorn drift against a second generated batch, `sinkhorn`; the one-sided drift,
//!   `one_sided`; Algorithm 2 and the split Sinkhorn proxy, `proxy`; the Gaussian MMD gradient,
//!   `mmd`), taken from the leaf's and the compositions' batched calls; each leaf writes its
//!   coefficients, and `coefficients` multiplies every temperature's at once.

pub mod buffers;
mod coefficients;
pub(crate) mod fused;
mod lanes;
mod mmd;
pub mod official;
mod one_sided;
mod plan;
mod prepared;
mod problem;
mod proxy;
mod sinkhorn;
mod statistics;
