//! Straightforward dense f64 reference implementations of every kernel, coupling and operator, written
//! from `docs/MATH.md` independently of the library's tiled, block-wise code, plus input generators.
#![allow(dead_code)]

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

/// A column block of the reference: points, normalised log-weights over the joint set, mask.
pub struct Block<'a> {
    pub pts: &'a [Vec<f64>],
    pub log_b: Vec<f64>,
    pub mask: bool,
}

/// Dense potentials: `f` (None = row-normalised) and `g` per block.
pub struct Plan {
    pub f: Option<Vec<f64>>,
    pub g: Vec<Vec<f64>>,
    /// The column-marginal error of a Sinkhorn plan after its last update.
    pub error: Option<f64>,
    /// For plans that enforce the row marginal (Sinkhorn), the rows' log-weights: row masses are
    /// reported as fractions of them.
    pub mass_per_row_weight: Option<Vec<f64>>,
}

/// The dense log-kernel matrix of rows against the concatenated blocks (`-inf` on masked pairs).
pub fn log_kernel(k: K, tau: f64, x: &[Vec<f64>], blocks: &[Block]) -> Vec<Vec<f64>> {
    x.iter()
        .enumerate()
        .map(|(i, xi)| {
            blocks
                .iter()
                .flat_map(|b| {
                    b.pts.iter().enumerate().map(move |(j, yj)| {
                        if b.mask && i == j {
                            f64::NEG_INFINITY
                        } else {
                            k.ell(sq(xi, yj), tau)
                        }
                    })
                })
                .collect()
        })
        .collect()
}

fn row_lse(l: &[Vec<f64>], g: &[f64]) -> Vec<f64> {
    l.iter()
        .map(|row| lse(row.iter().zip(g).map(|(a, b)| a + b)))
        .collect()
}

fn col_lse(l: &[Vec<f64>], f: &[f64]) -> Vec<f64> {
    (0..l[0].len())
        .map(|j| lse(l.iter().zip(f).map(|(row, fi)| row[j] + fi)))
        .collect()
}

/// The reference coupling on the dense matrix.
pub fn plan(
    c: C,
    k: K,
    tau: f64,
    x: &[Vec<f64>],
    log_a: &[f64],
    blocks: &[Block],
    symmetric: bool,
) -> Plan {
    let l = log_kernel(k, tau, x, blocks);
    let log_b: Vec<f64> = blocks.iter().flat_map(|b| b.log_b.clone()).collect();
    let (n, mt) = (x.len() as f64, log_b.len() as f64);
    let split = |g: Vec<f64>| -> Vec<Vec<f64>> {
        let mut out = Vec::new();
        let mut s = 0;
        for b in blocks {
            out.push(g[s..s + b.pts.len()].to_vec());
            s += b.pts.len();
        }
        out
    };
    match c {
        C::None => Plan {
            f: Some(vec![0.0; x.len()]),
            g: split(log_b),
            error: None,
            mass_per_row_weight: None,
        },
        C::Row => Plan {
            f: Some(row_lse(&l, &log_b).iter().map(|v| -v).collect()),
            g: split(log_b),
            error: None,
            mass_per_row_weight: None,
        },
        C::Proxy => {
            let ra: Vec<f64> = log_a.iter().map(|v| v + n.ln()).collect();
            let rb: Vec<f64> = log_b.iter().map(|v| v + mt.ln()).collect();
            let f = ra
                .iter()
                .zip(row_lse(&l, &rb))
                .map(|(a, r)| 0.5 * (a - r))
                .collect();
            let g = rb
                .iter()
                .zip(col_lse(&l, &ra))
                .map(|(b, c)| 0.5 * (b - c))
                .collect();
            Plan {
                f: Some(f),
                g: split(g),
                error: None,
                mass_per_row_weight: None,
            }
        }
        C::Sinkhorn(iters) => {
            if symmetric {
                let mut f = log_a.to_vec();
                for _ in 0..iters {
                    let r = row_lse(&l, &f);
                    f = (0..f.len())
                        .map(|i| 0.5 * (f[i] + log_a[i] - r[i]))
                        .collect();
                }
                let r = row_lse(&l, &f);
                let error = (0..f.len())
                    .map(|i| ((f[i] + r[i]).exp() - log_a[i].exp()).abs())
                    .sum();
                Plan {
                    f: Some(f.clone()),
                    g: vec![f],
                    error: Some(error),
                    mass_per_row_weight: Some(log_a.to_vec()),
                }
            } else {
                let mut g = log_b.clone();
                let mut f: Vec<f64> = log_a
                    .iter()
                    .zip(row_lse(&l, &g))
                    .map(|(a, r)| a - r)
                    .collect();
                for _ in 0..iters {
                    g = log_b
                        .iter()
                        .zip(col_lse(&l, &f))
                        .map(|(b, c)| b - c)
                        .collect();
                    f = log_a
                        .iter()
                        .zip(row_lse(&l, &g))
                        .map(|(a, r)| a - r)
                        .collect();
                }
                let c = col_lse(&l, &f);
                let error = (0..g.len())
                    .map(|j| ((g[j] + c[j]).exp() - log_b[j].exp()).abs())
                    .sum();
                Plan {
                    f: Some(f),
                    g: split(g),
                    error: Some(error),
                    mass_per_row_weight: Some(log_a.to_vec()),
                }
            }
        }
    }
}

