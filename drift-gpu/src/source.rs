//! The CUDA C source of the fused row reduction, specialised per precision, dimension and kernel.
//!
//! Pure text: available without the `cuda` feature, so that what the GPU would compile can be
//! inspected (and its kernel dispatch tested) on any machine.

use drift_api::{DriftError, Kernel, Precision, Result};

mod literals;
pub use literals::single_precision_literals;

/// The kernel expression as the module of `precision` splices it: in single precision its
/// unsuffixed floating literals become `float`, so that the expression does not promote to double.
pub fn expression_in(precision: Precision, expr: &str) -> String {
    match precision {
        Precision::F32 => single_precision_literals(expr),
        Precision::F64 => expr.to_string(),
    }
}

/// The template: `row_reduce.cu`, completed by the `#define`s of [`reduction_source`].
pub const ROW_REDUCE_TEMPLATE: &str = include_str!("row_reduce.cu");

/// Rows (threads) per thread block.
pub const BLOCK_ROWS: usize = 128;

/// Most columns a shared-memory tile holds (fewer in high dimensions, see [`tile_columns`]).
pub const MAX_TILE_COLUMNS: usize = 256;

/// Bytes of shared memory a tile's coordinates may take: well under the 48 KiB a block can use
/// without opting in, leaving room for two resident blocks per multiprocessor.
const TILE_BYTES: usize = 16 * 1024;

/// The largest dimension the CUDA reduction compiles for: one column of coordinates must fit the
/// block's static shared memory in double precision.
pub const MAX_DIM: usize = 4096;

/// The entry point a compiled module exports for `precision`.
pub fn entry_point(precision: Precision) -> &'static str {
    match precision {
        Precision::F32 => "drift_row_reduce_f32",
        Precision::F64 => "drift_row_reduce_f64",
    }
}

/// The `#define`s every module of the backend starts with: the C type of the precision
/// (`DRIFT_REAL`), its entry points' suffix (`DRIFT_SUFFIX`) and `DRIFT_IS_F64`.
///
/// ```
/// let defines = drift_gpu::precision_defines(drift_api::Precision::F32);
/// assert!(defines.starts_with("#define DRIFT_REAL float\n#define DRIFT_SUFFIX f32\n"));
/// ```
pub fn precision_defines(precision: Precision) -> String {
    let (real, is_f64) = match precision {
        Precision::F32 => ("float", 0),
        Precision::F64 => ("double", 1),
    };
    format!(
        "#define DRIFT_REAL {real}\n#define DRIFT_SUFFIX {}\n#define DRIFT_IS_F64 {is_f64}\n",
        suffix(precision)
    )
}

/// The entry point of a module's `stage` (its name before the suffix) for `precision`.
///
/// ```
/// assert_eq!(drift_gpu::stage_entry("sw_match_", drift_api::Precision::F32), "sw_match_f32");
/// ```
pub fn stage_entry(stage: &str, precision: Precision) -> String {
    format!("{stage}{}", suffix(precision))
}

fn suffix(precision: Precision) -> &'static str {
    match precision {
        Precision::F32 => "f32",
        Precision::F64 => "f64",
    }
}

fn real_bytes(precision: Precision) -> usize {
    match precision {
        Precision::F32 => 4,
        Precision::F64 => 8,
    }
}

/// Columns per shared-memory tile at this precision and dimension.
pub fn tile_columns(precision: Precision, dim: usize) -> usize {
    (TILE_BYTES / (dim.max(1) * real_bytes(precision))).clamp(1, MAX_TILE_COLUMNS)
}

/// The kernel's CUDA log-weight expression in `d2` and `tau` ([`Kernel::cuda_log_weight`]), or an
/// error naming the kernel when it has none.
///
/// ```
/// # #[derive(Debug, serde::Serialize, serde::Deserialize)] struct Cpu;
/// # #[typetag::serde(name = "doc.cpu_only")] impl drift_api::Kernel for Cpu {
/// #   fn log_weight_f64(&self, d: &mut [f64], t: f64) { d.iter_mut().for_each(|v| *v = -*v / t) } }
/// let err = drift_gpu::kernel_expression(&Cpu).unwrap_err();
/// assert!(err.to_string().contains("kernel doc.cpu_only is not supported on the CUDA backend"));
/// ```
pub fn kernel_expression(kernel: &dyn Kernel) -> Result<String> {
    let unsupported = |why: &str| {
        DriftError::invalid(
            "kernel",
            format!(
                "kernel {} is not supported on the CUDA backend: {why}",
                kernel.typetag_name()
            ),
        )
    };
    let expr = kernel
        .cuda_log_weight()
        .ok_or_else(|| unsupported("it gives no CUDA expression (Kernel::cuda_log_weight)"))?;
    // The expression becomes the body of a one-line macro: a line break or a preprocessor
    // directive would end it early and compile something else.
    if expr.trim().is_empty() || expr.contains(['\n', '\r', '#', '\\', ';']) {
        return Err(unsupported(&format!(
            "its CUDA expression {expr:?} must be one non-empty C expression in d2 and tau"
        )));
    }
    Ok(expr)
}

