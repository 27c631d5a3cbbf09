//! A [`Collective`] backed by a Python callable: how a data-parallel caller (PyTorch's
//! `torch.distributed`, MPI, ...) completes the batch-wide sums of `apply_batch` across processes.
//!
//! The callable takes a 1-D float64 NumPy array (this process's sums) and returns the element-wise
//! sum over every process of the group, of the same length. It is called from inside the Rust
//! computation, which runs with the GIL released: each call re-attaches to the interpreter for the
//! time of the call. A callable that also carries a callable attribute `all_reduce_max` (the
//! element-wise maximum over every process) gives a problem split by columns its maxima
//! ([`Collective::all_reduce_max`]: a Sinkhorn iteration then moves `2N + 1` numbers, not
//! `ranks · N + 1`); every process must give the same kind of callable.
//!
//! **Every process calls the callable the same number of times, with the same lengths, in the same
//! order**, as a collective requires: the operators compute their batch-wide statistics (the
//! feature scale and `λ_R` of `deng_official`, each temperature's `λ_τ` of `multi_temperature`,
//! the scale of `feature_scale`, the batch's drift norm) one after the other on the calling thread,
//! in the order of the operator tree, never inside a parallel loop, and how many there are depends
//! on the operator only, not on the data. A failure inside the callable (a Python exception, a
//! result of the wrong length or with a non-finite value) ends the computation with an error; a
//! process that fails before reaching a collective (bad input on one rank only) leaves the others
//! waiting in theirs until the group's own timeout.

use drift_api::kit::Collective;
use drift_api::DriftError;
use numpy::{PyArray1, PyArrayMethods, PyUntypedArrayMethods};
use pyo3::prelude::*;
use std::sync::Mutex;

/// Sums completed by a Python callable `f(values: float64 array) -> float64 array`; maxima too
/// where the callable carries a callable attribute `all_reduce_max` (the element-wise maximum
/// over every process, as `drift.torch.process_group_collective` gives it), else through sums.
#[derive(Debug)]
pub(crate) struct PyCollective {
    /// The callable.
    callable: Py<PyAny>,
    /// Its `all_reduce_max`, if it has one.
    maximum: Option<Py<PyAny>>,
    /// The Python exception of the first failed call, raised as the cause of the call's error.
    failure: Mutex<Option<PyErr>>,
}

impl PyCollective {
    /// Wraps `callable` (checked to be callable).
    pub(crate) fn new(callable: &Bound<'_, PyAny>) -> PyResult<Self> {
        if !callable.is_callable() {
            return Err(pyo3::exceptions::PyValueError::new_err(format!(
                "`collective` must be a callable f(values: numpy float64 array) -> numpy float64 \
                 array (the element-wise sum over every process), got {}",
                callable.get_type().name()?
            )));
        }
        let maximum = match callable.getattr_opt("all_reduce_max")? {
            Some(m) if m.is_callable() => Some(m.unbind()),
            _ => None,
        };
        Ok(PyCollective {
            callable: callable.clone().unbind(),
            maximum,
            failure: Mutex::new(None),
        })
    }

    /// The Python exception of a failed call, if one failed.
    pub(crate) fn take_failure(&self) -> Option<PyErr> {
        self.failure.lock().ok().and_then(|mut f| f.take())
    }

    /// One call of `f` on `values` (the callable, or its maximum when `maximum`), the result
    /// copied back.
    fn call(
        &self,
        py: Python<'_>,
        f: &Py<PyAny>,
        maximum: bool,
        values: &mut [f64],
    ) -> Result<(), CallError> {
        let input = PyArray1::from_slice(py, values);
        let result = f.bind(py).call1((input,)).map_err(CallError::Python)?;
        // Any array-like of numbers is accepted (a tensor's `.numpy()`, a list): NumPy converts it.
        let array = py
            .import("numpy")
            .and_then(|np| np.call_method1("asarray", (&result, "float64")))
            .and_then(|a| a.call_method0("ravel"))
            .map_err(CallError::Python)?;
        let array = array
            .cast_into::<PyArray1<f64>>()
            .map_err(|e| CallError::Invalid(format!("the result is not a float64 array ({e})")))?;
        if array.len() != values.len() {
            return Err(CallError::Invalid(format!(
                "returned {} values for {} sums (it must return the element-wise sum over every \
                 process, of the same length)",
                array.len(),
                values.len()
            )));
        }
        let out = array
            .to_vec()
            .map_err(|e| CallError::Invalid(e.to_string()))?;
        // A maximum may be −∞ (no process has a term), never NaN or +∞; a sum is finite.
        let allowed = |v: &f64| v.is_finite() || (maximum && *v == f64::NEG_INFINITY);
        let bad = |v: &f64| !allowed(v);
        if let Some(k) = out.iter().position(bad) {
            return Err(CallError::Invalid(format!(
                "returned a non-finite {} ({} at index {k})",
                if maximum { "maximum" } else { "sum" },
                out[k]
            )));
        }
        values.copy_from_slice(&out);
        Ok(())
    }
}

/// Why a call failed.
enum CallError {
    /// The callable (or the conversion of its result) raised.
    Python(PyErr),
    /// The result is not the sums asked for.
    Invalid(String),
}

impl PyCollective {
    /// `values` through `f` (the callable, or its maximum when `maximum`), a failure kept as the
    /// cause.
    fn reduce(&self, f: &Py<PyAny>, maximum: bool, values: &mut [f64]) -> drift_api::Result<()> {
        let what = match maximum {
            true => "all_reduce_max",
            false => "all-reduce of batch-wide sums",
        };
        let outcome = Python::attach(|py| match self.call(py, f, maximum, values) {
            Ok(()) => Ok(()),
            Err(CallError::Invalid(message)) => Err(message),
            Err(CallError::Python(e)) => {
                let message = e.to_string();
                if let Ok(mut failure) = self.failure.lock() {
                    failure.get_or_insert(e);
                }
                Err(format!("raised {message}"))
            }
        });
        outcome.map_err(|message| {
            DriftError::Custom(format!("the collective ({what}) {message}").into())
        })
    }
}

impl Collective for PyCollective {
    fn all_reduce_sum(&self, values: &mut [f64]) -> drift_api::Result<()> {
        self.reduce(&self.callable, false, values)
    }

    fn all_reduce_max(&self, values: &mut [f64]) -> drift_api::Result<bool> {
        let Some(maximum) = &self.maximum else {
            return Ok(false);
        };
        self.reduce(maximum, true, values)?;
        Ok(true)
    }
}
