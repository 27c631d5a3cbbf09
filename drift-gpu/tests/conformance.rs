//! One conformance suite, two backends: the CPU backend always (so the suite itself runs in every
//! CI), the CUDA backend where a device exists. Without one the CUDA half says it skipped; with
//! `DRIFT_REQUIRE_GPU=1` a missing device fails it. The suite itself is `drift_ops::conformance`
//! (feature `conformance`), which any backend's tests can run.

use drift_ops::conformance as common;

use drift_api::kit::{reduce, Backend, Displacement, RowReduction};
use drift_api::{DriftError, PointCloud};
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
    assert_none(common::run_sliced_suite(backend));
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
fn cuda_backend_official_batches_match_the_cpu_stages() {
    if let Some(gpu) = cuda_or_skip("official") {
        assert_none(common::run_official_suite(&gpu));
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
            .contains("kernel conformance.cpu_only is not supported on the CUDA backend"),
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

/// A drift evaluation uploads each of its point sets once, whatever its number of reductions:
/// the Sinkhorn iterations and displacement passes, the sub-operators of a composition and the
/// guidance negatives all read the evaluation's resident copies. The fields match the CPU's.
#[test]
fn cuda_backend_uploads_each_point_set_once_per_evaluation() {
    use drift_api::{operator_from_str, Context, Negatives};
    let Some(gpu) = cuda_or_skip("cuda_backend_uploads_each_point_set_once_per_evaluation") else {
        return;
    };
    let cloud = |name: &str, seed: u64, n: usize| {
        let v = common::uniform(seed, n * 3)
            .iter()
            .map(|v| *v as f32)
            .collect();
        PointCloud::new(name, v, 3).unwrap()
    };
    let (x, y, u) = (cloud("x", 21, 300), cloud("y", 22, 280), cloud("u", 23, 40));
    let specs = [
        r#"{"sinkhorn_drift": (temperature: 0.05, sinkhorn: (max_iters: 20, tol: 0.0))}"#,
        r#"{"sinkhorn_divergence": (temperature: 0.05)}"#,
        r#"{"guidance": (operator: {"weighted": (terms: [(weight: 1.0, operator: {"deng_alg2": (temperature: 0.05)}), (weight: 0.5, operator: {"sinkhorn_proxy": (temperature: 0.1)})])}, alpha: 2.0)}"#,
    ];
    for spec in specs {
        let op = operator_from_str(spec, "uploads.ron").unwrap();
        let run = |backend: &dyn Backend| {
            let mut out = vec![0f32; 300 * 3];
            let negatives = Some(Negatives::new(&u, 0.5));
            drift_api::apply_drift(
                op.as_ref(),
                drift_api::DriftProblem::new(backend, &x, &y, &Context::default(), &mut out)
                    .with_negatives(negatives),
            )
            .unwrap_or_else(|e| panic!("{spec}: {e}"));
            out.iter().map(|v| *v as f64).collect::<Vec<_>>()
        };
        let before = gpu.point_uploads();
        let on_gpu = run(&gpu);
        assert_eq!(
            gpu.point_uploads() - before,
            3,
            "{spec}: x, y and the negatives, once each"
        );
        let on_cpu = run(&drift_ops::CpuBackend);
        common::compare_field(spec, &on_gpu, &on_cpu, 1e-3).unwrap();
    }
}

/// The Sinkhorn loop run on the device (`PreparedPairs::scaling_loop` over device pair sets: one
/// block, two blocks, the symmetric problem) gives the host loop's potentials, error and
/// iteration count, over the same device passes.
#[test]
fn cuda_scaling_loop_matches_the_host_loop() {
    use drift_api::kit::scaling::scaling_loop_on_host;
    use drift_api::kit::{prepare_pairs, PairSet, PreparedPairs, ScalingLoop};
    use drift_api::Real;
    let Some(gpu) = cuda_or_skip("cuda_scaling_loop_matches_the_host_loop") else {
        return;
    };
    fn check<T: Real>(gpu: &CudaBackend, symmetric: bool, blocks: usize, cap: usize, tol: f64) {
        let (n, dim) = (700, 3);
        let pts = |seed, len| {
            let v = common::uniform(seed, len * dim)
                .iter()
                .map(|v| T::of(*v))
                .collect();
            PointCloud::new("p", v, dim).unwrap()
        };
        let x = pts(31, n);
        let cols: Vec<PointCloud<T>> = match symmetric {
            true => vec![pts(31, n)],
            false => (0..blocks)
                .map(|b| pts(40 + b as u64, 530 - 300 * b))
                .collect(),
        };
        let prepared: Vec<_> = cols
            .iter()
            .map(|c| {
                let cols = if symmetric { &x } else { c };
                let set = PairSet {
                    rows: &x,
                    cols,
                    kernel: &drift_ops::Gaussian,
                    mask_diagonal: symmetric,
                };
                prepare_pairs(gpu, set).unwrap()
            })
            .collect();
        let refs: Vec<&dyn PreparedPairs<T>> = prepared.iter().map(|p| p.as_ref()).collect();
        // Normalised weights; with two blocks the columns share the mass (0.7, 0.3).
        let log_w = |len: usize, seed, share: f64| -> Vec<T> {
            let raw = common::uniform(seed, len);
            let total: f64 = raw.iter().map(|v| v + 0.5).sum();
            raw.iter()
                .map(|v| T::of(((v + 0.5) / total * share).ln()))
                .collect()
        };
        let log_a = log_w(n, 33, 1.0);
        let shares = if blocks == 2 { [0.7, 0.3] } else { [1.0, 0.0] };
        let log_b: Vec<Vec<T>> = match symmetric {
            true => vec![log_a.clone()],
            false => cols
                .iter()
                .enumerate()
                .map(|(b, c)| log_w(c.len(), 34 + b as u64, shares[b]))
                .collect(),
        };
        let l = || ScalingLoop {
            tau: T::of(0.05),
            row_log_weights: &log_a,
            col_log_weights: log_b.iter().map(|v| v.as_slice()).collect(),
            symmetric,
            start: log_b.clone(),
            counted: 1,
            cap,
            tol,
        };
        let device = refs[0].scaling_loop(&refs, l()).unwrap();
        let host = scaling_loop_on_host(&refs, l()).unwrap();
        let what = format!(
            "{:?} symmetric {symmetric} blocks {blocks} cap {cap} tol {tol}",
            T::PRECISION
        );
        let w = |v: &[T]| v.iter().map(|a| a.as_f64()).collect::<Vec<_>>();
        let tol_field = common::tolerance::<T>();
        common::compare_lse(&what, &w(&device.f), &w(&host.f), tol_field).unwrap();
        for (d, h) in device.g.iter().zip(&host.g) {
            common::compare_lse(&what, &w(d), &w(h), tol_field).unwrap();
        }
        assert!(
            (device.error - host.error).abs() <= tol_field * host.error.max(1e-3),
            "{what}: error {} vs {}",
            device.error,
            host.error
        );
        if tol == 0.0 {
            assert_eq!(device.iterations, host.iterations, "{what}");
        }
    }
    for (symmetric, blocks) in [(false, 1), (false, 2), (true, 1)] {
        for (cap, tol) in [(20, 0.0), (500, 1e-3)] {
            check::<f32>(&gpu, symmetric, blocks, cap, tol);
            check::<f64>(&gpu, symmetric, blocks, cap, tol);
        }
    }
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