/// Checks that `dim` is one the CUDA reduction compiles for.
pub fn check_dim(dim: usize) -> Result<()> {
    if (1..=MAX_DIM).contains(&dim) {
        Ok(())
    } else {
        Err(DriftError::invalid(
            "dim",
            format!("the CUDA backend reduces points of 1 to {MAX_DIM} coordinates, got {dim}"),
        ))
    }
}

/// The complete CUDA source of the row reduction for one precision, dimension and log-weight
/// expression (as [`kernel_expression`] returns it). Its one entry point is
/// [`entry_point`]`(precision)`. In single precision the expression's floating literals are made
/// single-precision first ([`single_precision_literals`]).
///
/// ```
/// use drift_api::Precision;
/// let src = drift_gpu::reduction_source(Precision::F32, 3, "-d2 / tau");
/// assert!(src.contains("#define DRIFT_LOG_WEIGHT(d2, tau) (-d2 / tau)"));
/// assert!(src.contains("DRIFT_ENTRY("));
/// let src = drift_gpu::reduction_source(Precision::F32, 3, "-(1e0) * log1p(d2 / tau)");
/// assert!(src.contains("#define DRIFT_LOG_WEIGHT(d2, tau) (-(1e0f) * log1p(d2 / tau))"));
/// ```
pub fn reduction_source(precision: Precision, dim: usize, log_weight: &str) -> String {
    reduction_source_with(precision, dim, log_weight, crate::TensorCores::Off)
}

/// [`reduction_source`] with the tensor-core option: the products of the f32 reduction on TF32
/// tensor cores when `tensor_cores` is not `Off` and applies at this precision and dimension
/// ([`crate::TensorCores::effective`]); otherwise the exact source.
pub fn reduction_source_with(
    precision: Precision,
    dim: usize,
    log_weight: &str,
    tensor_cores: crate::TensorCores,
) -> String {
    let tc = tensor_cores.effective(precision, dim);
    let tile = match tc {
        crate::TensorCores::Off => tile_columns(precision, dim),
        _ => crate::tensor_core_tile(dim).unwrap_or(16),
    };
    let log_weight = expression_in(precision, log_weight);
    format!(
        "{}\
         #define DRIFT_DIM {dim}\n\
         #define DRIFT_TILE {tile}\n\
         #define DRIFT_BLOCK {BLOCK_ROWS}\n\
         #define DRIFT_LOG_WEIGHT(d2, tau) ({log_weight})\n\
         #define DRIFT_TC {tc}\n\
         {ROW_REDUCE_TEMPLATE}",
        precision_defines(precision),
        tc = tc.define(),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde::{Deserialize, Serialize};

    #[derive(Debug, Serialize, Deserialize)]
    struct Expr(String);
    #[typetag::serde(name = "test.expr")]
    impl Kernel for Expr {
        fn log_weight_f64(&self, d: &mut [f64], t: f64) {
            d.iter_mut().for_each(|v| *v = -*v / t)
        }
        fn cuda_log_weight(&self) -> Option<String> {
            Some(self.0.clone())
        }
    }

    #[test]
    fn tiles_fit_the_shared_memory_budget_and_hold_at_least_one_column() {
        for precision in [Precision::F32, Precision::F64] {
            for dim in [1, 3, 64, 1000, MAX_DIM] {
                let t = tile_columns(precision, dim);
                assert!((1..=MAX_TILE_COLUMNS).contains(&t));
                // Static shared memory of a block stays under 48 KiB.
                assert!((t * dim + t) * real_bytes(precision) <= 48 * 1024, "{dim}");
            }
        }
        assert_eq!(tile_columns(Precision::F32, 3), MAX_TILE_COLUMNS);
        assert_eq!(tile_columns(Precision::F64, 64), 32);
    }

    #[test]
    fn expressions_that_would_break_the_macro_are_refused_with_the_kernel_name() {
        for bad in ["", "  ", "-d2\n/ tau", "-d2 / tau; x", "#define", "a \\"] {
            let err = kernel_expression(&Expr(bad.into()))
                .unwrap_err()
                .to_string();
            assert!(
                err.contains("kernel test.expr is not supported on the CUDA backend"),
                "{err}"
            );
        }
        assert_eq!(
            kernel_expression(&Expr("-d2 / tau".into())).unwrap(),
            "-d2 / tau"
        );
    }

    #[test]
    fn the_source_defines_every_parameter_of_the_template() {
        let src = reduction_source(Precision::F64, 7, "-sqrt(d2) / tau");
        for define in [
            "#define DRIFT_REAL double",
            "#define DRIFT_SUFFIX f64",
            "#define DRIFT_IS_F64 1",
            "#define DRIFT_DIM 7",
            "#define DRIFT_TILE 256",
            "#define DRIFT_BLOCK 128",
            "#define DRIFT_LOG_WEIGHT(d2, tau) (-sqrt(d2) / tau)",
        ] {
            assert!(src.contains(define), "{define}");
        }
        assert!(check_dim(0).is_err() && check_dim(MAX_DIM + 1).is_err() && check_dim(1).is_ok());
    }
}
