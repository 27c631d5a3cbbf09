//! # drift-gpu
//!
//! The CUDA backend of the drift framework: the fused row reduction of `drift_api::kit::Backend` as
//! CUDA kernels compiled at run time by NVRTC. The point sets of a drift evaluation are uploaded
//! once, when its residency scope opens (`drift_api::resident`), and every reduction, prepared
//! pair set and sliced job of the evaluation reads them there
//! ([`CudaBackend::point_uploads`] counts the copies). A Sinkhorn loop over prepared pair sets
//! (one or several column blocks) runs on the device (`scaling.cu`, [`scaling_source`]): its potentials stay there between
//! iterations and one number, the marginal error, is read back per iteration.
//!
//! * With the `cuda` feature, [`CudaBackend::new`] opens the first device through `cudarc`, which
//!   loads the driver and NVRTC at run time: building needs no CUDA toolkit, running needs the
//!   driver (`libcuda.so.1`) and NVRTC (`libnvrtc.so.12`) on the library search path.
//! * Without it, or without a driver, a device or NVRTC, [`CudaBackend::new`] returns a typed
//!   [`DriftError::NoDevice`](drift_api::DriftError::NoDevice) saying which. Callers never need `cfg` switches: they ask for the
//!   GPU and fall back to the CPU.
//!
//! Kernels run on the GPU through their [`Kernel::cuda_log_weight`](drift_api::Kernel) expression,
//! spliced into the reduction's source ([`reduction_source`]); a kernel without one is refused with
//! an error naming it ([`kernel_expression`]). Modules are compiled once per device, precision,
//! dimension and expression.
//!
//! ```
//! use drift_api::kit::Backend;
//! let backend: Box<dyn Backend> = match drift_gpu::CudaBackend::new() {
//!     Ok(gpu) => Box::new(gpu),
//!     Err(e) => {
//!         eprintln!("falling back to the CPU: {e}");
//!         Box::new(drift_ops::CpuBackend)
//!     }
//! };
//! assert!(!backend.name().is_empty());
//! ```
//!
//! ## The kernel
//!
//! `src/row_reduce.cu`: one thread per row, a block of [`BLOCK_ROWS`] rows streams the columns
//! through shared memory in tiles ([`tile_columns`]) and keeps the online `(max, sum, weighted
//! displacement)` of its row in registers (the dimension is compiled in, so the row's loops
//! unroll); log-sum-exp, mean displacement (from the row or from an origin), unit displacement,
//! masked diagonal and column potentials, in `f32` and `f64`. Memory is `O((N + M)·D)`.
//!
//! `src/official.cu` ([`official_source`]): the official loss's batched passes
//! (`drift_api::kit::OfficialStages`), one thread block per problem (and temperature): distances and
//! the scale's sums, the coefficients of every temperature (row and column softmaxes by warp and by
//! thread), `G_R = C t − (Σ_j C_ij) x_i` with `Σ G_R²`, and the weighted sum; the batch-wide
//! statistics between them are the caller's.
//!
//! ## Testing without a GPU
//!
//! `ci.sh` installs NVRTC from the Python package index (`nvidia-cuda-nvrtc-cu12`) into a virtual
//! environment and runs `cargo test -p drift-gpu --features cuda` with its `lib` folder on
//! `LD_LIBRARY_PATH`: `tests/ptx.rs` compiles every built-in kernel and user expressions, the
//! sliced-Wasserstein stages and the scaling updates to PTX for `sm_80` and `sm_90` in both
//! precisions. `tests/conformance.rs` runs one suite against the
//! CPU backend always and against the CUDA backend where a device exists; without one it reports
//! that it skipped, and with `DRIFT_REQUIRE_GPU=1` a missing device fails it.
//!
//! ## Benchmark (on a GPU machine)
//!
//! `bench/gpu_bench.py` times the drift side (`examples/gpu_bench.rs`, built with
//! `cargo build --release -p drift-gpu --features cuda --example gpu_bench`) next to the same
//! algorithms in PyTorch on the same GPU; see `bench/README.md`.