/// One side of a reference field: row masses, displacements, the plan's row log-sums
/// `LSE_j(g_j + ℓ_ij)` and the kernel log-densities `LSE_j(log b_j + ℓ_ij)`.
pub type SideRef = (Vec<f64>, Vec<Vec<f64>>, Vec<f64>, Vec<f64>);

/// Per block: row masses `exp(f_i + LSE_j(g_j + ℓ_ij))` (divided by `a_i` for plans that enforce
/// the row marginal), displacements, row log-sums and kernel log-densities.
pub fn block_terms(
    k: K,
    tau: f64,
    x: &[Vec<f64>],
    blocks: &[Block],
    p: &Plan,
    disp: DisplacementKind,
) -> Vec<SideRef> {
    let d = x[0].len();
    let f = p.f.clone().unwrap();
    blocks
        .iter()
        .zip(&p.g)
        .map(|(b, g)| {
            let mut masses = Vec::new();
            let mut disps = Vec::new();
            let mut sums = Vec::new();
            let mut dens = Vec::new();
            for (i, xi) in x.iter().enumerate() {
                dens.push(lse(b.pts.iter().enumerate().map(|(j, yj)| {
                    if b.mask && i == j {
                        f64::NEG_INFINITY
                    } else {
                        b.log_b[j] + k.ell(sq(xi, yj), tau)
                    }
                })));
                let s: Vec<f64> = b
                    .pts
                    .iter()
                    .enumerate()
                    .map(|(j, yj)| {
                        if b.mask && i == j {
                            f64::NEG_INFINITY
                        } else {
                            g[j] + k.ell(sq(xi, yj), tau)
                        }
                    })
                    .collect();
                let l = lse(s.iter().cloned());
                masses.push(match &p.mass_per_row_weight {
                    // The limit of a vanishing weight: the share of the row's plan mass.
                    Some(log_a) if log_a[i] == f64::NEG_INFINITY => {
                        let total = lse(p.g.iter().zip(blocks).flat_map(|(g, b)| {
                            b.pts.iter().enumerate().map(move |(j, yj)| {
                                if b.mask && i == j {
                                    f64::NEG_INFINITY
                                } else {
                                    g[j] + k.ell(sq(xi, yj), tau)
                                }
                            })
                        }));
                        (l - total).exp()
                    }
                    Some(log_a) => (f[i] + l - log_a[i]).exp(),
                    None => (f[i] + l).exp(),
                });
                sums.push(l);
                let mut acc = vec![0.0; d];
                for (j, yj) in b.pts.iter().enumerate() {
                    let w = (s[j] - l).exp();
                    let dist = sq(xi, yj).sqrt();
                    for c in 0..d {
                        let delta = yj[c] - xi[c];
                        acc[c] += match disp {
                            DisplacementKind::Mean => w * delta,
                            DisplacementKind::Unit if dist > 0.0 => w * delta / dist,
                            DisplacementKind::Unit => 0.0,
                        };
                    }
                }
                disps.push(acc);
            }
            (masses, disps, sums, dens)
        })
        .collect()
}

/// `V = α⁺ D⁺ − α⁻ D⁻`, flattened.
pub fn combine(w: RowWeighting, plus: &SideRef, minus: &SideRef) -> Vec<f64> {
    let mut v = Vec::new();
    for i in 0..plus.0.len() {
        let (mp, mm) = (plus.0[i], minus.0[i]);
        let r = (minus.3[i] - plus.3[i]).exp();
        let (ap, am) = match w {
            RowWeighting::Unit => (1.0, 1.0),
            RowWeighting::MassProduct => (mp * mm, mp * mm),
            RowWeighting::Masses { scale } => (scale * mp, scale * mm),
            RowWeighting::FDivergence { divergence } => {
                let a = match divergence {
                    FDivergenceKind::Kl => 1.0,
                    FDivergenceKind::ReverseKl => 1.0 / r,
                    FDivergenceKind::ChiSquared => 2.0 * r,
                    FDivergenceKind::JensenShannon => 1.0 / (1.0 + r),
                    FDivergenceKind::SquaredHellinger => 0.5 / r.sqrt(),
                };
                (a, a)
            }
        };
        for c in 0..plus.1[i].len() {
            v.push(ap * plus.1[i][c] - am * minus.1[i][c]);
        }
    }
    v
}

