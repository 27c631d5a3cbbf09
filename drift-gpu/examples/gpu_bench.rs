//! The drift side of the GPU benchmark (`bench/gpu_bench.py` runs it next to PyTorch).
//!
//! ```text
//! gpu_bench <case> <n> <m> <dim> <repeats> [cpu|cuda]
//! ```
//!
//! Cases: `reduction` (one fused row pass with mean displacements, Gaussian), `deng_alg2`,
//! `one_sided`, `sinkhorn_drift` (20 Sinkhorn iterations, no early stop) and
//! `sinkhorn_divergence` (20 iterations), each built from its RON text, and `official`: the
//! official loss (`deng_official`) on a batch of `n` problems of 64 generated samples against 16
//! negatives and `m` positives (the training workload; one batched call). Points are f32, uniform
//! in the unit cube (X) and shifted by 0.1 (Y), temperature 0.1 · D. Prints one JSON line: the
//! case, sizes, the backend and device, the median and minimum seconds over `repeats` timed runs
//! after one warm-up (which also compiles the CUDA modules).

use drift_api::batch::{apply_drift_batch, BatchProblem};
use drift_api::kit::{reduce, Backend, BatchSets, Displacement, ProblemBatch, RowReduction};
use drift_api::{operator_from_str, Context, PointCloud};
use std::time::Instant;

fn cloud(name: &str, n: usize, dim: usize, shift: f32, seed: u64) -> PointCloud<f32> {
    let mut s = seed;
    let data = (0..n * dim)
        .map(|_| {
            s = s
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            ((s >> 40) as f32 / (1u64 << 24) as f32) + shift
        })
        .collect();
    PointCloud::new(name, data, dim).expect("points")
}

