//! The CUDA source of the Sinkhorn scaling updates that run between the device passes of a
//! scaling loop (`scaling.cu`), specialised per precision.
//!
//! Pure text, like the reduction's source: available without the `cuda` feature.

use drift_api::Precision;

/// The template: `scaling.cu`, completed by the `#define`s of [`scaling_source`].
pub const SCALING_TEMPLATE: &str = include_str!("scaling.cu");

/// The update stages, each an entry point `<stage><suffix>` (as [`crate::stage_entry`] names
/// them): the log-sum of two blocks' row passes, the row update, the column update with its
/// error, the symmetric update with its error.
pub const SCALING_STAGES: [&str; 4] = ["sc_log_add_", "sc_rows_", "sc_columns_", "sc_symmetric_"];

/// The complete CUDA source of the scaling updates for potentials of `precision`.
///
/// ```
/// let src = drift_gpu::scaling_source(drift_api::Precision::F64);
/// assert!(src.starts_with("#define DRIFT_REAL double\n"));
/// assert!(src.contains("sc_symmetric_"));
/// ```
pub fn scaling_source(precision: Precision) -> String {
    format!(
        "{}{SCALING_TEMPLATE}",
        crate::source::precision_defines(precision)
    )
}
