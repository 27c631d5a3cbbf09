//! Loading operators from RON files and RON text.

use crate::errors::to_py;
use crate::operator::NativeOperator;
use pyo3::prelude::*;

/// Reads, parses and validates the operator in the RON file at `path`.
#[pyfunction]
pub(crate) fn load_file(py: Python<'_>, path: std::path::PathBuf) -> PyResult<NativeOperator> {
    let origin = path.display().to_string();
    // Read here so that the operator keeps its source (`op.ron`).
    match std::fs::read(&path)
        .ok()
        .and_then(|b| String::from_utf8(b).ok())
    {
        Some(text) => load_str(py, &text, &origin),
        // Unreadable or not UTF-8: the loader reads it itself and says why, located.
        None => drift_api::load_operator(&path)
            .map(|op| NativeOperator::new(op, String::new(), origin))
            .map_err(|e| to_py(py, e)),
    }
}

/// Parses and validates an operator from RON text; `origin` names it in errors.
#[pyfunction]
pub(crate) fn load_str(py: Python<'_>, text: &str, origin: &str) -> PyResult<NativeOperator> {
    let op = drift_api::operator_from_str(text, origin).map_err(|e| to_py(py, e))?;
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    Ok(NativeOperator::new(
        op,
        text.to_string(),
        origin.to_string(),
    ))
}
