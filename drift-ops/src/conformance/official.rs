//! The official loss's batched passes ([`drift_api::kit::OfficialStages`]) of a backend against the
//! CPU stages, which `drift-ops/tests/batch/official.rs` checks against a dense f64 reference of
//! the release's loss: ragged batches with and without weighted negatives, both batch-wide and
//! per-problem statistics, `D` = 3 and 64, f32 within 1e-5 and f64 within 1e-10 of the field's
//! largest value, and the reported scale and `λ_R` alike.

use crate::random::SplitMix64;
use crate::CpuBackend;
use drift_api::batch::{apply_drift_batch, BatchProblem, BatchReport};
use drift_api::kit::{Backend, BatchSets, ProblemBatch};
use drift_api::{operator_from_str, Context, DriftOperator, Real, Result};

/// One side of a batch: coordinates, offsets (in points) and optional weights.
type Side<T> = (Vec<T>, Vec<usize>, Option<Vec<T>>);

/// A seeded ragged batch: per problem `(N, negatives, positives)`; negatives drawn only when
/// `negatives` holds, weights on every side when `weighted`.
struct Case<T> {
    dim: usize,
    x: Side<T>,
    y: Side<T>,
    neg: Option<Side<T>>,
}

fn side<T: Real>(
    rng: &mut SplitMix64,
    counts: &[usize],
    dim: usize,
    centre: f64,
    weighted: bool,
) -> Side<T> {
    let total: usize = counts.iter().sum();
    let data = (0..total * dim)
        .map(|_| T::of(centre + rng.normal()))
        .collect();
    let offsets = std::iter::once(0)
        .chain(counts.iter().scan(0, |acc, c| {
            *acc += c;
            Some(*acc)
        }))
        .collect();
    let weights = weighted.then(|| {
        (0..total)
            .map(|_| T::of(0.5 + 2.5 * rng.uniform()))
            .collect()
    });
    (data, offsets, weights)
}

impl<T: Real> Case<T> {
    fn new(
        seed: u64,
        dim: usize,
        sizes: &[(usize, usize, usize)],
        negatives: bool,
        weighted: bool,
    ) -> Self {
        let mut rng = SplitMix64::new(seed);
        let pick = |k: usize| sizes.iter().map(|s| [s.0, s.1, s.2][k]).collect::<Vec<_>>();
        Case {
            dim,
            x: side(&mut rng, &pick(0), dim, 0.0, weighted),
            y: side(&mut rng, &pick(2), dim, 0.7, weighted),
            neg: negatives.then(|| side(&mut rng, &pick(1), dim, -0.4, weighted)),
        }
    }

    fn batch(&self) -> Result<ProblemBatch<'_, T>> {
        let batch =
            ProblemBatch::new(sets("x", &self.x, self.dim)?, sets("y", &self.y, self.dim)?)?;
        match &self.neg {
            Some(n) => batch.with_negatives(sets("negatives", n, self.dim)?),
            None => Ok(batch),
        }
    }
}

/// A side as the batch's sets (with its weights when it has them).
fn sets<'a, T: Real>(what: &str, side: &'a Side<T>, dim: usize) -> Result<BatchSets<'a, T>> {
    let b = BatchSets::ragged(what, &side.0, side.1.clone(), dim)?;
    match &side.2 {
        Some(w) => b.with_weights(w),
        None => Ok(b),
    }
}

fn run<T: Real>(
    backend: &dyn Backend,
    op: &dyn DriftOperator,
    batch: &ProblemBatch<'_, T>,
) -> Result<(Vec<T>, BatchReport)> {
    let mut out = vec![T::zero(); batch.field_len()];
    let context = Context::default();
    let report = apply_drift_batch(op, BatchProblem::new(backend, batch, &context, &mut out))?;
    Ok((out, report))
}

/// One case on `backend` against the CPU stages: `Err` names the case and the largest deviation.
fn check<T: Real>(
    backend: &dyn Backend,
    name: &str,
    case: &Case<T>,
    over: &str,
    tol: f64,
) -> std::result::Result<(), String> {
    let fail = |what: String| {
        format!(
            "official {name} {over} {:?} on {}: {what}",
            T::PRECISION,
            backend.name()
        )
    };
    let op = operator_from_str(
        &format!(r#"{{"deng_official": (over: {over})}}"#),
        "conformance",
    )
    .map_err(|e| fail(e.to_string()))?;
    let batch = case.batch().map_err(|e| fail(e.to_string()))?;
    let (got, report) = run(backend, op.as_ref(), &batch).map_err(|e| fail(e.to_string()))?;
    let (want, expected) =
        run(&CpuBackend, op.as_ref(), &batch).map_err(|e| fail(e.to_string()))?;
    let top = want.iter().fold(0.0f64, |m, v| m.max(v.as_f64().abs()));
    let diff = got
        .iter()
        .zip(&want)
        .fold(0.0f64, |m, (a, b)| m.max((a.as_f64() - b.as_f64()).abs()));
    if diff.is_nan() || diff > tol * top {
        return Err(fail(format!(
            "field {:.3e} of its largest value apart (tolerance {tol:e})",
            diff / top
        )));
    }
    let close = |a: f64, b: f64| (a - b).abs() <= tol * b.abs().max(1e-30);
    let statistics = std::iter::once((
        report.scale.unwrap_or(f64::NAN),
        expected.scale.unwrap_or(f64::NAN),
    ))
    .chain(
        report
            .temperature_norms
            .iter()
            .zip(&expected.temperature_norms)
            .map(|(a, b)| (a.lambda, b.lambda)),
    );
    for (a, b) in statistics {
        if !close(a, b) {
            return Err(fail(format!(
                "reported statistic {a} against the CPU's {b}"
            )));
        }
    }
    Ok(())
}

/// Runs every official-loss case on `backend` in both precisions; returns the failures.
pub fn run_official_suite(backend: &dyn Backend) -> Vec<String> {
    let sizes: [(usize, usize, usize); 4] = [(6, 2, 9), (4, 0, 5), (9, 3, 12), (1, 1, 2)];
    let mut failures = Vec::new();
    let mut ran = 0;
    for (k, (dim, negatives, weighted)) in [
        (3, false, false),
        (3, true, true),
        (64, true, false),
        (64, false, true),
    ]
    .into_iter()
    .enumerate()
    {
        let name = format!("D={dim} negatives={negatives} weighted={weighted}");
        let seed = 500 + k as u64;
        for over in ["Batch", "Problem"] {
            let c32 = Case::<f32>::new(seed, dim, &sizes, negatives, weighted);
            let c64 = Case::<f64>::new(seed, dim, &sizes, negatives, weighted);
            for r in [
                check(backend, &name, &c32, over, 1e-5),
                check(backend, &name, &c64, over, 1e-10),
            ] {
                ran += 1;
                if let Err(e) = r {
                    failures.push(e);
                }
            }
        }
    }
    eprintln!(
        "official conformance on {}: {ran} checks, {} failed",
        backend.name(),
        failures.len()
    );
    failures
}
