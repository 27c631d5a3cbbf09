//! The `.npy` format (NumPy's `numpy.save`) for `float32` and `float64` arrays of one to three
//! dimensions, and integer arrays ([`integers_from_bytes`]: the offsets of a ragged batch).
//!
//! A file is the magic `\x93NUMPY`, a version (1.0, 2.0 or 3.0), the header length (`u16` for
//! version 1, `u32` after), a Python dict literal
//! `{'descr': '<f8', 'fortran_order': False, 'shape': (3, 2), }` padded with spaces to a multiple of
//! 64 bytes and ended by `\n`, then the raw values.
//!
//! Reading accepts the byte-order markers `<` (little-endian), `|` and `=` (treated as
//! little-endian; NumPy itself never writes them for floats) or none, rejects big-endian `>` and every
//! other dtype, transposes Fortran-ordered matrices, and never panics: every malformed input is an
//! [`NpyError`]. Writing produces version 1.0 (2.0 for headers too long for it) in little-endian.
//!
//! ```
//! use drift_bench::array::{Array, Shape, Values};
//! use drift_bench::npy;
//! let a = Array::new(Shape::Matrix(2, 1), Values::F64(vec![0.1, -2.5])).unwrap();
//! let bytes = npy::to_bytes(&a);
//! assert_eq!(&bytes[..6], b"\x93NUMPY");
//! assert_eq!(npy::from_bytes(&bytes).unwrap(), a);
//! assert!(npy::from_bytes(&bytes[..bytes.len() - 1]).is_err());
//! ```

// Why not the `npyz` crate (0.9.1), measured on its reader and writer: its header parser
// (`py_literal`, a backtracking grammar) takes time doubling with each unclosed `[`: 0.27 s for a
// 16-byte header of them, 3.5 s for 20, 59 s for 24, and no answer within ten minutes for the 43 of
// a test below, so a hostile file would hang a run; it rejects the `(3L, 2L)` shapes NumPy wrote
// under Python 2, accepts unknown keys, and reports every problem as text. Its values are no
// faster: 10^7 `f64` wrote in 74-82 ms (72-78 ms here) and read in 58-64 ms (67 ms here). What
// remains of ours once the header is parsed is a loop per width.
use crate::array::{Array, Shape, Values};
use literal::{Literal, Parser};
use std::fmt;

mod integers;
mod literal;
mod rows;

pub use integers::integers_from_bytes;
pub use rows::{read_rows, shape_of, RowsError};

/// The first six bytes of every `.npy` file.
pub const MAGIC: &[u8; 6] = b"\x93NUMPY";

/// Why bytes are not a supported `.npy` array.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum NpyError {
    /// The file does not start with `\x93NUMPY`.
    BadMagic,
    /// A format version other than 1.0, 2.0 and 3.0.
    UnsupportedVersion(u8, u8),
    /// The file ends before `what` is complete.
    Truncated {
        /// The part that is cut off.
        what: &'static str,
        /// Bytes it needs.
        expected: usize,
        /// Bytes present.
        found: usize,
    },
    /// The header is not the dict literal NumPy writes.
    BadHeader(String),
    /// A dtype other than little-endian `f4` or `f8`.
    UnsupportedDtype(String),
    /// A big-endian dtype (`>f4`, `>i8`).
    BigEndian(String),
    /// A dtype other than little-endian `i4`, `i8`, `u4` or `u8` where integers are expected.
    NotIntegers(String),
    /// A shape with other than one, two or three dimensions, or too large to address.
    UnsupportedShape(String),
    /// Bytes after the last value.
    TrailingBytes {
        /// Bytes the shape needs.
        expected: usize,
        /// Bytes present.
        found: usize,
    },
}

