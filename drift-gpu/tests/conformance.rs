//! One conformance suite, two backends: the CPU backend always (so the suite itself runs in every
//! CI), the CUDA backend where a device exists. Without one the CUDA half says it skipped; with
//! `DRIFT_REQUIRE_GPU=1` a missing device fails it.

mod common;

use drift_api::{reduce, Backend, Displacement, DriftError, PointCloud, RowReduction};
use drift_gpu::{gpu_required, CudaBackend, REQUIRE_GPU_ENV};

fn cuda_or_skip(test: &str) -> Option<CudaBackend> {
    match CudaBackend::new() {
        Ok(b) => {
            eprintln!("{test}: running on {} ({})", b.device_name(), b.name());
            Some(b)
        }
        Err(DriftError::NoDevice { reason }) if !gpu_required() => {
            eprintln!("{test}: CUDA half SKIPPED: {reason}");
            None
        }
        Err(e) => panic!("{test}: {REQUIRE_GPU_ENV} is set but the CUDA backend failed: {e}"),
    }
}

/// Fails with every failure of a suite's run listed.
fn assert_none(failures: Vec<String>) {
    assert!(
        failures.is_empty(),
        "{} failures:\n{}",
        failures.len(),
        failures.join("\n")
    );
}

fn assert_passes(backend: &dyn Backend) {
    assert_none(common::run_suite(backend));
}

#[test]
fn cpu_backend_conforms() {
    let before = drift_ops::tile_skip::counts().skipped;
    assert_passes(&drift_ops::CpuBackend);
    // The large low-temperature cases ran the tile-skipping passes, and did skip.
    assert!(drift_ops::tile_skip::counts().skipped > before);
}

#[test]
fn cuda_backend_conforms() {
    if let Some(gpu) = cuda_or_skip("cuda_backend_conforms") {
        assert_passes(&gpu);
    }
}

fn assert_sliced_passes(backend: &dyn Backend) {
    assert_none(common::sliced::run_sliced_suite(backend));
}

#[test]
fn cpu_backend_sliced_wasserstein_conforms() {
    assert_sliced_passes(&drift_ops::CpuBackend);
}

#[test]
fn cuda_backend_sliced_wasserstein_conforms() {
    if let Some(gpu) = cuda_or_skip("cuda_backend_sliced_wasserstein_conforms") {
        assert_sliced_passes(&gpu);
    }
}

#[test]
fn cuda_backend_names_a_kernel_it_cannot_run() {
    let Some(gpu) = cuda_or_skip("cuda_backend_names_a_kernel_it_cannot_run") else {
        return;
    };
    let x = PointCloud::new("x", common::uniform(5, 6), 3).unwrap();
    let mut lse = vec![0.0; 2];
    let err = reduce(
        &gpu,
        RowReduction {
            rows: &x,
            cols: &x,
            kernel: &common::CpuOnly,
            tau: 1.0,
            col_potential: None,
            mask_diagonal: false,
            displacement: Displacement::None,
            origin: None,
            lse: &mut lse,
            disp: None,
        },
    )
    .unwrap_err();
    assert!(
        err.to_string()
            .contains("kernel test.cpu_only is not supported on the CUDA backend"),
        "{err}"
    );
}

#[test]
fn the_reference_is_right_on_a_hand_computed_case() {
    // Two points on a line, Gaussian at τ = 1, masked: each sees only the other at log-weight −1.
    let (lse, disp) = common::reference(
        &[0.0, 1.0],
        &[0.0, 1.0],
        1,
        &drift_ops::Gaussian,
        1.0,
        None,
        true,
        Displacement::Mean,
        None,
    );
    assert_eq!(lse, vec![-1.0, -1.0]);
    assert_eq!(disp, vec![1.0, -1.0]);
    // Unmasked: lse = log(1 + e^-1); the mean displacement is e^-1/(1 + e^-1) towards the other.
    let (lse, disp) = common::reference(
        &[0.0, 1.0],
        &[0.0, 1.0],
        1,
        &drift_ops::Gaussian,
        1.0,
        None,
        false,
        Displacement::Mean,
        None,
    );
    let e = (-1f64).exp();
    assert!((lse[0] - (1.0 + e).ln()).abs() < 1e-15);
    assert!((disp[0] - e / (1.0 + e)).abs() < 1e-15);
}

#[test]
fn cuda_tensor_core_paths_stay_within_their_documented_bounds() {
    use drift_gpu::TensorCores;
    let Some(gpu) = cuda_or_skip("cuda_tensor_core_paths_stay_within_their_documented_bounds")
    else {
        return;
    };
    let mut gpu = Some(gpu);
    for tc in [TensorCores::Split3, TensorCores::Tf32] {
        let backend = gpu.take().unwrap().with_tensor_cores(tc);
        for (dim, n, m) in [(64, 300, 700), (256, 150, 333)] {
            let x: Vec<f32> = common::uniform(7, n * dim)
                .iter()
                .map(|v| (v - 0.5) as f32)
                .collect();
            let y: Vec<f32> = common::uniform(8, m * dim)
                .iter()
                .map(|v| (v - 0.4) as f32)
                .collect();
            let (xs, ys) = (
                PointCloud::new("x", x.clone(), dim).unwrap(),
                PointCloud::new("y", y.clone(), dim).unwrap(),
            );
            let tau = dim as f32 / 6.0;
            let mut lse = vec![0f32; n];
            reduce(
                &backend,
                RowReduction {
                    rows: &xs,
                    cols: &ys,
                    kernel: &drift_ops::Gaussian,
                    tau,
                    col_potential: None,
                    mask_diagonal: false,
                    displacement: Displacement::None,
                    origin: None,
                    lse: &mut lse,
                    disp: None,
                },
            )
            .unwrap();
            let w = |v: &[f32]| v.iter().map(|a| *a as f64).collect::<Vec<_>>();
            let (want, _) = common::reference(
                &w(&x),
                &w(&y),
                dim,
                &drift_ops::Gaussian,
                tau as f64,
                None,
                false,
                Displacement::None,
                None,
            );
            // |Δℓ| ≤ bound · max(‖x‖² + ‖y‖²) / τ, plus the f32 tolerance.
            let norms = |v: &[f32]| {
                v.chunks(dim)
                    .map(|p| p.iter().map(|c| (*c as f64).powi(2)).sum::<f64>())
                    .fold(0f64, f64::max)
            };
            let allowed = tc.d2_bound() * (norms(&x) + norms(&y)) / tau as f64 + 1e-4 * 10.0;
            for (i, (a, b)) in lse.iter().zip(&want).enumerate() {
                assert!(
                    (*a as f64 - b).abs() <= allowed,
                    "{tc:?} D = {dim}: lse[{i}] = {a}, reference {b}, allowed {allowed:e}"
                );
            }
        }
        gpu = Some(backend);
    }
}
