//! The native half of the Python package `drift` (imported as `drift._drift`).
//!
//! The Python half (`python/drift`) gives the user-facing API: it turns PyTorch tensors and other
//! array-likes into NumPy arrays without copying where it can, and builds operators from keyword
//! arguments. This crate loads operators (every built-in of `drift-ops` is linked, so all of their
//! names are known), runs them on NumPy arrays with the GIL released, and turns the framework's
//! errors into Python exceptions carrying the same messages as the command line.

// `drift_ops` is used for its registrations (typetag and the registry only know the types of
// linked crates) and for the CPU backend.
use drift_ops as _;
use pyo3::prelude::*;

mod arrays;
mod batch;
mod bench;
mod collective;
mod errors;
mod interrupt;
mod load;
mod operator;
mod registry;
mod report;

/// The module `drift._drift`.
#[pymodule]
fn _drift(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add("SpecError", m.py().get_type::<errors::SpecError>())?;
    m.add_class::<operator::NativeOperator>()?;
    m.add_class::<report::Report>()?;
    m.add_class::<report::BatchReport>()?;
    m.add_class::<report::CouplingReport>()?;
    m.add_class::<report::PrecisionReport>()?;
    m.add_function(wrap_pyfunction!(load::load_file, m)?)?;
    m.add_function(wrap_pyfunction!(load::load_str, m)?)?;
    m.add_function(wrap_pyfunction!(registry::registry_entries, m)?)?;
    m.add_function(wrap_pyfunction!(bench::bench_rust_call, m)?)?;
    m.add_function(wrap_pyfunction!(bench::bench_rust_batch, m)?)?;
    Ok(())
}
