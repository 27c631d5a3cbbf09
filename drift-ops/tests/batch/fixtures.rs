//! Random batches, their flat layout, and the dense f64 reference of the official loss.

use drift_api::batch::{apply_drift_batch, BatchProblem};
use drift_api::kit::{BatchSets, Collective, ProblemBatch};
use drift_api::{BatchReport, Context, DriftOperator, Real, Result};
use drift_ops::CpuBackend;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

/// A ragged batch in f64: per problem (x, negatives, positives, weights of each).
#[derive(Clone)]
pub(crate) struct Raw {
    pub(crate) dim: usize,
    pub(crate) x: Vec<Vec<f64>>,
    pub(crate) neg: Vec<Vec<f64>>,
    pub(crate) pos: Vec<Vec<f64>>,
    pub(crate) wx: Option<Vec<Vec<f64>>>,
    pub(crate) wn: Option<Vec<Vec<f64>>>,
    pub(crate) wp: Option<Vec<Vec<f64>>>,
}

pub(crate) fn cloud(rng: &mut StdRng, n: usize, dim: usize, centre: f64, spread: f64) -> Vec<f64> {
    (0..n * dim)
        .map(|_| centre + spread * (rng.gen::<f64>() * 2.0 - 1.0))
        .collect()
}

/// `sizes[b] = (N, N_neg, N_pos)`; weights when asked.
pub(crate) fn raw(seed: u64, dim: usize, sizes: &[(usize, usize, usize)], weighted: bool) -> Raw {
    let mut rng = StdRng::seed_from_u64(seed);
    let mut r = Raw {
        dim,
        x: vec![],
        neg: vec![],
        pos: vec![],
        wx: None,
        wn: None,
        wp: None,
    };
    let (mut wx, mut wn, mut wp) = (vec![], vec![], vec![]);
    for &(n, nn, np) in sizes {
        let c = rng.gen::<f64>() * 4.0;
        r.x.push(cloud(&mut rng, n, dim, c, 1.0));
        r.neg.push(cloud(&mut rng, nn, dim, c - 0.5, 1.5));
        r.pos.push(cloud(&mut rng, np, dim, c + 0.7, 0.8));
        let mut w = |k: usize| (0..k).map(|_| 0.2 + 2.0 * rng.gen::<f64>()).collect();
        wx.push(w(n));
        wn.push(w(nn));
        wp.push(w(np));
    }
    if weighted {
        (r.wx, r.wn, r.wp) = (Some(wx), Some(wn), Some(wp));
    }
    r
}

/// The official loss's field, in f64, straight from MATH.md ("The training workload").
pub(crate) fn official_reference(
    r: &Raw,
    temps: &[f64],
    per_problem: bool,
) -> (Vec<Vec<f64>>, f64) {
    let d = r.dim;
    let bn = r.x.len();
    let ones = |k: usize| vec![1.0; k];
    // Targets and their weights per problem.
    let mut targets = vec![];
    let mut weights = vec![];
    for b in 0..bn {
        let mut t = r.x[b].clone();
        t.extend(&r.neg[b]);
        t.extend(&r.pos[b]);
        let n = r.x[b].len() / d;
        let (nn, np) = (r.neg[b].len() / d, r.pos[b].len() / d);
        let mut w = r.wx.as_ref().map_or(ones(n), |w| w[b].clone());
        w.extend(r.wn.as_ref().map_or(ones(nn), |w| w[b].clone()));
        w.extend(r.wp.as_ref().map_or(ones(np), |w| w[b].clone()));
        targets.push(t);
        weights.push(w);
    }
    let dist = |b: usize, i: usize, j: usize| {
        let x = &r.x[b][i * d..(i + 1) * d];
        let t = &targets[b][j * d..(j + 1) * d];
        let sq: f64 = x.iter().zip(t).map(|(a, c)| (a - c) * (a - c)).sum();
        sq.max(1e-8).sqrt()
    };
    let n_of = |b: usize| r.x[b].len() / d;
    let m_of = |b: usize| targets[b].len() / d;
    let scale_sums = |b: usize| {
        let mut num = 0.0;
        for i in 0..n_of(b) {
            for j in 0..m_of(b) {
                num += weights[b][j] * dist(b, i, j);
            }
        }
        (num, n_of(b) as f64 * weights[b].iter().sum::<f64>())
    };
    let scales: Vec<f64> = if per_problem {
        (0..bn).map(|b| scale_sums(b).0 / scale_sums(b).1).collect()
    } else {
        let (a, c) = (0..bn)
            .map(scale_sums)
            .fold((0.0, 0.0), |s, v| (s.0 + v.0, s.1 + v.1));
        vec![a / c; bn]
    };
    // F_R per problem, in scaled units.
    let mut forces = vec![vec![]; bn];
    for b in 0..bn {
        let (n, m) = (n_of(b), m_of(b));
        let s = scales[b];
        let c = (s / (d as f64).sqrt()).max(1e-3);
        let split = n + r.neg[b].len() / d;
        for &tau in temps {
            let mut logit = vec![0.0; n * m];
            for i in 0..n {
                for j in 0..m {
                    let mask = if i == j { 100.0 } else { 0.0 };
                    logit[i * m + j] = -(dist(b, i, j) / s.max(1e-3) + mask) / tau;
                }
            }
            let mut a = vec![0.0; n * m];
            for i in 0..n {
                let row = &logit[i * m..(i + 1) * m];
                let top = row.iter().cloned().fold(f64::MIN, f64::max);
                let z: f64 = row.iter().map(|v| (v - top).exp()).sum();
                for j in 0..m {
                    let col_top = (0..n).map(|k| logit[k * m + j]).fold(f64::MIN, f64::max);
                    let zc: f64 = (0..n).map(|k| (logit[k * m + j] - col_top).exp()).sum();
                    let p_row = (row[j] - top).exp() / z;
                    let p_col = (row[j] - col_top).exp() / zc;
                    a[i * m + j] = (p_row * p_col).max(1e-6).sqrt() * weights[b][j];
                }
            }
            let mut f = vec![0.0; n * d];
            for i in 0..n {
                let neg_sum: f64 = a[i * m..i * m + split].iter().sum();
                let pos_sum: f64 = a[i * m + split..(i + 1) * m].iter().sum();
                for j in 0..m {
                    let coeff = if j < split {
                        -a[i * m + j] * pos_sum
                    } else {
                        a[i * m + j] * neg_sum
                    };
                    for k in 0..d {
                        let t = targets[b][j * d + k] / c;
                        let x = r.x[b][i * d + k] / c;
                        f[i * d + k] += coeff * (t - x);
                    }
                }
            }
            forces[b].push(f);
        }
    }
    let norm = |values: &mut dyn Iterator<Item = f64>, count: usize| {
        (values.map(|v| v * v).sum::<f64>() / count as f64)
            .max(1e-8)
            .sqrt()
    };
    let mut fields = vec![];
    for b in 0..bn {
        let c = (scales[b] / (d as f64).sqrt()).max(1e-3);
        let mut v = vec![0.0; n_of(b) * d];
        for (r_idx, _) in temps.iter().enumerate() {
            let lambda = if per_problem {
                norm(&mut forces[b][r_idx].iter().cloned(), n_of(b) * d)
            } else {
                let count = (0..bn).map(|q| n_of(q) * d).sum();
                norm(
                    &mut (0..bn).flat_map(|q| forces[q][r_idx].iter().cloned()),
                    count,
                )
            };
            for (o, f) in v.iter_mut().zip(&forces[b][r_idx]) {
                *o += c * f / lambda;
            }
        }
        fields.push(v);
    }
    (fields, scales[0])
}

