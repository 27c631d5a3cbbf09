//! # drift-ops
//!
//! The CPU implementation of the drift framework: the fused row reduction ([`CpuBackend`]), the
//! built-in kernels, couplings and drift operators. Every operator is built on the one reduction
//! primitive of `drift-api`; none holds a second copy of the pairwise loop.
//!
//! ```
//! use drift_api::PointCloud;
//! let x = PointCloud::new("x", vec![0.0f64, 0.0, 0.5, 0.5], 2).unwrap();
//! let y = PointCloud::new("y", vec![2.0f64, 2.0, 2.5, 2.0, 2.0, 2.5], 2).unwrap();
//! let op = drift_ops::SinkhornDrift::new(0.5);
//! let (v, report) = drift_ops::drift(&op, &x, &y).unwrap();
//! assert!(v.iter().all(|c| *c > 0.0)); // every particle moves up and right, toward the data
//! println!("λ = {}, Sinkhorn error = {:?}", report.drift_norm, report.max_marginal_error());
//! ```

pub mod batched;
mod bounding_box;
pub mod cached;
mod column_shards;
pub mod compositions;
#[cfg(feature = "conformance")]
pub mod conformance;
pub mod couplings;
pub mod cpu;
pub mod dense;
pub mod engine;
pub mod exp;
mod gram;
pub mod kernels;
mod matrix_pool;
mod microkernel;
pub mod operators;
pub mod pair_cache;
pub mod random;
mod row_shards;
pub mod tile_skip;
pub mod weightings;

pub use column_shards::ColumnShards;
pub use compositions::*;
pub use couplings::{RowNormalised, Schedule, Sinkhorn, TwoSidedProxy, Unnormalised};
pub use cpu::{CpuBackend, CpuBackendBuilder};
pub use engine::{drift, drift_with, DisplacementKind, Term};
pub use kernels::{Gaussian, InverseMultiquadric, Laplace, LogDistance};
pub use operators::*;
pub use row_shards::RowShards;
pub use weightings::{FDivergenceKind, FDivergenceWeighting, MassProduct, Masses, Unit};
