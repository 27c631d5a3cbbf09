//! The generic joint operator: one coupling of `X` with `[Y; X]`.

use super::cross_minus_self::Term;
use super::defaults::yes;
use super::joint::run_joint;
use super::weighting::RowWeighting;
use drift_api::{DriftProblem, DriftReport, Real, Result};
use serde::{Deserialize, Serialize};

/// Cross minus self through one joint coupling: `X` is coupled with the concatenated column set
/// `[Y; X]` (the `X` block masked on its diagonal when `mask_self`), the `Y` block's displacement
/// attracts and the `X` block's repels, weighted by `weighting` from the two blocks' row masses.
/// With the two-sided proxy and [`RowWeighting::MassProduct`] this is Deng et al.'s Algorithm 2
/// ([`crate::DengAlg2`]); with Sinkhorn it enforces both marginals over the joint set.
///
/// ```
/// use drift_api::PointCloud;
/// use drift_ops::{JointCrossMinusSelf, Laplace, RowWeighting, Sinkhorn, Term};
/// let op = JointCrossMinusSelf {
///     term: Term::new(Box::new(Laplace), Box::new(Sinkhorn::new(100, 1e-8)), 0.3),
///     mask_self: true,
///     weighting: RowWeighting::Unit,
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
    /// Row masses `α±` from the two blocks' row masses.
    #[serde(default)]
    pub weighting: RowWeighting,
}

impl JointCrossMinusSelf {
    fn run<T: Real>(&self, p: DriftProblem<'_, T>) -> Result<DriftReport> {
        run_joint(
            p,
            "joint",
            self.term.as_ref(),
            self.mask_self,
            self.weighting,
        )
    }
}

impl JointCrossMinusSelf {
    /// Validates the whole parameter tree of this operator.
    fn check(&self) -> Result<()> {
        self.term.as_ref().validate("joint.term")?;
        self.weighting.validate("joint")
    }
}

super::builtin_operator!(
    JointCrossMinusSelf,
    "joint",
    summary: "Generic joint operator: one coupling of X with [Y; X], blocks weighted by row masses",
    params: "term: Term, mask_self: bool = true, weighting = unit",
    example: r#"{"joint": (term: (kernel: {"laplace": ()}, coupling: {"sinkhorn": (max_iters: 50)}, temperature: 0.1), mask_self: true, weighting: mass_product)}"#
);
