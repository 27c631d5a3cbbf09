//! The `.npy` format (NumPy's `numpy.save`) for `float32` and `float64` arrays of one or two dimensions.
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

mod literal;

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
    /// A big-endian float dtype (`>f4`, `>f8`).
    BigEndian(String),
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

/// Parses a `.npy` file's bytes.
pub fn from_bytes(bytes: &[u8]) -> Result<Array, NpyError> {
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
    if bytes.len() < data_start {
        return Err(truncated("header", header_len, bytes.len() - start));
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
    let header = parse_header(&text)?;
    let width = match header.precision {
        Width::F4 => 4,
        Width::F8 => 8,
    };
    let too_large = || NpyError::BadHeader(format!("shape {} is too large", header.shape));
    let expected = header
        .shape
        .count()
        .and_then(|count| count.checked_mul(width))
        .ok_or_else(too_large)?;
    let data = &bytes[data_start..];
    if data.len() < expected {
        return Err(truncated("data", expected, data.len()));
    }
    if data.len() > expected {
        return Err(NpyError::TrailingBytes {
            expected,
            found: data.len(),
        });
    }
    let mut values = match header.precision {
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
    };
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

#[derive(Clone, Copy, Debug)]
enum Width {
    F4,
    F8,
}

struct Header {
    precision: Width,
    fortran_order: bool,
    shape: Shape,
}

fn parse_header(text: &str) -> Result<Header, NpyError> {
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
            return Err(NpyError::UnsupportedDtype(format!(
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

fn parse_descr(d: &str) -> Result<Width, NpyError> {
    let (order, kind) = match d.chars().next() {
        Some(c @ ('<' | '>' | '|' | '=')) => (Some(c), &d[1..]),
        _ => (None, d),
    };
    let width = match kind {
        "f4" => Width::F4,
        "f8" => Width::F8,
        _ => return Err(NpyError::UnsupportedDtype(d.to_string())),
    };
    if order == Some('>') {
        return Err(NpyError::BigEndian(d.to_string()));
    }
    Ok(width)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn file(header: &str, data: &[u8]) -> Vec<u8> {
        let mut out = MAGIC.to_vec();
        out.extend_from_slice(&[1, 0]);
        out.extend_from_slice(&(header.len() as u16).to_le_bytes());
        out.extend_from_slice(header.as_bytes());
        out.extend_from_slice(data);
        out
    }

    #[test]
    fn header_variants() {
        let one = 1.5f64.to_le_bytes();
        for descr in ["<f8", "|f8", "=f8", "f8"] {
            let h = format!("{{'descr': '{descr}', 'fortran_order': False, 'shape': (1,), }}\n");
            let a = from_bytes(&file(&h, &one)).unwrap();
            assert_eq!(a.values(), &Values::F64(vec![1.5]));
        }
        let h = "{\"descr\":\"<f8\",\"shape\":(1L,1L),\"fortran_order\":False}";
        assert_eq!(
            from_bytes(&file(h, &one)).unwrap().shape(),
            Shape::Matrix(1, 1)
        );
    }

    #[test]
    fn fortran_order_is_transposed() {
        // The matrix [[1, 2, 3], [4, 5, 6]] in column-major order.
        let data: Vec<u8> = [1.0f32, 4.0, 2.0, 5.0, 3.0, 6.0]
            .iter()
            .flat_map(|v| v.to_le_bytes())
            .collect();
        let h = "{'descr': '<f4', 'fortran_order': True, 'shape': (2, 3), }\n";
        let a = from_bytes(&file(h, &data)).unwrap();
        assert_eq!(a.values(), &Values::F32(vec![1.0, 2.0, 3.0, 4.0, 5.0, 6.0]));
    }

    #[test]
    fn bad_headers_are_errors() {
        let eight = [0u8; 8];
        let cases = [
            (
                "{'descr': '<i8', 'fortran_order': False, 'shape': (1,), }",
                "found <i8",
            ),
            (
                "{'descr': '>f8', 'fortran_order': False, 'shape': (1,), }",
                "big-endian",
            ),
            (
                "{'descr': [('a', '<f8')], 'fortran_order': False, 'shape': (1,), }",
                "structured",
            ),
            (
                "{'descr': '<f8', 'fortran_order': False, 'shape': (1, 1, 1, 1), }",
                "(1, 1, 1, 1)",
            ),
            (
                "{'descr': '<f8', 'fortran_order': False, 'shape': (), }",
                "()",
            ),
            (
                "{'descr': '<f8', 'fortran_order': False, 'shape': (1), }",
                "found an integer",
            ),
            (
                "{'descr': '<f8', 'fortran_order': False}",
                "'shape' is missing",
            ),
            (
                "{'descr': '<f8', 'fortran_order': 0, 'shape': (1,), }",
                "True or False",
            ),
            (
                "{'descr': '<f8', 'fortran_order': False, 'shape': (1,), 'x': 1}",
                "unexpected key",
            ),
            (
                "{'descr': '<f8', 'fortran_order': False, 'shape': (99999999999999999999,)}",
                "too large",
            ),
            (
                "{'descr': '<f8', 'fortran_order': False, 'shape': (4611686018427387904, 4)}",
                "too large",
            ),
            ("{'descr': '<f8'", "end of the header"),
            ("[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[", "nested"),
            (
                "{'descr': '<f8', 'fortran_order': False, 'shape': (1,), } x",
                "after the dict",
            ),
        ];
        for (h, needle) in cases {
            let e = from_bytes(&file(h, &eight)).unwrap_err().to_string();
            assert!(e.contains(needle), "{h}: {e}");
        }
    }

    #[test]
    fn short_and_foreign_inputs_are_errors() {
        let good = to_bytes(&Array::new(Shape::Vector(2), Values::F32(vec![1.0, 2.0])).unwrap());
        for cut in 0..good.len() {
            assert!(from_bytes(&good[..cut]).is_err(), "cut at {cut}");
        }
        let mut long = good.clone();
        long.push(0);
        assert!(matches!(
            from_bytes(&long),
            Err(NpyError::TrailingBytes { .. })
        ));
        assert_eq!(
            from_bytes(b"PK\x03\x04 a zip file"),
            Err(NpyError::BadMagic)
        );
        let mut v9 = good;
        v9[6] = 9;
        assert_eq!(from_bytes(&v9), Err(NpyError::UnsupportedVersion(9, 0)));
    }

    #[test]
    fn data_is_64_byte_aligned() {
        for n in 0..200 {
            let a = Array::new(Shape::Vector(n), Values::F64(vec![0.0; n])).unwrap();
            let bytes = to_bytes(&a);
            assert_eq!((bytes.len() - 8 * n) % 64, 0);
            assert_eq!(from_bytes(&bytes).unwrap(), a);
        }
    }
}