impl fmt::Display for NpyError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            NpyError::BadMagic => write!(f, "not a .npy file (it does not start with \\x93NUMPY)"),
            NpyError::UnsupportedVersion(a, b) => {
                write!(
                    f,
                    "unsupported .npy format version {a}.{b} (expected 1.0, 2.0 or 3.0)"
                )
            }
            NpyError::Truncated {
                what,
                expected,
                found,
            } => write!(
                f,
                "truncated .npy file: the {what} needs {expected} bytes, found {found}"
            ),
            NpyError::BadHeader(why) => write!(f, "malformed .npy header: {why}"),
            NpyError::UnsupportedDtype(d) => {
                write!(f, "expected dtype <f4 or <f8, found {d}")
            }
            NpyError::BigEndian(d) => write!(
                f,
                "big-endian dtype {d} is not supported; convert it with a.astype('<{}')",
                &d[1..]
            ),
            NpyError::NotIntegers(d) => {
                write!(
                    f,
                    "expected an integer dtype <i4, <i8, <u4 or <u8, found {d}"
                )
            }
            NpyError::UnsupportedShape(s) => {
                write!(f, "expected shape (N,), (N, D) or (B, N, D), found {s}")
            }
            NpyError::TrailingBytes { expected, found } => write!(
                f,
                "corrupt .npy file: the data needs {expected} bytes but {found} follow the header"
            ),
        }
    }
}

impl std::error::Error for NpyError {}

/// The data after a header: exactly `expected` bytes, or the error that says what is missing or
/// left over.
pub(crate) fn exact_data(data: &[u8], expected: usize) -> Result<&[u8], NpyError> {
    if data.len() < expected {
        return Err(truncated("data", expected, data.len()));
    }
    if data.len() > expected {
        return Err(NpyError::TrailingBytes {
            expected,
            found: data.len(),
        });
    }
    Ok(data)
}

/// Parses a `.npy` file's bytes.
pub fn from_bytes(bytes: &[u8]) -> Result<Array, NpyError> {
    let (header, data_start) = header_of(bytes)?;
    let expected = header.data_len()?;
    let data = exact_data(&bytes[data_start..], expected)?;
    let mut values = decode(header.precision, data);
    if header.fortran_order {
        if let Shape::Batch(..) = header.shape {
            return Err(NpyError::BadHeader(
                "a three-dimensional array in Fortran order is not supported; save it with \
                 np.save(path, np.ascontiguousarray(a))"
                    .into(),
            ));
        }
        if let Shape::Matrix(rows, cols) = header.shape {
            values = match values {
                Values::F32(v) => Values::F32(transpose(&v, rows, cols)),
                Values::F64(v) => Values::F64(transpose(&v, rows, cols)),
            };
        }
    }
    Array::new(header.shape, values).map_err(|e| NpyError::BadHeader(e.to_string()))
}

/// The bytes a file's preamble (magic, version, header length) needs at most.
const PREAMBLE: usize = 12;

/// Where the data of a file starting with `bytes` begins (the preamble's magic, version and header
/// length: at most [`PREAMBLE`] bytes are read) and the format's major version.
fn data_start(bytes: &[u8]) -> Result<(usize, u8), NpyError> {
    let n = bytes.len().min(MAGIC.len());
    if bytes[..n] != MAGIC[..n] {
        return Err(NpyError::BadMagic);
    }
    if bytes.len() < 8 {
        return Err(truncated("preamble", 10, bytes.len()));
    }
    let (major, minor) = (bytes[6], bytes[7]);
    let len_bytes = match (major, minor) {
        (1, 0) => 2,
        (2, 0) | (3, 0) => 4,
        _ => return Err(NpyError::UnsupportedVersion(major, minor)),
    };
    let start = 8 + len_bytes;
    if bytes.len() < start {
        return Err(truncated("preamble", start, bytes.len()));
    }
    let header_len = bytes[8..start]
        .iter()
        .rev()
        .fold(0usize, |acc, b| (acc << 8) | usize::from(*b));
    let data_start = start
        .checked_add(header_len)
        .ok_or_else(|| NpyError::BadHeader("header length overflows".into()))?;
    Ok((data_start, major))
}

