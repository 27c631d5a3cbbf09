//! Criterion benchmarks of the two paths a Sinkhorn pass can take on the CPU backend: fused
//! (distances recomputed in every pass, memory `O((N + M)·D)`) and cached (the `N × M` squared
//! distances computed once, then read by every pass), and what the choice does to a whole
//! 20-iteration Sinkhorn drift.
//!
//! Benchmarks, for `N = M ∈ {1024, 4096}`, `D ∈ {2, 64}`, f32 and f64:
//!
//! - `pair_pass/<fused|cached>/<row|col>/<f32|f64>/n<N>_d<D>`: one potential-weighted
//!   log-sum-exp pass (Gaussian kernel), rows or columns; the cached one excludes the fill;
//! - `pair_fill/<f32|f64>/n<N>_d<D>`: computing the cached matrix once, also at
//!   `D ∈ {16, 256, 1024}` (the matrix-product form from `D = 16` on);
//! - `sinkhorn_drift_20/<fused|cached>/<f32|f64>/n<N>_d<D>`: the Sinkhorn drift with exactly 20
//!   iterations (tolerance 0) per term, fill included, with the process-wide budget set to 0
//!   (fused) or 1 GiB (cached).
//!
//! - `tile_skip/<on|off>/<row_pass|sinkhorn_drift_2>/f32/n16384_d2`: the fused path with and
//!   without tile skipping (`drift_ops::tile_skip`) on the large 2-D problem of the `memory_100k`
//!   example at `N = M = 16384` (a wide blob against the 8-Gaussians ring, `τ = 0.1`): one row
//!   pass, and the Sinkhorn drift with 2 iterations.
//!
//! "elem/s" is pairs per second (`N·M` per pass; `2·N·M` per iteration-free evaluation for the
//! drift, like the `operators` bench, so its rate counts evaluations, not inner-loop pairs).
//! The crossover between the paths is where `pair_fill` stops paying for itself:
//! `fill < passes × (fused − cached)`; `docs/PERFORMANCE.md` reads it off these numbers.
//!
//! ```text
//! cargo bench -p drift-ops --bench pair_paths -- 'pair_pass/.*/f32/n4096'
//! ```

use criterion::measurement::WallTime;
use criterion::{criterion_main, BenchmarkGroup, BenchmarkId, Criterion, SamplingMode, Throughput};
use drift_api::kit::{FusedPairs, PairSet, PreparedPairs};
use drift_api::{operator_from_str, PointCloud, Real};
use drift_ops::cached::CachedPairs;
use drift_ops::{pair_cache, CpuBackend, Gaussian};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use std::hint::black_box;
use std::time::Duration;

/// Seeded standard-normal-ish points (sum of uniforms), shifted by `offset`.
fn cloud<T: Real>(seed: u64, n: usize, d: usize, offset: f64) -> PointCloud<T> {
    let mut r = StdRng::seed_from_u64(seed);
    let data = (0..n * d)
        .map(|_| T::of((0..4).map(|_| r.gen::<f64>() - 0.5).sum::<f64>() * 1.7 + offset))
        .collect();
    PointCloud::new("points", data, d).unwrap()
}

/// A group with the settings of every benchmark here: flat sampling, 10 samples, 0.3 s of warm-up,
/// `seconds` of measurement, `pairs` elements per iteration.
fn configured<'c>(
    c: &'c mut Criterion,
    name: &str,
    seconds: u64,
    pairs: u64,
) -> BenchmarkGroup<'c, WallTime> {
    let mut group = c.benchmark_group(name);
    group
        .sampling_mode(SamplingMode::Flat)
        .sample_size(10)
        .warm_up_time(Duration::from_millis(300))
        .measurement_time(Duration::from_secs(seconds))
        .throughput(Throughput::Elements(pairs));
    group
}

fn precision_name<T: Real>() -> &'static str {
    if std::mem::size_of::<T>() == 4 {
        "f32"
    } else {
        "f64"
    }
}

fn passes<T: Real>(c: &mut Criterion) {
    let p = precision_name::<T>();
    for n in [1024, 4096] {
        for d in [2, 64] {
            let (x, y) = (cloud::<T>(1, n, d, 0.0), cloud::<T>(2, n, d, 0.5));
            let set = PairSet {
                rows: &x,
                cols: &y,
                kernel: &Gaussian,
                mask_diagonal: false,
            };
            let tau = T::of(d as f64 / 2.0);
            let pot: Vec<T> = (0..n).map(|j| T::of(-0.001 * j as f64)).collect();
            let cached = CachedPairs::new(set).unwrap();
            let fused = FusedPairs::new(&CpuBackend, set);
            let mut group = configured(c, "pair_pass", 2, (n * n) as u64);
            let mut out = vec![T::zero(); n];
            for (name, pairs) in [
                ("cached", &cached as &dyn PreparedPairs<T>),
                ("fused", &fused),
            ] {
                let id = format!("{name}/row/{p}/n{n}_d{d}");
                group.bench_function(BenchmarkId::from_parameter(id), |b| {
                    b.iter(|| pairs.row_lse(tau, Some(&pot), black_box(&mut out)).unwrap())
                });
                let id = format!("{name}/col/{p}/n{n}_d{d}");
                group.bench_function(BenchmarkId::from_parameter(id), |b| {
                    b.iter(|| pairs.col_lse(tau, Some(&pot), black_box(&mut out)).unwrap())
                });
            }
            group.finish();
        }
    }
}

