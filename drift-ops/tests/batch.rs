//! Batches of problems: the official loss against a dense f64 reference written here from
//! `docs/MATH.md`, batches of one against the single-problem call (bit for bit, every registered
//! operator), the per-problem default against the batched paths, batch-wide statistics, and a
//! batch split over two "processes" through a collective.

use drift_api::batch::{apply_drift_batch, problem_by_problem, BatchProblem};
use drift_api::kit::{BatchSets, Collective, ProblemBatch, SingleProcess};
use drift_api::registry::{entries, Kind};
use drift_api::{
    apply_drift, operator_from_str, BatchReport, Context, DriftError, DriftOperator, DriftProblem,
    Negatives, PointCloud, Real, Result,
};
use drift_ops::CpuBackend;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use std::sync::{Arc, Barrier, Mutex};

/// A ragged batch in f64: per problem (x, negatives, positives, weights of each).
#[derive(Clone)]
struct Raw {
    dim: usize,
    x: Vec<Vec<f64>>,
    neg: Vec<Vec<f64>>,
    pos: Vec<Vec<f64>>,
    wx: Option<Vec<Vec<f64>>>,
    wn: Option<Vec<Vec<f64>>>,
    wp: Option<Vec<Vec<f64>>>,
}

fn cloud(rng: &mut StdRng, n: usize, dim: usize, centre: f64, spread: f64) -> Vec<f64> {
    (0..n * dim)
        .map(|_| centre + spread * (rng.gen::<f64>() * 2.0 - 1.0))
        .collect()
}

