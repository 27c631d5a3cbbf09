//! The generic cross-minus-self operator, and the engine every kernel drift runs on.

use super::negatives::NegativeColumns;
use super::precision::{run_guarded, Engine};
use super::term::{evaluate, DisplacementKind, TermRef};
use super::weighting::{accumulate_field, RowWeighting};
use crate::couplings::RowNormalised;
use crate::field::report;
use crate::kernels::Laplace;
use drift_api::{
    ColumnBlock, Coupling, DriftError, DriftProblem, DriftReport, Kernel, PointCloud, Real, Result,
};
use serde::{Deserialize, Serialize};

/// An owned drift term: kernel, coupling, temperature and displacement, as written in RON files.
#[derive(Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Term {
    /// Kernel giving `ℓ` (default Laplace).
    #[serde(default = "default_kernel")]
    pub kernel: Box<dyn Kernel>,
    /// Coupling giving the plan (default one-sided).
    #[serde(default = "default_coupling")]
    pub coupling: Box<dyn Coupling>,
    /// Temperature `τ > 0`.
    pub temperature: f64,
    /// Mean or unit displacement.
    #[serde(default)]
    pub displacement: DisplacementKind,
}

fn default_kernel() -> Box<dyn Kernel> {
    Box::new(Laplace)
}
fn default_coupling() -> Box<dyn Coupling> {
    Box::new(RowNormalised)
}

impl Term {
    /// A term with the given parts and the mean displacement.
    pub fn new(kernel: Box<dyn Kernel>, coupling: Box<dyn Coupling>, temperature: f64) -> Self {
        Term {
            kernel,
            coupling,
            temperature,
            displacement: DisplacementKind::Mean,
        }
    }
    /// Borrows the term.
    pub fn as_ref(&self) -> TermRef<'_> {
        TermRef {
            kernel: self.kernel.as_ref(),
            coupling: self.coupling.as_ref(),
            temperature: self.temperature,
            displacement: self.displacement,
        }
    }
}

/// The general cross-minus-self drift `V_i = α⁺_i (bar⁺_i − x_i) − α⁻_i (bar⁻_i − x_i)`, with any
/// kernel and coupling on each side: the attraction couples `X` with `Y`, the repulsion `X` with
/// itself (diagonal masked or not), and the row weighting picks `α±`.
///
/// Every named kernel operator (one-sided, Sinkhorn proxy, Sinkhorn drift) is this operator with fixed
/// parts; new variants are written in RON, for example a Sinkhorn attraction with a proxy repulsion.
///
/// ```
/// use drift_api::PointCloud;
/// use drift_ops::{CrossMinusSelf, Gaussian, RowWeighting, Sinkhorn, Term, TwoSidedProxy};
/// let op = CrossMinusSelf {
///     cross: Term::new(Box::new(Gaussian), Box::new(Sinkhorn::new(200, 1e-9)), 0.5),
///     repulsion: Term::new(Box::new(Gaussian), Box::new(TwoSidedProxy), 0.5),
///     mask_self: false,
///     weighting: RowWeighting::Unit,
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
    pub cross: Term,
    /// The repulsion term (`X` against `X`).
    pub repulsion: Term,
    /// Mask the pairs `(i, i)` in the repulsion.
    #[serde(default)]
    pub mask_self: bool,
    /// Row masses `α±`.
    #[serde(default)]
    pub weighting: RowWeighting,
}

impl CrossMinusSelf {
    fn run<T: Real>(&self, p: DriftProblem<'_, T>) -> Result<DriftReport> {
        run_cross_minus_self(
            p,
            "cross_minus_self",
            self.cross.as_ref(),
            self.repulsion.as_ref(),
            self.mask_self,
            self.weighting,
        )
    }
}

impl CrossMinusSelf {
    /// Validates the whole parameter tree of this operator.
    fn check(&self) -> Result<()> {
        self.cross.as_ref().validate("cross")?;
        self.repulsion.as_ref().validate("repulsion")?;
        self.weighting.validate("cross_minus_self")
    }
}

