//! The CUDA source of the official loss's batched passes (`official.cu`), specialised per
//! precision.
//!
//! Pure text, like the reduction's source: available without the `cuda` feature.

use drift_api::Precision;

/// The template: `official.cu`, completed by the `#define`s of [`official_source`].
pub const OFFICIAL_TEMPLATE: &str = include_str!("official.cu");

/// Threads per block of the official loss's passes (one block per problem, or per problem and
/// temperature): a power of two, whole warps.
pub const OFFICIAL_THREADS: usize = 256;

/// The passes, in the order they run; each is an entry point `<stage><suffix>`
/// ([`crate::stage_entry`]).
pub const OFFICIAL_STAGES: [&str; 4] = [
    "of_distances_",
    "of_coefficients_",
    "of_forces_",
    "of_combine_",
];

/// The complete CUDA source of the official loss's passes for points of `precision`.
///
/// ```
/// let src = drift_gpu::official_source(drift_api::Precision::F32);
/// assert!(src.starts_with("#define DRIFT_REAL float\n"));
/// assert!(src.contains("of_coefficients_"));
/// ```
pub fn official_source(precision: Precision) -> String {
    format!(
        "{}#define OF_THREADS {OFFICIAL_THREADS}\n{OFFICIAL_TEMPLATE}",
        crate::source::precision_defines(precision)
    )
}
