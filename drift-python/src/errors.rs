//! The framework's errors as Python exceptions, with the messages the command line prints.

use drift_api::DriftError;
use pyo3::exceptions::{PyMemoryError, PyRuntimeError, PyValueError};
use pyo3::prelude::*;

pyo3::create_exception!(
    drift,
    SpecError,
    PyValueError,
    "A RON operator specification could not be read, parsed or validated.\n\n\
     Attributes: `file` (the path, or `<string>` for RON text), `line` and `column` (1-based; 0 \
     when the file could not be read at all) and `message` (what is wrong, with the valid names or \
     fields where known). `str(e)` is `file:line:column: message`, as the command line prints it."
);

/// The Python exception for a framework error: [`SpecError`] for a specification, `MemoryError`
/// for a buffer that could not be allocated, `RuntimeError` for a missing device or a plugin's own
/// failure, `ValueError` for every other (bad input or parameters).
pub(crate) fn to_py(py: Python<'_>, e: DriftError) -> PyErr {
    match e {
        DriftError::Spec {
            ref origin,
            line,
            column,
            ref message,
        } => spec_error(py, &e.to_string(), origin, line, column, message),
        DriftError::Allocation { .. } => PyMemoryError::new_err(e.to_string()),
        DriftError::NoDevice { .. } | DriftError::Custom(_) => {
            PyRuntimeError::new_err(e.to_string())
        }
        e => PyValueError::new_err(e.to_string()),
    }
}

/// A [`SpecError`] with its location as attributes.
fn spec_error(
    py: Python<'_>,
    text: &str,
    origin: &str,
    line: usize,
    column: usize,
    message: &str,
) -> PyErr {
    let err = SpecError::new_err(text.to_string());
    let value = err.value(py);
    // Setting attributes on a fresh exception instance cannot fail short of memory exhaustion,
    // in which case the error without them is still the right one to raise.
    let _ = value.setattr("file", origin);
    let _ = value.setattr("line", line);
    let _ = value.setattr("column", column);
    let _ = value.setattr("message", message);
    err
}
