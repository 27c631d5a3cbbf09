//! Compiles every CUDA source the backend can generate to PTX, without a GPU: each built-in kernel
//! and user expressions, in both precisions, for the targeted architectures and a range of
//! dimensions. Needs NVRTC (`libnvrtc.so.12` on the library search path, as `ci.sh` arranges);
//! without it the test says it skipped, unless `DRIFT_REQUIRE_NVRTC=1`.
#![cfg(feature = "cuda")]

// The conformance suite's user kernel with a CUDA expression.
use drift_api::{DriftError, Kernel, Precision};
use drift_gpu::{
    compile_official_ptx, compile_ptx, compile_scaling_ptx, compile_sliced_ptx, entry_point,
    nvrtc_available, stage_entry, OFFICIAL_STAGES, SCALING_STAGES, SLICED_STAGES,
};
use drift_ops::conformance::Cauchy;
use drift_ops::{Gaussian, InverseMultiquadric, Laplace, LogDistance};
use serde::{Deserialize, Serialize};

/// Architectures the backend is built for: Ampere (A100) and Hopper (H100/H200).
const ARCHS: [&str; 2] = ["sm_80", "sm_90"];
/// Dimensions: a line, the 3-D point clouds, and the 64-D features of the benchmark.
const DIMS: [usize; 3] = [1, 3, 64];

/// A user kernel with a mistake in its expression.
#[derive(Debug, Serialize, Deserialize)]
struct Broken;
#[typetag::serde(name = "test.ptx_broken")]
impl Kernel for Broken {
    fn log_weight_f64(&self, d: &mut [f64], _t: f64) {
        d.iter_mut().for_each(|v| *v = -*v)
    }
    fn cuda_log_weight(&self) -> Option<String> {
        Some("-d2 / undefined_name".into())
    }
}

fn nvrtc_or_skip(test: &str) -> bool {
    match nvrtc_available() {
        Ok(()) => true,
        Err(DriftError::NoDevice { reason }) => {
            if std::env::var("DRIFT_REQUIRE_NVRTC").is_ok_and(|v| v == "1") {
                panic!("{test}: DRIFT_REQUIRE_NVRTC=1 but {reason}");
            }
            eprintln!("{test}: skipped, {reason}");
            false
        }
        Err(e) => panic!("{test}: {e}"),
    }
}

#[test]
fn every_kernel_compiles_to_ptx_for_every_target_precision_and_dimension() {
    if !nvrtc_or_skip("ptx") {
        return;
    }
    let kernels: Vec<Box<dyn Kernel>> = vec![
        Box::new(Gaussian),
        Box::new(Laplace),
        Box::new(InverseMultiquadric { beta: 0.5 }),
        Box::new(InverseMultiquadric { beta: 1.5 }),
        Box::new(LogDistance),
        Box::new(Cauchy),
    ];
    let mut compiled = 0;
    for kernel in &kernels {
        for precision in [Precision::F32, Precision::F64] {
            for arch in ARCHS {
                for dim in DIMS {
                    let ptx =
                        compile_ptx(precision, dim, kernel.as_ref(), arch).unwrap_or_else(|e| {
                            panic!(
                                "{} {precision:?} {arch} dim {dim}: {e}",
                                kernel.typetag_name()
                            )
                        });
                    let entry = format!(".entry {}", entry_point(precision));
                    assert!(
                        ptx.contains(&entry),
                        "{} lacks {entry}",
                        kernel.typetag_name()
                    );
                    assert!(ptx.contains(&format!(".target {arch}")), "{arch}");
                    // The double-precision module computes in double (the single one must not:
                    // see the next test).
                    if precision == Precision::F64 {
                        assert!(ptx.contains(".f64"));
                    }
                    compiled += 1;
                }
            }
        }
    }
    eprintln!(
        "ptx: {compiled} modules compiled ({} kernels x 2 precisions x {ARCHS:?} x dims {DIMS:?})",
        kernels.len()
    );
}

#[test]
fn a_broken_expression_is_a_typed_error_carrying_the_compiler_log() {
    if !nvrtc_or_skip("ptx") {
        return;
    }
    let err = compile_ptx(Precision::F32, 3, &Broken, "sm_90").unwrap_err();
    assert!(matches!(err, DriftError::InvalidParameter { .. }), "{err}");
    assert!(err.to_string().contains("undefined_name"), "{err}");
}

