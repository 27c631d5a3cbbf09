//! A command-line value out of its range, found before any work starts. The error names the
//! argument and its value (numbers in their short form): `--eta -1: must be finite and > 0`.
//!
//! ```
//! use drift_bench::invalid_arg::{finite_at_least, InvalidArg};
//! assert_eq!(finite_at_least("--eta", 0.5, 0.0, false), Ok(()));
//! let e = finite_at_least("--eta", -1e300, 0.0, false).unwrap_err();
//! assert_eq!(e.to_string(), "--eta -1e300: must be finite and > 0");
//! ```

use drift_api::kit::fmt_num as short;
use std::fmt;

/// An argument's value is outside the values it accepts.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct InvalidArg {
    /// The argument, as typed on the command line (`--eta`).
    pub arg: &'static str,
    /// Its value, printed short.
    pub value: String,
    /// What it must be (`must be finite and > 0`).
    pub expected: String,
}

impl fmt::Display for InvalidArg {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {}: {}", self.arg, self.value, self.expected)
    }
}

impl std::error::Error for InvalidArg {}

/// Checks that `value` is finite and above `min` (or equal to it when `inclusive`).
pub fn finite_at_least(
    arg: &'static str,
    value: f64,
    min: f64,
    inclusive: bool,
) -> Result<(), InvalidArg> {
    let above = if inclusive { value >= min } else { value > min };
    if value.is_finite() && above {
        return Ok(());
    }
    Err(InvalidArg {
        arg,
        value: short(value),
        expected: format!(
            "must be finite and {} {}",
            if inclusive { ">=" } else { ">" },
            short(min)
        ),
    })
}

/// Checks that `value` is finite.
pub fn finite(arg: &'static str, value: f64) -> Result<(), InvalidArg> {
    if value.is_finite() {
        return Ok(());
    }
    Err(InvalidArg {
        arg,
        value: short(value),
        expected: "must be finite".into(),
    })
}

/// Checks that a count is at least `min`.
pub fn count_at_least(arg: &'static str, value: usize, min: usize) -> Result<(), InvalidArg> {
    if value >= min {
        return Ok(());
    }
    Err(InvalidArg {
        arg,
        value: value.to_string(),
        expected: format!("must be at least {min}"),
    })
}

/// Checks that a count is at most `max`.
pub fn count_at_most(arg: &'static str, value: usize, max: usize) -> Result<(), InvalidArg> {
    if value <= max {
        return Ok(());
    }
    Err(InvalidArg {
        arg,
        value: value.to_string(),
        expected: format!("must be at most {max}"),
    })
}
