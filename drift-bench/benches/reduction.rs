//! Criterion benchmarks of the CPU backend: the raw fused row reduction (throughput in pairs per
//! second) and one evaluation of each built-in drift operator.
//!
//! Groups (filter with `cargo bench -p drift-bench --bench reduction -- <regex>`):
//! - `row_reduction/{f32,f64}`: `drift_api::reduce` on `CpuBackend`, Gaussian kernel, with a column
//!   potential, accumulating only `lse` (`lse`) or also the mean displacement (`mean`); throughput is
//!   `N·M` pairs per reduction, so criterion prints pairs/second as "elem/s".
//! - `drift/{f32,f64}`: `drift_ops::drift` for `one_sided`, `deng_alg2` (both Laplace, their paper's
//!   default), `sinkhorn_proxy` and `sinkhorn_drift` (both Gaussian; Sinkhorn with exactly 10
//!   iterations, tolerance 0). Times are per evaluation (each is several reductions).
//!
//! Every group uses flat sampling, 10 samples, 3 s of measurement: a whole run takes a few minutes
//! on two cores (the slow cases run their 10 iterations regardless and criterion warns about it).
//!
//! Sizes: `N = M ∈ {1024, 4096}`, `D ∈ {2, 64}`; the drift group skips `N = 4096, D = 64`.

use criterion::{
    criterion_group, criterion_main, BenchmarkId, Criterion, SamplingMode, Throughput,
};
use drift_api::{reduce, Displacement, DriftOperator, PointCloud, Real, RowReduction};
use drift_bench::gaussian_blob;
use drift_ops::{CpuBackend, DengAlg2, Gaussian, OneSided, Sinkhorn, SinkhornDrift, SinkhornProxy};
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
            if n == 4096 && dim == 64 {
                continue; // tens of seconds per sample for the Sinkhorn drift on two cores
            }
            let (x, y) = clouds::<T>(n, dim);
            for (name, op) in operators(temperature(dim)) {
                let id = BenchmarkId::new(name, format!("n{n}_d{dim}"));
                group.bench_function(id, |b| {
                    b.iter(|| black_box(drift_ops::drift(op.as_ref(), &x, &y).expect("drift")))
                });
            }
        }
    }
    group.finish();
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
        targets = reductions, drifts
    }
}
criterion_main!(group::benches);
