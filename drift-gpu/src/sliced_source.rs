//! The CUDA source of the sliced-Wasserstein field (`sliced.cu`), specialised per precision.
//!
//! Pure text, like the reduction's source: available without the `cuda` feature.

use drift_api::Precision;

/// The template: `sliced.cu`, completed by the `#define`s of [`sliced_source`].
pub const SLICED_TEMPLATE: &str = include_str!("sliced.cu");

/// Threads of the block that computes one direction's levels.
pub const SLICED_SCAN_THREADS: usize = 256;

/// The stages of the sliced-Wasserstein computation, in the order they run; each is an entry
/// point `<stage><suffix>` ([`crate::stage_entry`]).
pub const SLICED_STAGES: [&str; 6] = [
    "sw_project_",
    "sw_bitonic_",
    "sw_levels_",
    "sw_match_",
    "sw_accumulate_",
    "sw_store_",
];

/// The complete CUDA source of the sliced-Wasserstein stages for points of `precision`.
///
/// ```
/// let src = drift_gpu::sliced_source(drift_api::Precision::F32);
/// assert!(src.starts_with("#define DRIFT_REAL float\n"));
/// ```
pub fn sliced_source(precision: Precision) -> String {
    format!(
        "{}#define SW_SCAN {SLICED_SCAN_THREADS}\n{SLICED_TEMPLATE}",
        crate::source::precision_defines(precision)
    )
}
