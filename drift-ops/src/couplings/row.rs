//! The one-sided (row-normalised) coupling: a softmax over the columns of each row.

use drift_api::{CouplingJob, CouplingProblem, CouplingReport, Potentials, Real, Result};
use serde::{Deserialize, Serialize};

/// One-sided normalisation: `g = log b`, `f_i = −LSE_j(ℓ_ij + log b_j)`, so every row sums to one.
/// Deng et al.'s `V⁺`/`V⁻` (Eq. 8–11): the mean shift toward the kernel-weighted barycentre.
///
/// The row potential is left to the operator's final pass (`f: None`), which computes the same
/// log-sum-exp while it accumulates the barycentre: one pass instead of two.
///
/// RON name `row`: `coupling: {"row": ()}`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RowNormalised;

impl RowNormalised {
    fn run<T: Real>(&self, p: CouplingProblem<'_, T>) -> Result<CouplingReport> {
        *p.out = Potentials {
            f: None,
            g: p.blocks.iter().map(|b| b.log_weights.to_vec()).collect(),
        };
        Ok(CouplingReport {
            coupling: "row".into(),
            converged: true,
            ..Default::default()
        })
    }
}

drift_api::coupling!(
    RowNormalised = "row",
    summary: "One-sided: each row is a softmax over the columns (Deng V+, V-)",
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
