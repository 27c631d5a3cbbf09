//! # drift-bench
//!
//! Demonstrations and benchmarks of the drift operators of `drift-ops`: seeded toy data sets
//! ([`datasets`]), scores of a particle set against the data ([`metrics`]) and the particle flow
//! `x ← x + η V(x)` ([`flow`]). The `drift-bench` binary runs the comparative demo, lists the
//! registered operators, validates RON files and applies an operator to point sets read from
//! `.npy` ([`npy`]) or `.csv` ([`csv`]) files ([`point_files`]), writing results atomically
//! ([`pending_file`]) and never over an input unless told ([`same_file`]); arguments are checked
//! up front ([`invalid_arg`]); the `memory_100k` example and the
//! `reduction` criterion bench use the same pieces.

pub mod array;
pub mod csv;
pub mod datasets;
pub mod flow;
pub mod invalid_arg;
pub mod metrics;
pub mod npy;
pub mod pending_file;
pub mod point_files;
pub mod same_file;

pub use datasets::{gaussian_blob, lopsided_start, uniform_box, GaussianMixture};
pub use flow::{run_flow, FlowConfig, FlowOutcome};
pub use metrics::{mode_coverage, sliced_w2, ModeCoverage};
