//! The CUDA source of the sliced-Wasserstein field (`sliced.cu`), specialised per precision.
//!
//! Pure text, like the reduction's source: available without the `cuda` feature.

use drift_api::Precision;

/// The template: `sliced.cu`, completed by the `#define`s of [`sliced_source`].
pub const SLICED_TEMPLATE: &str = include_str!("sliced.cu");

/// Threads of the block that computes one direction's levels.
pub const SLICED_SCAN_THREADS: usize = 256;

/// The stages of the sliced-Wasserstein computation, in the order they run; each is an entry
/// point `<stage><suffix>` ([`sliced_entry`]).
pub const SLICED_STAGES: [&str; 6] = [
    "sw_project_",
    "sw_bitonic_",
    "sw_levels_",
    "sw_match_",
    "sw_accumulate_",
    "sw_store_",
];

/// The entry point of `stage` (one of [`SLICED_STAGES`]) for points of `precision`.
///
/// ```
/// assert_eq!(drift_gpu::sliced_entry("sw_match_", drift_api::Precision::F32), "sw_match_f32");
/// ```
pub fn sliced_entry(stage: &str, precision: Precision) -> String {
    let suffix = match precision {
        Precision::F32 => "f32",
        Precision::F64 => "f64",
    };
    format!("{stage}{suffix}")
}

/// The complete CUDA source of the sliced-Wasserstein stages for points of `precision`.
///
/// ```
/// let src = drift_gpu::sliced_source(drift_api::Precision::F32);
/// assert!(src.starts_with("#define DRIFT_REAL float\n"));
/// ```
pub fn sliced_source(precision: Precision) -> String {
    let (real, suffix) = match precision {
        Precision::F32 => ("float", "f32"),
        Precision::F64 => ("double", "f64"),
    };
    format!(
        "#define DRIFT_REAL {real}\n\
         #define DRIFT_SUFFIX {suffix}\n\
         #define SW_SCAN {SLICED_SCAN_THREADS}\n\
         {SLICED_TEMPLATE}"
    )
}
