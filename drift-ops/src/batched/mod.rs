//! Batched fast paths: kernels that evaluate a whole [`drift_api::kit::ProblemBatch`] at once, with
//! per-thread scratch reused over the problems.

pub mod buffers;
mod lanes;
pub mod official;
mod problem;