/// The engine of every split cross-minus-self operator: the cross term over `[Y]`, the self term over
/// `[X]` (symmetric), then the weighted difference accumulated into the output.
pub(crate) fn run_cross_minus_self<T: Real>(
    p: DriftProblem<'_, T>,
    name: &str,
    cross: TermRef<'_>,
    repulsion: TermRef<'_>,
    mask_self: bool,
    weighting: RowWeighting,
) -> Result<DriftReport> {
    p.check()?;
    require_pairs(name, p.x, mask_self)?;
    let split = Split {
        name,
        cross: cross.in_context(p.context),
        repulsion: repulsion.in_context(p.context),
        mask_self,
        weighting,
    };
    run_guarded(p, &split)
}

/// The split engine's settings, with the context already applied to the terms.
struct Split<'a> {
    name: &'a str,
    cross: TermRef<'a>,
    repulsion: TermRef<'a>,
    mask_self: bool,
    weighting: RowWeighting,
}

impl Engine for Split<'_> {
    fn name(&self) -> &str {
        self.name
    }

    fn terms(&self) -> Vec<TermRef<'_>> {
        vec![self.cross, self.repulsion]
    }

    fn run<T: Real>(&self, mut p: DriftProblem<'_, T>, origin: &[T]) -> Result<DriftReport> {
        let Split {
            name,
            cross,
            repulsion,
            mask_self,
            weighting,
        } = *self;
        let log_a = p.x.log_weights();
        let log_b = p.y.log_weights();
        let barycentres_from = weighting.equal_sides().then_some(origin);
        let attraction = evaluate(
            "cross",
            p.backend,
            cross,
            p.x,
            &log_a,
            &[ColumnBlock {
                points: p.y,
                log_weights: &log_b,
                mask_diagonal: false,
            }],
            false,
            barycentres_from,
        )?;
        // The repulsion's columns: X itself, plus guidance negatives when given.
        let negatives = NegativeColumns::new(&p, 0);
        let (own, extra) = negatives.log_weights(&log_a);
        let mut self_blocks = vec![ColumnBlock {
            points: p.x,
            log_weights: &own,
            mask_diagonal: mask_self,
        }];
        if let Some((points, lw)) = negatives.points.zip(extra.as_deref()) {
            self_blocks.push(ColumnBlock {
                points,
                log_weights: lw,
                mask_diagonal: false,
            });
        }
        let symmetric = self_blocks.len() == 1;
        let mut self_term = evaluate(
            "self",
            p.backend,
            repulsion,
            p.x,
            &log_a,
            &self_blocks,
            symmetric,
            barycentres_from,
        )?;
        self_term.merge_blocks_from(0);
        let norm = accumulate_field(
            &mut p,
            weighting,
            attraction.side(0),
            self_term.side(0),
            origin,
        )?;
        Ok(report(
            name,
            vec![attraction.report, self_term.report],
            norm,
            Vec::new(),
        ))
    }
}

/// With the diagonal masked, a single particle has nothing to be repelled by; nor has the only
/// particle of positive weight, whose masked self term would see no mass at all (no field exists).
pub(crate) fn require_pairs<T: Real>(name: &str, x: &PointCloud<T>, mask_self: bool) -> Result<()> {
    let n = x.support_len();
    if mask_self && n < 2 {
        let what = if x.is_weighted() {
            format!("{name} with a masked self term (x, points of positive weight)")
        } else {
            format!("{name} with a masked self term (x)")
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

super::builtin_operator!(
    CrossMinusSelf,
    "cross_minus_self",
    summary: "Generic cross-minus-self: any kernel and coupling per term, row weighting",
    params: "cross: Term, repulsion: Term, mask_self: bool = false, weighting: unit|mass_product|masses(scale)|f_divergence(divergence) = unit",
    example: r#"{"cross_minus_self": (cross: (kernel: {"gaussian": ()}, coupling: {"sinkhorn": (max_iters: 50)}, temperature: 0.1), repulsion: (kernel: {"gaussian": ()}, coupling: {"proxy": ()}, temperature: 0.1), mask_self: false, weighting: unit)}"#
);
