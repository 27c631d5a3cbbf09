//! Refusing an output path that names one of the command's inputs: writing the result there would
//! destroy the input (with `--force`, the atomic replacement of [`crate::pending_file`] makes it
//! safe, since every input is read before the output replaces it).
//!
//! Paths are compared canonicalised (`./x.npy`, `x.npy` and `../d/x.npy` are one file); an output
//! that does not exist yet is compared by its canonical folder and its name.
//!
//! An output folder that is replaced whole (`compare --out DIR`) must hold none of the inputs:
//! [`check_no_input_inside`].

use crate::pending_file::folder;
use std::fmt;
use std::path::{Path, PathBuf};

/// `--out` names the same file as an input.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct OutputIsInput {
    /// The output's argument and path as given: `--out ./x.npy`.
    pub output: String,
    /// The input's argument and path as given: `--x x.npy`.
    pub input: String,
}

impl fmt::Display for OutputIsInput {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}: is the input {}; pass --force to replace it",
            self.output, self.input
        )
    }
}

impl std::error::Error for OutputIsInput {}

/// The canonical form of `path`, whether or not the file exists yet; `None` if its folder does not
/// exist either (then it names no input).
fn canonical(path: &Path) -> Option<PathBuf> {
    if let Ok(p) = path.canonicalize() {
        return Some(p);
    }
    let name = path.file_name()?;
    Some(folder(path).canonicalize().ok()?.join(name))
}

/// Checks that `output` (given as `out_arg`) is none of `inputs` (each with its argument).
///
/// ```
/// use drift_bench::same_file::check_output_is_no_input;
/// let dir = std::env::temp_dir();
/// let x = dir.join(format!("same-file-doc-{}.npy", std::process::id()));
/// std::fs::write(&x, b"").unwrap();
/// let other = dir.join("same-file-doc-other.npy");
/// assert!(check_output_is_no_input("--out", &other, &[("--x", &x)]).is_ok());
/// let again = dir.join(".").join(x.file_name().unwrap());
/// let e = check_output_is_no_input("--out", &again, &[("--x", &x)]).unwrap_err();
/// assert!(e.to_string().contains("pass --force"));
/// std::fs::remove_file(&x).unwrap();
/// ```
pub fn check_output_is_no_input(
    out_arg: &str,
    output: &Path,
    inputs: &[(&str, &Path)],
) -> Result<(), OutputIsInput> {
    let Some(out) = canonical(output) else {
        return Ok(());
    };
    for (arg, input) in inputs {
        // An input that cannot be resolved does not exist: reading it fails with its own error.
        if input.canonicalize().is_ok_and(|p| p == out) {
            return Err(OutputIsInput {
                output: format!("{out_arg} {}", output.display()),
                input: format!("{arg} {}", input.display()),
            });
        }
    }
    Ok(())
}

/// An output folder, replaced whole by the command, holds one of its inputs.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct InputInsideOutput {
    /// The output's argument and folder as given: `--out rep`.
    pub output: String,
    /// What the input is and its path as given: `the data set file:rep/results.csv`.
    pub input: String,
}

impl fmt::Display for InputInsideOutput {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}: holds {}, which the report would destroy (the report replaces the whole folder); \
             choose another folder, or move the input out of it",
            self.output, self.input
        )
    }
}

impl std::error::Error for InputInsideOutput {}

/// Checks that none of `inputs` (each with what it is, e.g. `the data set file:x.csv`) is the
/// folder `output` (given as `out_arg`) or lies inside it. An input that does not exist is not
/// checked (reading it fails with its own error).
///
/// ```
/// use drift_bench::same_file::check_no_input_inside;
/// let dir = std::env::temp_dir().join(format!("inside-doc-{}", std::process::id()));
/// std::fs::create_dir_all(dir.join("rep")).unwrap();
/// let data = dir.join("rep").join("data.csv");
/// std::fs::write(&data, "1,2\n").unwrap();
/// assert!(check_no_input_inside("--out", &dir.join("other"), &[("data", &data)]).is_ok());
/// let e = check_no_input_inside("--out", &dir.join("rep/."), &[("data", &data)]).unwrap_err();
/// assert!(e.to_string().contains("holds data"));
/// std::fs::remove_dir_all(&dir).unwrap();
/// ```
pub fn check_no_input_inside(
    out_arg: &str,
    output: &Path,
    inputs: &[(&str, &Path)],
) -> Result<(), InputInsideOutput> {
    let Some(out) = canonical(output) else {
        return Ok(());
    };
    for (what, input) in inputs {
        if input.canonicalize().is_ok_and(|p| p.starts_with(&out)) {
            return Err(InputInsideOutput {
                output: format!("{out_arg} {}", output.display()),
                input: what.to_string(),
            });
        }
    }
    Ok(())
}
