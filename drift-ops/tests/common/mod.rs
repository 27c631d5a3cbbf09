//! Straightforward dense f64 reference implementations of every kernel, coupling and operator, written
//! from `docs/MATH.md` independently of the library's tiled, block-wise code, plus input generators.
//!
//! This file holds the inputs (kernels, couplings, weightings as values, point clouds) and small
//! helpers; `plans` the reference couplings on the dense matrix; `fields` the reference operators.
#![allow(dead_code, unused_imports)]

mod fields;
mod plans;
mod split;
mod threads;

pub use fields::*;
pub use plans::*;
pub use split::*;
pub use threads::ThreadGroup;

use drift_api::Weighting;
use drift_api::{Coupling, Kernel, PointCloud, Real};
use drift_ops::engine::DisplacementKind;
use drift_ops::{
    FDivergenceKind, FDivergenceWeighting, Gaussian, InverseMultiquadric, Laplace, MassProduct,
    Masses, RowNormalised, Sinkhorn, TwoSidedProxy, Unit, Unnormalised,
};

/// The built-in row weightings, as values the references can match on.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum RowWeighting {
    Unit,
    MassProduct,
    Masses { scale: f64 },
    FDivergence { divergence: FDivergenceKind },
}

impl RowWeighting {
    /// The library's weighting.
    pub fn boxed(&self) -> Box<dyn Weighting> {
        match *self {
            RowWeighting::Unit => Box::new(Unit),
            RowWeighting::MassProduct => Box::new(MassProduct),
            RowWeighting::Masses { scale } => Box::new(Masses { scale }),
            RowWeighting::FDivergence { divergence } => {
                Box::new(FDivergenceWeighting { divergence })
            }
        }
    }
}
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

/// Kernels under test.
#[derive(Clone, Copy, Debug)]
pub enum K {
    Laplace,
    Gaussian,
    Imq(f64),
}

impl K {
    pub const ALL: [K; 3] = [K::Laplace, K::Gaussian, K::Imq(0.5)];

    pub fn ell(&self, d2: f64, tau: f64) -> f64 {
        match self {
            K::Laplace => -d2.sqrt() / tau,
            K::Gaussian => -d2 / tau,
            K::Imq(beta) => -beta * (1.0 + d2 / tau).ln(),
        }
    }

    pub fn boxed(&self) -> Box<dyn Kernel> {
        match self {
            K::Laplace => Box::new(Laplace),
            K::Gaussian => Box::new(Gaussian),
            K::Imq(beta) => Box::new(InverseMultiquadric { beta: *beta }),
        }
    }
}

/// Couplings under test (Sinkhorn with a fixed number of iterations, tolerance 0).
#[derive(Clone, Copy, Debug)]
pub enum C {
    None,
    Row,
    Proxy,
    Sinkhorn(usize),
}

impl C {
    pub const ALL: [C; 4] = [C::None, C::Row, C::Proxy, C::Sinkhorn(7)];

    pub fn boxed(&self) -> Box<dyn Coupling> {
        match self {
            C::None => Box::new(Unnormalised),
            C::Row => Box::new(RowNormalised),
            C::Proxy => Box::new(TwoSidedProxy),
            C::Sinkhorn(k) => Box::new(Sinkhorn::new(*k, 0.0)),
        }
    }
}

/// A point set in f64 with normalised log-weights.
#[derive(Clone, Debug)]
pub struct Cloud {
    pub pts: Vec<Vec<f64>>,
    pub log_w: Vec<f64>,
    /// Raw weights as given to the library (None = uniform).
    pub raw_w: Option<Vec<f64>>,
}

impl Cloud {
    pub fn random(rng: &mut StdRng, n: usize, d: usize, offset: f64, weighted: bool) -> Cloud {
        let pts: Vec<Vec<f64>> = (0..n)
            .map(|_| (0..d).map(|_| rng.gen::<f64>() + offset).collect())
            .collect();
        let raw_w: Option<Vec<f64>> =
            weighted.then(|| (0..n).map(|_| rng.gen_range(0.2..1.5)).collect());
        Cloud::from_parts(pts, raw_w)
    }

    pub fn from_parts(pts: Vec<Vec<f64>>, raw_w: Option<Vec<f64>>) -> Cloud {
        let n = pts.len();
        let log_w = match &raw_w {
            None => vec![-(n as f64).ln(); n],
            Some(w) => {
                let s: f64 = w.iter().sum();
                w.iter().map(|v| (v / s).ln()).collect()
            }
        };
        Cloud { pts, log_w, raw_w }
    }

    /// The same cloud rounded to f32 (the reference then runs on exactly the f32 inputs).
    pub fn rounded_f32(&self) -> Cloud {
        let pts = self
            .pts
            .iter()
            .map(|p| p.iter().map(|v| *v as f32 as f64).collect())
            .collect();
        let raw = self
            .raw_w
            .as_ref()
            .map(|w| w.iter().map(|v| *v as f32 as f64).collect());
        Cloud::from_parts(pts, raw)
    }

    pub fn n(&self) -> usize {
        self.pts.len()
    }
    pub fn d(&self) -> usize {
        self.pts[0].len()
    }

    pub fn to_lib<T: Real>(&self, name: &str) -> PointCloud<T> {
        let data = self.pts.iter().flatten().map(|v| T::of(*v)).collect();
        let p = PointCloud::new(name, data, self.d()).unwrap();
        match &self.raw_w {
            None => p,
            Some(w) => p
                .with_weights(w.iter().map(|v| T::of(*v)).collect())
                .unwrap(),
        }
    }
}

pub fn rng(seed: u64) -> StdRng {
    StdRng::seed_from_u64(seed)
}

pub fn lse(v: impl IntoIterator<Item = f64>) -> f64 {
    let v: Vec<f64> = v.into_iter().collect();
    let m = v.iter().cloned().fold(f64::NEG_INFINITY, f64::max);
    if m == f64::NEG_INFINITY {
        return m;
    }
    m + v.iter().map(|x| (x - m).exp()).sum::<f64>().ln()
}

fn sq(a: &[f64], b: &[f64]) -> f64 {
    a.iter().zip(b).map(|(x, y)| (x - y) * (x - y)).sum()
}

/// Normwise relative error `max|a − b| / max|b|`.
pub fn rel_err<T: Real>(got: &[T], want: &[f64]) -> f64 {
    assert_eq!(got.len(), want.len());
    let scale = want.iter().fold(0.0f64, |m, v| m.max(v.abs()));
    let diff = got
        .iter()
        .zip(want)
        .fold(0.0f64, |m, (g, w)| m.max((g.as_f64() - w).abs()));
    if scale == 0.0 {
        diff
    } else {
        diff / scale
    }
}

/// The RON compositions under `plugins/`, sorted by name.
pub fn plugin_files() -> Vec<std::path::PathBuf> {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../plugins");
    let mut files: Vec<_> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "ron"))
        .collect();
    files.sort();
    files
}
