//! Weighted sums of operators.

use super::accumulate::{add_batch_field, validate_children};
use crate::engine::add_field;
use drift_api::apply_drift;
use drift_api::batch::apply_drift_batch;
use drift_api::batch::BatchProblem;
use drift_api::{check_param, BatchReport, DriftOperator, DriftProblem, DriftReport, Real, Result};
use serde::{Deserialize, Serialize};

/// One term of a [`Weighted`] sum.
///
/// In RON: `(weight: 0.5, operator: {"one_sided": (temperature: 0.05)})`, an element of
/// `weighted`'s `terms` list.
#[derive(Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WeightedTerm {
    /// Finite weight (negative allowed).
    pub weight: f64,
    /// The operator.
    pub operator: Box<dyn DriftOperator>,
}

/// `V = Σ_k w_k V_k`. The children accumulate, each with its weight, into one scratch field (one
/// buffer whatever the number of terms), whose norm is reported before it is added to the output.
///
/// RON name `weighted`:
/// `{"weighted": (terms: [(weight: 1.0, operator: {"one_sided": (temperature: 0.05)}), (weight: 0.5, operator: {"mmd": (temperature: 0.5)})])}`.
///
/// ```
/// use drift_api::PointCloud;
/// use drift_ops::{OneSided, SinkhornDrift, Weighted, WeightedTerm};
/// let op = Weighted { terms: vec![
///     WeightedTerm { weight: 0.5, operator: Box::new(OneSided::new(0.5)) },
///     WeightedTerm { weight: 0.5, operator: Box::new(SinkhornDrift::new(0.5)) },
/// ]};
/// let x = PointCloud::new("x", vec![0.0f64, 0.3], 1).unwrap();
/// let y = PointCloud::new("y", vec![1.0f64, 2.0], 1).unwrap();
/// let (v, report) = drift_ops::drift(&op, &x, &y).unwrap();
/// assert_eq!(report.parts.len(), 2);
/// assert!(v[0] > 0.0);
/// ```
#[derive(Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Weighted {
    /// The weighted terms.
    pub terms: Vec<WeightedTerm>,
}

/// `V = Σ_k V_k`: [`Weighted`] with unit weights.
///
/// RON name `sum`:
/// `{"sum": (operators: [{"one_sided": (temperature: 0.05)}, {"sliced_wasserstein": (directions: 16)}])}`.
///
/// ```
/// use drift_api::DriftOperator;
/// let op = drift_ops::Sum { operators: vec![Box::new(drift_ops::Mmd::new(Default::default(), 1.0))] };
/// assert!(op.validate().is_ok());
/// assert!(drift_ops::Sum { operators: vec![] }.validate().is_err());
/// ```
#[derive(Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Sum {
    /// The operators to add.
    pub operators: Vec<Box<dyn DriftOperator>>,
}

/// Runs `(weight, operator)` pairs into one scratch field and adds it to the output.
pub(crate) fn run_weighted<'a, T: Real>(
    mut p: DriftProblem<'_, T>,
    name: &str,
    terms: impl Iterator<Item = (f64, &'a dyn DriftOperator)>,
) -> Result<DriftReport> {
    p.check()?;
    let mut field = vec![T::zero(); p.out.len()];
    let mut parts = Vec::new();
    for (w, op) in terms {
        parts.push(apply_drift(
            op,
            DriftProblem::new(p.backend, p.x, p.y, p.context, &mut field)
                .scaled(T::of(w))
                .with_negatives(p.negatives),
        )?);
    }
    let norm = add_field(&mut p, &field, "composed drift field")?;
    Ok(DriftReport::of(name, Vec::new(), norm).with_parts(parts))
}

/// The batched [`run_weighted`]: every term over the whole batch into one scratch field.
pub(crate) fn run_weighted_batch<'a, T: Real>(
    mut p: BatchProblem<'_, T>,
    name: &str,
    terms: impl Iterator<Item = (f64, &'a dyn DriftOperator)>,
) -> Result<BatchReport> {
    p.check()?;
    let mut field = drift_api::kit::try_vec("composed drift field", p.out.len(), T::zero())?;
    let mut parts = Vec::new();
    for (w, op) in terms {
        parts.push(apply_drift_batch(
            op,
            BatchProblem::new(p.backend, p.batch, p.context, &mut field)
                .scaled(T::of(w))
                .across(p.collective),
        )?);
    }
    let norm = add_batch_field(&mut p, &field, "composed drift field")?;
    Ok(BatchReport {
        operator: name.into(),
        problems: p.batch.problems(),
        drift_norm: norm,
        parts,
        ..Default::default()
    })
}

impl Weighted {
    fn run_batch<T: Real>(&self, p: BatchProblem<'_, T>) -> Result<BatchReport> {
        let terms = self.terms.iter().map(|t| (t.weight, t.operator.as_ref()));
        run_weighted_batch(p, "weighted", terms)
    }

    fn run<T: Real>(&self, p: DriftProblem<'_, T>) -> Result<DriftReport> {
        let terms = self.terms.iter().map(|t| (t.weight, t.operator.as_ref()));
        run_weighted(p, "weighted", terms)
    }
}

impl Sum {
    fn run_batch<T: Real>(&self, p: BatchProblem<'_, T>) -> Result<BatchReport> {
        run_weighted_batch(p, "sum", self.operators.iter().map(|o| (1.0, o.as_ref())))
    }

    fn run<T: Real>(&self, p: DriftProblem<'_, T>) -> Result<DriftReport> {
        run_weighted(p, "sum", self.operators.iter().map(|o| (1.0, o.as_ref())))
    }
}

impl Weighted {
    /// Validates the whole parameter tree of this operator.
    fn check(&self) -> Result<()> {
        for (k, t) in self.terms.iter().enumerate() {
            check_param(
                &format!("weighted.terms[{k}].weight"),
                t.weight,
                true,
                "real",
            )?;
        }
        validate_children(
            "weighted.terms",
            self.terms.iter().map(|t| t.operator.as_ref()),
        )
    }
}

impl Sum {
    /// Validates the whole parameter tree of this operator.
    fn check(&self) -> Result<()> {
        validate_children("sum.operators", self.operators.iter().map(|o| o.as_ref()))
    }
}

drift_api::operator!(
    Weighted = "weighted",
    batched,
    summary: "Weighted sum of operators into one buffer",
    params: "terms: [(weight: f64, operator: Operator)]",
    example: r#"(terms: [(weight: 1.0, operator: {"one_sided": (temperature: 0.05)}), (weight: 0.5, operator: {"mmd": (temperature: 0.5)})])"#
);

drift_api::operator!(
    Sum = "sum",
    batched,
    summary: "Sum of operators into one buffer",
    params: "operators: [Operator]",
    example: r#"(operators: [{"one_sided": (temperature: 0.05)}, {"sliced_wasserstein": (directions: 16)}])"#
);
