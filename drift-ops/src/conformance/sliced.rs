//! Sliced-Wasserstein conformance: a backend's field against the CPU operator's (f32 within 1e-4
//! relative to the field's largest coordinate, f64 within 1e-10), and a known answer.

use super::reference::{compare_field, tolerance, uniform};
use crate::{drift_with, CpuBackend, SlicedWasserstein};
use drift_api::kit::Backend;
use drift_api::{Context, PointCloud, Real};

/// One sliced-Wasserstein case.
pub struct SlicedCase {
    /// What the failure messages call the case.
    pub name: &'static str,
    /// Generated samples.
    pub n: usize,
    /// Targets.
    pub m: usize,
    /// Dimension.
    pub dim: usize,
    /// Projection directions.
    pub directions: usize,
    /// Random positive weights on both sides, with a few zero-weight targets.
    pub weighted: bool,
}

/// `N ≠ M` both ways, weights (with zero-weight targets), `D = 1`, non-power-of-two sizes,
/// several blocks of directions, sizes spanning many thread blocks.
pub fn sliced_cases() -> Vec<SlicedCase> {
    let c = |name, n, m, dim, directions, weighted| SlicedCase {
        name,
        n,
        m,
        dim,
        directions,
        weighted,
    };
    vec![
        c("sliced N < M", 300, 500, 3, 32, false),
        c("sliced N > M weighted", 400, 250, 5, 40, true),
        c("sliced d = 1", 257, 300, 1, 8, false),
        c("sliced multi-block", 3000, 2100, 2, 100, false),
        c("sliced d = 64 weighted", 200, 333, 64, 70, true),
        c("sliced one particle", 1, 7, 3, 5, false),
    ]
}

fn cloud<T: Real>(name: &str, seed: u64, n: usize, dim: usize, weighted: bool) -> PointCloud<T> {
    let data = uniform(seed, n * dim).iter().map(|&v| T::of(v)).collect();
    let p = PointCloud::new(name, data, dim).unwrap();
    if !weighted {
        return p;
    }
    let w = uniform(seed + 7, n)
        .iter()
        .enumerate()
        // Every tenth target of a weighted set carries no mass (it must bend nothing).
        .map(|(j, &v)| {
            T::of(if name == "y" && j % 10 == 3 {
                0.0
            } else {
                0.1 + v
            })
        })
        .collect();
    p.with_weights(w).unwrap()
}

/// One case on `backend` in precision `T`, against the CPU operator.
pub fn check_sliced<T: Real>(
    backend: &dyn Backend,
    c: &SlicedCase,
    seed: u64,
) -> Result<(), String> {
    let what = format!(
        "{} [{}, {}]",
        c.name,
        backend.name(),
        std::any::type_name::<T>()
    );
    let x = cloud::<T>("x", seed, c.n, c.dim, c.weighted);
    let y = cloud::<T>("y", seed + 1, c.m, c.dim, c.weighted);
    let op = SlicedWasserstein {
        directions: c.directions,
        seed: seed ^ 0x5eed,
        resample_each_step: true,
    };
    let ctx = Context {
        step: 3,
        ..Context::default()
    };
    let (got, _) = drift_with(backend, &op, &x, &y, &ctx).map_err(|e| format!("{what}: {e}"))?;
    let (want, _) =
        drift_with(&CpuBackend, &op, &x, &y, &ctx).map_err(|e| format!("{what}: {e}"))?;
    let back = |v: &[T]| v.iter().map(|a| a.as_f64()).collect::<Vec<_>>();
    compare_field(&what, &back(&got), &back(&want), tolerance::<T>())
}

/// A known answer: in one dimension with `N = M` and equal weights every direction is `±1`, so
/// the field is the monotone transport displacement `y_(rank of x_i) − x_i` exactly.
pub fn check_sliced_transport<T: Real>(backend: &dyn Backend) -> Result<(), String> {
    let what = format!(
        "sliced transport [{}, {}]",
        backend.name(),
        std::any::type_name::<T>()
    );
    let n = 129;
    let x = cloud::<T>("x", 41, n, 1, false);
    let y = cloud::<T>("y", 42, n, 1, false)
        .map_coords(|_, v| v * T::of(3.0) + T::of(5.0))
        .unwrap();
    let op = SlicedWasserstein::new(6, 9);
    let (got, _) = drift_with(backend, &op, &x, &y, &Context::default())
        .map_err(|e| format!("{what}: {e}"))?;
    let mut xs: Vec<(f64, usize)> = x.data().iter().map(|v| v.as_f64()).zip(0..).collect();
    xs.sort_by(|a, b| a.0.total_cmp(&b.0));
    let mut ys: Vec<f64> = y.data().iter().map(|v| v.as_f64()).collect();
    ys.sort_by(f64::total_cmp);
    let mut want = vec![0.0; n];
    for (r, (xv, i)) in xs.into_iter().enumerate() {
        want[i] = ys[r] - xv;
    }
    let got: Vec<f64> = got.iter().map(|a| a.as_f64()).collect();
    compare_field(&what, &got, &want, tolerance::<T>())
}

/// Every sliced case in both precisions and the known answer; returns the failures.
pub fn run_sliced_suite(backend: &dyn Backend) -> Vec<String> {
    let mut failures = Vec::new();
    for (k, c) in sliced_cases().iter().enumerate() {
        let seed = 5000 + 10 * k as u64;
        for r in [
            check_sliced::<f32>(backend, c, seed),
            check_sliced::<f64>(backend, c, seed),
        ] {
            failures.extend(r.err());
        }
    }
    for r in [
        check_sliced_transport::<f32>(backend),
        check_sliced_transport::<f64>(backend),
    ] {
        failures.extend(r.err());
    }
    eprintln!(
        "sliced-Wasserstein conformance on {}: {} cases x 2 precisions + known answer, {} failed",
        backend.name(),
        sliced_cases().len(),
        failures.len()
    );
    failures
}
