//! The joint operator, and the joint engine it runs on: one coupling of `X` with the concatenated
//! columns `[Y; X]` (Deng et al.'s Algorithm 2 is its paper form, [`crate::DengAlg2`]).

use super::cross_minus_self::{require_pairs, unit_weighting};
use super::defaults::yes;
use crate::engine::{
    add_weighted_difference, evaluate_term, run_guarded, Engine, NegativeColumns, Term,
    TermProblem, TermRef,
};
use drift_api::{ColumnBlock, DriftProblem, DriftReport, Real, Result, Weighting};
use serde::{Deserialize, Serialize};

/// Cross minus self through one joint coupling: `X` is coupled with the concatenated column set
/// `[Y; X]` (the `X` block masked on its diagonal when `mask_self`), the `Y` block's displacement
/// attracts and the `X` block's repels, weighted by `weighting` from the two blocks' row masses.
/// With the two-sided proxy and [`crate::MassProduct`] this is Deng et al.'s Algorithm 2
/// ([`crate::DengAlg2`]); with Sinkhorn it enforces both marginals over the joint set.
/// RON name `joint`.
///
/// ```
/// use drift_api::PointCloud;
/// use drift_ops::{engine::Term, JointCrossMinusSelf, Laplace, Sinkhorn, Unit};
/// let op = JointCrossMinusSelf {
///     term: Term::new(Box::new(Laplace), Box::new(Sinkhorn::new(100, 1e-8)), 0.3),
///     mask_self: true,
///     weighting: Box::new(Unit),
/// };
/// let x = PointCloud::new("x", vec![0.0f64, 0.2], 1).unwrap();
/// let y = PointCloud::new("y", vec![1.0f64, 1.5], 1).unwrap();
/// let (v, _) = drift_ops::drift(&op, &x, &y).unwrap();
/// assert!(v[0] > 0.0);
/// ```
#[derive(Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct JointCrossMinusSelf {
    /// Kernel, coupling and temperature of the joint plan.
    pub term: Term,
    /// Mask `j = i` in the self block (default true).
    #[serde(default = "yes")]
    pub mask_self: bool,
    /// Row weights `α±` from the two blocks' row masses (default `{"unit": ()}`).
    #[serde(default = "unit_weighting")]
    pub weighting: Box<dyn Weighting>,
}

impl JointCrossMinusSelf {
    fn run<T: Real>(&self, p: DriftProblem<'_, T>) -> Result<DriftReport> {
        joint(
            p,
            "joint",
            self.term.as_ref(),
            self.mask_self,
            self.weighting.as_ref(),
        )
    }

    /// Validates the whole parameter tree of this operator.
    fn check(&self) -> Result<()> {
        self.term.as_ref().validate("joint.term")?;
        self.weighting.validate()
    }
}

/// The joint engine: couples `X` with `[Y; X]` (and guidance negatives as a third block), with
/// column weights `M/(M+N)·b` and `N/(M+N)·a` so that uniform inputs give uniform joint columns
/// (`M`, `N` count the points of positive weight); the `Y` block is the attraction, the `X` block
/// the repulsion. Applies the context's temperature factor and runs behind the precision guard.
pub fn joint<T: Real>(
    p: DriftProblem<'_, T>,
    name: &str,
    term: TermRef<'_>,
    mask_self: bool,
    weighting: &dyn Weighting,
) -> Result<DriftReport> {
    p.check()?;
    require_pairs(name, p.x, mask_self)?;
    let joint = JointEngine {
        name,
        term: term.in_context(p.context),
        mask_self,
        weighting,
    };
    run_guarded(p, &joint)
}

/// The joint engine's settings, with the context already applied to the term.
struct JointEngine<'a> {
    name: &'a str,
    term: TermRef<'a>,
    mask_self: bool,
    weighting: &'a dyn Weighting,
}

impl Engine for JointEngine<'_> {
    fn name(&self) -> &str {
        self.name
    }

    fn terms(&self) -> Vec<TermRef<'_>> {
        vec![self.term]
    }

    fn run<T: Real>(&self, mut p: DriftProblem<'_, T>, origin: &[T]) -> Result<DriftReport> {
        let JointEngine {
            name,
            term,
            mask_self,
            weighting,
        } = *self;
        let log_a = p.x.log_weights();
        // Joint columns [Y; X; negatives] with relative masses M : N : w·N_neg, counting the points with
        // mass only: a zero-weight point must not change the shares of the others.
        let m = p.y.support_len();
        let negatives = NegativeColumns::new(&p, &log_a, m);
        let shift = T::of(negatives.share(m as f64));
        let joint_b: Vec<T> = p.y.log_weights().iter().map(|v| *v + shift).collect();
        let mut blocks = vec![ColumnBlock {
            points: p.y,
            log_weights: &joint_b,
            mask_diagonal: false,
        }];
        blocks.extend(negatives.blocks(mask_self));
        let mut out = evaluate_term(TermProblem {
            label: "joint",
            backend: p.backend,
            term,
            rows: p.x,
            row_log_weights: &log_a,
            blocks: &blocks,
            symmetric: false,
            origin: weighting.equal_sides().then_some(origin),
            densities: weighting.needs_densities(),
        })?;
        out.merge_blocks_from(1);
        let norm = add_weighted_difference(&mut p, weighting, out.side(0), out.side(1), origin)?;
        Ok(DriftReport::of(name, vec![out.report], norm))
    }
}

drift_api::operator!(
    JointCrossMinusSelf = "joint",
    summary: "Generic joint operator: one coupling of X with [Y; X], blocks weighted by row masses",
    params: "term: Term, mask_self: bool = true, weighting: Weighting = unit",
    example: r#"(term: (kernel: {"laplace": ()}, coupling: {"sinkhorn": (max_iters: 50)}, temperature: 0.1), mask_self: true, weighting: {"mass_product": ()})"#
);
