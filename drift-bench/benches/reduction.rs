//! Criterion benchmarks of the CPU backend: the raw fused row reduction (throughput in pairs per
//! second) and one evaluation of each built-in drift operator.
//!
//! Groups (filter with `cargo bench -p drift-bench --bench reduction -- <regex>`):
//! - `row_reduction/{f32,f64}`: `drift_api::kit::reduce` on `CpuBackend`, Gaussian kernel, with a column
//!   potential, accumulating only `lse` (`lse`) or also the mean displacement (`mean`); throughput is
//!   `N·M` pairs per reduction, so criterion prints pairs/second as "elem/s".
//! - `drift/{f32,f64}`: `drift_ops::drift` for `one_sided`, `deng_alg2` (both Laplace, their paper's
//!   default), `sinkhorn_proxy` and `sinkhorn_drift` (both Gaussian; Sinkhorn with exactly 10
//!   iterations, tolerance 0). Times are per evaluation (each is several reductions).
//!
//! - `roofline`: the machine's ceilings the reduction is held against, on every rayon thread at
//!   once: `fma_f32` runs independent chains of f32 multiply-adds (8 lanes, AVX2+FMA; elem/s is
//!   flop/s, two per multiply-add), `exp_f32` and `exp_f64` the reduction's exponential
//!   (`drift_api::math::exp_nonpositive`) over tiles of 256 values (elem/s is exponentials/s).
//!
//! Every group uses flat sampling, 10 samples, 3 s of measurement: a whole run takes a few minutes
//! on two cores (the slow cases run their 10 iterations regardless and criterion warns about it).
//!
//! Sizes: `N = M ∈ {1024, 4096}`, `D ∈ {2, 64}`; the drift group runs only `one_sided` and
//! `deng_alg2` at `N = 4096, D = 64`.

use criterion::{
    criterion_group, criterion_main, BenchmarkId, Criterion, SamplingMode, Throughput,
};
use drift_api::kit::{reduce, Displacement, RowReduction};
use drift_api::{DriftOperator, PointCloud, Real};
use drift_bench::gaussian_blob;
use drift_ops::{CpuBackend, DengAlg2, Gaussian, OneSided, Sinkhorn, SinkhornDrift, SinkhornProxy};
use rayon::prelude::*;
use std::hint::black_box;
use std::time::Duration;

const SIZES: [usize; 2] = [1024, 4096];
const DIMS: [usize; 2] = [2, 64];

/// Two seeded clouds of `n` points in `dim` dimensions: `X ~ N(0, I)` and `Y ~ N(0.5·1, I)`.
fn clouds<T: Real>(n: usize, dim: usize) -> (PointCloud<T>, PointCloud<T>) {
    let cast = |v: Vec<f64>| v.into_iter().map(T::of).collect::<Vec<T>>();
    let x = gaussian_blob(n, &vec![0.0; dim], 1.0, 11);
    let y = gaussian_blob(n, &vec![0.5; dim], 1.0, 12);
    (
        PointCloud::new("x", cast(x), dim).expect("finite"),
        PointCloud::new("y", cast(y), dim).expect("finite"),
    )
}

/// A temperature of the order of the squared distances, so the kernel is neither flat nor a spike.
fn temperature(dim: usize) -> f64 {
    0.5 * dim as f64
}

fn bench_reduction<T: Real>(c: &mut Criterion, label: &str) {
    let mut group = c.benchmark_group(format!("row_reduction/{label}"));
    group.sampling_mode(SamplingMode::Flat);
    for &n in &SIZES {
        for &dim in &DIMS {
            let (x, y) = clouds::<T>(n, dim);
            let g: Vec<T> = y.log_weights();
            let tau = T::of(temperature(dim));
            let mut lse = vec![T::zero(); n];
            let mut disp = vec![T::zero(); n * dim];
            group.throughput(Throughput::Elements((n * n) as u64));
            for (mode, displacement) in [("lse", Displacement::None), ("mean", Displacement::Mean)]
            {
                let id = BenchmarkId::new(mode, format!("n{n}_d{dim}"));
                group.bench_function(id, |b| {
                    b.iter(|| {
                        reduce(
                            &CpuBackend,
                            RowReduction {
                                rows: &x,
                                cols: &y,
                                kernel: &Gaussian,
                                tau,
                                col_potential: Some(&g),
                                mask_diagonal: false,
                                displacement,
                                origin: None,
                                lse: &mut lse,
                                disp: (displacement != Displacement::None).then_some(&mut disp[..]),
                            },
                        )
                        .expect("reduction");
                        black_box(&lse);
                    })
                });
            }
        }
    }
    group.finish();
}