mod source;
pub use source::{
    check_dim, entry_point, expression_in, kernel_expression, precision_defines, reduction_source,
    reduction_source_with, single_precision_literals, stage_entry, tile_columns, BLOCK_ROWS,
    MAX_DIM, MAX_TILE_COLUMNS, ROW_REDUCE_TEMPLATE,
};

mod tensor_cores;
pub use tensor_cores::{
    emulated_d2, emulated_dot, round_to_tf32, split_tf32, tensor_core_tile, TensorCores,
    SPLIT3_D2_BOUND, TC_MAX_DIM, TF32_D2_BOUND,
};

mod scaling_source;
pub use scaling_source::{scaling_source, SCALING_STAGES, SCALING_TEMPLATE};

mod official_source;
pub use official_source::{official_source, OFFICIAL_STAGES, OFFICIAL_TEMPLATE, OFFICIAL_THREADS};

mod sliced_source;
pub use sliced_source::{sliced_source, SLICED_SCAN_THREADS, SLICED_STAGES, SLICED_TEMPLATE};

#[cfg(feature = "cuda")]
mod cuda;
#[cfg(feature = "cuda")]
pub use cuda::CudaBackend;

#[cfg(feature = "cuda")]
mod nvrtc;
#[cfg(feature = "cuda")]
pub use nvrtc::{
    compile_official_ptx, compile_ptx, compile_ptx_with, compile_scaling_ptx, compile_sliced_ptx,
    compile_source, nvrtc_available,
};

mod nccl;
pub use nccl::{cuda_device_count, NcclCollective, NcclUniqueId, NCCL_ID_BYTES};

#[cfg(not(feature = "cuda"))]
mod stub;
#[cfg(not(feature = "cuda"))]
pub use stub::CudaBackend;

use std::path::Path;

/// Environment variable that turns "GPU test skipped" into a failure, for runs on a GPU machine.
pub const REQUIRE_GPU_ENV: &str = "DRIFT_REQUIRE_GPU";

/// Whether this build has the CUDA backend (the `cuda` feature).
pub const CUDA_BUILT: bool = cfg!(feature = "cuda");

/// Where the CUDA driver library is usually found on Linux.
const DRIVER_PATHS: [&str; 4] = [
    "/usr/lib/x86_64-linux-gnu/libcuda.so.1",
    "/usr/lib64/libcuda.so.1",
    "/usr/local/cuda/lib64/stubs/libcuda.so",
    "/usr/lib/wsl/lib/libcuda.so.1",
];

/// Whether a CUDA driver library is present at one of its usual paths (a hint for messages; the
/// backend itself asks the dynamic loader).
pub fn driver_library_present() -> bool {
    DRIVER_PATHS.iter().any(|p| Path::new(p).exists())
}

/// Whether `REQUIRE_GPU_ENV` asks for a device (set to anything but `0` or empty).
pub fn gpu_required() -> bool {
    std::env::var(REQUIRE_GPU_ENV).is_ok_and(|v| !v.is_empty() && v != "0")
}

#[cfg(test)]
mod tests {
    use super::*;
    use drift_api::DriftError;

    #[test]
    fn opening_gives_a_device_or_a_typed_no_device_error() {
        match CudaBackend::new() {
            Ok(b) => assert_eq!(drift_api::kit::Backend::name(&b), "cuda"),
            Err(DriftError::NoDevice { reason }) => {
                assert!(!reason.is_empty());
                if !CUDA_BUILT {
                    assert!(reason.contains("`cuda` feature"), "{reason}");
                }
                if gpu_required() {
                    panic!("{REQUIRE_GPU_ENV} is set but no GPU backend is available: {reason}");
                }
                eprintln!("GPU tests skipped: {reason}");
            }
            Err(other) => panic!("unexpected error {other}"),
        }
    }
}
