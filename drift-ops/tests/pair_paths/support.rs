//! The dense `f64` reference of a pair set's row and column log-sum-exps, and the cases the
//! pair-path tests run.

use super::common::*;
use drift_api::kit::{FusedPairs, PairPath, PairSet, PreparedPairs};
use drift_api::{PointCloud, Real};
use drift_ops::cached::CachedPairs;
use drift_ops::CpuBackend;
use rand::Rng;

/// `(row_lse, col_lse)` of the dense log-kernel with potentials, the masked pairs left out.
pub fn dense(
    k: K,
    tau: f64,
    x: &[Vec<f64>],
    y: &[Vec<f64>],
    mask: bool,
    f: &[f64],
    g: &[f64],
) -> (Vec<f64>, Vec<f64>) {
    let ell = |i: usize, j: usize| {
        if mask && i == j {
            f64::NEG_INFINITY
        } else {
            let d2: f64 = x[i].iter().zip(&y[j]).map(|(a, b)| (a - b) * (a - b)).sum();
            k.ell(d2, tau)
        }
    };
    let rows = (0..x.len())
        .map(|i| lse((0..y.len()).map(|j| g[j] + ell(i, j))))
        .collect();
    let cols = (0..y.len())
        .map(|j| lse((0..x.len()).map(|i| f[i] + ell(i, j))))
        .collect();
    (rows, cols)
}

/// Largest `|got − want|` over entries, `−∞` having to match exactly.
pub fn max_abs_err<T: Real>(got: &[T], want: &[f64]) -> f64 {
    got.iter()
        .zip(want)
        .map(|(a, b)| {
            let a = a.as_f64();
            if *b == f64::NEG_INFINITY || a == f64::NEG_INFINITY {
                if a == *b {
                    0.0
                } else {
                    f64::INFINITY
                }
            } else {
                (a - b).abs()
            }
        })
        .fold(0.0, f64::max)
}

pub struct Case {
    pub k: K,
    pub tau: f64,
    pub x: Cloud,
    pub y: Cloud,
    pub mask: bool,
    pub f: Vec<f64>,
    pub g: Vec<f64>,
}

pub fn case(seed: u64, n: usize, m: usize, d: usize, k: K, tau: f64, mask: bool) -> Case {
    let mut r = rng(seed);
    let x = Cloud::random(&mut r, n, d, 0.0, false);
    let y = if mask {
        x.clone()
    } else {
        Cloud::random(&mut r, m, d, 0.3, false)
    };
    // Potentials of the size a converging Sinkhorn produces, with a zero-weight point (−∞) on
    // each side.
    let mut pot = |len: usize| -> Vec<f64> {
        let mut p: Vec<f64> = (0..len)
            .map(|_| r.gen_range(-2.0..2.0) / tau.sqrt())
            .collect();
        if len > 3 {
            p[len / 3] = f64::NEG_INFINITY;
        }
        p
    };
    let (f, g) = (pot(n), pot(y.n()));
    Case {
        k,
        tau,
        x,
        y,
        mask,
        f,
        g,
    }
}

/// A case's points in precision `T`: the rows, and the columns (the rows again when masked).
pub struct Clouds<T> {
    pub x: PointCloud<T>,
    pub y: PointCloud<T>,
    pub mask: bool,
}

impl<T: Real> Clouds<T> {
    pub fn of(c: &Case) -> Self {
        Clouds {
            x: c.x.to_lib::<T>("x"),
            y: c.y.to_lib::<T>("y"),
            mask: c.mask,
        }
    }

    pub fn cols(&self) -> &PointCloud<T> {
        if self.mask {
            &self.x
        } else {
            &self.y
        }
    }

    pub fn set<'a>(&'a self, kernel: &'a dyn drift_api::Kernel) -> PairSet<'a, T> {
        PairSet {
            rows: &self.x,
            cols: self.cols(),
            kernel,
            mask_diagonal: self.mask,
        }
    }

    /// The rows and columns as rounded to `T`, in f64 for the reference.
    pub fn points64(&self) -> (Vec<Vec<f64>>, Vec<Vec<f64>>) {
        (points(&self.x), points(self.cols()))
    }
}

/// The scale of a reference's log-sum-exps, `1 + max |finite value|`, that errors are relative to.
pub fn scale_of(rows: &[f64], cols: &[f64]) -> f64 {
    1.0 + rows
        .iter()
        .chain(cols)
        .filter(|v| v.is_finite())
        .fold(0.0f64, |a, v| a.max(v.abs()))
}

/// Both paths in precision `T` against the dense reference; returns the largest error of each
/// (relative to the scale of the log-weights, `1 + max |ℓ|`).
pub fn check<T: Real>(c: &Case) -> (f64, f64) {
    let clouds = Clouds::<T>::of(c);
    let kernel = c.k.boxed();
    let set = clouds.set(kernel.as_ref());
    let (x64, y64) = clouds.points64();
    let (f, g): (Vec<T>, Vec<T>) = (
        c.f.iter().map(|v| T::of(*v)).collect(),
        c.g.iter().map(|v| T::of(*v)).collect(),
    );
    // The reference sees the points and potentials as rounded to T.
    let f64_of = |v: &[T]| v.iter().map(|a| a.as_f64()).collect::<Vec<_>>();
    let (want_rows, want_cols) = dense(c.k, c.tau, &x64, &y64, c.mask, &f64_of(&f), &f64_of(&g));
    let scale = scale_of(&want_rows, &want_cols);
    let cached = CachedPairs::new(set).unwrap();
    let fused = FusedPairs::new(&CpuBackend, set);
    assert!(matches!(cached.path(), PairPath::Cached { .. }));
    assert_eq!(fused.path(), PairPath::Fused);
    let mut errs = [0.0f64; 2];
    for (e, pairs) in errs
        .iter_mut()
        .zip([&cached as &dyn PreparedPairs<T>, &fused])
    {
        let mut rows = vec![T::zero(); x64.len()];
        let mut cols = vec![T::zero(); y64.len()];
        pairs.row_lse(T::of(c.tau), Some(&g), &mut rows).unwrap();
        pairs.col_lse(T::of(c.tau), Some(&f), &mut cols).unwrap();
        *e = max_abs_err(&rows, &want_rows).max(max_abs_err(&cols, &want_cols)) / scale;
    }
    (errs[0], errs[1])
}

pub fn points<T: Real>(p: &PointCloud<T>) -> Vec<Vec<f64>> {
    p.data()
        .chunks_exact(p.dim())
        .map(|c| c.iter().map(|v| v.as_f64()).collect())
        .collect()
}
