//! What one drift evaluation reports.

use crate::coupling::CouplingReport;
use crate::kit::precision::PrecisionReport;

/// Diagnostics of one drift evaluation.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct DriftReport {
    /// The operator's registered name.
    pub operator: String,
    /// Reports of the couplings it solved (attraction first, then repulsion).
    pub couplings: Vec<CouplingReport>,
    /// The raw drift norm `λ = sqrt(mean_i ‖V(x_i)‖² / D)` of this operator's field, before `scale`.
    pub drift_norm: f64,
    /// Reports of sub-operators, for compositions.
    pub parts: Vec<DriftReport>,
    /// The precision this operator's own field was computed in and how far it can be trusted
    /// (`None` for operators that do not assess it, such as compositions, whose parts do).
    pub precision: Option<PrecisionReport>,
}

impl DriftReport {
    /// The report of operator `operator` (its RON name) with its couplings' reports and drift norm.
    pub fn of(operator: &str, couplings: Vec<CouplingReport>, drift_norm: f64) -> Self {
        DriftReport {
            operator: operator.into(),
            couplings,
            drift_norm,
            ..Default::default()
        }
    }

    /// This report with the reports of sub-operators (compositions).
    pub fn with_parts(self, parts: Vec<DriftReport>) -> Self {
        DriftReport { parts, ..self }
    }

    /// Largest Sinkhorn marginal error over this report and its parts, if any coupling reported one.
    pub fn max_marginal_error(&self) -> Option<f64> {
        let own = self.couplings.iter().filter_map(|c| c.marginal_error);
        let parts = self.parts.iter().filter_map(|p| p.max_marginal_error());
        own.chain(parts).reduce(f64::max)
    }
    /// How many Sinkhorn-type couplings of this report and its parts stopped at their iteration
    /// cap without reaching their tolerance (their field is not the exact one).
    pub fn unconverged(&self) -> usize {
        let own = self
            .couplings
            .iter()
            .filter(|c| c.marginal_error.is_some() && !c.converged)
            .count();
        own + self.parts.iter().map(|p| p.unconverged()).sum::<usize>()
    }
    /// False when this report or any of its parts computed a field whose kernel weights may be off
    /// by more than [`crate::kit::WEIGHT_ERROR_TOLERANCE`] (see [`PrecisionReport`]).
    pub fn trusted(&self) -> bool {
        self.precision.as_ref().is_none_or(|p| p.trusted())
            && self.parts.iter().all(|p| p.trusted())
    }
    /// True when this report or any of its parts was computed in f64 for f32 inputs.
    pub fn promoted(&self) -> bool {
        self.precision.as_ref().is_some_and(|p| p.promoted())
            || self.parts.iter().any(|p| p.promoted())
    }
    /// Total scaling iterations over this report and its parts.
    pub fn total_iterations(&self) -> usize {
        self.couplings.iter().map(|c| c.iterations).sum::<usize>()
            + self
                .parts
                .iter()
                .map(|p| p.total_iterations())
                .sum::<usize>()
    }
}