/// Offsets of a list of per-problem point arrays.
pub(crate) fn offsets(sets: &[Vec<f64>], dim: usize) -> Vec<usize> {
    std::iter::once(0)
        .chain(sets.iter().scan(0, |a, s| {
            *a += s.len() / dim;
            Some(*a)
        }))
        .collect()
}

/// One side of a batch: coordinates, point offsets, optional weights.
type Side<T> = (Vec<T>, Vec<usize>, Option<Vec<T>>);

/// The raw batch in precision `T`, flattened, and a closure-free way to borrow it.
pub(crate) struct Flat<T> {
    pub(crate) dim: usize,
    pub(crate) x: Side<T>,
    pub(crate) y: Side<T>,
    pub(crate) neg: Option<Side<T>>,
}

pub(crate) fn flat<T: Real>(r: &Raw, with_negatives: bool) -> Flat<T> {
    let side = |sets: &[Vec<f64>], w: &Option<Vec<Vec<f64>>>| {
        (
            sets.iter().flatten().map(|v| T::of(*v)).collect::<Vec<T>>(),
            offsets(sets, r.dim),
            w.as_ref()
                .map(|w| w.iter().flatten().map(|v| T::of(*v)).collect::<Vec<T>>()),
        )
    };
    Flat {
        dim: r.dim,
        x: side(&r.x, &r.wx),
        y: side(&r.pos, &r.wp),
        neg: with_negatives.then(|| side(&r.neg, &r.wn)),
    }
}

impl<T: Real> Flat<T> {
    pub(crate) fn batch(&self) -> ProblemBatch<'_, T> {
        let dim = self.dim;
        fn sets<'a, T: Real>(what: &str, s: &'a Side<T>, dim: usize) -> BatchSets<'a, T> {
            let b = BatchSets::ragged(what, &s.0, s.1.clone(), dim).unwrap();
            match &s.2 {
                Some(w) => b.with_weights(w).unwrap(),
                None => b,
            }
        }
        let batch = ProblemBatch::new(sets("x", &self.x, dim), sets("y", &self.y, dim)).unwrap();
        match &self.neg {
            Some(n) => batch.with_negatives(sets("negatives", n, dim)).unwrap(),
            None => batch,
        }
    }
}

pub(crate) fn run_batch<T: Real>(
    op: &dyn DriftOperator,
    batch: &ProblemBatch<'_, T>,
    collective: &dyn Collective,
) -> Result<(Vec<T>, BatchReport)> {
    let mut out = vec![T::zero(); batch.field_len()];
    let report = apply_drift_batch(
        op,
        BatchProblem {
            backend: &CpuBackend,
            batch,
            context: &Context::default(),
            out: &mut out,
            scale: T::one(),
            collective,
        },
    )?;
    Ok((out, report))
}

/// max |a − b| / max |b|.
pub(crate) fn rel<T: Real>(a: &[T], b: &[f64]) -> f64 {
    let top = b.iter().fold(0.0f64, |m, v| m.max(v.abs()));
    let diff = a
        .iter()
        .zip(b)
        .fold(0.0f64, |m, (x, y)| m.max((x.as_f64() - y).abs()));
    diff / top
}

/// The official release's temperatures.
pub(crate) const TEMPS: [f64; 3] = [0.02, 0.05, 0.2];
