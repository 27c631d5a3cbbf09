//! NumPy arrays in and out: point sets and weights read from arrays of any memory layout, and the
//! field returned as a new array of the points' shape.

use drift_api::{DriftError, PointCloud, Real};
use numpy::ndarray::{ArrayD, IxDyn};
use numpy::{Element, PyArrayDyn, PyArrayMethods, PyUntypedArrayMethods};
use pyo3::exceptions::{PyMemoryError, PyValueError};
use pyo3::prelude::*;

/// The shape of a point set as the caller gave it: `(N, D)`, or `(N,)` for `N` points of dimension 1.
#[derive(Clone, Copy, Debug)]
pub(crate) enum Shape {
    /// `(N,)`.
    Vector(usize),
    /// `(N, D)`.
    Matrix(usize, usize),
}

impl Shape {
    /// The dimension of the points.
    fn dim(self) -> usize {
        match self {
            Shape::Vector(_) => 1,
            Shape::Matrix(_, d) => d,
        }
    }

    /// The shape as NumPy writes it.
    fn dims(self) -> Vec<usize> {
        match self {
            Shape::Vector(n) => vec![n],
            Shape::Matrix(n, d) => vec![n, d],
        }
    }
}

/// The values of `array` (a NumPy array of element type `T`, any strides) in C order, and its
/// shape. `name` names it in errors.
pub(crate) fn values<T: Element + Copy>(
    name: &str,
    array: &Bound<'_, PyAny>,
) -> PyResult<(Vec<T>, Vec<usize>)> {
    let array = array.cast::<PyArrayDyn<T>>().map_err(|_| {
        PyValueError::new_err(format!(
            "`{name}` must be a NumPy array of {}",
            std::any::type_name::<T>()
        ))
    })?;
    // The readonly borrow fails while a Rust extension holds the array mutably; NumPy itself
    // never does.
    let view = array
        .try_readonly()
        .map_err(|e| PyValueError::new_err(format!("`{name}` cannot be read: {e}")))?;
    let view = view.as_array();
    let shape = view.shape().to_vec();
    // One copy into the point set, which owns its coordinates: a contiguous array is copied as a
    // block, any other layout (Fortran order, slices with steps, transposes) element by element
    // in C order.
    // The copy's memory is asked for first, so that an array too large to copy (a broadcast view
    // of 10^11 rows takes no memory of its own) raises MemoryError instead of aborting the process.
    let too_large = || {
        PyMemoryError::new_err(format!(
            "`{name}` of shape {} has too many values to copy into memory",
            python_shape(&shape)
        ))
    };
    let len = shape
        .iter()
        .try_fold(1usize, |n, &d| n.checked_mul(d))
        .filter(|n| {
            n.checked_mul(std::mem::size_of::<T>())
                .is_some_and(|b| b <= isize::MAX as usize)
        })
        .ok_or_else(too_large)?;
    let mut data = Vec::new();
    data.try_reserve_exact(len).map_err(|_| too_large())?;
    match view.as_slice() {
        Some(slice) => data.extend_from_slice(slice),
        None => data.extend(view.iter().copied()),
    }
    Ok((data, shape))
}

/// A point set from an `(N, D)` or `(N,)` array, checked by [`PointCloud::new`] (errors name it
/// `name`), with optional weights of shape `(N,)`.
pub(crate) fn cloud<T: Real + Element>(
    py: Python<'_>,
    name: &str,
    array: &Bound<'_, PyAny>,
    weights: Option<&Bound<'_, PyAny>>,
) -> PyResult<(PointCloud<T>, Shape)> {
    let (data, dims) = values::<T>(name, array)?;
    let shape = match dims[..] {
        [n] => Shape::Vector(n),
        [n, d] => Shape::Matrix(n, d),
        _ => {
            return Err(PyValueError::new_err(format!(
                "`{name}` must have shape (N, D) or (N,), found shape {}",
                python_shape(&dims)
            )))
        }
    };
    let points = PointCloud::new(name, data, shape.dim()).map_err(|e| match e {
        DriftError::EmptyPointSet { .. } => {
            PyValueError::new_err(format!("`{name}` is empty (shape {})", python_shape(&dims)))
        }
        e => crate::errors::to_py(py, e),
    })?;
    let Some(weights) = weights else {
        return Ok((points, shape));
    };
    let wname = format!("{name}_weights");
    let (w, wdims) = values::<T>(&wname, weights)?;
    if wdims.len() != 1 {
        return Err(PyValueError::new_err(format!(
            "`{wname}` must be one-dimensional, shape (N,), found shape {}",
            python_shape(&wdims)
        )));
    }
    if w.len() != points.len() {
        return Err(PyValueError::new_err(format!(
            "`{wname}`: {} weights for the {} points of `{name}`",
            w.len(),
            points.len()
        )));
    }
    let points = points
        .with_weights(w)
        .map_err(|e| PyValueError::new_err(format!("`{wname}`: {e}")))?;
    Ok((points, shape))
}

/// The field as a new NumPy array of the points' shape, owning `field` (no copy).
pub(crate) fn field_array<'py, T: Element>(
    py: Python<'py>,
    shape: Shape,
    field: Vec<T>,
) -> PyResult<Bound<'py, PyAny>> {
    let array = ArrayD::from_shape_vec(IxDyn(&shape.dims()), field)
        .map_err(|e| PyValueError::new_err(format!("the field has the wrong length: {e}")))?;
    Ok(PyArrayDyn::from_owned_array(py, array).into_any())
}

/// A shape as Python prints a tuple: `(3,)`, `(3, 2)`.
pub(crate) fn python_shape(dims: &[usize]) -> String {
    match dims {
        [n] => format!("({n},)"),
        _ => format!(
            "({})",
            dims.iter()
                .map(|d| d.to_string())
                .collect::<Vec<_>>()
                .join(", ")
        ),
    }
}

/// The dtype name of a NumPy array, for messages (`float32`).
pub(crate) fn dtype_name(array: &Bound<'_, PyAny>) -> String {
    array
        .cast::<numpy::PyUntypedArray>()
        .ok()
        .and_then(|a| a.dtype().str().ok().map(|s| s.to_string()))
        .unwrap_or_else(|| "not an array".into())
}
