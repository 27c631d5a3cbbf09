//! The official loss's backend hook (`Backend::official_stages_*`): a backend that offers the
//! passes runs them, and the batch-wide statistics between them are taken from its sums; the
//! official conformance suite catches a backend whose passes are wrong.

use drift_api::batch::{apply_drift_batch, BatchProblem};
use drift_api::kit::{
    Backend, BatchSets, OfficialJob, OfficialStages, ProblemBatch, ReductionJob, Stages,
};
use drift_api::{operator_from_str, Context, Result};
use drift_ops::conformance::run_official_suite;
use drift_ops::CpuBackend;
use std::sync::Mutex;

/// What the fake passes were given.
#[derive(Debug, Default)]
struct Seen {
    scales: Vec<f64>,
    weights: Vec<Vec<f64>>,
}

/// A backend whose f64 official passes return fixed sums: per problem `b`, scale sums
/// `(b + 1, 1)`, `Σ G_R² = (r + 1)·count`, and a field of ones.
#[derive(Debug, Default)]
struct Fixed {
    seen: Mutex<Seen>,
}

struct FixedStages<'a> {
    backend: &'a Fixed,
    batch: &'a ProblemBatch<'a, f64>,
    temperatures: usize,
}

impl OfficialStages<f64> for FixedStages<'_> {
    fn scale_sums(&mut self) -> Result<Vec<(f64, f64)>> {
        Ok((0..self.batch.problems())
            .map(|b| (b as f64 + 1.0, 1.0))
            .collect())
    }
    fn forces(&mut self, scales: &[f64]) -> Result<Vec<Vec<f64>>> {
        self.backend.seen.lock().unwrap().scales = scales.to_vec();
        let dim = self.batch.dim() as f64;
        Ok((0..self.batch.problems())
            .map(|b| {
                let count = self.batch.x.len(b) as f64 * dim;
                (0..self.temperatures)
                    .map(|r| (r as f64 + 1.0) * count)
                    .collect()
            })
            .collect())
    }
    fn combine(
        &mut self,
        weights: &[Vec<f64>],
        out: &mut [f64],
        out_scale: f64,
    ) -> Result<Vec<(f64, f64)>> {
        self.backend.seen.lock().unwrap().weights = weights.to_vec();
        out.iter_mut().for_each(|v| *v += out_scale);
        let dim = self.batch.dim();
        Ok((0..self.batch.problems())
            .map(|b| {
                let count = (self.batch.x.len(b) * dim) as f64;
                (count, count)
            })
            .collect())
    }
}

impl Backend for Fixed {
    fn name(&self) -> &str {
        "fixed"
    }
    fn row_reduce(&self, job: ReductionJob<'_>) -> Result<()> {
        CpuBackend.row_reduce(job)
    }
    fn official_stages_f64<'a>(
        &'a self,
        job: OfficialJob<'a, f64>,
    ) -> Result<Option<Stages<'a, f64>>> {
        Ok(Some(Box::new(FixedStages {
            backend: self,
            batch: job.batch,
            temperatures: job.temperatures.len(),
        })))
    }
}

#[test]
fn a_backend_that_offers_the_passes_runs_them_and_gets_the_statistics_from_its_sums() {
    let dim = 4;
    let x: Vec<f64> = (0..(3 + 5) * dim)
        .map(|k| (k as f64 * 0.37).sin())
        .collect();
    let y: Vec<f64> = (0..(6 + 2) * dim)
        .map(|k| (k as f64 * 0.71).cos())
        .collect();
    let batch = ProblemBatch::new(
        BatchSets::ragged("x", &x, vec![0, 3, 8], dim).unwrap(),
        BatchSets::ragged("y", &y, vec![0, 6, 8], dim).unwrap(),
    )
    .unwrap();
    for (over, per_problem) in [("Batch", false), ("Problem", true)] {
        let backend = Fixed::default();
        let op =
            operator_from_str(&format!(r#"{{"deng_official": (over: {over})}}"#), "t").unwrap();
        let mut out = vec![0.0; batch.field_len()];
        let context = Context::default();
        let mut problem = BatchProblem::new(&backend, &batch, &context, &mut out);
        problem.scale = 2.0;
        let report = apply_drift_batch(op.as_ref(), problem).unwrap();
        assert!(out.iter().all(|v| *v == 2.0), "the backend's field, scaled");
        let seen = backend.seen.lock().unwrap();
        // Scales: Σ (b + 1) / Σ 1 = 1.5 over the batch, b + 1 per problem.
        let scales: Vec<f64> = if per_problem {
            vec![1.0, 2.0]
        } else {
            vec![1.5, 1.5]
        };
        assert_eq!(seen.scales, scales, "{over}");
        // λ_R = sqrt(Σ G_R² / c² / count) = sqrt(r + 1) / c, with c = max(s/√D, 1e-3); the
        // weights are 1/λ_R.
        for (b, w) in seen.weights.iter().enumerate() {
            let c = (scales[b] / (dim as f64).sqrt()).max(1e-3);
            for (r, w) in w.iter().enumerate() {
                let want = c / (r as f64 + 1.0).sqrt();
                assert!(
                    (w - want).abs() < 1e-12 * want,
                    "{over} b {b} r {r}: {w} vs {want}"
                );
            }
        }
        assert_eq!(report.scale, Some(scales.iter().sum::<f64>() / 2.0));
        assert_eq!(report.temperature_norms.len(), 3);
    }
}

#[test]
fn the_official_suite_passes_the_cpu_and_catches_wrong_passes() {
    assert!(run_official_suite(&CpuBackend).is_empty());
    let failures = run_official_suite(&Fixed::default());
    // Every f64 check fails (the f32 passes fall back to the CPU stages and pass).
    assert_eq!(failures.len(), 8, "{failures:#?}");
    assert!(
        failures
            .iter()
            .all(|f| f.contains("F64") && f.contains("fixed")),
        "{failures:#?}"
    );
}
