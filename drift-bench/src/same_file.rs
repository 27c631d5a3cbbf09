//! Refusing an output path that names one of the command's inputs: writing the result there would
//! destroy the input (with `--force`, the atomic replacement of [`crate::pending_file`] makes it
//! safe, since every input is read before the output replaces it).
//!
//! Paths are compared canonicalised (`./x.npy`, `x.npy` and `../d/x.npy` are one file); an output
//! that does not exist yet is compared by its canonical folder and its name.

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
