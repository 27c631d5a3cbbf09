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

pub mod backend;
pub mod batch;
pub mod coupling;
pub mod error;
pub mod kernel;
pub mod load;
pub mod math;
pub mod operator;
pub mod pair_sets;
pub mod pairs;
pub mod plugin;
pub mod points;
pub mod precision;
pub mod real;
pub mod registry;
pub mod resident;
pub mod scaling;
pub mod sliced;
pub mod weighting;

// The plugin contract: what a kernel, coupling, weighting or operator author needs, and the
// calls that load and run an operator.
pub use batch::{BatchJob, BatchReport};
pub use coupling::{
    ColumnBlock, Coupling, CouplingJob, CouplingProblem, CouplingReport, Potentials, RowMasses,
};
pub use error::{check_param, check_temperature, DriftError, Result};
pub use kernel::Kernel;
pub use load::{load_operator, operator_from_str};
pub use operator::{
    apply_drift, Context, DriftJob, DriftOperator, DriftProblem, DriftReport, Negatives,
};
pub use points::PointCloud;
pub use real::{Precision, Real};
pub use weighting::{RowSide, RowSides, Weighting};

/// The backend kit: what backends, engines and callers that run batches use (reductions, prepared
/// pairs, the Sinkhorn loop, residency, sliced jobs, batches of problems, numeric helpers). A
/// plugin that only defines kernels, couplings, weightings or operators on the engines needs none
/// of it.
pub mod kit {
    pub use crate::backend::{
        check_len, check_square_mask, reduce, Backend, Displacement, ReductionJob, RowReduction,
    };
    pub use crate::batch::{
        apply_drift_batch, problem_by_problem, BatchProblem, BatchSets, Collective, ProblemBatch,
        Reduction, SingleProcess, TemperatureNorm,
    };
    pub use crate::coupling::solve_coupling;
    pub use crate::error::{fmt_num, try_vec, try_with_capacity};
    pub use crate::math::{on_best_isa, on_isa, IsaWork, VectorMath};
    pub use crate::pair_sets::{PairSets, PairSource};
    pub use crate::pairs::{
        prepare_pairs, sweep_in_two_passes, FusedPairs, PairDisplacement, PairPath, PairSet,
        PreparedPairs, RowUpdate,
    };
    pub use crate::points::Points;
    pub use crate::precision::{PrecisionReport, WEIGHT_ERROR_TOLERANCE};
    pub use crate::real::log_add_exp;
    pub use crate::resident::{with_resident, ResidentBody, ResidentMap, ResidentSets};
    pub use crate::scaling::{ScalingLoop, ScalingOutcome};
    pub use crate::sliced::{sliced_wasserstein_on, DirectionSource, SlicedJob};
}

#[doc(hidden)]
pub use inventory;
#[doc(hidden)]
pub use typetag;