#[test]
fn single_precision_modules_of_expressions_with_double_literals_have_no_double_instruction() {
    if !nvrtc_or_skip("ptx") {
        return;
    }
    // `-(5e-1) * log1p(d2 / tau)`, `-(1.5e0) * ...` and `0.5 * log(d2) - log(tau)`: unsuffixed
    // literals, which would promote the f32 expression to double without the rewriting.
    let kernels: Vec<Box<dyn Kernel>> = vec![
        Box::new(InverseMultiquadric { beta: 0.5 }),
        Box::new(InverseMultiquadric { beta: 1.0 }),
        Box::new(InverseMultiquadric { beta: 1.5 }),
        Box::new(LogDistance),
        Box::new(Cauchy),
    ];
    for kernel in &kernels {
        let name = kernel.typetag_name();
        for arch in ARCHS {
            for dim in DIMS {
                let ptx = compile_ptx(Precision::F32, dim, kernel.as_ref(), arch).unwrap();
                let doubles: Vec<&str> = ptx.lines().filter(|l| l.contains(".f64")).collect();
                assert!(
                    doubles.is_empty(),
                    "{name} f32 {arch} dim {dim}: double instructions {doubles:?}"
                );
                let ptx = compile_ptx(Precision::F64, dim, kernel.as_ref(), arch).unwrap();
                assert!(ptx.contains(".f64"), "{name} f64 {arch} dim {dim}");
            }
        }
    }
}

#[test]
fn the_single_precision_gaussian_module_stays_in_single_precision() {
    if !nvrtc_or_skip("ptx") {
        return;
    }
    // -d2 / tau has no double literal: the whole f32 reduction is f32 arithmetic.
    let ptx = compile_ptx(Precision::F32, 3, &Gaussian, "sm_90").unwrap();
    assert!(
        !ptx.contains("cvt.f64.f32"),
        "f32 module converts to double"
    );
}

/// Compiles a module of stages for every target and precision; checks its target, its entry
/// points, and that its PTX contains each of `instructions`.
fn check_stages(
    what: &str,
    compile: fn(Precision, &str) -> drift_api::Result<String>,
    stages: &[&str],
    instructions: &[&str],
) {
    for precision in [Precision::F32, Precision::F64] {
        for arch in ARCHS {
            let ptx = compile(precision, arch)
                .unwrap_or_else(|e| panic!("{what} {precision:?} {arch}: {e}"));
            assert!(ptx.contains(&format!(".target {arch}")), "{arch}");
            for stage in stages {
                let entry = format!(".entry {}", stage_entry(stage, precision));
                assert!(
                    ptx.contains(&entry),
                    "{what} {precision:?} {arch} lacks {entry}"
                );
            }
            for instruction in instructions {
                let found = ptx.contains(instruction);
                assert!(found, "{what} {precision:?} {arch} lacks {instruction}");
            }
        }
    }
}

#[test]
fn the_sinkhorn_scaling_updates_compile_for_every_target_and_precision() {
    if nvrtc_or_skip("ptx") {
        // The error is summed in double with one atomic add per warp.
        let sums = ["atom.global.add.f64", "shfl.sync.down"];
        check_stages("scaling", compile_scaling_ptx, &SCALING_STAGES, &sums);
    }
}

#[test]
fn the_sliced_wasserstein_stages_compile_for_every_target_and_precision() {
    if nvrtc_or_skip("ptx") {
        check_stages("sliced", compile_sliced_ptx, &SLICED_STAGES, &[]);
    }
}

#[test]
fn the_official_loss_passes_compile_for_every_target_and_precision() {
    if nvrtc_or_skip("ptx") {
        check_stages(
            "official",
            compile_official_ptx,
            &OFFICIAL_STAGES,
            &["shfl.sync"],
        );
    }
}

#[test]
fn the_tensor_core_variants_compile_to_mma_instructions() {
    use drift_gpu::{compile_ptx_with, TensorCores};
    if !nvrtc_or_skip("ptx") {
        return;
    }
    for tc in [TensorCores::Tf32, TensorCores::Split3] {
        for arch in ARCHS {
            for dim in [64, 256] {
                let ptx = compile_ptx_with(Precision::F32, dim, &Gaussian, arch, tc)
                    .unwrap_or_else(|e| panic!("{tc:?} {arch} dim {dim}: {e}"));
                let mmas = ptx.matches("mma.sync").count();
                assert!(mmas > 0, "{tc:?} {arch} dim {dim}: no mma instruction");
                assert!(
                    ptx.contains("cvt.rna.tf32.f32"),
                    "{tc:?} {arch}: no TF32 rounding"
                );
            }
        }
    }
    // Where the path does not apply (f64, D = 3) the exact source is compiled.
    let ptx = compile_ptx_with(Precision::F32, 3, &Gaussian, "sm_90", TensorCores::Split3).unwrap();
    assert!(!ptx.contains("mma.sync"));
}