/// The header of a file starting with `bytes` (which hold at least the header) and where its
/// data begins; its dtype must be a `W`.
fn header_of<W: Dtype>(bytes: &[u8]) -> Result<(Header<W>, usize), NpyError> {
    let (data_start, major) = data_start(bytes)?;
    let start = if major == 1 { 10 } else { 12 };
    if bytes.len() < data_start {
        return Err(truncated("header", data_start - start, bytes.len() - start));
    }
    let raw = &bytes[start..data_start];
    let text: String = if major == 3 {
        std::str::from_utf8(raw)
            .map_err(|_| NpyError::BadHeader("the header is not valid UTF-8".into()))?
            .to_string()
    } else {
        // Versions 1 and 2 store the header in Latin-1: every byte is one code point.
        raw.iter().map(|b| char::from(*b)).collect()
    };
    Ok((parse_header(&text)?, data_start))
}

/// Little-endian values of `width` from `data` (whose length is a multiple of the width).
fn decode(width: Width, data: &[u8]) -> Values {
    match width {
        Width::F4 => Values::F32(
            data.chunks_exact(4)
                .map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]]))
                .collect(),
        ),
        Width::F8 => Values::F64(
            data.chunks_exact(8)
                .map(|c| f64::from_le_bytes([c[0], c[1], c[2], c[3], c[4], c[5], c[6], c[7]]))
                .collect(),
        ),
    }
}

/// Serialises an array as a `.npy` file (little-endian, C order).
pub fn to_bytes(array: &Array) -> Vec<u8> {
    let descr = match array.values() {
        Values::F32(_) => "<f4",
        Values::F64(_) => "<f8",
    };
    let dict = format!(
        "{{'descr': '{descr}', 'fortran_order': False, 'shape': {}, }}",
        array.shape()
    );
    // Version 1 stores the header length in a u16; NumPy switches to version 2 beyond it.
    let (version, preamble) = if dict.len() + 1 + 10 < 65_536 {
        (1u8, 10)
    } else {
        (2u8, 12)
    };
    // Pad with spaces so that the data starts at a multiple of 64 bytes, as NumPy does.
    let unpadded = preamble + dict.len() + 1;
    let header_len = dict.len() + 1 + (64 - unpadded % 64) % 64;
    let mut out = Vec::with_capacity(preamble + header_len + array.values().len() * 8);
    out.extend_from_slice(MAGIC);
    out.extend_from_slice(&[version, 0]);
    if version == 1 {
        out.extend_from_slice(&(header_len as u16).to_le_bytes());
    } else {
        out.extend_from_slice(&(header_len as u32).to_le_bytes());
    }
    out.extend_from_slice(dict.as_bytes());
    out.resize(preamble + header_len - 1, b' ');
    out.push(b'\n');
    match array.values() {
        Values::F32(v) => v
            .iter()
            .for_each(|x| out.extend_from_slice(&x.to_le_bytes())),
        Values::F64(v) => v
            .iter()
            .for_each(|x| out.extend_from_slice(&x.to_le_bytes())),
    }
    out
}

fn truncated(what: &'static str, expected: usize, found: usize) -> NpyError {
    NpyError::Truncated {
        what,
        expected,
        found,
    }
}

fn transpose<T: Copy>(column_major: &[T], rows: usize, cols: usize) -> Vec<T> {
    let mut out = Vec::with_capacity(column_major.len());
    for i in 0..rows {
        for j in 0..cols {
            out.push(column_major[j * rows + i]);
        }
    }
    out
}

/// The dtypes a reader takes: parsed from a header's `descr`, with their size.
trait Dtype: Copy {
    /// The dtype of `descr` without its byte-order marker (`f4`), `None` if not one of these.
    fn of(kind: &str) -> Option<Self>;
    /// The error for a `descr` that is none of these.
    fn unsupported(descr: String) -> NpyError;
    /// Bytes per value.
    fn bytes(self) -> usize;
}

#[derive(Clone, Copy, Debug)]
enum Width {
    F4,
    F8,
}

impl Dtype for Width {
    fn of(kind: &str) -> Option<Self> {
        match kind {
            "f4" => Some(Width::F4),
            "f8" => Some(Width::F8),
            _ => None,
        }
    }
    fn unsupported(descr: String) -> NpyError {
        NpyError::UnsupportedDtype(descr)
    }
    fn bytes(self) -> usize {
        match self {
            Width::F4 => 4,
            Width::F8 => 8,
        }
    }
}

