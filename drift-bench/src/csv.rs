//! Numeric `.csv` files: one point per line, coordinates separated by commas, read as `f64`.
//!
//! Reading drops a UTF-8 byte-order mark at the start, skips blank lines and `#` comment lines (what
//! `numpy.savetxt` writes as a header), and treats the first remaining line as a column header when
//! told so ([`Header::Declared`]) or when none of its cells is a number ([`Header::Detect`]). A
//! first line with some numeric cells is data, so a typo or an `NA` there is an error, located by
//! line and column, instead of a silently dropped point. Every data line must hold the same number
//! of fields, each a number (`NaN` and `inf` parse, and are rejected later by `PointCloud::new` with
//! their position). Writing prints every value with Rust's shortest representation that reads back
//! to the same float, so a written file round-trips bit for bit.
//!
//! ```
//! use drift_bench::array::{Array, Shape, Values};
//! use drift_bench::csv::{parse, parse_with, Header};
//! let a = parse("x,y\n1,2.5\n-3e-2,4\n").unwrap();
//! assert_eq!(a, Array::new(Shape::Matrix(2, 2), Values::F64(vec![1.0, 2.5, -0.03, 4.0])).unwrap());
//! assert_eq!(drift_bench::csv::to_string(&a), "1,2.5\n-0.03,4\n");
//! assert!(parse("1,2\n3\n").is_err());
//! assert_eq!(parse("NA,1\n2,3\n").unwrap_err().to_string(), "1:1: field 1: \"NA\" is not a number");
//! assert_eq!(parse_with("NA,1\n2,3\n", Header::Declared).unwrap().shape(), Shape::Matrix(1, 2));
//! ```

use crate::array::{Array, Shape, Values};
use std::fmt::{self, Write as _};

/// Whether the first line that is not blank or a comment is a column header.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Header {
    /// A header if none of its cells is a number.
    #[default]
    Detect,
    /// Always a header (skipped whatever it holds).
    Declared,
}

/// Why a text is not a numeric table.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum CsvError {
    /// A field is not a number.
    NotANumber {
        /// 1-based line.
        line: usize,
        /// 1-based column (in characters) where the field starts.
        column: usize,
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

impl CsvError {
    /// The 1-based line and column the error is at, if it is at one.
    pub fn position(&self) -> Option<(usize, usize)> {
        match *self {
            CsvError::NotANumber { line, column, .. } => Some((line, column)),
            CsvError::Ragged { line, .. } => Some((line, 1)),
            CsvError::NoRows => None,
        }
    }
}

impl fmt::Display for CsvError {
    /// `LINE:COLUMN: message`, to follow a file name and a colon.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            CsvError::NotANumber {
                line,
                column,
                field,
                text,
            } => write!(
                f,
                "{line}:{column}: field {field}: {text:?} is not a number"
            ),
            CsvError::Ragged {
                line,
                expected,
                found,
            } => write!(
                f,
                "{line}:1: {found} fields but the first data line has {expected}"
            ),
            CsvError::NoRows => write!(f, "no data lines"),
        }
    }
}

impl std::error::Error for CsvError {}

/// A field of a line: its trimmed text and the 1-based column where that text starts.
pub(crate) struct Cell<'a> {
    pub(crate) text: &'a str,
    pub(crate) column: usize,
}

/// The comma-separated fields of a line, with their columns.
pub(crate) fn cells(line: &str) -> Vec<Cell<'_>> {
    let mut start = 0;
    line.split(',')
        .map(|raw| {
            let lead = raw.len() - raw.trim_start().len();
            let column = line[..start + lead].chars().count() + 1;
            start += raw.len() + 1;
            Cell {
                text: raw.trim(),
                column,
            }
        })
        .collect()
}

/// Parses a numeric table into an `(rows, cols)` `f64` array, detecting a header
/// ([`Header::Detect`]).
pub fn parse(text: &str) -> Result<Array, CsvError> {
    parse_with(text, Header::Detect)
}

/// Parses a numeric table into an `(rows, cols)` `f64` array.
pub fn parse_with(text: &str, header: Header) -> Result<Array, CsvError> {
    // Spreadsheet programs start UTF-8 files with a byte-order mark; it is not part of a cell.
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    let mut values = Vec::new();
    let mut cols = None;
    let mut rows = 0;
    let mut first = true;
    for (k, line) in text.lines().enumerate() {
        let trimmed = line.trim();
        if trimmed.is_empty() || trimmed.starts_with('#') {
            continue;
        }
        let cells = cells(line);
        let parsed: Vec<Option<f64>> = cells.iter().map(|c| c.text.parse().ok()).collect();
        let is_first = std::mem::replace(&mut first, false);
        if is_first && (header == Header::Declared || parsed.iter().all(Option::is_none)) {
            continue;
        }
        if let Some(j) = parsed.iter().position(Option::is_none) {
            return Err(CsvError::NotANumber {
                line: k + 1,
                column: cells[j].column,
                field: j + 1,
                text: cells[j].text.to_string(),
            });
        }
        let expected = *cols.get_or_insert(parsed.len());
        if parsed.len() != expected {
            return Err(CsvError::Ragged {
                line: k + 1,
                expected,
                found: parsed.len(),
            });
        }
        values.extend(parsed.into_iter().flatten());
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