/// Parts of a reference term.
#[derive(Clone, Copy, Debug)]
pub struct RefTerm {
    pub k: K,
    pub c: C,
    pub tau: f64,
    pub disp: DisplacementKind,
}

/// Reference split cross-minus-self drift.
pub fn split_drift(
    x: &Cloud,
    y: &Cloud,
    attraction: RefTerm,
    rep: RefTerm,
    mask: bool,
    w: RowWeighting,
) -> Vec<f64> {
    let cb = [Block {
        pts: &y.pts,
        log_b: y.log_w.clone(),
        mask: false,
    }];
    let sb = [Block {
        pts: &x.pts,
        log_b: x.log_w.clone(),
        mask,
    }];
    let pc = plan(
        attraction.c,
        attraction.k,
        attraction.tau,
        &x.pts,
        &x.log_w,
        &cb,
        false,
    );
    let ps = plan(rep.c, rep.k, rep.tau, &x.pts, &x.log_w, &sb, true);
    let tc = block_terms(
        attraction.k,
        attraction.tau,
        &x.pts,
        &cb,
        &pc,
        attraction.disp,
    );
    let ts = block_terms(rep.k, rep.tau, &x.pts, &sb, &ps, rep.disp);
    combine(w, &tc[0], &ts[0])
}

/// Reference joint drift over `[Y; X]`.
pub fn joint_drift(x: &Cloud, y: &Cloud, t: RefTerm, mask: bool, w: RowWeighting) -> Vec<f64> {
    let (n, m) = (x.n() as f64, y.n() as f64);
    let blocks = [
        Block {
            pts: &y.pts,
            log_b: y.log_w.iter().map(|v| v + (m / (n + m)).ln()).collect(),
            mask: false,
        },
        Block {
            pts: &x.pts,
            log_b: x.log_w.iter().map(|v| v + (n / (n + m)).ln()).collect(),
            mask,
        },
    ];
    let p = plan(t.c, t.k, t.tau, &x.pts, &x.log_w, &blocks, false);
    let terms = block_terms(t.k, t.tau, &x.pts, &blocks, &p, t.disp);
    combine(w, &terms[0], &terms[1])
}

/// Deng et al. Algorithm 2 literally, as in the paper's pseudocode (uniform weights).
pub fn deng_alg2_literal(k: K, tau: f64, x: &[Vec<f64>], y: &[Vec<f64>]) -> Vec<f64> {
    let (n, m, d) = (x.len(), y.len(), x[0].len());
    let cols: Vec<&Vec<f64>> = y.iter().chain(x.iter()).collect();
    let logit: Vec<Vec<f64>> = (0..n)
        .map(|i| {
            (0..m + n)
                .map(|j| {
                    if j >= m && j - m == i {
                        f64::NEG_INFINITY
                    } else {
                        k.ell(sq(&x[i], cols[j]), tau)
                    }
                })
                .collect()
        })
        .collect();
    let row_sm: Vec<Vec<f64>> = logit
        .iter()
        .map(|r| {
            let l = lse(r.iter().cloned());
            r.iter().map(|v| (v - l).exp()).collect()
        })
        .collect();
    let col_l: Vec<f64> = (0..m + n)
        .map(|j| lse(logit.iter().map(|r| r[j])))
        .collect();
    let a: Vec<Vec<f64>> = (0..n)
        .map(|i| {
            (0..m + n)
                .map(|j| (row_sm[i][j] * (logit[i][j] - col_l[j]).exp()).sqrt())
                .collect()
        })
        .collect();
    let mut v = vec![0.0; n * d];
    for i in 0..n {
        let pos_sum: f64 = a[i][..m].iter().sum();
        let neg_sum: f64 = a[i][m..].iter().sum();
        for j in 0..m + n {
            let (w, sign) = if j < m {
                (a[i][j] * neg_sum, 1.0)
            } else {
                (a[i][j] * pos_sum, -1.0)
            };
            for c in 0..d {
                v[i * d + c] += sign * w * cols[j][c];
            }
        }
    }
    v
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
