//! Batches of problems from NumPy arrays: `x` `(B, N, D)`, `y` `(B, M, D)`, negatives
//! `(B, K, D)` and weights `(B, n)`, checked against `x`'s shape with the command line's wording,
//! evaluated in one call of [`drift_api::batch::apply_drift_batch`] with the GIL released, batch-wide sums
//! completed across processes by an optional [`PyCollective`].

use crate::arrays::{self, python_shape};
use crate::collective::PyCollective;
use crate::errors::to_py;
use crate::interrupt::{run_interruptible, THREADED_FROM};
use crate::operator::NativeOperator;
use crate::report::BatchReport;
use drift_api::batch::{apply_drift_batch, BatchProblem};
use drift_api::kit::{try_vec, BatchSets, Collective, ProblemBatch, SingleProcess};
use drift_api::{Context, DriftOperator, Real};
use drift_ops::CpuBackend;
use numpy::ndarray::{ArrayD, IxDyn};
use numpy::{Element, PyArrayDyn};
use pyo3::exceptions::PyValueError;
use pyo3::prelude::*;

/// The arrays of one batched call (NumPy arrays of one float dtype).
pub(crate) struct BatchInputs<'a, 'py> {
    /// Generated samples `(B, N, D)`.
    pub(crate) x: &'a Bound<'py, PyAny>,
    /// Data `(B, M, D)`.
    pub(crate) y: &'a Bound<'py, PyAny>,
    /// Weights of the generated samples `(B, N)`.
    pub(crate) x_weights: Option<&'a Bound<'py, PyAny>>,
    /// Weights of the data `(B, M)`.
    pub(crate) y_weights: Option<&'a Bound<'py, PyAny>>,
    /// Guidance negatives `(B, K, D)`.
    pub(crate) negatives: Option<&'a Bound<'py, PyAny>>,
    /// Weights of the negatives `(B, K)`, each relative to one generated sample.
    pub(crate) negative_weights: Option<&'a Bound<'py, PyAny>>,
}

/// One point input read out of its array: values in C order and `(B, n, D)`.
struct Side<T> {
    data: Vec<T>,
    shape: (usize, usize, usize),
    weights: Option<Vec<T>>,
}

/// The `(B, n, D)` of a point input, checked against `x`'s `B` and `D` when `like` is given.
fn points_shape(
    name: &str,
    dims: &[usize],
    like: Option<(usize, usize)>,
) -> PyResult<(usize, usize, usize)> {
    let &[b, n, d] = dims else {
        return Err(PyValueError::new_err(match like {
            None => format!(
                "`{name}` must have shape (B, N, D) (a batch of problems), found shape {}",
                python_shape(dims)
            ),
            Some(_) => format!(
                "`{name}`: shape {} but `x` is a batch of problems: give `{name}` as (B, n, D)",
                python_shape(dims)
            ),
        }));
    };
    if let Some((bx, dx)) = like {
        if (b, d) != (bx, dx) {
            return Err(PyValueError::new_err(format!(
                "`{name}`: shape {} does not match `x`'s {bx} problems of dimension {dx}: \
                 expected ({bx}, n, {dx})",
                python_shape(dims)
            )));
        }
    }
    if b == 0 || n == 0 || d == 0 {
        return Err(PyValueError::new_err(format!(
            "`{name}` is empty (shape {})",
            python_shape(dims)
        )));
    }
    Ok((b, n, d))
}

/// Reads a point input and its optional weights `(B, n)`.
fn side<T: Real + Element>(
    name: &str,
    points: &Bound<'_, PyAny>,
    weights: Option<&Bound<'_, PyAny>>,
    weights_name: &str,
    like: Option<(usize, usize)>,
) -> PyResult<Side<T>> {
    let (data, dims) = arrays::values::<T>(name, points)?;
    let shape = points_shape(name, &dims, like)?;
    let weights = match weights {
        None => None,
        Some(w) => {
            let (values, wdims) = arrays::values::<T>(weights_name, w)?;
            let (b, n, _) = shape;
            if wdims != [b, n] {
                return Err(PyValueError::new_err(format!(
                    "`{weights_name}`: shape {} but `{name}` holds {b} problems of {n} points: \
                     expected ({b}, {n})",
                    python_shape(&wdims)
                )));
            }
            Some(values)
        }
    };
    Ok(Side {
        data,
        shape,
        weights,
    })
}

