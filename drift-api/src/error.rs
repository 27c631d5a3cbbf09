//! The typed error every fallible call of the framework returns.

use thiserror::Error;

/// Result alias used throughout the framework.
pub type Result<T, E = DriftError> = std::result::Result<T, E>;

/// Everything that can go wrong when building point sets or running an operator.
///
/// Each variant names the offending input (`what`: `"x"`, `"y"`, `"temperature"`, ...) and, where it
/// applies, the position and the value, so that a caller can report it without further context.
/// Plugin authors can wrap their own failures in [`DriftError::Custom`].
#[derive(Debug, Error)]
#[non_exhaustive]
pub enum DriftError {
    /// A point set has no points, or its points have zero coordinates.
    #[error("point set `{what}` is empty ({points} points of dimension {dim})")]
    EmptyPointSet {
        /// Which point set.
        what: String,
        /// Its number of points.
        points: usize,
        /// Its dimension.
        dim: usize,
    },
    /// A buffer does not have the length its shape requires.
    #[error("`{what}` has {found} values but its shape needs {expected}")]
    ShapeMismatch {
        /// Which buffer.
        what: String,
        /// Required length.
        expected: usize,
        /// Actual length.
        found: usize,
    },
    /// Two point sets that must live in the same space do not.
    #[error("dimension mismatch: `{left}` has dimension {left_dim} but `{right}` has dimension {right_dim}")]
    DimensionMismatch {
        /// First set.
        left: String,
        /// Its dimension.
        left_dim: usize,
        /// Second set.
        right: String,
        /// Its dimension.
        right_dim: usize,
    },
    /// A coordinate is NaN or infinite.
    #[error("point set `{what}` has a non-finite coordinate {} at point {point}, coordinate {coord}", fmt_num(*value))]
    NonFiniteCoordinate {
        /// Which point set.
        what: String,
        /// Point index.
        point: usize,
        /// Coordinate index.
        coord: usize,
        /// The offending value.
        value: f64,
    },
    /// A per-point weight is negative, NaN or infinite.
    #[error("point set `{what}` has an invalid weight {} at point {point} (weights must be finite and >= 0)", fmt_num(*value))]
    InvalidWeight {
        /// Which point set.
        what: String,
        /// Point index.
        point: usize,
        /// The offending value.
        value: f64,
    },
    /// All weights of a point set are zero.
    #[error("the weights of point set `{what}` sum to zero")]
    ZeroTotalWeight {
        /// Which point set.
        what: String,
    },
    /// A temperature is zero, negative or not finite.
    #[error("temperature `{what}` must be finite and > 0, got {}", fmt_num(*value))]
    InvalidTemperature {
        /// Which temperature (operator field path).
        what: String,
        /// The offending value.
        value: f64,
    },
    /// Any other parameter outside its valid range.
    #[error("invalid parameter `{what}`: {reason}")]
    InvalidParameter {
        /// Parameter path.
        what: String,
        /// What is wrong and what would be valid.
        reason: String,
    },
    /// An operation needs more points than it was given.
    #[error("`{what}` needs at least {needed} points, got {found}")]
    TooFewPoints {
        /// What needs them.
        what: String,
        /// The minimum.
        needed: usize,
        /// What was given.
        found: usize,
    },
    /// Inputs of different precisions (f32 and f64) were mixed in one call.
    #[error("precision mismatch: {what}")]
    PrecisionMismatch {
        /// Which inputs.
        what: String,
    },
    /// A computation produced NaN or infinity despite finite inputs.
    #[error("`{what}` produced a non-finite value at index {index}; the inputs or the temperature are outside the range this precision can represent")]
    NonFiniteResult {
        /// Which output.
        what: String,
        /// Flat index of the first bad value.
        index: usize,
    },
    /// The log-weights of a problem exceed what even f64 can represent: the temperature is too small
    /// for the data's scale.
    #[error("`{what}`: temperature {temperature:e} is too small for data of squared diameter {diameter_sq:e}: the log-weights overflow {precision:?} (raise the temperature or rescale the data)")]
    PrecisionExhausted {
        /// Which operator term.
        what: String,
        /// The effective temperature (after context factors).
        temperature: f64,
        /// The squared diameter of the point sets.
        diameter_sq: f64,
        /// The precision that overflowed.
        precision: crate::real::Precision,
    },
    /// Guidance negatives were given to an operator whose field does not account for them, so they
    /// would have changed nothing.
    #[error("operator `{operator}` does not handle guidance negatives: its field would ignore them (use an operator built on the engine's term evaluation, or give no negatives)")]
    NegativesIgnored {
        /// The operator's registered name.
        operator: String,
    },
    /// A problem whose data `Y` is one process's shard of a set split by columns
    /// ([`crate::PointCloud::shard`]) was given to an operator or backend that needs every point
    /// of `Y` in one place, or a shard stands where only `Y` may be one.
    #[error("operator `{operator}` cannot run on a shard of y (y split by columns over processes): {reason}")]
    ColumnSplit {
        /// The operator's registered name (or the backend's, for a reduction it cannot complete).
        operator: String,
        /// Why.
        reason: String,
    },
    /// The requested backend has no device to run on.
    #[error("no device: {reason}")]
    NoDevice {
        /// Why.
        reason: String,
    },
    /// A specification file (RON) could not be read, parsed or validated.
    #[error("{origin}:{line}:{column}: {message}")]
    Spec {
        /// File path (or `<string>`).
        origin: String,
        /// 1-based line (0 when the file could not be read at all).
        line: usize,
        /// 1-based column.
        column: usize,
        /// What is wrong, with the valid names or fields where known.
        message: String,
    },
    /// A buffer whose size follows from the input (numbers of points, dimensions, directions) could
    /// not be allocated.
    #[error("`{what}` needs {}, which could not be allocated", fmt_bytes(*bytes))]
    Allocation {
        /// Which buffer.
        what: String,
        /// Its size in bytes (`usize::MAX` when the size itself overflows).
        bytes: usize,
    },
    /// An error in one problem of a batch ([`crate::kit::ProblemBatch`]).
    #[error("problem {index} of the batch: {source}")]
    InProblem {
        /// The problem's index in the batch.
        index: usize,
        /// What went wrong there.
        source: Box<DriftError>,
    },
    /// An error raised by third-party code (plugins).
    #[error(transparent)]
    Custom(#[from] Box<dyn std::error::Error + Send + Sync>),
}

impl DriftError {
    /// Shorthand for [`DriftError::InvalidParameter`].
    pub fn invalid(what: impl Into<String>, reason: impl Into<String>) -> Self {
        DriftError::InvalidParameter {
            what: what.into(),
            reason: reason.into(),
        }
    }
}

/// Checks that a temperature is finite and strictly positive.
///
/// ```
/// use drift_api::check_temperature;
/// assert!(check_temperature("tau", 0.05).is_ok());
/// assert!(check_temperature("tau", 0.0).is_err());
/// ```
pub fn check_temperature(what: &str, value: f64) -> Result<()> {
    if value.is_finite() && value > 0.0 {
        Ok(())
    } else {
        Err(DriftError::InvalidTemperature {
            what: what.to_string(),
            value,
        })
    }
}

/// Checks a parameter: it must be finite and `in_range` must hold; the error names the parameter,
/// what a valid value is and the value given.
///
/// ```
/// use drift_api::check_param;
/// assert!(check_param("sinkhorn.tol", 1e-6, 1e-6 >= 0.0, ">= 0").is_ok());
/// let e = check_param("guidance.alpha", 0.5, 0.5 >= 1.0, ">= 1").unwrap_err();
/// assert_eq!(e.to_string(), "invalid parameter `guidance.alpha`: must be finite and >= 1, got 0.5");
/// assert!(check_param("x", f64::NAN, true, "anything").is_err());
/// ```
pub fn check_param(what: &str, value: f64, in_range: bool, expected: &str) -> Result<()> {
    if value.is_finite() && in_range {
        Ok(())
    } else {
        Err(DriftError::invalid(
            what,
            format!("must be finite and {expected}, got {}", fmt_num(value)),
        ))
    }
}

/// A number as short as it can be written and still read back exactly: the shortest round-trip
/// digits, in exponent form when the magnitude is very large or very small (so that `1e-300` is not
/// printed with three hundred zeros). Non-finite values print as `NaN`, `inf` and `-inf`.
///
/// ```
/// use drift_api::kit::fmt_num;
/// assert_eq!(fmt_num(0.05), "0.05");
/// assert_eq!(fmt_num(-3.0), "-3");
/// assert_eq!(fmt_num(1e-300), "1e-300");
/// assert_eq!(fmt_num(f64::MAX), "1.7976931348623157e308");
/// assert_eq!(fmt_num(f64::NEG_INFINITY), "-inf");
/// assert_eq!(fmt_num(0.1f32 as f64).parse::<f64>().unwrap(), 0.1f32 as f64);
/// ```
pub fn fmt_num(value: f64) -> String {
    // Plain notation between 1e-5 and 1e16 stays readable (at most 21 characters); outside it the
    // plain form of an f64 can run to hundreds of digits.
    let magnitude = value.abs();
    if value == 0.0 || !value.is_finite() || (1e-5..1e16).contains(&magnitude) {
        format!("{value}")
    } else {
        format!("{value:e}")
    }
}

/// A byte count for messages: exact below 1 KiB, otherwise in KiB, MiB, GiB or TiB with three
/// significant digits.
fn fmt_bytes(bytes: usize) -> String {
    if bytes == usize::MAX {
        return "more bytes than the address space holds".into();
    }
    let units = ["KiB", "MiB", "GiB", "TiB", "PiB", "EiB"];
    if bytes < 1024 {
        return format!("{bytes} bytes");
    }
    let mut size = bytes as f64 / 1024.0;
    let mut unit = 0;
    while size >= 1024.0 && unit + 1 < units.len() {
        size /= 1024.0;
        unit += 1;
    }
    format!("{size:.3} {} ({bytes} bytes)", units[unit])
}

/// A vector of `len` copies of `value`, or [`DriftError::Allocation`] naming `what` when the memory
/// is not available. Use it for every buffer whose length follows from user input, so that an
/// oversized input is an error the caller can report rather than an abort.
///
/// ```
/// use drift_api::{DriftError};
/// use drift_api::kit::{try_vec};
/// assert_eq!(try_vec("field", 3, 0.0f64).unwrap(), vec![0.0; 3]);
/// let e = try_vec("field", usize::MAX / 2, 0.0f64).unwrap_err();
/// assert!(matches!(e, DriftError::Allocation { .. }), "{e}");
/// ```
pub fn try_vec<T: Clone>(what: &str, len: usize, value: T) -> Result<Vec<T>> {
    let mut v = try_with_capacity(what, len)?;
    v.resize(len, value);
    Ok(v)
}

/// An empty vector with room for exactly `capacity` elements, or [`DriftError::Allocation`] naming
/// `what` when the memory is not available (see [`try_vec`]).
pub fn try_with_capacity<T>(what: &str, capacity: usize) -> Result<Vec<T>> {
    let mut v = Vec::new();
    v.try_reserve_exact(capacity)
        .map_err(|_| DriftError::Allocation {
            what: what.to_string(),
            bytes: capacity.saturating_mul(std::mem::size_of::<T>()),
        })?;
    Ok(v)
}
