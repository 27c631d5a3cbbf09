//! The joint engine: one coupling of `X` with the concatenated columns `[Y; X]` (Deng et al. Alg. 2).

use super::cross_minus_self::require_pairs;
use super::negatives::NegativeColumns;
use super::precision::{run_guarded, Engine};
use super::term::{evaluate, TermRef};
use super::weighting::{accumulate_field, RowWeighting};
use crate::field::report;
use drift_api::{ColumnBlock, DriftProblem, DriftReport, Real, Result};

/// Couples `X` with the joint column set `[Y; X]` (the `X` block optionally masked on its diagonal),
/// with column weights `M/(M+N)·b` and `N/(M+N)·a` so that uniform inputs give uniform joint columns
/// (`M`, `N` count the points of positive weight); the `Y` block is the attraction, the `X` block the
/// repulsion.
pub(crate) fn run_joint<T: Real>(
    p: DriftProblem<'_, T>,
    name: &str,
    term: TermRef<'_>,
    mask_self: bool,
    weighting: RowWeighting,
) -> Result<DriftReport> {
    p.check()?;
    require_pairs(name, p.x, mask_self)?;
    let joint = Joint {
        name,
        term: term.in_context(p.context),
        mask_self,
        weighting,
    };
    run_guarded(p, &joint)
}

/// The joint engine's settings, with the context already applied to the term.
struct Joint<'a> {
    name: &'a str,
    term: TermRef<'a>,
    mask_self: bool,
    weighting: RowWeighting,
}

impl Engine for Joint<'_> {
    fn name(&self) -> &str {
        self.name
    }

    fn terms(&self) -> Vec<TermRef<'_>> {
        vec![self.term]
    }

    fn run<T: Real>(&self, mut p: DriftProblem<'_, T>, origin: &[T]) -> Result<DriftReport> {
        let Joint {
            name,
            term,
            mask_self,
            weighting,
        } = *self;
        let log_a = p.x.log_weights();
        // Joint columns [Y; X; negatives] with relative masses M : N : w·N_neg, counting the points with
        // mass only: a zero-weight point must not change the shares of the others.
        let m = p.y.support_len();
        let negatives = NegativeColumns::new(&p, m);
        let shift = T::of(negatives.share(m as f64));
        let joint_b: Vec<T> = p.y.log_weights().iter().map(|v| *v + shift).collect();
        let (joint_a, extra) = negatives.log_weights(&log_a);
        let mut blocks = vec![
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
        ];
        if let Some((points, lw)) = negatives.points.zip(extra.as_deref()) {
            blocks.push(ColumnBlock {
                points,
                log_weights: lw,
                mask_diagonal: false,
            });
        }
        let barycentres_from = weighting.equal_sides().then_some(origin);
        let mut out = evaluate(
            "joint",
            p.backend,
            term,
            p.x,
            &log_a,
            &blocks,
            false,
            barycentres_from,
        )?;
        out.merge_blocks_from(1);
        let norm = accumulate_field(&mut p, weighting, out.side(0), out.side(1), origin)?;
        Ok(report(name, vec![out.report], norm, Vec::new()))
    }
}