/// The fill at the dimensions of both distance forms: direct below `GRAM_MIN_DIM` (16), a matrix
/// product from there on.
fn fills<T: Real>(c: &mut Criterion) {
    let p = precision_name::<T>();
    for n in [1024, 4096] {
        for d in [2, 16, 64, 256, 1024] {
            let (x, y) = (cloud::<T>(1, n, d, 0.0), cloud::<T>(2, n, d, 0.5));
            let set = PairSet {
                rows: &x,
                cols: &y,
                kernel: &Gaussian,
                mask_diagonal: false,
            };
            let mut group = configured(c, "pair_fill", 2, (n * n) as u64);
            group.bench_function(BenchmarkId::from_parameter(format!("{p}/n{n}_d{d}")), |b| {
                b.iter(|| black_box(CachedPairs::new(set).unwrap()))
            });
            group.finish();
        }
    }
}

fn sinkhorn_drift<T: Real>(c: &mut Criterion) {
    let p = precision_name::<T>();
    let before = pair_cache::budget();
    for n in [1024, 4096] {
        for d in [2, 64] {
            let (x, y) = (cloud::<T>(1, n, d, 0.0), cloud::<T>(2, n, d, 0.5));
            let ron = format!(
                "{{\"sinkhorn_drift\": (temperature: {}, kernel: {{\"gaussian\": ()}}, sinkhorn: (max_iters: 20, tol: 0.0))}}",
                d as f64 / 2.0
            );
            let op = operator_from_str(&ron, "bench").unwrap();
            let mut group = configured(c, "sinkhorn_drift_20", 3, (2 * n * n) as u64);
            for (name, budget) in [("fused", 0), ("cached", 1 << 30)] {
                pair_cache::set_pair_cache_budget(budget);
                let id = format!("{name}/{p}/n{n}_d{d}");
                group.bench_function(BenchmarkId::from_parameter(id), |b| {
                    b.iter(|| black_box(drift_ops::drift(op.as_ref(), &x, &y).unwrap()))
                });
            }
            group.finish();
        }
    }
    pair_cache::set_pair_cache_budget(before);
}

/// The 8-Gaussians ring (radius 2, standard deviation 0.08) in 2-D.
fn ring<T: Real>(seed: u64, n: usize) -> PointCloud<T> {
    let mut r = StdRng::seed_from_u64(seed);
    let mut normal = || (0..12).map(|_| r.gen::<f64>()).sum::<f64>() - 6.0;
    let data = (0..n)
        .flat_map(|i| {
            let angle = (i % 8) as f64 * std::f64::consts::FRAC_PI_4;
            [
                2.0 * angle.cos() + 0.08 * normal(),
                2.0 * angle.sin() + 0.08 * normal(),
            ]
        })
        .map(T::of)
        .collect();
    PointCloud::new("ring", data, 2).unwrap()
}

fn tile_skipping(c: &mut Criterion) {
    let n = 16384;
    let (x, y) = (cloud::<f32>(1, n, 2, 0.0), ring::<f32>(2, n));
    let set = PairSet {
        rows: &x,
        cols: &y,
        kernel: &Gaussian,
        mask_diagonal: false,
    };
    let fused = FusedPairs::new(&CpuBackend, set);
    let pot = vec![0.0f32; n];
    let mut out = vec![0.0f32; n];
    let ron = "{\"sinkhorn_drift\": (temperature: 0.1, kernel: {\"gaussian\": ()}, sinkhorn: (max_iters: 2, tol: 0.0))}";
    let op = operator_from_str(ron, "bench").unwrap();
    let before = pair_cache::budget();
    pair_cache::set_pair_cache_budget(0);
    let mut group = configured(c, "tile_skip", 3, (n * n) as u64);
    for (name, on) in [("on", true), ("off", false)] {
        drift_ops::tile_skip::set_enabled(on);
        let id = format!("{name}/row_pass/f32/n{n}_d2");
        group.bench_function(BenchmarkId::from_parameter(id), |b| {
            b.iter(|| fused.row_lse(0.1, Some(&pot), black_box(&mut out)).unwrap())
        });
        let id = format!("{name}/sinkhorn_drift_2/f32/n{n}_d2");
        group.bench_function(BenchmarkId::from_parameter(id), |b| {
            b.iter(|| black_box(drift_ops::drift(op.as_ref(), &x, &y).unwrap()))
        });
    }
    group.finish();
    drift_ops::tile_skip::set_enabled(true);
    pair_cache::set_pair_cache_budget(before);
}

fn all(c: &mut Criterion) {
    tile_skipping(c);
    passes::<f32>(c);
    passes::<f64>(c);
    fills::<f32>(c);
    fills::<f64>(c);
    sinkhorn_drift::<f32>(c);
    sinkhorn_drift::<f64>(c);
}

/// The benchmark group, in a module because `criterion_group!` generates an undocumented `pub fn`.
mod group {
    #![allow(missing_docs)]
    criterion::criterion_group!(benches, super::all);
}
criterion_main!(group::benches);
