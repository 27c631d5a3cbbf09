//! What one evaluation reports, as read-only Python objects (nothing is printed).

use drift_api::Precision;
use pyo3::prelude::*;

/// The diagnostics of one drift evaluation: the operator, its drift norm, the couplings it solved,
/// the precision, and the reports of sub-operators for compositions.
#[pyclass(frozen, module = "drift._drift")]
pub(crate) struct Report {
    inner: drift_api::DriftReport,
}

impl From<drift_api::DriftReport> for Report {
    fn from(inner: drift_api::DriftReport) -> Self {
        Report { inner }
    }
}

#[pymethods]
impl Report {
    /// The operator's registered name.
    #[getter]
    fn operator(&self) -> &str {
        &self.inner.operator
    }

    /// The raw drift norm `sqrt(mean_i |V(x_i)|^2 / D)` of this operator's own field.
    #[getter]
    fn drift_norm(&self) -> f64 {
        self.inner.drift_norm
    }

    /// The couplings this operator solved (attraction first, then repulsion).
    #[getter]
    fn couplings(&self) -> Vec<CouplingReport> {
        self.inner
            .couplings
            .iter()
            .map(|c| CouplingReport { inner: c.clone() })
            .collect()
    }

    /// The reports of sub-operators (compositions), in order.
    #[getter]
    fn parts(&self) -> Vec<Report> {
        self.inner.parts.iter().cloned().map(Report::from).collect()
    }

    /// The precision this operator's own field was computed in, or `None` for operators that do
    /// not assess it (compositions, whose parts do).
    #[getter]
    fn precision(&self) -> Option<PrecisionReport> {
        self.inner
            .precision
            .clone()
            .map(|inner| PrecisionReport { inner })
    }

    /// The largest Sinkhorn marginal error over this report and its parts, or `None`.
    #[getter]
    fn max_marginal_error(&self) -> Option<f64> {
        self.inner.max_marginal_error()
    }

    /// Total scaling iterations over this report and its parts.
    #[getter]
    fn total_iterations(&self) -> usize {
        self.inner.total_iterations()
    }

    /// True when every coupling of this report and its parts met its tolerance.
    #[getter]
    fn converged(&self) -> bool {
        fn all(r: &drift_api::DriftReport) -> bool {
            r.couplings.iter().all(|c| c.converged) && r.parts.iter().all(all)
        }
        all(&self.inner)
    }

    /// False when some part's kernel weights may be off by more than 1e-3 relative.
    #[getter]
    fn trusted(&self) -> bool {
        self.inner.trusted()
    }

    /// True when some part was computed in float64 for float32 inputs.
    #[getter]
    fn promoted(&self) -> bool {
        self.inner.promoted()
    }

    fn __repr__(&self) -> String {
        format!(
            "Report(operator={:?}, drift_norm={:e}, couplings={}, parts={}, converged={}, trusted={})",
            self.inner.operator,
            self.inner.drift_norm,
            self.inner.couplings.len(),
            self.inner.parts.len(),
            self.converged(),
            self.trusted()
        )
    }
}

/// What a coupling reports: iterations, marginal error, convergence.
#[pyclass(frozen, module = "drift._drift")]
pub(crate) struct CouplingReport {
    inner: drift_api::CouplingReport,
}

#[pymethods]
impl CouplingReport {
    /// The coupling's registered name (`sinkhorn`, `row`, ...).
    #[getter]
    fn coupling(&self) -> &str {
        &self.inner.coupling
    }

    /// Which term solved it: `attraction`, `repulsion` or `joint` (empty if not set).
    #[getter]
    fn term(&self) -> &str {
        &self.inner.term
    }

    /// Scaling iterations performed (0 for closed-form couplings).
    #[getter]
    fn iterations(&self) -> usize {
        self.inner.iterations
    }

    /// The final L1 marginal error, for couplings that enforce marginals; else `None`.
    #[getter]
    fn marginal_error(&self) -> Option<f64> {
        self.inner.marginal_error
    }

    /// Whether the requested tolerance was met (always true for closed-form couplings).
    #[getter]
    fn converged(&self) -> bool {
        self.inner.converged
    }

    /// How an iterative coupling's passes ran: `"cached"` (the pairwise distances kept in memory,
    /// within the pair-cache budget) or `"fused"` (recomputed in every pass, memory linear in
    /// N + M); `None` for couplings that make one pass.
    #[getter]
    fn path(&self) -> Option<&'static str> {
        self.inner.path.map(|p| match p {
            drift_api::kit::PairPath::Fused => "fused",
            drift_api::kit::PairPath::Cached { .. } => "cached",
        })
    }

    fn __repr__(&self) -> String {
        format!(
            "CouplingReport(term={:?}, coupling={:?}, iterations={}, marginal_error={}, converged={})",
            self.inner.term,
            self.inner.coupling,
            self.inner.iterations,
            self.inner
                .marginal_error
                .map_or("None".into(), |e| format!("{e:e}")),
            if self.inner.converged { "True" } else { "False" }
        )
    }
}

/// How far an evaluation's arithmetic can be trusted.
#[pyclass(frozen, module = "drift._drift")]
pub(crate) struct PrecisionReport {
    inner: drift_api::kit::PrecisionReport,
}

