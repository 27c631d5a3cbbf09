//! # drift-bench
//!
//! Demonstrations and benchmarks of the drift operators of `drift-ops`, and the `drift-bench`
//! command line as a library ([`cli`]), so that a crate of its own operators gets the whole CLI
//! with its names from a three-line binary (`use my_plugin as _;` and
//! `fn main() -> std::process::ExitCode { drift_bench::cli::main() }`).
//!
//! Each command is a library call: [`demo::run`] (the comparative demo), [`list::run`] (the
//! registered kernels, couplings and operators), [`validate::run`] (check RON files) and
//! [`apply::run`] (an operator from a RON file on point sets), printing through a [`console`] that a
//! closed pipe cannot abort. They are built from seeded toy data sets ([`datasets`]), scores of a
//! particle set against the data ([`metrics`]), the particle flow `x ← x + η V(x)` ([`flow`]), and
//! point sets read from `.npy` ([`npy`]) or `.csv` ([`csv`]) files ([`point_files`]), with results
//! written atomically ([`pending_file`]) and never over an input unless told ([`same_file`]);
//! arguments are checked up front ([`invalid_arg`]); the `memory_100k` example and the `reduction`
//! criterion bench use the same pieces.

pub mod apply;
pub mod apply_batch;
pub mod array;
pub mod backend_kind;
pub mod batch_layout;
pub mod cli;
pub mod compare;
pub mod console;
pub mod csv;
pub mod data;
pub mod datasets;
pub mod demo;
mod demo_args;
pub mod flow;
pub mod generator;
pub mod invalid_arg;
pub mod list;
pub mod metrics;
#[cfg(feature = "mpi")]
pub mod mpi;
pub mod npy;
pub mod pending_file;
pub mod point_files;
pub mod report;
pub mod same_file;
pub mod validate;

pub use datasets::{gaussian_blob, lopsided_start, uniform_box, GaussianMixture};
pub use flow::{run_flow, FlowConfig, FlowOutcome};
pub use metrics::{mode_coverage, sliced_w2, ModeCoverage};
