//! Refusing an output path that names one of the command's inputs: writing the result there would
//! destroy the input (with `--force`, the atomic replacement of [`crate::pending_file`] makes it
//! safe, since every input is read before the output replaces it).
//!
//! Files are compared as the file system identifies them (device and inode, through the `same-file`
//! crate), so `./x.npy`, `x.npy`, `../d/x.npy`, a symbolic link to it and a hard link to it are one
//! file; an output that does not exist yet is no input. Only files and folders are opened to be
//! identified: a named pipe or a device is compared by its canonical path, since opening a pipe
//! waits for its writer.
//!
//! An output folder that is replaced whole (`compare --out DIR`) must hold none of the inputs:
//! [`check_no_input_inside`].

use std::fmt;
use std::path::Path;

/// Whether `a` and `b` name one existing file or folder (see the module's documentation).
fn same(a: &Path, b: &Path) -> bool {
    let openable = |p: &Path| std::fs::metadata(p).is_ok_and(|m| m.is_file() || m.is_dir());
    if openable(a) && openable(b) {
        same_file::is_same_file(a, b).unwrap_or(false)
    } else {
        matches!((a.canonicalize(), b.canonicalize()), (Ok(x), Ok(y)) if x == y)
    }
}

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
    for (arg, input) in inputs {
        // An input that does not exist is no output: reading it fails with its own error.
        if same(output, input) {
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
    for (what, input) in inputs {
        // The input itself and its real folders (links and `..` resolved), each compared with the
        // output.
        let inside = input
            .canonicalize()
            .is_ok_and(|p| p.ancestors().any(|folder| same(folder, output)));
        if inside {
            return Err(InputInsideOutput {
                output: format!("{out_arg} {}", output.display()),
                input: what.to_string(),
            });
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_hard_link_to_an_input_is_that_input() {
        let dir = tempfile::tempdir().unwrap();
        let x = dir.path().join("x.npy");
        std::fs::write(&x, b"").unwrap();
        let link = dir.path().join("link.npy");
        std::fs::hard_link(&x, &link).unwrap();
        assert!(check_output_is_no_input("--out", &link, &[("--x", &x)]).is_err());
        let fresh = dir.path().join("fresh.npy");
        assert!(check_output_is_no_input("--out", &fresh, &[("--x", &x)]).is_ok());
        // An input inside the output folder, named through `..`.
        let rep = dir.path().join("rep");
        std::fs::create_dir(&rep).unwrap();
        std::fs::write(rep.join("d.csv"), "1\n").unwrap();
        let input = dir.path().join("rep/../rep/d.csv");
        assert!(check_no_input_inside("--out", &rep, &[("data", &input)]).is_err());
        assert!(
            check_no_input_inside("--out", &dir.path().join("rep2"), &[("data", &input)]).is_ok()
        );
    }
}
