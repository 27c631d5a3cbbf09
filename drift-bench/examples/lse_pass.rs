//! One linear-memory log-sum-exp pass, timed: `lse_i = LSE_j (log b_j − ‖x_i − y_j‖² / τ)` with the
//! Gaussian kernel and uniform `b`, through `drift_api::kit::reduce` on `drift_ops::CpuBackend` (the fused
//! row reduction every operator is built from; no `N × M` buffer). The side-by-side scripts compare
//! it with KeOps' online `logsumexp`.
//!
//! ```text
//! cargo run --release -p drift-bench --example lse_pass -- X.npy Y.npy TAU [K] [OUT.npy]
//! ```
//! `X.npy` `(N, D)` and `Y.npy` `(M, D)` in float32 or float64 (the pass runs in the precision of
//! `X`; `Y` is converted to it), `K` timed passes (default 10) after one untimed warm-up pass, and
//! the `lse` of the last pass written to `OUT.npy` as an `(N,)` array. Prints one line
//! `lse pass: N x M, D, f32, K passes, median S s, min S s, G pairs/s`. Threads: rayon's
//! (`RAYON_NUM_THREADS`). Every pair is computed (tile skipping, `drift_ops::tile_skip`, is
//! turned off), so the rate is pairs computed per second, comparable with the roofline.

use anyhow::{bail, Context as _, Result};
use drift_api::kit::{reduce, Displacement, RowReduction};
use drift_api::{PointCloud, Precision, Real};
use drift_bench::array::{Array, Shape, Values};
use drift_bench::{csv, point_files};
use drift_ops::{CpuBackend, Gaussian};
use std::path::PathBuf;
use std::time::Instant;

fn main() -> Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if args.len() < 3 || args.len() > 5 {
        bail!("usage: lse_pass X.npy Y.npy TAU [K] [OUT.npy]");
    }
    let (xp, yp) = (PathBuf::from(&args[0]), PathBuf::from(&args[1]));
    let tau: f64 = args[2]
        .parse()
        .with_context(|| format!("TAU must be a number, got {:?}", args[2]))?;
    if !(tau.is_finite() && tau > 0.0) {
        bail!("TAU must be finite and > 0, got {tau}");
    }
    let k: usize = match args.get(3) {
        Some(s) => s
            .parse()
            .with_context(|| format!("K must be a count, got {s:?}"))?,
        None => 10,
    };
    if k == 0 {
        bail!("K must be at least 1");
    }
    let out = args.get(4).map(PathBuf::from);
    drift_ops::tile_skip::set_enabled(false);
    let x = point_files::read_array("X", &xp, csv::Header::Detect)?;
    let y = point_files::read_array("Y", &yp, csv::Header::Detect)?;
    let (lse, line) = match x.values().precision() {
        Precision::F32 => pass::<f32>(&x, &y, &xp, &yp, tau, k)?,
        Precision::F64 => pass::<f64>(&x, &y, &xp, &yp, tau, k)?,
    };
    println!("{line}");
    if let Some(path) = out {
        point_files::write_array("OUT", &path, &lse)?;
    }
    Ok(())
}

/// Runs the warm-up and the `k` timed passes in precision `T`; returns the last `lse` and the line
/// to print.
fn pass<T: Real>(
    x: &Array,
    y: &Array,
    xp: &std::path::Path,
    yp: &std::path::Path,
    tau: f64,
    k: usize,
) -> Result<(Array, String)> {
    let rows: PointCloud<T> = point_files::points("X", xp, x)?;
    let cols: PointCloud<T> = point_files::points("Y", yp, y)?;
    rows.check_same_dim(&cols)?;
    let g = cols.log_weights();
    let mut lse = vec![T::zero(); rows.len()];
    let run = |lse: &mut [T]| {
        reduce(
            &CpuBackend,
            RowReduction {
                rows: &rows,
                cols: &cols,
                kernel: &Gaussian,
                tau: T::of(tau),
                col_potential: Some(&g),
                mask_diagonal: false,
                displacement: Displacement::None,
                origin: None,
                lse,
                disp: None,
            },
        )
    };
    // The first pass pays for page faults and the thread pool's start: not timed, like the
    // peers' compilation.
    run(&mut lse)?;
    let mut times = Vec::with_capacity(k);
    for _ in 0..k {
        let clock = Instant::now();
        run(&mut lse)?;
        times.push(clock.elapsed().as_secs_f64());
    }
    times.sort_by(f64::total_cmp);
    let median = if k % 2 == 1 {
        times[k / 2]
    } else {
        0.5 * (times[k / 2 - 1] + times[k / 2])
    };
    let pairs = rows.len() as f64 * cols.len() as f64;
    let line = format!(
        "lse pass: {} x {}, D {}, {}, {k} passes, median {median:.6} s, min {:.6} s, {:.3} G pairs/s",
        rows.len(),
        cols.len(),
        rows.dim(),
        match T::PRECISION {
            Precision::F32 => "f32",
            Precision::F64 => "f64",
        },
        times[0],
        pairs / median / 1e9
    );
    let values = Values::from_real(&lse);
    Ok((Array::new(Shape::Vector(lse.len()), values)?, line))
}
