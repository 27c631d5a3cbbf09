//! Classifier-free guidance through weighted negatives.

use drift_api::batch::support_len;
use drift_api::batch::{apply_drift_batch, BatchProblem};
use drift_api::kit::{BatchSets, ProblemBatch};
use drift_api::{
    apply_drift, check_param, BatchReport, DriftError, DriftOperator, DriftProblem, DriftReport,
    Negatives, Real, Result,
};
use serde::{Deserialize, Serialize};

/// Classifier-free guidance (Deng et al.): the problem's negatives (unconditional samples) join the
/// inner operator's repulsion with weight `w = (α − 1)(N − 1)/N_unc` each, so that the drift pushes
/// away from the unconditional distribution with guidance scale `α >= 1`. Couplings that enforce
/// marginals (Sinkhorn) see the negatives as weighted columns. `α = 1` disables them.
///
/// RON name `guidance`: `{"guidance": (operator: {"deng_alg2": (temperature: 0.05)}, alpha: 2.0)}`.
///
/// ```
/// use drift_api::{apply_drift, Context, DriftProblem, Negatives, PointCloud};
/// use drift_ops::{Guidance, OneSided, CpuBackend};
/// let op = Guidance { operator: Box::new(OneSided::new(0.5)), alpha: 3.0 };
/// let x = PointCloud::new("x", vec![0.0f64, 0.4], 1).unwrap();
/// let y = PointCloud::new("y", vec![1.0f64, 1.2], 1).unwrap();
/// let unc = PointCloud::new("unconditional", vec![-1.0f64], 1).unwrap();
/// let mut v = vec![0.0; 2];
/// apply_drift(&op, DriftProblem {
///     backend: &CpuBackend, x: &x, y: &y, context: &Context::default(), out: &mut v, scale: 1.0,
///     negatives: Some(Negatives::new(&unc, 0.0)),
/// }).unwrap();
/// let (plain, _) = drift_ops::drift(&OneSided::new(0.5), &x, &y).unwrap();
/// assert!(v[0] > plain[0]); // repelled from the unconditional sample on the left
/// ```
#[derive(Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Guidance {
    /// The guided operator.
    pub operator: Box<dyn DriftOperator>,
    /// Guidance scale `α >= 1`.
    pub alpha: f64,
}

impl Guidance {
    /// Every negative's weight set to the guidance weight of its problem, its own weights spread
    /// as the single-problem call spreads them.
    fn run_batch<T: Real>(&self, p: BatchProblem<'_, T>) -> Result<BatchReport> {
        p.check()?;
        let guided = with_guided_negatives(self.alpha, p.batch, |guided| {
            apply_drift_batch(self.operator.as_ref(), BatchProblem { batch: guided, ..p })
        })?;
        let Some(inner) = guided else {
            return Err(DriftError::invalid(
                "guidance",
                "needs unconditional samples: the batch has no negatives",
            ));
        };
        Ok(BatchReport {
            operator: "guidance".into(),
            problems: inner.problems,
            drift_norm: inner.drift_norm,
            parts: vec![inner],
            ..Default::default()
        })
    }

    fn run<T: Real>(&self, p: DriftProblem<'_, T>) -> Result<DriftReport> {
        p.check()?;
        let Some(neg) = p.negatives else {
            return Err(DriftError::invalid(
                "guidance",
                "needs unconditional samples: the problem has no negatives",
            ));
        };
        // Sample sizes count the points with mass: zero-weight points change no one's weight.
        let negatives = Some(neg.with_weight(Negatives::<T>::guidance_weight(
            self.alpha,
            p.x.support_len(),
            neg.points.support_len(),
        )));
        let inner = apply_drift(self.operator.as_ref(), DriftProblem { negatives, ..p })?;
        Ok(DriftReport::of("guidance", Vec::new(), inner.drift_norm).with_parts(vec![inner]))
    }
}

/// Runs `f` on `batch` with every negative weighted as guidance at scale `alpha` weighs it (the
/// guidance weight of its problem, its own weights spread as the single-problem call spreads
/// them); `None` when the batch has no negatives.
pub(crate) fn with_guided_negatives<T: Real, R>(
    alpha: f64,
    batch: &ProblemBatch<'_, T>,
    f: impl FnOnce(&ProblemBatch<'_, T>) -> Result<R>,
) -> Result<Option<R>> {
    let Some(neg) = &batch.negatives else {
        return Ok(None);
    };
    let mut weights = Vec::with_capacity(neg.total_points());
    for b in 0..batch.problems() {
        let w =
            Negatives::<T>::guidance_weight(alpha, support_len(&batch.x, b), support_len(neg, b));
        match neg.weights_of(b) {
            None => weights.extend(std::iter::repeat_n(T::of(w), neg.len(b))),
            Some(own) => {
                let mean = Negatives::relative_weight_of(own);
                let per = if mean > 0.0 { w / mean } else { 0.0 };
                weights.extend(own.iter().map(|v| T::of(per * v.as_f64())));
            }
        }
    }
    let sets = BatchSets::with_data(neg, neg.data()).with_weights(&weights)?;
    let guided = ProblemBatch::new(batch.x.clone(), batch.y.clone())?.with_negatives(sets)?;
    f(&guided).map(Some)
}

impl Guidance {
    /// Validates the whole parameter tree of this operator.
    fn check(&self) -> Result<()> {
        check_param("guidance.alpha", self.alpha, self.alpha >= 1.0, ">= 1")?;
        self.operator.validate()
    }
}

drift_api::operator!(
    Guidance = "guidance",
    batched,
    summary: "Classifier-free guidance: unconditional negatives join the repulsion with weight (alpha-1)(N-1)/N_unc",
    params: "operator: Operator, alpha: f64 >= 1",
    example: r#"(operator: {"deng_alg2": (temperature: 0.05)}, alpha: 2.0)"#
);
