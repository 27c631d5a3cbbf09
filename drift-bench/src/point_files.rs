//! Point sets and weights from files: the format follows the extension (`.npy` or `.csv`), and every
//! error names the command-line argument and the file (`--x data.npy: expected dtype ...`).

use crate::array::{Array, Shape, Values};
use crate::pending_file::PendingFile;
use crate::{csv, npy};
use anyhow::{anyhow, bail, Result};
use drift_api::{PointCloud, Real};
use std::path::Path;

/// A file format, chosen by extension.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Format {
    /// NumPy's `.npy` (`float32` or `float64`).
    Npy,
    /// Comma-separated numbers (`f64`).
    Csv,
}

impl Format {
    /// The format of a path from its extension (case-insensitive).
    ///
    /// ```
    /// use drift_bench::point_files::Format;
    /// assert_eq!(Format::of("--x", "a/b.NPY".as_ref()).unwrap(), Format::Npy);
    /// let e = Format::of("--x", "b.txt".as_ref()).unwrap_err().to_string();
    /// assert_eq!(e, "--x b.txt: unknown extension \".txt\" (expected .npy or .csv)");
    /// ```
    pub fn of(arg: &str, path: &Path) -> Result<Format> {
        let ext = path
            .extension()
            .map(|e| e.to_string_lossy().to_ascii_lowercase());
        match ext.as_deref() {
            Some("npy") => Ok(Format::Npy),
            Some("csv") => Ok(Format::Csv),
            Some(other) => bail!(
                "{arg} {}: unknown extension \".{other}\" (expected .npy or .csv)",
                path.display()
            ),
            None => bail!(
                "{arg} {}: no extension (expected .npy or .csv)",
                path.display()
            ),
        }
    }
}

/// Reads the array in `path`, in the format of its extension; `arg` names it in errors, which
/// carry the file's line and column where they have one (`--y data.csv:3:5: ...`). `header` says
/// how a `.csv` file's first line is read.
pub fn read_array(arg: &str, path: &Path, header: csv::Header) -> Result<Array> {
    let format = Format::of(arg, path)?;
    let located = |e: &dyn std::fmt::Display| anyhow!("{arg} {}: {e}", path.display());
    let bytes = std::fs::read(path).map_err(|e| located(&e))?;
    match format {
        Format::Npy => npy::from_bytes(&bytes).map_err(|e| located(&e)),
        Format::Csv => {
            let text = String::from_utf8(bytes)
                .map_err(|e| located(&format!("not UTF-8 text ({})", e.utf8_error())))?;
            csv::parse_with(&text, header).map_err(|e| match e.position() {
                // `FILE:LINE:COLUMN: message`
                Some(_) => anyhow!("{arg} {}:{e}", path.display()),
                None => located(&e),
            })
        }
    }
}

/// The bytes of `array` in the format of `path`'s extension (`.npy` keeps the array's precision).
pub fn encode(arg: &str, path: &Path, array: &Array) -> Result<Vec<u8>> {
    Ok(match Format::of(arg, path)? {
        Format::Npy => npy::to_bytes(array),
        Format::Csv => csv::to_string(array).into_bytes(),
    })
}

/// Opens the temporary file that [`PendingFile::commit`] turns into `path`: fails at once (naming
/// `arg` and `path`) if the format is unknown or the folder cannot take the file.
pub fn prepare_output(arg: &str, path: &Path) -> Result<PendingFile> {
    Format::of(arg, path)?;
    PendingFile::create(path)
        .map_err(|e| anyhow!("{arg} {}: cannot create it: {e}", path.display()))
}

/// Writes `array` into a prepared output (in the format of its target's extension) and puts it in
/// place of the target.
pub fn commit_array(arg: &str, pending: PendingFile, array: &Array) -> Result<()> {
    let path = pending.target().to_path_buf();
    let bytes = encode(arg, &path, array)?;
    pending
        .commit(&bytes)
        .map_err(|e| anyhow!("{arg} {}: {e}", path.display()))
}

/// Writes `array` to `path` in the format of its extension, atomically: the file is replaced as a
/// whole or, on any error, left as it was.
pub fn write_array(arg: &str, path: &Path, array: &Array) -> Result<()> {
    commit_array(arg, prepare_output(arg, path)?, array)
}

/// The name a point set read from `path` for `arg` carries in errors: `--x data.npy`.
pub fn label(arg: &str, path: &Path) -> String {
    format!("{arg} {}", path.display())
}

/// The points of an `(N, D)` array, or of an `(N,)` array as `N` points of dimension 1, in
/// precision `T` (converted if the file holds the other one); checked by [`PointCloud::new`].
pub fn points<T: Real>(arg: &str, path: &Path, array: &Array) -> Result<PointCloud<T>> {
    let dim = array.shape().cols();
    let values = array
        .values()
        .try_to_real::<T>()
        .map_err(|e| anyhow!("{}: {e}", label(arg, path)))?;
    PointCloud::new(label(arg, path), values, dim).map_err(|e| {
        // An empty array is reported by shape, the other errors already carry the label.
        match array.shape().count() {
            Some(0) => anyhow!("{}: empty (shape {})", label(arg, path), array.shape()),
            _ => anyhow!(e),
        }
    })
}

/// Per-point weights from an `(N,)`, `(N, 1)` or `(1, N)` array, in precision `T`.
pub fn weights<T: Real>(arg: &str, path: &Path, array: &Array) -> Result<Vec<T>> {
    match array.shape() {
        Shape::Vector(_) | Shape::Matrix(_, 1) | Shape::Matrix(1, _) => Ok(array
            .values()
            .try_to_real::<T>()
            .map_err(|e| anyhow!("{}: {e}", label(arg, path)))?),
        shape => bail!(
            "{}: weights must be one-dimensional, (N,) or (N, 1), found shape {shape}",
            label(arg, path)
        ),
    }
}

/// The array holding a field `V` computed for points of shape `like`: the same shape form
/// (`(N,)` stays `(N,)`), the values in their own precision.
pub fn field_array<T: Real>(like: Shape, field: &[T]) -> Result<Array> {
    let shape = match like {
        Shape::Vector(_) => Shape::Vector(field.len()),
        Shape::Matrix(_, d) => Shape::Matrix(field.len() / d.max(1), d),
        Shape::Batch(b, _, d) => Shape::Batch(b, field.len() / (b * d).max(1), d),
    };
    Ok(Array::new(shape, Values::from_real(field))?)
}
