//! Peak memory of a Sinkhorn drift on `N = M = 100 000` points in 2-D (f32, Gaussian kernel).
//!
//! The dense `N × M` plan would need `4·N·M` bytes (40 GB at 100 000); the streamed reductions of
//! `drift-ops` need `O((N + M)·D)`. The example runs one `SinkhornDrift` evaluation with a small
//! iteration cap (so it completes in well under a minute on two cores), prints the time, the share
//! of pairs the fused passes skipped (`drift_ops::tile_skip`), the report and the peak
//! resident set size (`VmHWM` of `/proc/self/status`), and exits non-zero if the peak reaches 300 MB.
//!
//! ```text
//! cargo run --release -p drift-bench --example memory_100k [N] [MAX_ITERS]
//! ```
//! (defaults: `N = 100000`, `MAX_ITERS = 2`; try `10000` first: the time grows as `N²`.)

use anyhow::{bail, Context as _, Result};
use drift_api::PointCloud;
use drift_bench::{gaussian_blob, GaussianMixture};
use drift_ops::{Sinkhorn, SinkhornDrift};
use std::time::Instant;

/// Peak RSS allowed, in MB.
const LIMIT_MB: f64 = 300.0;
/// Temperature of the Gaussian kernel.
const TAU: f64 = 0.1;

fn main() -> Result<()> {
    let mut args = std::env::args().skip(1);
    let n: usize = match args.next() {
        Some(s) => s
            .parse()
            .with_context(|| format!("N must be a count, got {s:?}"))?,
        None => 100_000,
    };
    let max_iters: usize = match args.next() {
        Some(s) => s
            .parse()
            .with_context(|| format!("MAX_ITERS must be a count, got {s:?}"))?,
        None => 2,
    };
    let dim = 2;
    let to_f32 = |v: Vec<f64>| v.into_iter().map(|c| c as f32).collect::<Vec<f32>>();
    // X: one wide Gaussian blob; Y: the 8-Gaussians ring.
    let x = PointCloud::new("x", to_f32(gaussian_blob(n, &[0.0, 0.0], 1.0, 1)), dim)?;
    let y = PointCloud::new(
        "y",
        to_f32(GaussianMixture::eight_gaussians().sample(n, 2)),
        dim,
    )?;
    let before = peak_rss_mb();
    println!(
        "SinkhornDrift, Gaussian kernel, tau = {TAU}, f32, N = M = {n}, D = {dim}, \
         Sinkhorn::new({max_iters}, 0.0) (fixed iteration count); peak RSS before the drift: {}",
        fmt_mb(before)
    );

    let op = SinkhornDrift {
        sinkhorn: Sinkhorn::new(max_iters, 0.0),
        ..SinkhornDrift::new(TAU)
    };
    let start = Instant::now();
    let (v, report) = drift_ops::drift(&op, &x, &y)?;
    let elapsed = start.elapsed().as_secs_f64();
    let skips = drift_ops::tile_skip::counts();

    println!(
        "time: {elapsed:.1} s; tiles skipped: {:.1} % of the passes' pairs",
        100.0 * skips.fraction()
    );
    for c in &report.couplings {
        println!(
            "  coupling {}: {} iterations, marginal error {}, converged {}",
            c.coupling,
            c.iterations,
            c.marginal_error
                .map_or("-".to_string(), |e| format!("{e:.3e}")),
            c.converged
        );
    }
    println!(
        "report: operator {}, total iterations {}, max marginal error {}, drift norm {:.4}",
        report.operator,
        report.total_iterations(),
        report
            .max_marginal_error()
            .map_or("-".to_string(), |e| format!("{e:.3e}")),
        report.drift_norm
    );
    let finite = v.iter().all(|c| c.is_finite());
    let peak = peak_rss_mb();
    let dense_gb = 4.0 * n as f64 * n as f64 / 1e9;
    println!(
        "peak RSS (VmHWM): {}; a dense {n} x {n} f32 matrix would need {dense_gb:.1} GB; \
         field finite: {finite}",
        fmt_mb(peak)
    );
    if !finite {
        bail!("the drift field has non-finite entries");
    }
    match peak {
        Some(mb) if mb >= LIMIT_MB => bail!("peak RSS {mb:.1} MB >= {LIMIT_MB} MB"),
        Some(_) => println!("OK: peak RSS below {LIMIT_MB} MB"),
        None => println!("(VmHWM unavailable on this platform: limit not checked)"),
    }
    Ok(())
}

/// `VmHWM` (peak resident set size) of this process in MB, from `/proc/self/status` (Linux only).
fn peak_rss_mb() -> Option<f64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    let kb: f64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kb / 1024.0)
}

fn fmt_mb(mb: Option<f64>) -> String {
    mb.map_or("unavailable".to_string(), |v| format!("{v:.1} MB"))
}
