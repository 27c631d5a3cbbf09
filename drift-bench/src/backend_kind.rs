//! Which compute backend a command runs its drifts on: `cpu` (the default) or `cuda`.

use drift_api::{Backend, Result};
use serde::{Deserialize, Serialize};

/// A compute backend, as the command line (`--backend cpu|cuda`) and RON sweeps
/// (`backend: cuda`) name it.
///
/// ```
/// use drift_bench::backend_kind::BackendKind;
/// assert_eq!(BackendKind::Cpu.open().unwrap().name(), "cpu");
/// // Without a CUDA build, driver or device, asking for the GPU is a typed error saying which.
/// if let Err(e) = BackendKind::Cuda.open() {
///     assert!(matches!(e, drift_api::DriftError::NoDevice { .. }), "{e}");
/// }
/// ```
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize, clap::ValueEnum)]
#[serde(rename_all = "lowercase")]
pub enum BackendKind {
    /// The CPU backend of `drift-ops` (rayon, run-time AVX2 dispatch).
    #[default]
    Cpu,
    /// The CUDA backend of `drift-gpu` (needs a build with its `cuda` feature, a driver and a
    /// device).
    Cuda,
}

impl BackendKind {
    /// Opens the backend: the CPU always; CUDA or [`drift_api::DriftError::NoDevice`] with the
    /// reason (no `cuda` feature in this build, no driver, no device).
    pub fn open(self) -> Result<Box<dyn Backend>> {
        match self {
            BackendKind::Cpu => Ok(Box::new(drift_ops::CpuBackend)),
            BackendKind::Cuda => Ok(Box::new(drift_gpu::CudaBackend::new()?)),
        }
    }
}
