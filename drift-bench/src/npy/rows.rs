//! A range of a `.npy` file's leading axis read alone: the header, then only the bytes of those
//! rows (one seek past the header and the rows before), so that each process of a job reads its
//! share of a large batch and no more.
//!
//! C-ordered arrays (what NumPy writes by default) keep a row's values together and are read
//! this way; a Fortran-ordered matrix scatters each row over the file, so it is read whole and
//! cut (a 3-D Fortran-ordered array is refused, as [`from_bytes`](super::from_bytes) does).

use super::{data_start, decode, from_bytes, header_of, Header, NpyError, PREAMBLE};
use crate::array::{Array, Shape, Values};
use std::fmt;
use std::fs::File;
use std::io::{Read, Seek, SeekFrom};
use std::ops::Range;
use std::path::Path;

/// Why rows of a file could not be read.
#[derive(Debug)]
pub enum RowsError {
    /// The file could not be opened or read.
    Io(std::io::Error),
    /// The file is not a supported `.npy` array (or its size does not match its header).
    Npy(NpyError),
    /// The range goes past the array's leading axis.
    OutOfRange {
        /// The rows asked for.
        rows: Range<usize>,
        /// The array's shape.
        shape: Shape,
    },
}

impl fmt::Display for RowsError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            RowsError::Io(e) => write!(f, "{e}"),
            RowsError::Npy(e) => write!(f, "{e}"),
            RowsError::OutOfRange { rows, shape } => write!(
                f,
                "rows {}..{} of the leading axis are asked for, but the array is {shape}",
                rows.start, rows.end
            ),
        }
    }
}

impl std::error::Error for RowsError {}

impl From<std::io::Error> for RowsError {
    fn from(e: std::io::Error) -> Self {
        RowsError::Io(e)
    }
}

impl From<NpyError> for RowsError {
    fn from(e: NpyError) -> Self {
        RowsError::Npy(e)
    }
}

/// Up to `n` bytes from the start of `file` (fewer when the file is shorter).
fn read_prefix(file: &mut File, n: usize) -> std::io::Result<Vec<u8>> {
    let mut bytes = Vec::with_capacity(n);
    file.by_ref().take(n as u64).read_to_end(&mut bytes)?;
    Ok(bytes)
}

/// The file at `path` opened, its header read and its size checked against the header (a
/// truncated or padded file is refused before any rows are read), with where its data begins.
fn open(path: &Path) -> Result<(File, Header, usize), RowsError> {
    let mut file = File::open(path)?;
    let file_len = file.metadata()?.len();
    let preamble = read_prefix(&mut file, PREAMBLE)?;
    let (start, _) = data_start(&preamble)?;
    file.seek(SeekFrom::Start(0))?;
    let head = read_prefix(&mut file, start)?;
    let (header, start) = header_of(&head)?;
    let expected = header.data_len()?;
    let found = usize::try_from(file_len.saturating_sub(start as u64)).unwrap_or(usize::MAX);
    if found < expected {
        return Err(NpyError::Truncated {
            what: "data",
            expected,
            found,
        }
        .into());
    }
    if found > expected {
        return Err(NpyError::TrailingBytes { expected, found }.into());
    }
    Ok((file, header, start))
}

/// The shape of the `.npy` array in `path`, from its header alone (the file's size is checked).
pub fn shape_of(path: &Path) -> Result<Shape, RowsError> {
    Ok(open(path)?.1.shape)
}

/// `shape` with its leading axis cut to `len`.
fn with_leading(shape: Shape, len: usize) -> Shape {
    match shape {
        Shape::Vector(_) => Shape::Vector(len),
        Shape::Matrix(_, d) => Shape::Matrix(len, d),
        Shape::Batch(_, n, d) => Shape::Batch(len, n, d),
    }
}

/// The rows `rows` of the leading axis of the `.npy` array in `path` (elements of a vector, rows
/// of a matrix, problems of a batch), equal to reading the whole file and cutting it. Only the
/// header and those rows' bytes are read from a C-ordered file; the file's size must still be
/// the one its header gives (a truncated or padded file is an error, as for a whole read).
///
/// ```
/// use drift_bench::array::{Array, Shape, Values};
/// use drift_bench::npy;
/// let path = std::env::temp_dir().join(format!("rows-doc-{}.npy", std::process::id()));
/// let a = Array::new(Shape::Matrix(3, 2), Values::F64(vec![1., 2., 3., 4., 5., 6.])).unwrap();
/// std::fs::write(&path, npy::to_bytes(&a)).unwrap();
/// let rows = npy::read_rows(&path, 1..3).unwrap();
/// assert_eq!(rows, Array::new(Shape::Matrix(2, 2), Values::F64(vec![3., 4., 5., 6.])).unwrap());
/// assert!(npy::read_rows(&path, 2..4).is_err());
/// # std::fs::remove_file(&path).unwrap();
/// ```
pub fn read_rows(path: &Path, rows: Range<usize>) -> Result<Array, RowsError> {
    let (mut file, header, start) = open(path)?;
    let shape = header.shape;
    let leading = match shape {
        Shape::Vector(n) | Shape::Matrix(n, _) | Shape::Batch(n, ..) => n,
    };
    if rows.start > rows.end || rows.end > leading {
        return Err(RowsError::OutOfRange { rows, shape });
    }
    let expected = header.data_len()?;
    let cut = with_leading(shape, rows.len());
    if header.fortran_order {
        // A Fortran-ordered row is spread over the whole file: read it all, then cut.
        file.seek(SeekFrom::Start(0))?;
        let mut bytes = Vec::new();
        file.read_to_end(&mut bytes)?;
        let whole = from_bytes(&bytes)?;
        let per = whole.values().len() / leading.max(1);
        let range = rows.start * per..rows.end * per;
        let values = match whole.values() {
            Values::F32(v) => Values::F32(v[range].to_vec()),
            Values::F64(v) => Values::F64(v[range].to_vec()),
        };
        return Array::new(cut, values).map_err(|e| NpyError::BadHeader(e.to_string()).into());
    }
    // The bytes of one row; `data_len` proved the whole data's size fits a usize.
    let row_bytes = expected / leading.max(1);
    file.seek(SeekFrom::Start((start + rows.start * row_bytes) as u64))?;
    let mut data = vec![0u8; rows.len() * row_bytes];
    file.read_exact(&mut data)?;
    Array::new(cut, decode(header.precision, &data))
        .map_err(|e| NpyError::BadHeader(e.to_string()).into())
}