/// `sizes[b] = (N, N_neg, N_pos)`; weights when asked.
fn raw(seed: u64, dim: usize, sizes: &[(usize, usize, usize)], weighted: bool) -> Raw {
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
fn official_reference(r: &Raw, temps: &[f64], per_problem: bool) -> (Vec<Vec<f64>>, f64) {
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
fn offsets(sets: &[Vec<f64>], dim: usize) -> Vec<usize> {
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
struct Flat<T> {
    dim: usize,
    x: Side<T>,
    y: Side<T>,
    neg: Option<Side<T>>,
}

fn flat<T: Real>(r: &Raw, with_negatives: bool) -> Flat<T> {
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
    fn batch(&self) -> ProblemBatch<'_, T> {
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

fn run_batch<T: Real>(
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
fn rel<T: Real>(a: &[T], b: &[f64]) -> f64 {
    let top = b.iter().fold(0.0f64, |m, v| m.max(v.abs()));
    let diff = a
        .iter()
        .zip(b)
        .fold(0.0f64, |m, (x, y)| m.max((x.as_f64() - y).abs()));
    diff / top
}

const TEMPS: [f64; 3] = [0.02, 0.05, 0.2];

#[test]
fn official_loss_matches_the_dense_reference() {
    let sizes = [(6, 3, 9), (6, 3, 9), (6, 3, 9), (6, 3, 9)];
    for (dim, weighted, negatives) in [
        (3, false, false),
        (3, true, true),
        (20, false, true),
        (20, true, false),
    ] {
        let mut r = raw(7 + dim as u64, dim, &sizes, weighted);
        if !negatives {
            r.neg = vec![vec![]; sizes.len()];
            r.wn = None;
        }
        for over in ["Batch", "Problem"] {
            let op =
                operator_from_str(&format!(r#"{{"deng_official": (over: {over})}}"#), "t").unwrap();
            let (want, _) = official_reference(&r, &TEMPS, over == "Problem");
            let want: Vec<f64> = want.concat();
            let f64s = flat::<f64>(&r, negatives);
            let (v64, report) = run_batch(op.as_ref(), &f64s.batch(), &SingleProcess).unwrap();
            assert!(
                rel(&v64, &want) < 1e-12,
                "f64 D={dim} {over}: {}",
                rel(&v64, &want)
            );
            let f32s = flat::<f32>(&r, negatives);
            let (v32, _) = run_batch(op.as_ref(), &f32s.batch(), &SingleProcess).unwrap();
            assert!(
                rel(&v32, &want) < 1e-5,
                "f32 D={dim} {over}: {}",
                rel(&v32, &want)
            );
            assert_eq!(report.temperature_norms.len(), 3);
            assert!(report.scale.unwrap() > 0.0);
        }
    }
}

#[test]
fn official_loss_on_a_ragged_batch_takes_its_statistics_over_every_problem() {
    let r = raw(3, 5, &[(4, 2, 7), (9, 0, 3), (5, 4, 11)], true);
    let (want, scale) = official_reference(&r, &TEMPS, false);
    let f = flat::<f64>(&r, true);
    let op = operator_from_str(r#"{"deng_official": ()}"#, "t").unwrap();
    let (v, report) = run_batch(op.as_ref(), &f.batch(), &SingleProcess).unwrap();
    assert!(rel(&v, &want.concat()) < 1e-12);
    assert!((report.scale.unwrap() - scale).abs() < 1e-12 * scale);
    // Per problem, each problem is on its own: the first problem alone gives its own field.
    let alone = Raw {
        x: vec![r.x[0].clone()],
        neg: vec![r.neg[0].clone()],
        pos: vec![r.pos[0].clone()],
        wx: r.wx.as_ref().map(|w| vec![w[0].clone()]),
        wn: r.wn.as_ref().map(|w| vec![w[0].clone()]),
        wp: r.wp.as_ref().map(|w| vec![w[0].clone()]),
        ..r.clone()
    };
    let (want_alone, _) = official_reference(&alone, &TEMPS, false);
    let op = operator_from_str(r#"{"deng_official": (over: Problem)}"#, "t").unwrap();
    let (v, _) = run_batch(op.as_ref(), &f.batch(), &SingleProcess).unwrap();
    assert!(rel(&v[..4 * 5], &want_alone[0]) < 1e-12);
}

/// Registered operators (by their examples) that take these inputs, for the batch tests.
fn registered_operators() -> Vec<(String, Box<dyn DriftOperator>)> {
    entries()
        .into_iter()
        .filter(|e| e.kind == Kind::Operator)
        .map(|e| {
            (
                e.name.to_string(),
                operator_from_str(e.example, e.name).unwrap(),
            )
        })
        .collect()
}

fn single<T: Real>(
    op: &dyn DriftOperator,
    x: &PointCloud<T>,
    y: &PointCloud<T>,
    negatives: Option<(&PointCloud<T>, f64)>,
) -> Result<Vec<T>> {
    let mut out = vec![T::zero(); x.len() * x.dim()];
    apply_drift(
        op,
        DriftProblem {
            backend: &CpuBackend,
            x,
            y,
            context: &Context::default(),
            out: &mut out,
            scale: T::one(),
            negatives: negatives.map(|(n, w)| Negatives::new(n, w)),
        },
    )?;
    Ok(out)
}

fn batch_of_one_is_the_single_call<T: Real>() {
    let r = raw(11, 2, &[(12, 4, 15)], false);
    let f = flat::<T>(&r, true);
    let x = PointCloud::new("x", f.x.0.clone(), 2).unwrap();
    let y = PointCloud::new("y", f.y.0.clone(), 2).unwrap();
    let neg = PointCloud::new("n", f.neg.as_ref().unwrap().0.clone(), 2).unwrap();
    let plain = {
        let mut g = flat::<T>(&r, false);
        g.neg = None;
        g
    };
    for (name, op) in registered_operators() {
        // With guidance negatives where the operator takes them (guidance needs them).
        let with_neg = single(op.as_ref(), &x, &y, Some((&neg, 1.0)));
        let (flat_in, expect) = match with_neg {
            Ok(v) => (&f, v),
            Err(DriftError::NegativesIgnored { .. }) => {
                (&plain, single(op.as_ref(), &x, &y, None).unwrap())
            }
            Err(e) => panic!("{name}: {e}"),
        };
        let (got, _) = run_batch(op.as_ref(), &flat_in.batch(), &SingleProcess).unwrap();
        assert!(
            got.iter().zip(&expect).all(|(a, b)| a.to_bits_eq(*b)),
            "{name}: a batch of one differs from the single call"
        );
    }
}

trait BitsEq {
    fn to_bits_eq(self, other: Self) -> bool;
}
impl<T: Real> BitsEq for T {
    fn to_bits_eq(self, other: Self) -> bool {
        self == other || (self.is_nan() && other.is_nan())
    }
}

#[test]
fn a_batch_of_one_equals_the_single_problem_call_bit_for_bit() {
    batch_of_one_is_the_single_call::<f64>();
    batch_of_one_is_the_single_call::<f32>();
}

#[test]
fn per_problem_default_equals_the_batched_paths_with_per_problem_statistics() {
    let r = raw(5, 3, &[(10, 3, 14), (8, 3, 12), (10, 3, 9)], false);
    let compositions = [
        r#"{"multi_temperature": (operator: {"one_sided": (temperature: 1.0)}, over: Problem)}"#,
        r#"{"feature_scale": (operator: {"deng_alg2": (temperature: 0.1)}, over: Problem)}"#,
        r#"{"multi_temperature": (operator: {"feature_scale": (operator: {"sinkhorn_drift": (temperature: 0.3)}, over: Problem)}, over: Problem)}"#,
        r#"{"weighted": (terms: [(weight: 0.5, operator: {"mmd": (temperature: 0.5)}), (weight: 2.0, operator: {"sinkhorn_proxy": (temperature: 0.2)})])}"#,
        r#"{"annealed": (operator: {"one_sided": (temperature: 0.5)}, rate: 0.5)}"#,
        r#"{"deng_official": (over: Problem)}"#,
        r#"{"guidance": (operator: {"deng_alg2": (temperature: 0.1)}, alpha: 2.0)}"#,
    ];
    for text in compositions {
        let op = operator_from_str(text, "t").unwrap();
        let f64s = flat::<f64>(&r, true);
        let b64 = f64s.batch();
        let guided = text.contains("guidance") || text.contains("deng_official");
        let plain64 = flat::<f64>(&r, false);
        let b = if guided { b64 } else { plain64.batch() };
        let (fast, _) = run_batch(op.as_ref(), &b, &SingleProcess).unwrap();
        let mut slow = vec![0.0; b.field_len()];
        problem_by_problem(
            op.as_ref(),
            drift_api::BatchJob::F64(BatchProblem {
                backend: &CpuBackend,
                batch: &b,
                context: &Context::default(),
                out: &mut slow,
                scale: 1.0,
                collective: &SingleProcess,
            }),
        )
        .unwrap();
        assert!(rel(&fast, &slow) < 1e-12, "{text}: {}", rel(&fast, &slow));
    }
}

#[test]
fn batch_wide_multi_temperature_divides_by_the_norm_over_every_problem() {
    let r = raw(9, 2, &[(10, 0, 12), (6, 0, 20), (10, 0, 8)], false);
    let f = flat::<f64>(&r, false);
    let b = f.batch();
    let op = operator_from_str(
        r#"{"multi_temperature": (operator: {"one_sided": (temperature: 1.0)})}"#,
        "t",
    )
    .unwrap();
    let (got, report) = run_batch(op.as_ref(), &b, &SingleProcess).unwrap();
    let mut want = vec![0.0; b.field_len()];
    let mut lambdas = vec![];
    for tau in TEMPS {
        let inner = drift_ops::OneSided::new(tau);
        let mut field = vec![];
        for q in 0..3 {
            let x = b.x.cloud(q).unwrap();
            let y = b.y.cloud(q).unwrap();
            field.extend(single(&inner, &x, &y, None).unwrap());
        }
        let lambda = (field.iter().map(|v| v * v).sum::<f64>() / field.len() as f64).sqrt();
        want.iter_mut()
            .zip(&field)
            .for_each(|(w, v)| *w += v / lambda);
        lambdas.push(lambda);
    }
    assert!(rel(&got, &want) < 1e-12);
    for (t, l) in report.temperature_norms.iter().zip(&lambdas) {
        assert!((t.lambda - l).abs() < 1e-12 * l);
    }
}

/// Two "processes" (threads) each holding half of a batch, adding their sums through shared memory.
#[derive(Debug)]
struct TwoThreads {
    barrier: Arc<Barrier>,
    slots: Arc<Mutex<Vec<Vec<f64>>>>,
    rank: usize,
}

impl Collective for TwoThreads {
    fn all_reduce_sum(&self, values: &mut [f64]) -> Result<()> {
        self.slots.lock().unwrap()[self.rank] = values.to_vec();
        self.barrier.wait();
        let slots = self.slots.lock().unwrap().clone();
        self.barrier.wait();
        for (k, v) in values.iter_mut().enumerate() {
            *v = slots[0][k] + slots[1][k];
        }
        Ok(())
    }
}

#[test]
fn a_batch_split_over_two_processes_gives_the_whole_batch_field() {
    let sizes = [(8, 2, 10), (6, 2, 12), (8, 3, 9), (5, 2, 7)];
    let r = raw(21, 4, &sizes, true);
    let ops = [
        r#"{"deng_official": ()}"#,
        r#"{"multi_temperature": (operator: {"feature_scale": (operator: {"one_sided": (temperature: 1.0)})})}"#,
    ];
    // Halves, and a process holding one problem beside one holding three: both processes must
    // take the same path (the fused path's collective calls differ from the per-problem default's).
    let splits = [[0..2, 2..4], [0..1, 1..4]];
    for (text, split) in ops.iter().flat_map(|t| splits.iter().map(move |s| (*t, s))) {
        let op: Arc<dyn DriftOperator> = operator_from_str(text, "t").unwrap().into();
        let whole = flat::<f64>(&r, true);
        let (want, _) = run_batch(op.as_ref(), &whole.batch(), &SingleProcess).unwrap();
        let barrier = Arc::new(Barrier::new(2));
        let slots = Arc::new(Mutex::new(vec![vec![]; 2]));
        let halves: Vec<Raw> = split
            .clone()
            .into_iter()
            .map(|range| Raw {
                x: r.x[range.clone()].to_vec(),
                neg: r.neg[range.clone()].to_vec(),
                pos: r.pos[range.clone()].to_vec(),
                wx: r.wx.as_ref().map(|w| w[range.clone()].to_vec()),
                wn: r.wn.as_ref().map(|w| w[range.clone()].to_vec()),
                wp: r.wp.as_ref().map(|w| w[range.clone()].to_vec()),
                ..r.clone()
            })
            .collect();
        let handles: Vec<_> = halves
            .into_iter()
            .enumerate()
            .map(|(rank, half)| {
                let collective = TwoThreads {
                    barrier: barrier.clone(),
                    slots: slots.clone(),
                    rank,
                };
                let op = op.clone();
                std::thread::spawn(move || {
                    let f = flat::<f64>(&half, true);
                    run_batch(op.as_ref(), &f.batch(), &collective).unwrap().0
                })
            })
            .collect();
        let got: Vec<f64> = handles
            .into_iter()
            .flat_map(|h| h.join().unwrap())
            .collect();
        assert!(
            rel(&got, &want) < 1e-12,
            "{text} {split:?}: {}",
            rel(&got, &want)
        );
    }
}

#[test]
fn bad_batches_are_typed_errors_naming_what_and_where() {
    let x = [0.0f32; 6];
    let e = BatchSets::dense("x", &x, 2, 2, 2).unwrap_err();
    assert!(
        matches!(
            e,
            DriftError::ShapeMismatch {
                expected: 8,
                found: 6,
                ..
            }
        ),
        "{e}"
    );
    let e = BatchSets::ragged("y", &x, vec![0, 2, 1], 2).unwrap_err();
    assert!(e.to_string().contains("y.offsets"), "{e}");
    let nan = [0.0f32, f32::NAN];
    let e = BatchSets::dense("x", &nan, 1, 1, 2).unwrap_err();
    assert!(
        matches!(e, DriftError::NonFiniteCoordinate { coord: 1, .. }),
        "{e}"
    );
    let xs = BatchSets::dense("x", &x, 3, 1, 2).unwrap();
    let ys = BatchSets::dense("y", &x, 1, 3, 2).unwrap();
    let e = ProblemBatch::new(xs.clone(), ys).unwrap_err();
    assert!(e.to_string().contains("problems in the batch"), "{e}");
    let e = xs.clone().with_weights(&[1.0, -1.0, 1.0]).unwrap_err();
    assert!(
        matches!(e, DriftError::InvalidWeight { point: 1, .. }),
        "{e}"
    );
    // A failing problem is named: the second problem has no data.
    let x = [
        0.0f32, 0.0, 0.5, 0.0, 0.0, 0.0, 0.5, 0.0, 0.0, 0.0, 0.5, 0.0,
    ];
    let xs = BatchSets::dense("x", &x, 3, 2, 2).unwrap();
    let y = [1.0f32; 4];
    let ys = BatchSets::ragged("y", &y, vec![0, 1, 1, 2], 2).unwrap();
    let b = ProblemBatch::new(xs, ys).unwrap();
    let op = operator_from_str(r#"{"one_sided": (temperature: 0.5)}"#, "t").unwrap();
    let e = run_batch(op.as_ref(), &b, &SingleProcess).unwrap_err();
    assert!(matches!(e, DriftError::InProblem { index: 1, .. }), "{e}");
    let op = operator_from_str(r#"{"deng_official": ()}"#, "t").unwrap();
    let e = run_batch(op.as_ref(), &b, &SingleProcess).unwrap_err();
    assert!(matches!(e, DriftError::InProblem { index: 1, .. }), "{e}");
}

/// The README's batch example, as written there.
#[test]
fn the_readme_batch_example_runs() -> std::result::Result<(), DriftError> {
    let (b, n, m, d) = (3, 4, 6, 2);
    let x: Vec<f32> = (0..b * n * d).map(|k| (k % 7) as f32 * 0.1).collect(); // [B, N, D]
    let y: Vec<f32> = (0..b * m * d).map(|k| 1.0 + (k % 5) as f32 * 0.1).collect(); // [B, M, D]
    let batch = ProblemBatch::new(
        BatchSets::dense("x", &x, b, n, d)?,
        BatchSets::dense("y", &y, b, m, d)?,
    )?;
    let op = drift_api::operator_from_str(r#"{"deng_official": ()}"#, "op")?;
    let mut v = vec![0.0f32; x.len()]; // V, [B, N, D]
    let report = apply_drift_batch(
        op.as_ref(),
        BatchProblem {
            backend: &drift_ops::CpuBackend,
            batch: &batch,
            context: &Context::default(),
            out: &mut v,
            scale: 1.0,
            collective: &SingleProcess,
        },
    )?;
    assert!(report.scale.is_some() && report.temperature_norms.len() == 3);
    assert!(v.iter().all(|c| c.is_finite()) && v.iter().any(|c| *c != 0.0));
    Ok(())
}
