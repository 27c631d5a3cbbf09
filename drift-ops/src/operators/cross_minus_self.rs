//! The generic cross-minus-self operator, and the split engine every operator of that family runs
//! on: the attraction couples `X` with `Y`, the repulsion `X` with itself.

use crate::engine::{
    add_weighted_difference, evaluate_term, run_guarded, Engine, NegativeColumns, Term,
    TermProblem, TermRef,
};
use crate::weightings::Unit;
use drift_api::{
    ColumnBlock, DriftError, DriftProblem, DriftReport, PointCloud, Real, Result, Weighting,
};
use serde::{Deserialize, Serialize};

/// The general cross-minus-self drift `V_i = α⁺_i (bar⁺_i − x_i) − α⁻_i (bar⁻_i − x_i)`, with any
/// kernel and coupling on each side: the attraction couples `X` with `Y`, the repulsion `X` with
/// itself (diagonal masked or not), and the row weighting picks `α±`. RON name `cross_minus_self`.
///
/// Every named kernel operator (one-sided, Sinkhorn proxy, Sinkhorn drift) is this operator with fixed
/// parts; new variants are written in RON, for example a Sinkhorn attraction with a proxy repulsion.
///
/// ```
/// use drift_api::PointCloud;
/// use drift_ops::{engine::Term, CrossMinusSelf, Gaussian, Sinkhorn, TwoSidedProxy, Unit};
/// let op = CrossMinusSelf {
///     attraction: Term::new(Box::new(Gaussian), Box::new(Sinkhorn::new(200, 1e-9)), 0.5),
///     repulsion: Term::new(Box::new(Gaussian), Box::new(TwoSidedProxy), 0.5),
///     mask_self: false,
///     weighting: Box::new(Unit),
/// };
/// let x = PointCloud::new("x", vec![0.0f64, 0.1, 0.2, 1.0], 2).unwrap();
/// let y = PointCloud::new("y", vec![1.0f64, 1.0, 2.0, 0.5, 0.0, 0.0], 2).unwrap();
/// let (v, report) = drift_ops::drift(&op, &x, &y).unwrap();
/// assert_eq!(v.len(), 4);
/// assert!(report.couplings[0].converged);
/// ```
#[derive(Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CrossMinusSelf {
    /// The attraction term (`X` against `Y`).
    pub attraction: Term,
    /// The repulsion term (`X` against `X`).
    pub repulsion: Term,
    /// Mask the pairs `(i, i)` in the repulsion.
    #[serde(default)]
    pub mask_self: bool,
    /// Row weights `α±` (default `{"unit": ()}`).
    #[serde(default = "unit_weighting")]
    pub weighting: Box<dyn Weighting>,
}

/// The default row weighting of the generic operators.
pub(crate) fn unit_weighting() -> Box<dyn Weighting> {
    Box::new(Unit)
}

impl CrossMinusSelf {
    fn run<T: Real>(&self, p: DriftProblem<'_, T>) -> Result<DriftReport> {
        cross_minus_self(
            p,
            "cross_minus_self",
            self.attraction.as_ref(),
            self.repulsion.as_ref(),
            self.mask_self,
            self.weighting.as_ref(),
        )
    }

    /// Validates the whole parameter tree of this operator.
    fn check(&self) -> Result<()> {
        self.attraction.as_ref().validate("attraction")?;
        self.repulsion.as_ref().validate("repulsion")?;
        self.weighting.validate()
    }
}

/// The split engine: evaluates the attraction over `[Y]` and the repulsion over `[X]` (symmetric;
/// guidance negatives join it as a second block), at the context's temperature, and adds the
/// weighted difference into the output; `name` names the operator in reports and errors. Runs
/// behind the precision guard.
pub fn cross_minus_self<T: Real>(
    p: DriftProblem<'_, T>,
    name: &str,
    attraction: TermRef<'_>,
    repulsion: TermRef<'_>,
    mask_self: bool,
    weighting: &dyn Weighting,
) -> Result<DriftReport> {
    p.check()?;
    require_pairs(name, p.x, mask_self)?;
    let split = Split {
        name,
        attraction: attraction.in_context(p.context),
        repulsion: repulsion.in_context(p.context),
        mask_self,
        weighting,
    };
    run_guarded(p, &split)
}

/// The split engine's settings, with the context already applied to the terms.
struct Split<'a> {
    name: &'a str,
    attraction: TermRef<'a>,
    repulsion: TermRef<'a>,
    mask_self: bool,
    weighting: &'a dyn Weighting,
}

impl Engine for Split<'_> {
    fn name(&self) -> &str {
        self.name
    }

    fn terms(&self) -> Vec<TermRef<'_>> {
        vec![self.attraction, self.repulsion]
    }

    fn run<T: Real>(&self, mut p: DriftProblem<'_, T>, origin: &[T]) -> Result<DriftReport> {
        let Split {
            name,
            attraction,
            repulsion,
            mask_self,
            weighting,
        } = *self;
        let log_a = p.x.log_weights();
        let log_b = p.y.log_weights();
        let densities = weighting.needs_densities();
        let barycentres_from = weighting.equal_sides().then_some(origin);
        let data = [ColumnBlock {
            points: p.y,
            log_weights: &log_b,
            mask_diagonal: false,
        }];
        let attraction = evaluate_term(TermProblem {
            label: "attraction",
            backend: p.backend,
            term: attraction,
            rows: p.x,
            row_log_weights: &log_a,
            blocks: &data,
            symmetric: false,
            origin: barycentres_from,
            densities,
        })?;
        // The repulsion's columns: X itself, plus guidance negatives when given.
        let negatives = NegativeColumns::new(&p, &log_a, 0);
        let own_blocks = negatives.blocks(mask_self);
        let mut repulsion = evaluate_term(TermProblem {
            label: "repulsion",
            backend: p.backend,
            term: repulsion,
            rows: p.x,
            row_log_weights: &log_a,
            blocks: &own_blocks,
            symmetric: own_blocks.len() == 1,
            origin: barycentres_from,
            densities,
        })?;
        repulsion.merge_blocks_from(0);
        let norm = add_weighted_difference(
            &mut p,
            weighting,
            attraction.side(0),
            repulsion.side(0),
            origin,
        )?;
        Ok(DriftReport::of(
            name,
            vec![attraction.report, repulsion.report],
            norm,
        ))
    }
}

/// With the diagonal masked, a single particle has nothing to be repelled by; nor has the only
/// particle of positive weight, whose masked repulsion diagonal would see no mass at all (no field exists).
pub fn require_pairs<T: Real>(name: &str, x: &PointCloud<T>, mask_self: bool) -> Result<()> {
    let n = x.support_len();
    if mask_self && n < 2 {
        let what = if x.is_weighted() {
            format!("{name} with a masked repulsion diagonal (x, points of positive weight)")
        } else {
            format!("{name} with a masked repulsion diagonal (x)")
        };
        Err(DriftError::TooFewPoints {
            what,
            needed: 2,
            found: n,
        })
    } else {
        Ok(())
    }
}

drift_api::operator!(
    CrossMinusSelf = "cross_minus_self",
    summary: "Generic cross-minus-self: any kernel and coupling per term, row weighting",
    params: "attraction: Term, repulsion: Term, mask_self: bool = false, weighting: Weighting = unit",
    example: r#"(attraction: (kernel: {"gaussian": ()}, coupling: {"sinkhorn": (max_iters: 50)}, temperature: 0.1), repulsion: (kernel: {"gaussian": ()}, coupling: {"proxy": ()}, temperature: 0.1), mask_self: false, weighting: {"unit": ()})"#
);
