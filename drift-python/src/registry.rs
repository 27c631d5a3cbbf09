//! The registry of linked names, for `drift.operators()`, `drift.kernels()` and the constructors.

use drift_api::registry;
use pyo3::prelude::*;

/// Every registered name as `(kind, name, summary, params, example)`, sorted by kind then name,
/// as `drift-bench list --examples` prints them.
#[pyfunction]
pub(crate) fn registry_entries() -> Vec<(
    &'static str,
    &'static str,
    &'static str,
    &'static str,
    &'static str,
)> {
    registry::entries()
        .into_iter()
        .map(|r| (r.kind.as_str(), r.name, r.summary, r.params, r.example))
        .collect()
}
