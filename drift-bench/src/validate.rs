//! `drift-bench validate`: loads RON operator files and reports each one's first problem, located.

use std::io::Write;
use std::path::PathBuf;

/// Loads every file with [`drift_api::load_operator`] (parse and validate the whole tree), printing
/// `ok FILE` to `out` or the located error `FILE:LINE:COL: message` to `err`. Returns how many failed.
pub fn run(
    files: &[PathBuf],
    out: &mut impl Write,
    err: &mut impl Write,
) -> std::io::Result<usize> {
    let mut failed = 0;
    for file in files {
        match drift_api::load_operator(file) {
            Ok(_) => writeln!(out, "ok {}", file.display())?,
            Err(e) => {
                failed += 1;
                out.flush()?;
                writeln!(err, "{e}")?;
            }
        }
    }
    Ok(failed)
}
