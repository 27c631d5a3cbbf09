//! How far a drift evaluation's arithmetic can be trusted.

use crate::real::Precision;

/// The relative error of the kernel weights above which a result is not trusted: an f32 evaluation
/// past it is promoted to f64, an f64 one past it is flagged (see [`PrecisionReport::trusted`]).
pub const WEIGHT_ERROR_TOLERANCE: f64 = 1e-3;

/// What an operator reports about the precision its field was computed in.
///
/// Every kernel weight enters the log domain as `ℓ = log k(x, y)/τ`-like values whose magnitude grows
/// with the data's squared diameter over the temperature. A float of unit round-off `ε` holds such a
/// value to an absolute error of about `ε |ℓ|`, which is the *relative* error of the weight `e^ℓ`: the
/// two-sided couplings (proxy, Sinkhorn) and the density ratios combine those values across rows and
/// columns, so that error reaches the field. The engines bound `|ℓ|` before they compute (from the
/// diameter of the point sets) and run in f64 when f32 cannot hold it to
/// [`WEIGHT_ERROR_TOLERANCE`].
///
/// ```
/// use drift_api::{PointCloud};
/// use drift_api::kit::{PrecisionReport};
/// # use drift_api::Precision;
/// let report = PrecisionReport {
///     requested: Precision::F32,
///     computed: Precision::F64,
///     log_weight_scale: 2.0e7,
///     weight_error_bound: 4.4e-9,
/// };
/// assert!(report.promoted() && report.trusted());
/// ```
#[derive(Clone, Debug, PartialEq)]
pub struct PrecisionReport {
    /// The precision of the inputs and the output.
    pub requested: Precision,
    /// The precision the field was computed in (f64 for an f32 problem that f32 cannot resolve).
    pub computed: Precision,
    /// The bound on `|ℓ|`, the largest log-weight magnitude the evaluation involves.
    pub log_weight_scale: f64,
    /// `ε · log_weight_scale` in the precision computed: the bound on the weights' relative error.
    pub weight_error_bound: f64,
}

impl PrecisionReport {
    /// True when the field was computed in a wider precision than its inputs.
    pub fn promoted(&self) -> bool {
        self.requested != self.computed
    }

    /// True when the weights' relative error is within [`WEIGHT_ERROR_TOLERANCE`].
    pub fn trusted(&self) -> bool {
        self.weight_error_bound <= WEIGHT_ERROR_TOLERANCE
    }
}
