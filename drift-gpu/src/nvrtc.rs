//! Compiling the reduction to PTX with NVRTC (feature `cuda`): needs the NVRTC library
//! (`libnvrtc.so.12`, found through the dynamic loader's search path), not a GPU.

use crate::source::{check_dim, entry_point, kernel_expression, reduction_source};
use drift_api::{DriftError, Kernel, Precision, Result};
use std::panic::{catch_unwind, AssertUnwindSafe};

/// Whether the NVRTC library can be loaded; the error says why not.
///
/// cudarc panics on first use when the library is missing, so every compilation checks this
/// first and turns the absence into [`DriftError::NoDevice`].
pub fn nvrtc_available() -> Result<()> {
    #[allow(unsafe_code)]
    // SAFETY: probing loads the library by name and unloads it; its initialisers are NVIDIA's
    // own, which the driver API would run anyway.
    let present = unsafe { cudarc::nvrtc::sys::is_culib_present() };
    if present {
        Ok(())
    } else {
        Err(DriftError::NoDevice {
            reason: "the NVRTC library (libnvrtc.so.12) is not on the library search path \
                     (install the CUDA toolkit or the Python package nvidia-cuda-nvrtc-cu12 and \
                     add its lib folder to LD_LIBRARY_PATH)"
                .into(),
        })
    }
}

/// Compiles CUDA `source` to PTX for `arch` (`"sm_90"`, `"compute_80"`, …).
pub fn compile_source(source: &str, arch: &str) -> Result<String> {
    nvrtc_available()?;
    let opts = cudarc::nvrtc::CompileOptions {
        options: vec![
            format!("--gpu-architecture={arch}"),
            // Exact division, square root and denormals: the conformance bounds are stated for
            // IEEE arithmetic.
            "--ftz=false".into(),
            "--prec-div=true".into(),
            "--prec-sqrt=true".into(),
            "--std=c++14".into(),
        ],
        name: Some("drift_row_reduce.cu".into()),
        ..Default::default()
    };
    // cudarc unwraps a few NVRTC calls internally (a missing symbol in an old library): keep any
    // such panic from crossing into the caller.
    let compiled = catch_unwind(AssertUnwindSafe(|| {
        cudarc::nvrtc::compile_ptx_with_opts(source, opts)
    }))
    .map_err(|_| DriftError::NoDevice {
        reason: "the NVRTC library failed while compiling (incompatible version?)".into(),
    })?;
    match compiled {
        Ok(ptx) => Ok(ptx.to_src()),
        Err(cudarc::nvrtc::CompileError::CompileError { log, .. }) => Err(DriftError::invalid(
            "CUDA source",
            format!(
                "NVRTC could not compile it for {arch}:\n{}",
                log.to_string_lossy()
            ),
        )),
        Err(other) => Err(DriftError::NoDevice {
            reason: format!("NVRTC failed: {other:?}"),
        }),
    }
}

/// Compiles the row reduction of `kernel` at this precision and dimension to PTX for `arch`: what
/// the CUDA backend loads on a device of that architecture.
///
/// ```no_run
/// use drift_api::Precision;
/// # #[derive(Debug, serde::Serialize, serde::Deserialize)] struct G;
/// # #[typetag::serde(name = "doc.ptx_g")] impl drift_api::Kernel for G {
/// #   fn log_weight_f64(&self, d: &mut [f64], t: f64) { d.iter_mut().for_each(|v| *v = -*v / t) }
/// #   fn cuda_log_weight(&self) -> Option<String> { Some("-d2 / tau".into()) } }
/// let ptx = drift_gpu::compile_ptx(Precision::F32, 3, &G, "sm_90").unwrap();
/// assert!(ptx.contains(".entry drift_row_reduce_f32"));
/// ```
pub fn compile_ptx(
    precision: Precision,
    dim: usize,
    kernel: &dyn Kernel,
    arch: &str,
) -> Result<String> {
    check_dim(dim)?;
    let expr = kernel_expression(kernel)?;
    let ptx = compile_source(&reduction_source(precision, dim, &expr), arch)?;
    let entry = entry_point(precision);
    if !ptx.contains(entry) {
        return Err(DriftError::invalid(
            "CUDA source",
            format!("the compiled PTX lacks its entry point {entry}"),
        ));
    }
    Ok(ptx)
}

/// Compiles the sliced-Wasserstein stages for points of `precision` to PTX for `arch`, checking
/// that every entry point is there.
pub fn compile_sliced_ptx(precision: Precision, arch: &str) -> Result<String> {
    let source = crate::sliced_source::sliced_source(precision);
    compile_stages(
        &source,
        &crate::sliced_source::SLICED_STAGES,
        precision,
        arch,
    )
}

/// Compiles the official loss's batched passes for points of `precision` to PTX for `arch`,
/// checking that every entry point is there.
pub fn compile_official_ptx(precision: Precision, arch: &str) -> Result<String> {
    let source = crate::official_source::official_source(precision);
    compile_stages(
        &source,
        &crate::official_source::OFFICIAL_STAGES,
        precision,
        arch,
    )
}

/// Compiles the Sinkhorn scaling updates for potentials of `precision` to PTX for `arch`,
/// checking that every entry point is there.
pub fn compile_scaling_ptx(precision: Precision, arch: &str) -> Result<String> {
    let source = crate::scaling_source::scaling_source(precision);
    compile_stages(
        &source,
        &crate::scaling_source::SCALING_STAGES,
        precision,
        arch,
    )
}

/// Compiles a module of stages and checks that each stage's entry point is in its PTX.
fn compile_stages(
    source: &str,
    stages: &[&str],
    precision: Precision,
    arch: &str,
) -> Result<String> {
    let ptx = compile_source(source, arch)?;
    for stage in stages {
        let entry = crate::source::stage_entry(stage, precision);
        if !ptx.contains(&entry) {
            return Err(DriftError::invalid(
                "CUDA source",
                format!("the compiled PTX lacks its entry point {entry}"),
            ));
        }
    }
    Ok(ptx)
}

/// [`compile_ptx`] with the tensor-core option of the f32 reduction.
pub fn compile_ptx_with(
    precision: Precision,
    dim: usize,
    kernel: &dyn Kernel,
    arch: &str,
    tensor_cores: crate::TensorCores,
) -> Result<String> {
    check_dim(dim)?;
    let expr = kernel_expression(kernel)?;
    let src = crate::source::reduction_source_with(precision, dim, &expr, tensor_cores);
    compile_source(&src, arch)
}
