//! Which compute backend a command runs its drifts on: `cpu` (the default) or `cuda`.

use drift_api::kit::Backend;
use drift_api::Result;
use serde::{Deserialize, Serialize};
use std::sync::{Arc, Mutex};

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
    ///
    /// The CUDA backend is opened once per process and shared: its device context and its
    /// compiled kernels then serve every run of a sweep, instead of being created again for each
    /// (a failed opening is not kept, so a later call tries again).
    pub fn open(self) -> Result<Arc<dyn Backend>> {
        match self {
            BackendKind::Cpu => Ok(Arc::new(drift_ops::CpuBackend)),
            BackendKind::Cuda => {
                static CUDA: Mutex<Option<Arc<dyn Backend>>> = Mutex::new(None);
                let mut cuda = CUDA.lock().unwrap_or_else(|p| p.into_inner());
                if let Some(backend) = cuda.as_ref() {
                    return Ok(Arc::clone(backend));
                }
                let backend: Arc<dyn Backend> = Arc::new(drift_gpu::CudaBackend::new()?);
                *cuda = Some(Arc::clone(&backend));
                Ok(backend)
            }
        }
    }
}
