//! The unnormalised coupling `π = k·b`.

use drift_api::{CouplingJob, CouplingProblem, CouplingReport, Potentials, Real, Result};
use serde::{Deserialize, Serialize};

/// No normalisation: `f = 0`, `g = log b`, so `π_ij = b_j k(x_i, y_j)`. The kernel-gradient (MMD) case.
///
/// RON name `unnormalised`: `coupling: {"unnormalised": ()}`.
///
/// ```
/// use drift_api::Coupling;
/// assert!(drift_ops::Unnormalised.validate().is_ok());
/// ```
#[derive(Clone, Copy, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Unnormalised;

impl Unnormalised {
    fn run<T: Real>(&self, p: CouplingProblem<'_, T>) -> Result<CouplingReport> {
        *p.out = Potentials {
            f: Some(vec![T::zero(); p.rows.len()]),
            g: p.blocks.iter().map(|b| b.log_weights.to_vec()).collect(),
        };
        Ok(CouplingReport {
            coupling: "unnormalised".into(),
            converged: true,
            ..Default::default()
        })
    }
}

drift_api::coupling!(
    Unnormalised = "unnormalised",
    summary: "No normalisation: pi = k b (MMD / kernel-gradient plans)",
    params: "",
    example: r#"()"#,
    impl {
        fn solve(&self, job: CouplingJob<'_>) -> Result<CouplingReport> {
            match job {
                CouplingJob::F32(p) => self.run(p),
                CouplingJob::F64(p) => self.run(p),
            }
        }
    }
);