/// The side as batch sets borrowing its values.
fn sets<'a, T: Real>(name: &str, side: &'a Side<T>) -> drift_api::Result<BatchSets<'a, T>> {
    let (b, n, d) = side.shape;
    let sets = BatchSets::dense(name, &side.data, b, n, d)?;
    match &side.weights {
        Some(w) => sets.with_weights(w),
        None => Ok(sets),
    }
}

/// Runs `native`'s operator on the batch in precision `T`: the arrays copied out under the GIL,
/// the field computed without it. Batch-wide sums are completed by `collective` when given (a
/// Python callable, re-attached to the interpreter for each call), else taken as they are (one
/// process). Returns `V` `(B, N, D)` and the batch's report.
pub(crate) fn run_batch<'py, T: Real + Element>(
    py: Python<'py>,
    native: &NativeOperator,
    inputs: &BatchInputs<'_, 'py>,
    context: Context,
    collective: Option<&PyCollective>,
) -> PyResult<(Bound<'py, PyAny>, BatchReport)> {
    let x = side::<T>("x", inputs.x, inputs.x_weights, "x_weights", None)?;
    let like = Some((x.shape.0, x.shape.2));
    let y = side::<T>("y", inputs.y, inputs.y_weights, "y_weights", like)?;
    let negatives = match (inputs.negatives, inputs.negative_weights) {
        (Some(n), w) => Some(side::<T>("negatives", n, w, "negative_weights", like)?),
        (None, Some(_)) => {
            return Err(PyValueError::new_err(
                "`negative_weights` given without `negatives`: there are no negatives to weigh",
            ))
        }
        (None, None) => None,
    };
    let (b, n, d) = x.shape;
    let result = match collective {
        // Across processes the collective calls back into Python: computed here, as it always was.
        Some(c) => {
            py.detach(|| compute(native.operator(), &x, &y, negatives.as_ref(), &context, c))
        }
        // On a thread of its own when large, so that Ctrl-C is answered at once.
        None => {
            let op = native.shared();
            let pairs = b
                .saturating_mul(n)
                .saturating_mul(y.shape.1.saturating_add(n))
                .saturating_mul(d);
            run_interruptible(py, pairs >= THREADED_FROM, move || {
                compute(
                    op.as_ref(),
                    &x,
                    &y,
                    negatives.as_ref(),
                    &context,
                    &SingleProcess,
                )
            })?
        }
    };
    let field_and_report = result.map_err(|e| {
        let err = to_py(py, e);
        // The collective's own Python exception (a failed all-reduce) as the cause.
        if let Some(cause) = collective.and_then(PyCollective::take_failure) {
            err.set_cause(py, Some(cause));
        }
        err
    })?;
    let (field, report) = field_and_report;
    let array = ArrayD::from_shape_vec(IxDyn(&[b, n, d]), field)
        .map_err(|e| PyValueError::new_err(format!("the field has the wrong length: {e}")))?;
    Ok((
        PyArrayDyn::from_owned_array(py, array).into_any(),
        BatchReport::from(report),
    ))
}

/// The batched call in precision `T`: the field of every problem and the batch's report.
fn compute<T: Real>(
    op: &dyn DriftOperator,
    x: &Side<T>,
    y: &Side<T>,
    negatives: Option<&Side<T>>,
    context: &Context,
    completes: &dyn Collective,
) -> drift_api::Result<(Vec<T>, drift_api::BatchReport)> {
    let mut batch = ProblemBatch::new(sets("x", x)?, sets("y", y)?)?;
    if let Some(n) = negatives {
        batch = batch.with_negatives(sets("negatives", n)?)?;
    }
    let mut field = try_vec("V", x.data.len(), T::zero())?;
    let report = apply_drift_batch(
        op,
        BatchProblem {
            backend: &CpuBackend,
            batch: &batch,
            context,
            out: &mut field,
            scale: T::one(),
            collective: completes,
        },
    )?;
    Ok((field, report))
}
