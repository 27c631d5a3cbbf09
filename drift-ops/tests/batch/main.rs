//! Batches of problems: the official loss against a dense f64 reference written here from
//! `docs/MATH.md`, batches of one against the single-problem call (bit for bit, every registered
//! operator), the per-problem default against the batched paths, batch-wide statistics, and a
//! batch split over two "processes" through a collective.

use drift_api::batch::{apply_drift_batch, problem_by_problem, BatchProblem};
use drift_api::kit::{BatchSets, ProblemBatch, SingleProcess};
use drift_api::registry::{entries, Kind};
use drift_api::{
    apply_drift, operator_from_str, Context, DriftError, DriftOperator, DriftProblem, Negatives,
    PointCloud, Real, Result,
};
use drift_ops::CpuBackend;
use std::sync::Arc;

#[path = "../common/mod.rs"]
mod common;
mod fixtures;
mod official;

use fixtures::*;

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
            .zip(common::ThreadGroup::members(2))
            .map(|(half, collective)| {
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
