//! The joint engine: one coupling of `X` with the concatenated columns `[Y; X]` (Deng et al. Alg. 2).

use super::cross_minus_self::require_pairs;
use super::term::{evaluate, TermRef};
use super::weighting::{accumulate_field, report, RowWeighting, Side};
use drift_api::{ColumnBlock, DriftProblem, DriftReport, Real, Result};

/// Couples `X` with the joint column set `[Y; X]` (the `X` block optionally masked on its diagonal),
/// with column weights `M/(M+N)·b` and `N/(M+N)·a` so that uniform inputs give uniform joint columns;
/// the `Y` block is the attraction, the `X` block the repulsion.
pub(crate) fn run_joint<T: Real>(
    mut p: DriftProblem<'_, T>,
    name: &str,
    term: TermRef<'_>,
    mask_self: bool,
    weighting: RowWeighting,
) -> Result<DriftReport> {
    p.check()?;
    require_pairs(name, p.x.len(), mask_self)?;
    let (n, m) = (p.x.len() as f64, p.y.len() as f64);
    let log_a = p.x.log_weights();
    let shift = |l: &[T], share: f64| -> Vec<T> {
        let s = T::of((share / (n + m)).ln());
        l.iter().map(|v| *v + s).collect()
    };
    let joint_b = shift(&p.y.log_weights(), m);
    let joint_a = shift(&log_a, n);
    let out = evaluate(
        p.backend,
        term,
        p.x,
        &log_a,
        &[
            ColumnBlock {
                points: p.y,
                log_weights: &joint_b,
                mask_diagonal: false,
            },
            ColumnBlock {
                points: p.x,
                log_weights: &joint_a,
                mask_diagonal: mask_self,
            },
        ],
        false,
    )?;
    let norm = accumulate_field(
        &mut p,
        weighting,
        Side {
            masses: &out.masses[0],
            displacements: &out.displacements[0],
        },
        Side {
            masses: &out.masses[1],
            displacements: &out.displacements[1],
        },
    )?;
    Ok(report(name, vec![out.report], norm))
}
