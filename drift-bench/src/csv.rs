//! Numeric `.csv` files: one point per line, coordinates separated by commas, read as `f64`.
//!
//! Reading skips blank lines and `#` comment lines (what `numpy.savetxt` writes as a header), and
//! skips the first remaining line if it is not all numbers (a column header). Every other line must
//! hold the same number of fields, each a number (`NaN` and `inf` parse, and are rejected later by
//! `PointCloud::new` with their position). Writing prints every value with Rust's shortest
//! representation that reads back to the same float, so a written file round-trips bit for bit.
//!
//! ```
//! use drift_bench::array::{Array, Shape, Values};
//! let a = drift_bench::csv::parse("x,y\n1,2.5\n-3e-2,4\n").unwrap();
//! assert_eq!(a, Array::new(Shape::Matrix(2, 2), Values::F64(vec![1.0, 2.5, -0.03, 4.0])).unwrap());
//! assert_eq!(drift_bench::csv::to_string(&a), "1,2.5\n-0.03,4\n");
//! assert!(drift_bench::csv::parse("1,2\n3\n").is_err());
//! ```

use crate::array::{Array, Shape, Values};
use std::fmt::{self, Write as _};

/// Why a text is not a numeric table.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum CsvError {
    /// A field is not a number.
    NotANumber {
        /// 1-based line.
        line: usize,
        /// 1-based field index on the line.
        field: usize,
        /// The field's text.
        text: String,
    },
    /// A line has a different number of fields than the first data line.
    Ragged {
        /// 1-based line.
        line: usize,
        /// Fields of the first data line.
        expected: usize,
        /// Fields on this line.
        found: usize,
    },
    /// No data lines.
    NoRows,
}

impl fmt::Display for CsvError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            CsvError::NotANumber { line, field, text } => {
                write!(f, "line {line}, field {field}: {text:?} is not a number")
            }
            CsvError::Ragged {
                line,
                expected,
                found,
            } => write!(
                f,
                "line {line} has {found} fields but the first data line has {expected}"
            ),
            CsvError::NoRows => write!(f, "no data lines"),
        }
    }
}

impl std::error::Error for CsvError {}

/// Parses a numeric table into an `(rows, cols)` `f64` array.
pub fn parse(text: &str) -> Result<Array, CsvError> {
    let mut values = Vec::new();
    let mut cols = None;
    let mut rows = 0;
    let mut header_allowed = true;
    for (k, line) in text.lines().enumerate() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let fields: Vec<&str> = line.split(',').map(str::trim).collect();
        let parsed: Result<Vec<f64>, usize> = fields
            .iter()
            .enumerate()
            .map(|(j, f)| f.parse::<f64>().map_err(|_| j))
            .collect();
        let row = match parsed {
            Ok(row) => row,
            Err(_) if header_allowed => {
                header_allowed = false;
                continue;
            }
            Err(j) => {
                return Err(CsvError::NotANumber {
                    line: k + 1,
                    field: j + 1,
                    text: fields[j].to_string(),
                })
            }
        };
        header_allowed = false;
        let expected = *cols.get_or_insert(row.len());
        if row.len() != expected {
            return Err(CsvError::Ragged {
                line: k + 1,
                expected,
                found: row.len(),
            });
        }
        values.extend(row);
        rows += 1;
    }
    let Some(cols) = cols else {
        return Err(CsvError::NoRows);
    };
    Array::new(Shape::Matrix(rows, cols), Values::F64(values)).map_err(|_| CsvError::NoRows)
}

/// Formats an array as a table: one row per line (one value per line for a vector), each value in
/// its shortest round-trip form (scientific notation for magnitudes below 1e-5 or from 1e16).
pub fn to_string(array: &Array) -> String {
    let cols = array.shape().cols();
    let mut out = String::new();
    match array.values() {
        Values::F32(v) => write_rows(&mut out, v, cols, |x| (f64::from(x.abs()), x)),
        Values::F64(v) => write_rows(&mut out, v, cols, |x| (x.abs(), x)),
    }
    out
}

fn write_rows<T: Copy + fmt::Display + fmt::LowerExp>(
    out: &mut String,
    values: &[T],
    cols: usize,
    magnitude: impl Fn(T) -> (f64, T),
) {
    for row in values.chunks(cols.max(1)) {
        for (j, x) in row.iter().enumerate() {
            if j > 0 {
                out.push(',');
            }
            let (m, x) = magnitude(*x);
            // Both forms print the shortest digits that read back to the same value; writing to a
            // String cannot fail.
            let _ = if m != 0.0 && m.is_finite() && !(1e-5..1e16).contains(&m) {
                write!(out, "{x:e}")
            } else {
                write!(out, "{x}")
            };
        }
        out.push('\n');
    }
}
