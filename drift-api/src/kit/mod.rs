//! The backend kit: what backends, engines and callers that run batches use. Reductions
//! ([`Backend`]), prepared pair sets and the Sinkhorn loop over them, residency, sliced jobs, the
//! data of a batch and its collective, numeric helpers. A plugin that only defines kernels,
//! couplings, weightings or operators on the engines needs none of it.
//!
//! The kit sits between the numbers and the operator contract: it imports the number type, the
//! point sets, the kernels and the weightings, never the couplings, operators or loading that sit
//! above it (ARCHITECTURE.md draws the layers).

pub mod backend;
pub mod batch;
pub mod column_split;
pub mod official;
pub mod pair_sets;
pub mod pairs;
pub mod precision;
pub mod resident;
pub mod scaling;
pub mod sliced;

pub use crate::error::{fmt_num, try_vec, try_with_capacity};
pub use crate::math::{on_best_isa, on_isa, IsaWork, VectorMath};
pub use crate::points::{Clouds, Points, Whole};
pub use crate::real::{log_add_exp, ByPrecision, PerPrecision, Tagged};
pub use backend::{
    check_len, check_square_mask, reduce, Backend, Displacement, ReductionJob, Reductions,
    RowReduction,
};
pub use batch::{BatchSets, Collective, ProblemBatch, Reduction, SingleProcess};
pub use column_split::{check_rank, ColumnSplit};
pub use official::{
    centre_rows, official_stages_on, OfficialConstants, OfficialJob, OfficialStages, SoftmaxFloors,
    Stages,
};
pub use pair_sets::{PairSets, PairSource};
pub use pairs::{
    prepare_pairs, sweep_in_two_passes, FusedPairs, PairDisplacement, PairPath, PairSet,
    PreparedPairs, RowUpdate,
};
pub use precision::{PrecisionReport, WEIGHT_ERROR_TOLERANCE};
pub use resident::{with_resident, ResidentBody, ResidentLists, ResidentMap, ResidentSets};
pub use scaling::{ScalingLoop, ScalingOutcome};
pub use sliced::{sliced_wasserstein_on, DirectionSource, SlicedJob};
