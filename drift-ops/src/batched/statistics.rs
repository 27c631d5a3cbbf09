//! The batch-wide statistics the fast paths share: a ratio of per-problem sums (a feature scale)
//! and the per-temperature drift norms `λ_τ`, each over the whole batch (sums completed by the
//! collective, in the same order on every process) or per problem.

use drift_api::kit::{Collective, Reduction};
use drift_api::Result;

/// Each problem's `Σ numerator / Σ denominator`: over the whole batch (one value for every
/// problem) or the problem's own ratio.
pub(super) fn ratio_of_sums(
    sums: &[(f64, f64)],
    over: Reduction,
    collective: &dyn Collective,
) -> Result<Vec<f64>> {
    Ok(match over {
        Reduction::Batch => {
            let mut total = [
                sums.iter().map(|s| s.0).sum(),
                sums.iter().map(|s| s.1).sum(),
            ];
            collective.all_reduce_sum(&mut total)?;
            vec![total[0] / total[1]; sums.len()]
        }
        Reduction::Problem => sums.iter().map(|(a, b)| a / b).collect(),
    })
}

/// Each problem's `λ_τ` per temperature from its squared field sums `squares[b][τ]` and its
/// counted coordinates `counts[b]`, as `lambda_of(sum, count)`: over the whole batch (the same
/// `λ_τ` for every problem) or per problem.
pub(super) fn temperature_lambdas(
    squares: &[Vec<f64>],
    counts: &[f64],
    over: Reduction,
    collective: &dyn Collective,
    lambda_of: impl Fn(f64, f64) -> f64,
) -> Result<Vec<Vec<f64>>> {
    let temperatures = squares.first().map_or(0, Vec::len);
    Ok(match over {
        Reduction::Batch => {
            let mut totals: Vec<f64> = (0..temperatures)
                .map(|r| squares.iter().map(|s| s[r]).sum())
                .collect();
            totals.push(counts.iter().sum());
            collective.all_reduce_sum(&mut totals)?;
            let all: Vec<f64> = (0..temperatures)
                .map(|r| lambda_of(totals[r], totals[temperatures]))
                .collect();
            vec![all; squares.len()]
        }
        Reduction::Problem => squares
            .iter()
            .zip(counts)
            .map(|(s, count)| s.iter().map(|sq| lambda_of(*sq, *count)).collect())
            .collect(),
    })
}