fn precision_name(p: Precision) -> &'static str {
    match p {
        Precision::F32 => "float32",
        Precision::F64 => "float64",
    }
}

#[pymethods]
impl PrecisionReport {
    /// The precision of the inputs and the output (`float32` or `float64`).
    #[getter]
    fn requested(&self) -> &'static str {
        precision_name(self.inner.requested)
    }

    /// The precision the field was computed in (`float64` for a promoted float32 problem).
    #[getter]
    fn computed(&self) -> &'static str {
        precision_name(self.inner.computed)
    }

    /// The bound on the largest log-weight magnitude the evaluation involves.
    #[getter]
    fn log_weight_scale(&self) -> f64 {
        self.inner.log_weight_scale
    }

    /// The bound on the kernel weights' relative error.
    #[getter]
    fn weight_error_bound(&self) -> f64 {
        self.inner.weight_error_bound
    }

    /// True when computed in a wider precision than the inputs.
    #[getter]
    fn promoted(&self) -> bool {
        self.inner.promoted()
    }

    /// True when the weights' relative error is within 1e-3.
    #[getter]
    fn trusted(&self) -> bool {
        self.inner.trusted()
    }

    fn __repr__(&self) -> String {
        format!(
            "PrecisionReport(requested={:?}, computed={:?}, log_weight_scale={:e}, weight_error_bound={:e})",
            self.requested(),
            self.computed(),
            self.inner.log_weight_scale,
            self.inner.weight_error_bound
        )
    }
}

/// The diagnostics of one batched evaluation (`Operator.apply_batch`, `drift.torch.drift_loss`):
/// the operator, the number of problems, the drift norm over the whole batch, the batch-wide
/// statistics the operator computed (reduction, feature scale, per-temperature norms), the reports
/// of sub-operators, and one report per problem when the problems ran one by one.
#[pyclass(frozen, module = "drift._drift")]
pub(crate) struct BatchReport {
    inner: drift_api::BatchReport,
}

impl From<drift_api::BatchReport> for BatchReport {
    fn from(inner: drift_api::BatchReport) -> Self {
        BatchReport { inner }
    }
}

#[pymethods]
impl BatchReport {
    /// The operator's registered name.
    #[getter]
    fn operator(&self) -> &str {
        &self.inner.operator
    }

    /// The number of problems `B`.
    #[getter]
    fn problems(&self) -> usize {
        self.inner.problems
    }

    /// The raw drift norm `sqrt(mean |V|^2 / D)` of this operator's field over the whole batch
    /// (every generated sample of positive weight of every problem).
    #[getter]
    fn drift_norm(&self) -> f64 {
        self.inner.drift_norm
    }

    /// Where the operator took its batch-wide statistics: `"Batch"` (one over the whole batch),
    /// `"Problem"` (one per problem), or `None` for operators without any.
    #[getter]
    fn reduction(&self) -> Option<&'static str> {
        self.inner.reduction.map(|r| match r {
            drift_api::kit::Reduction::Batch => "Batch",
            drift_api::kit::Reduction::Problem => "Problem",
        })
    }

    /// The feature scale the operator computed (over the batch, or the mean of the per-problem
    /// scales), or `None`.
    #[getter]
    fn scale(&self) -> Option<f64> {
        self.inner.scale
    }

    /// The per-temperature normalisers as `(temperature, lambda)` pairs (empty for operators
    /// without any).
    #[getter]
    fn temperature_norms(&self) -> Vec<(f64, f64)> {
        self.inner
            .temperature_norms
            .iter()
            .map(|t| (t.temperature, t.lambda))
            .collect()
    }

    /// The batch reports of sub-operators (compositions), in order.
    #[getter]
    fn parts(&self) -> Vec<BatchReport> {
        self.inner
            .parts
            .iter()
            .cloned()
            .map(BatchReport::from)
            .collect()
    }

    /// Whether a fused batched path computed this node (rather than the problems one by one).
    #[getter]
    fn fused(&self) -> bool {
        self.inner.fused
    }

    /// One report per problem, when the problems ran one by one (operators without a batched
    /// path) or a fused path solved couplings per problem; empty otherwise.
    #[getter]
    fn per_problem(&self) -> Vec<Report> {
        self.inner
            .per_problem
            .iter()
            .cloned()
            .map(Report::from)
            .collect()
    }

    /// The largest Sinkhorn marginal error over the problems and parts, or `None`.
    #[getter]
    fn max_marginal_error(&self) -> Option<f64> {
        self.inner.max_marginal_error()
    }

    fn __repr__(&self) -> String {
        format!(
            "BatchReport(operator={:?}, problems={}, drift_norm={:e}, reduction={}, scale={}, \
             temperature_norms={}, parts={}, per_problem={})",
            self.inner.operator,
            self.inner.problems,
            self.inner.drift_norm,
            self.reduction().map_or("None".into(), |r| format!("{r:?}")),
            self.inner.scale.map_or("None".into(), |s| format!("{s:e}")),
            self.inner.temperature_norms.len(),
            self.inner.parts.len(),
            self.inner.per_problem.len()
        )
    }
}
