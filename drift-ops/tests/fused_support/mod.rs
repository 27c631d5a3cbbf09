//! What the fused batched paths' tests share: random ragged batches of small problems, the batch
//! as flat arrays, the fused path's and the per-problem default's fields, and their distance.
#![allow(dead_code)]

use drift_api::batch::{apply_drift_batch, problem_by_problem, BatchProblem};
use drift_api::kit::{BatchSets, ProblemBatch, Tagged};
use drift_api::{BatchReport, Context, DriftOperator, Real};
use drift_ops::CpuBackend;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

/// One problem in f64: points (`n × dim`) and optional weights of x, y and the second batch.
#[derive(Clone, Debug)]
pub struct Problem {
    pub x: Vec<f64>,
    pub y: Vec<f64>,
    pub z: Vec<f64>,
    pub wx: Option<Vec<f64>>,
    pub wy: Option<Vec<f64>>,
    pub wz: Option<Vec<f64>>,
}

pub fn points(rng: &mut StdRng, n: usize, dim: usize, centre: f64) -> Vec<f64> {
    (0..n * dim)
        .map(|_| centre + rng.gen::<f64>() * 2.0 - 1.0)
        .collect()
}

pub fn weights(rng: &mut StdRng, n: usize) -> Vec<f64> {
    (0..n).map(|_| 0.2 + 2.0 * rng.gen::<f64>()).collect()
}

/// A random ragged batch: `problems` problems of dimension `dim`, weighted when asked, each with
/// at least `least` negatives.
pub fn random_batch_with(
    seed: u64,
    problems: usize,
    dim: usize,
    weighted: bool,
    least: usize,
) -> Vec<Problem> {
    let mut rng = StdRng::seed_from_u64(seed);
    (0..problems)
        .map(|_| {
            let (n, m, k) = (
                rng.gen_range(2..9),
                rng.gen_range(1..11),
                rng.gen_range(least..9),
            );
            let c = rng.gen::<f64>() * 3.0;
            let mut w = |len| weighted.then(|| weights(&mut rng, len));
            let (wx, wy, wz) = (w(n), w(m), w(k));
            Problem {
                x: points(&mut rng, n, dim, c),
                y: points(&mut rng, m, dim, c + 0.5),
                z: points(&mut rng, k, dim, c - 0.3),
                wx,
                wy,
                wz,
            }
        })
        .collect()
}

pub fn random_batch(seed: u64, problems: usize, dim: usize, weighted: bool) -> Vec<Problem> {
    random_batch_with(seed, problems, dim, weighted, 1)
}

/// max |a − b| / max |b|.
pub fn rel<T: Real, U: Real>(a: &[T], b: &[U]) -> f64 {
    let top = b.iter().fold(0.0f64, |m, v| m.max(v.as_f64().abs()));
    let diff = a
        .iter()
        .zip(b)
        .fold(0.0f64, |m, (x, y)| m.max((x.as_f64() - y.as_f64()).abs()));
    diff / top
}

/// One side of a flat batch: coordinates, point offsets, optional weights.
pub type Side<T> = (Vec<T>, Vec<usize>, Option<Vec<T>>);

/// Which side of a problem to flatten.
pub type Pick = dyn Fn(&Problem) -> (&Vec<f64>, &Option<Vec<f64>>);

/// The batch as flat arrays in precision `T`.
pub struct Flat<T> {
    dim: usize,
    sides: [Side<T>; 3],
}

pub fn flat<T: Real>(problems: &[Problem], dim: usize) -> Flat<T> {
    let side = |pick: &Pick| {
        let mut offsets = vec![0];
        let (mut data, mut w, mut weighted) = (vec![], vec![], false);
        for p in problems {
            let (v, ws) = pick(p);
            data.extend(v.iter().map(|c| T::of(*c)));
            offsets.push(offsets.last().unwrap() + v.len() / dim);
            weighted |= ws.is_some();
            w.extend(
                ws.clone()
                    .unwrap_or(vec![1.0; v.len() / dim])
                    .iter()
                    .map(|c| T::of(*c)),
            );
        }
        (data, offsets, weighted.then_some(w))
    };
    Flat {
        dim,
        sides: [
            side(&|p| (&p.x, &p.wx)),
            side(&|p| (&p.y, &p.wy)),
            side(&|p| (&p.z, &p.wz)),
        ],
    }
}

impl<T: Real> Flat<T> {
    pub fn batch(&self) -> ProblemBatch<'_, T> {
        let sets = |k: usize, what| {
            let (data, offsets, w) = &self.sides[k];
            let s = BatchSets::ragged(what, data, offsets.clone(), self.dim).unwrap();
            match w {
                Some(w) => s.with_weights(w).unwrap(),
                None => s,
            }
        };
        ProblemBatch::new(sets(0, "x"), sets(1, "y"))
            .unwrap()
            .with_negatives(sets(2, "negatives"))
            .unwrap()
    }
}

pub fn batched<T: Real>(op: &dyn DriftOperator, b: &ProblemBatch<'_, T>) -> (Vec<T>, BatchReport) {
    let mut out = vec![T::zero(); b.field_len()];
    let context = Context::default();
    let report =
        apply_drift_batch(op, BatchProblem::new(&CpuBackend, b, &context, &mut out)).unwrap();
    (out, report)
}

/// The per-problem default's field and report (what the fused paths must equal).
pub fn per_problem_with_report<T: Real>(
    op: &dyn DriftOperator,
    b: &ProblemBatch<'_, T>,
) -> (Vec<T>, BatchReport) {
    let mut out = vec![T::zero(); b.field_len()];
    let context = Context::default();
    let p = BatchProblem::new(&CpuBackend, b, &context, &mut out);
    let report = problem_by_problem(op, p.tagged()).unwrap();
    (out, report)
}

pub fn per_problem<T: Real>(op: &dyn DriftOperator, b: &ProblemBatch<'_, T>) -> Vec<T> {
    per_problem_with_report(op, b).0
}
