//! # drift-gpu
//!
//! The GPU backend of the drift framework. This crate builds on every machine, with or without CUDA;
//! the fused CUDA row reduction itself is not implemented yet, so [`CudaBackend::new`] always returns
//! [`DriftError::NoDevice`] with the reason (no driver library found, or no kernels in this build).
//! Callers therefore never need `cfg` switches: they ask for the GPU and fall back to the CPU.
//!
//! ```
//! use drift_api::Backend;
//! let backend: Box<dyn Backend> = match drift_gpu::CudaBackend::new() {
//!     Ok(gpu) => Box::new(gpu),
//!     Err(e) => {
//!         eprintln!("falling back to the CPU: {e}");
//!         Box::new(drift_ops_stub::Cpu)
//!     }
//! };
//! # mod drift_ops_stub {
//! #   #[derive(Debug)] pub struct Cpu;
//! #   impl drift_api::Backend for Cpu {
//! #     fn name(&self) -> &str { "cpu" }
//! #     fn row_reduce(&self, _: drift_api::ReductionJob<'_>) -> drift_api::Result<()> { Ok(()) }
//! #   }
//! # }
//! assert!(!backend.name().is_empty());
//! ```

use drift_api::{Backend, DriftError, ReductionJob, Result};
use std::path::Path;

/// Environment variable that turns "GPU test skipped" into a failure, for runs on a GPU machine.
pub const REQUIRE_GPU_ENV: &str = "DRIFT_REQUIRE_GPU";

/// Where the CUDA driver library is usually found on Linux.
const DRIVER_PATHS: [&str; 4] = [
    "/usr/lib/x86_64-linux-gnu/libcuda.so.1",
    "/usr/lib64/libcuda.so.1",
    "/usr/local/cuda/lib64/stubs/libcuda.so",
    "/usr/lib/wsl/lib/libcuda.so.1",
];

/// Whether a CUDA driver library is present on this machine (checked before any driver call, since
/// touching a missing driver aborts in some bindings).
pub fn driver_library_present() -> bool {
    DRIVER_PATHS.iter().any(|p| Path::new(p).exists())
}

/// The CUDA backend handle.
#[derive(Debug)]
pub struct CudaBackend {
    _device: (),
}

impl CudaBackend {
    /// Opens the first CUDA device; today always a typed [`DriftError::NoDevice`] that says why.
    pub fn new() -> Result<Self> {
        let reason = if driver_library_present() {
            "a CUDA driver is present, but this build has no CUDA kernels yet (CPU backend only)"
        } else {
            "no CUDA driver library (libcuda.so.1) found on this machine"
        };
        Err(DriftError::NoDevice {
            reason: reason.into(),
        })
    }
}

impl Backend for CudaBackend {
    fn name(&self) -> &str {
        "cuda"
    }
    fn row_reduce(&self, _job: ReductionJob<'_>) -> Result<()> {
        Err(DriftError::NoDevice {
            reason: "the CUDA row reduction is not implemented yet".into(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reports_no_device_as_a_typed_error_or_fails_when_a_gpu_is_required() {
        match CudaBackend::new() {
            Ok(_) => {}
            Err(DriftError::NoDevice { reason }) => {
                if std::env::var_os(REQUIRE_GPU_ENV).is_some() {
                    panic!("{REQUIRE_GPU_ENV} is set but no GPU backend is available: {reason}");
                }
                eprintln!("GPU tests skipped: {reason}");
            }
            Err(other) => panic!("unexpected error {other}"),
        }
    }
}