fn operators(tau: f64) -> Vec<(&'static str, Box<dyn DriftOperator>)> {
    vec![
        ("one_sided", Box::new(OneSided::new(tau))),
        ("deng_alg2", Box::new(DengAlg2::new(tau))),
        ("sinkhorn_proxy", Box::new(SinkhornProxy::new(tau))),
        (
            "sinkhorn_drift",
            Box::new(SinkhornDrift {
                sinkhorn: Sinkhorn::new(10, 0.0),
                ..SinkhornDrift::new(tau)
            }),
        ),
    ]
}

fn bench_drift<T: Real>(c: &mut Criterion, label: &str) {
    let mut group = c.benchmark_group(format!("drift/{label}"));
    group.sampling_mode(SamplingMode::Flat);
    for &n in &SIZES {
        for &dim in &DIMS {
            let (x, y) = clouds::<T>(n, dim);
            for (name, op) in operators(temperature(dim)) {
                if n == 4096 && dim == 64 && name.starts_with("sinkhorn") {
                    continue; // tens of seconds per sample for the Sinkhorn drift on two cores
                }
                let id = BenchmarkId::new(name, format!("n{n}_d{dim}"));
                group.bench_function(id, |b| {
                    b.iter(|| black_box(drift_ops::drift(op.as_ref(), &x, &y).expect("drift")))
                });
            }
        }
    }
    group.finish();
}

/// Independent multiply-add chains: twelve registers of eight `f32`, enough to cover the
/// multiply-add latency on two units. Returns a sum so that nothing is optimised away.
#[inline(always)]
fn fma_chains(seed: f32, iters: usize) -> f32 {
    let mut acc = [[seed; 8]; FMA_CHAINS];
    for _ in 0..iters {
        for chain in acc.iter_mut() {
            for v in chain.iter_mut() {
                *v = v.mul_add(0.999_999, 1e-7);
            }
        }
    }
    acc.iter().flatten().sum()
}

const FMA_CHAINS: usize = 12;

/// [`fma_chains`] compiled with AVX2 and FMA (one instruction per register and step).
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,fma")]
fn fma_chains_avx2(seed: f32, iters: usize) -> f32 {
    fma_chains(seed, iters)
}

fn roofline(c: &mut Criterion) {
    let threads = rayon::current_num_threads();
    let mut group = c.benchmark_group("roofline");
    group.sampling_mode(SamplingMode::Flat);
    #[cfg(target_arch = "x86_64")]
    if drift_api::math::has_avx2_fma() {
        let iters = 1 << 22;
        group.throughput(Throughput::Elements(
            (threads * iters * FMA_CHAINS * 8 * 2) as u64,
        ));
        group.bench_function("fma_f32", |b| {
            b.iter(|| {
                (0..threads)
                    .into_par_iter()
                    .map(|t| {
                        #[allow(unsafe_code)]
                        // SAFETY: the CPU has AVX2 and FMA (checked above).
                        unsafe {
                            fma_chains_avx2(black_box(t as f32 * 1e-3), iters)
                        }
                    })
                    .sum::<f32>()
            })
        });
    }
    bench_exp::<f32>(&mut group, "exp_f32", threads);
    bench_exp::<f64>(&mut group, "exp_f64", threads);
    group.finish();
}

/// The reduction's exponential over tiles of 256 log-weights in `[-20, 0]` (each tile copied from
/// a source first, as the reduction writes its tile before the exponential).
fn bench_exp<T: Real>(
    group: &mut criterion::BenchmarkGroup<'_, criterion::measurement::WallTime>,
    name: &str,
    threads: usize,
) {
    const TILE: usize = 256;
    let reps = 1 << 14;
    let source: Vec<T> = (0..TILE)
        .map(|j| T::of(-20.0 * j as f64 / TILE as f64))
        .collect();
    group.throughput(Throughput::Elements((threads * reps * TILE) as u64));
    group.bench_function(name, |b| {
        b.iter(|| {
            (0..threads)
                .into_par_iter()
                .map(|_| {
                    let mut tile = vec![T::zero(); TILE];
                    let mut total = T::zero();
                    for r in 0..reps {
                        tile.copy_from_slice(&source);
                        drift_api::math::exp_nonpositive(&mut tile);
                        total += tile[r % TILE];
                    }
                    total.as_f64()
                })
                .sum::<f64>()
        })
    });
}

fn reductions(c: &mut Criterion) {
    bench_reduction::<f32>(c, "f32");
    bench_reduction::<f64>(c, "f64");
}

fn drifts(c: &mut Criterion) {
    bench_drift::<f32>(c, "f32");
    bench_drift::<f64>(c, "f64");
}

/// The benchmark group, in a module because `criterion_group!` generates an undocumented `pub fn`.
#[allow(missing_docs)]
mod group {
    use super::*;

    criterion_group! {
        name = benches;
        config = Criterion::default()
            .sample_size(10)
            .warm_up_time(Duration::from_secs(1))
            .measurement_time(Duration::from_secs(3));
        targets = roofline, reductions, drifts
    }
}
criterion_main!(group::benches);