struct Header<W = Width> {
    precision: W,
    fortran_order: bool,
    shape: Shape,
}

impl<W: Dtype> Header<W> {
    /// Bytes per value.
    fn width(&self) -> usize {
        self.precision.bytes()
    }

    /// Bytes of the whole data.
    fn data_len(&self) -> Result<usize, NpyError> {
        self.shape
            .count()
            .and_then(|count| count.checked_mul(self.width()))
            .ok_or_else(|| NpyError::BadHeader(format!("shape {} is too large", self.shape)))
    }
}

fn parse_header<W: Dtype>(text: &str) -> Result<Header<W>, NpyError> {
    let mut parser = Parser {
        chars: text.chars().collect(),
        at: 0,
    };
    let dict = match parser.value()? {
        Literal::Dict(entries) => entries,
        _ => return Err(NpyError::BadHeader("the header is not a dict".into())),
    };
    parser.skip_space();
    if parser.at != parser.chars.len() {
        return Err(NpyError::BadHeader(format!(
            "unexpected text after the dict at character {}",
            parser.at
        )));
    }
    let (mut descr, mut fortran, mut shape) = (None, None, None);
    for (key, value) in dict {
        match key.as_str() {
            "descr" => descr = Some(value),
            "fortran_order" => fortran = Some(value),
            "shape" => shape = Some(value),
            other => {
                return Err(NpyError::BadHeader(format!(
                    "unexpected key '{other}' (expected 'descr', 'fortran_order', 'shape')"
                )))
            }
        }
    }
    let missing = |k: &str| NpyError::BadHeader(format!("the key '{k}' is missing"));
    let precision = match descr.ok_or_else(|| missing("descr"))? {
        Literal::Str(d) => parse_descr(&d)?,
        other => {
            return Err(W::unsupported(format!(
                "a structured dtype {}",
                other.describe()
            )))
        }
    };
    let fortran_order = match fortran.ok_or_else(|| missing("fortran_order"))? {
        Literal::Bool(b) => b,
        other => {
            return Err(NpyError::BadHeader(format!(
                "'fortran_order' must be True or False, found {}",
                other.describe()
            )))
        }
    };
    let shape = match shape.ok_or_else(|| missing("shape"))? {
        Literal::Tuple(dims) => {
            let dims: Vec<usize> = dims
                .iter()
                .map(|d| match d {
                    Literal::Int(n) => usize::try_from(*n).ok(),
                    _ => None,
                })
                .collect::<Option<_>>()
                .ok_or_else(|| NpyError::BadHeader("'shape' must be a tuple of integers".into()))?;
            match dims[..] {
                [n] => Shape::Vector(n),
                [n, d] => Shape::Matrix(n, d),
                [b, n, d] => Shape::Batch(b, n, d),
                _ => {
                    let inner: Vec<String> = dims.iter().map(usize::to_string).collect();
                    let text = match inner.len() {
                        1 => format!("({},)", inner[0]),
                        _ => format!("({})", inner.join(", ")),
                    };
                    return Err(NpyError::UnsupportedShape(text));
                }
            }
        }
        other => {
            return Err(NpyError::BadHeader(format!(
                "'shape' must be a tuple, found {}",
                other.describe()
            )))
        }
    };
    Ok(Header {
        precision,
        fortran_order,
        shape,
    })
}

fn parse_descr<W: Dtype>(d: &str) -> Result<W, NpyError> {
    let (order, kind) = match d.chars().next() {
        Some(c @ ('<' | '>' | '|' | '=')) => (Some(c), &d[1..]),
        _ => (None, d),
    };
    let width = W::of(kind).ok_or_else(|| W::unsupported(d.to_string()))?;
    if order == Some('>') {
        return Err(NpyError::BigEndian(d.to_string()));
    }
    Ok(width)
}

#[cfg(test)]
mod tests;
