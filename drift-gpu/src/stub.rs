//! The backend of a build without the `cuda` feature: it exists, so callers need no `cfg`, and
//! opening it says why it cannot run.

use drift_api::kit::{Backend, ReductionJob};
use drift_api::{DriftError, Result};

/// The CUDA backend handle; this build has no CUDA support, so it cannot be opened.
#[derive(Debug)]
pub struct CudaBackend {
    _unconstructible: (),
}

fn not_built() -> DriftError {
    let hint = if crate::driver_library_present() {
        " (a CUDA driver is present on this machine)"
    } else {
        ""
    };
    DriftError::NoDevice {
        reason: format!(
            "this build has no CUDA support: build drift-gpu with its `cuda` feature{hint}"
        ),
    }
}

impl CudaBackend {
    /// Always [`DriftError::NoDevice`]: the `cuda` feature is off in this build.
    pub fn new() -> Result<Self> {
        Err(not_built())
    }

    /// Always [`DriftError::NoDevice`]: the `cuda` feature is off in this build.
    pub fn with_ordinal(ordinal: usize) -> Result<Self> {
        let _ = ordinal;
        Err(not_built())
    }

    /// The tensor-core option (kept for the same API as the CUDA build; nothing runs).
    pub fn with_tensor_cores(self, tensor_cores: crate::TensorCores) -> Self {
        let _ = tensor_cores;
        self
    }

    /// The device's name (never reached: no handle exists without the feature).
    pub fn device_name(&self) -> &str {
        "none"
    }

    /// Point sets copied to a device: none without the feature (kept for the same API).
    pub fn point_uploads(&self) -> usize {
        0
    }
}

impl Backend for CudaBackend {
    fn name(&self) -> &str {
        "cuda"
    }
    fn row_reduce(&self, _job: ReductionJob<'_>) -> Result<()> {
        Err(not_built())
    }
}
