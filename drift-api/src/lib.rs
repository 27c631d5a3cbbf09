//! # drift-api
//!
//! The contracts of the drift framework. A *drift operator* takes generated samples `X` and data
//! samples `Y` and returns a vector field `V(x_i)`: attraction toward the data minus repulsion from the
//! model's own samples. Every kernel operator is built from one primitive, a fused row reduction with
//! potentials ([`kit::Backend`]); a [`Kernel`] supplies the log-weight, a [`Coupling`] turns reductions into
//! potentials `(f, g)`, a [`Weighting`] weighs the attraction against the repulsion per particle, and a
//! [`DriftOperator`] combines couplings into `V`. `drift-ops` implements the CPU backend, the engine
//! the operators run on (`drift_ops::engine`, public so that plugins build on it) and the built-ins.
//!
//! The traits are object-safe and registered with `typetag`, so implementations (built-in or from a
//! plugin crate) can be named in RON files. The float type is chosen at run time: each trait receives a
//! job tagged `F32` or `F64` and generic code dispatches with [`Real`].

#![warn(missing_docs)]

// The layers, bottom up (each imports only those below it; ARCHITECTURE.md draws them):
// numbers and points (`math`, `real`, `error`, `points`), kernels and weightings, the backend kit
// (`kit`), couplings and operators with their batches, loading and the registry.
mod coupling;
mod error;
mod kernel;
pub mod kit;
mod load;
pub mod math;
mod operator;
#[doc(hidden)]
pub mod plugin;
mod points;
mod real;
pub mod registry;
mod weighting;

// The plugin contract: what a kernel, coupling, weighting or operator author needs, and the
// calls that load and run an operator.
pub use coupling::{
    ColumnBlock, Coupling, CouplingJob, CouplingProblem, CouplingReport, Potentials, RowMasses,
};
pub use error::{check_param, check_temperature, DriftError, Result};
pub use kernel::Kernel;
pub use load::{load_operator, operator_from_str};
pub use operator::batch::{self, BatchJob, BatchReport};
pub use operator::{
    apply_drift, Context, DriftJob, DriftOperator, DriftProblem, DriftReport, Negatives,
};
pub use points::PointCloud;
pub use real::{Precision, Real};
pub use weighting::{RowSide, RowSides, Weighting};

#[doc(hidden)]
pub use inventory;
#[doc(hidden)]
pub use typetag;