fn ron(case: &str, tau: f64) -> Option<String> {
    let sinkhorn = "sinkhorn: (max_iters: 20, tol: 0.0, epsilon_scaling: None, warm_start: false)";
    Some(match case {
        "deng_alg2" => format!(
            r#"{{"deng_alg2": (temperature: {tau}, kernel: {{"laplace": ()}}, mask_self: true)}}"#
        ),
        "one_sided" => format!(
            r#"{{"one_sided": (temperature: {tau}, kernel: {{"laplace": ()}}, mask_self: true)}}"#
        ),
        "sinkhorn_drift" => format!(
            r#"{{"sinkhorn_drift": (temperature: {tau}, kernel: {{"gaussian": ()}}, {sinkhorn})}}"#
        ),
        "sinkhorn_divergence" => {
            format!(r#"{{"sinkhorn_divergence": (temperature: {tau}, {sinkhorn})}}"#)
        }
        _ => return None,
    })
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let usage = "usage: gpu_bench <reduction|deng_alg2|one_sided|sinkhorn_drift|sinkhorn_divergence|official> <n> <m> <dim> <repeats> [cpu|cuda]";
    if args.len() < 5 {
        eprintln!("{usage}");
        std::process::exit(2);
    }
    let num = |i: usize| -> usize {
        args[i].parse().unwrap_or_else(|_| {
            eprintln!("{usage}");
            std::process::exit(2)
        })
    };
    let (case, n, m, dim, repeats) = (args[0].as_str(), num(1), num(2), num(3), num(4).max(1));
    let on_cuda = args.get(5).is_none_or(|b| b == "cuda");
    let gpu = on_cuda.then(|| {
        drift_gpu::CudaBackend::new().unwrap_or_else(|e| {
            eprintln!("gpu_bench: {e}");
            std::process::exit(1)
        })
    });
    let (backend, device): (&dyn Backend, String) = match &gpu {
        Some(gpu) => (gpu, gpu.device_name().to_string()),
        None => (&drift_ops::CpuBackend, "cpu".to_string()),
    };
    // Point sets copied to the device, per timed run (one per set and evaluation when resident).
    let uploads = || gpu.as_ref().map_or(0, |g| g.point_uploads());
    let context = Context::default();
    if case == "official" {
        // n problems: 64 generated samples, 16 negatives and m positives each.
        let (gen, neg) = (64, 16);
        let (x, y, z) = (
            cloud("x", n * gen, dim, 0.0, 1),
            cloud("y", n * m, dim, 0.1, 2),
            cloud("negatives", n * neg, dim, 0.05, 3),
        );
        let op = operator_from_str(r#"{"deng_official": ()}"#, "<gpu_bench>").expect("official");
        let batch = ProblemBatch::new(dense("x", &x, n, gen), dense("y", &y, n, m))
            .and_then(|b| b.with_negatives(dense("negatives", &z, n, neg)))
            .expect("batch");
        let mut out = vec![0f32; batch.field_len()];
        let run = || {
            apply_drift_batch(
                op.as_ref(),
                BatchProblem::new(backend, &batch, &context, &mut out),
            )
            .map(|_| ())
            .map_err(|e| e.to_string())
        };
        return report(
            case,
            (n, m, dim),
            repeats,
            (backend, &device),
            run,
            &uploads,
        );
    }
    let x = cloud("x", n, dim, 0.0, 1);
    let y = cloud("y", m, dim, 0.1, 2);
    let tau = 0.1 * dim as f64;
    let run: Box<dyn Fn() -> Result<(), String>> = if case == "reduction" {
        Box::new(|| {
            let (mut lse, mut disp) = (vec![0f32; n], vec![0f32; n * dim]);
            reduce(
                backend,
                RowReduction {
                    rows: &x,
                    cols: &y,
                    kernel: &drift_ops::Gaussian,
                    tau: tau as f32,
                    col_potential: None,
                    mask_diagonal: false,
                    displacement: Displacement::Mean,
                    origin: None,
                    lse: &mut lse,
                    disp: Some(&mut disp),
                },
            )
            .map_err(|e| e.to_string())
        })
    } else {
        let Some(text) = ron(case, tau) else {
            eprintln!("{usage}");
            std::process::exit(2);
        };
        let op = operator_from_str(&text, "<gpu_bench>").unwrap_or_else(|e| {
            eprintln!("gpu_bench: {e}");
            std::process::exit(1)
        });
        Box::new(move || {
            drift_ops::drift_with(backend, op.as_ref(), &x, &y, &context)
                .map(|_| ())
                .map_err(|e| e.to_string())
        })
    };
    report(
        case,
        (n, m, dim),
        repeats,
        (backend, &device),
        run,
        &uploads,
    );
}

/// `problems` sets of `points` points each, from `cloud`.
fn dense<'a>(
    what: &str,
    cloud: &'a PointCloud<f32>,
    problems: usize,
    points: usize,
) -> BatchSets<'a, f32> {
    BatchSets::dense(what, cloud.data(), problems, points, cloud.dim()).expect("batch sets")
}

/// Runs `run` once to warm up (compiling the CUDA modules), then `repeats` timed runs, and prints
/// the JSON line.
fn report(
    case: &str,
    (n, m, dim): (usize, usize, usize),
    repeats: usize,
    (backend, device): (&dyn Backend, &str),
    mut run: impl FnMut() -> Result<(), String>,
    uploads: &dyn Fn() -> usize,
) {
    if let Err(e) = run() {
        eprintln!("gpu_bench: {case}: {e}");
        std::process::exit(1);
    }
    let uploads_before = uploads();
    let mut times: Vec<f64> = (0..repeats)
        .map(|_| {
            let t = Instant::now();
            run().unwrap_or_else(|e| {
                eprintln!("gpu_bench: {case}: {e}");
                std::process::exit(1)
            });
            t.elapsed().as_secs_f64()
        })
        .collect();
    let uploads_per_run = (uploads() - uploads_before) as f64 / repeats as f64;
    times.sort_by(f64::total_cmp);
    println!(
        "{{\"case\": \"{case}\", \"n\": {n}, \"m\": {m}, \"dim\": {dim}, \"backend\": \"{}\", \"device\": \"{device}\", \"median_s\": {:e}, \"min_s\": {:e}, \"repeats\": {repeats}, \"uploads_per_run\": {uploads_per_run}}}",
        backend.name(),
        times[times.len() / 2],
        times[0]
    );
}
