//! The two-sided Sinkhorn proxy: the geometric mean of the row and the column softmax.

use super::passes::{scaling, Passes};
use drift_api::{CouplingJob, CouplingProblem, CouplingReport, Potentials, Real, Result};
use serde::{Deserialize, Serialize};

/// Two-sided proxy: `A = sqrt(softmax_row(ℓ) ⊙ softmax_col(ℓ))`, one geometric-mean half step of
/// Sinkhorn (Deng et al. Algorithm 2; analysed by Gretton et al.). As potentials,
/// `f_i = ½(log ã_i − lse^row_i)`, `g_j = ½(log b̃_j − lse^col_j)`.
///
/// Weights enter as *relative* masses `ã_i = N a_i`, `b̃_j = M b_j` (`M` counts every column block), so
/// that uniform weights give exactly the paper's unweighted formula; with weights, each softmax is
/// weighted by the opposite marginal. `N` and `M` count the points with mass only. A zero-weight row
/// gets `f_i = −∞`: its plan row vanishes, as it does in the limit `a_i → 0` (`A_ij ∝ sqrt(a_i)`),
/// and its row-normalised barycentre still comes from the columns' potentials.
///
/// RON name `proxy`: `coupling: {"proxy": ()}`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TwoSidedProxy;

impl TwoSidedProxy {
    fn run<T: Real>(&self, p: CouplingProblem<'_, T>) -> Result<CouplingReport> {
        let passes = Passes {
            backend: p.backend,
            kernel: p.kernel,
            tau: p.tau,
        };
        let half = T::of(0.5);
        // Counts of points with mass: zero-weight points must not change anyone's relative mass.
        let log_n = T::of((support(p.row_log_weights) as f64).ln());
        // A shard of Y split by columns counts the points of its whole set.
        let total_cols: usize = p
            .blocks
            .iter()
            .map(|b| match b.points.whole() {
                Some(_) => b.points.support_len(),
                None => support(b.log_weights),
            })
            .sum();
        let log_m = T::of((total_cols as f64).ln());
        let rel_a: Vec<T> = p.row_log_weights.iter().map(|l| *l + log_n).collect();
        let rel_b: Vec<Vec<T>> = p
            .blocks
            .iter()
            .map(|b| b.log_weights.iter().map(|l| *l + log_m).collect())
            .collect();
        let rel_b_refs: Vec<&[T]> = rel_b.iter().map(|v| v.as_slice()).collect();
        let lse_row = passes.row_lse_all(p.rows, p.blocks, &rel_b_refs)?;
        let f: Vec<T> = rel_a
            .iter()
            .zip(&lse_row)
            .map(|(a, l)| half * scaling(*a, *l))
            .collect();
        let g = if p.symmetric {
            // Same points, weights and mask on both sides: the column LSE is the row LSE.
            vec![f.clone()]
        } else {
            let mut g = Vec::with_capacity(p.blocks.len());
            for (block, rb) in p.blocks.iter().zip(&rel_b) {
                let lse_col = passes.col_lse(p.rows, block, Some(&rel_a))?;
                g.push(
                    rb.iter()
                        .zip(&lse_col)
                        .map(|(b, l)| half * scaling(*b, *l))
                        .collect(),
                );
            }
            g
        };
        *p.out = Potentials { f: Some(f), g };
        Ok(CouplingReport {
            coupling: "proxy".into(),
            converged: true,
            ..Default::default()
        })
    }
}

/// The number of points with mass (finite log-weight).
fn support<T: Real>(log_weights: &[T]) -> usize {
    log_weights.iter().filter(|l| l.is_finite()).count()
}

drift_api::coupling!(
    TwoSidedProxy = "proxy",
    summary: "Two-sided proxy: sqrt(softmax_row * softmax_col), one geometric half step of Sinkhorn",
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
