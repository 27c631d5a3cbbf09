//! The native operator object: a loaded operator tree and the call that runs it on NumPy arrays.

use crate::arrays;
use crate::batch::{run_batch, BatchInputs};
use crate::collective::PyCollective;
use crate::errors::to_py;
use crate::interrupt::{run_interruptible, THREADED_FROM};
use crate::report::{BatchReport, Report};
use drift_api::kit::{fmt_num, try_vec, Backend, ColumnSplit, Whole};
use drift_api::{Context, DriftOperator, DriftReport, Negatives, PointCloud, Real};
use drift_ops::{ColumnShards, CpuBackend, RowShards};
use numpy::Element;
use pyo3::exceptions::PyValueError;
use pyo3::prelude::*;
use std::sync::Arc;

/// A loaded, validated operator tree (the Python class `drift.Operator` wraps it).
#[pyclass(frozen, module = "drift._drift")]
pub(crate) struct NativeOperator {
    /// Shared with a call's computing thread ([`crate::interrupt`]), which may outlive the call.
    op: Arc<dyn DriftOperator>,
    /// The RON text it was loaded from (empty when it was read by the loader itself).
    source: String,
    /// The file it came from, or `<string>`.
    origin: String,
}

impl NativeOperator {
    /// Wraps a loaded operator.
    pub(crate) fn new(op: Box<dyn DriftOperator>, source: String, origin: String) -> Self {
        NativeOperator {
            op: Arc::from(op),
            source,
            origin,
        }
    }

    /// The operator, shared.
    pub(crate) fn shared(&self) -> Arc<dyn DriftOperator> {
        Arc::clone(&self.op)
    }

    /// The operator itself.
    pub(crate) fn operator(&self) -> &dyn DriftOperator {
        self.op.as_ref()
    }
}

/// Everything one call needs besides the arrays.
#[derive(Clone, Copy)]
struct CallOptions<'c> {
    negative_weight: f64,
    step: u64,
    time: f64,
    /// A split over processes: the collective, this process's rank, the processes.
    split: Option<(&'c PyCollective, usize, usize)>,
    /// The split is by columns: `y` is this process's shard.
    columns: bool,
}

#[pymethods]
impl NativeOperator {
    /// The RON text the operator was loaded from.
    #[getter]
    fn ron(&self) -> &str {
        &self.source
    }

    /// The file the operator was loaded from, or `<string>` for RON text.
    #[getter]
    fn origin(&self) -> &str {
        &self.origin
    }

    /// The operator tree as Rust's debug form (every parameter, defaults filled in).
    fn debug(&self) -> String {
        format!("{:?}", self.op)
    }

    /// Runs the operator: `x`, `y` (and the optional weights and negatives) are NumPy arrays of
    /// one float dtype; returns `(V, report)` with `V` a new array of `x`'s shape and dtype. The GIL
    /// is released while the field is computed.
    ///
    /// With `collective` (a callable completing sums over processes, see `apply_batch`), process
    /// `rank` of `ranks` computes its share of the rows of every pass over pairs and the shares
    /// are gathered through it (`drift_ops::RowShards`): every process gives the whole problem
    /// and gets the whole field. With `columns`, `y` (and its weights) is this process's shard
    /// of the data instead (`drift_ops::ColumnShards`), and every process gets the field of the
    /// whole problem.
    #[pyo3(signature = (x, y, x_weights, y_weights, negatives, negative_weight, step, time, collective=None, rank=0, ranks=1, columns=false))]
    #[allow(clippy::too_many_arguments)]
    fn apply<'py>(
        &self,
        py: Python<'py>,
        x: &Bound<'py, PyAny>,
        y: &Bound<'py, PyAny>,
        x_weights: Option<&Bound<'py, PyAny>>,
        y_weights: Option<&Bound<'py, PyAny>>,
        negatives: Option<&Bound<'py, PyAny>>,
        negative_weight: f64,
        step: u64,
        time: f64,
        collective: Option<&Bound<'py, PyAny>>,
        rank: usize,
        ranks: usize,
        columns: bool,
    ) -> PyResult<(Bound<'py, PyAny>, Report)> {
        // The command line's checks, with its wording (`--time nan: must be finite`).
        if !time.is_finite() {
            return Err(PyValueError::new_err(format!(
                "time {}: must be finite",
                fmt_num(time)
            )));
        }
        if !(negative_weight.is_finite() && negative_weight >= 0.0) {
            return Err(PyValueError::new_err(format!(
                "negative_weight {}: must be finite and >= 0",
                fmt_num(negative_weight)
            )));
        }
        let collective = collective.map(PyCollective::new).transpose()?;
        if collective.is_some() && (ranks == 0 || rank >= ranks) {
            return Err(PyValueError::new_err(format!(
                "rank {rank}: not one of the {ranks} processes of the split"
            )));
        }
        let options = CallOptions {
            negative_weight,
            step,
            time,
            split: collective.as_ref().map(|c| (c, rank, ranks)),
            columns,
        };
        let inputs = Inputs {
            x,
            y,
            x_weights,
            y_weights,
            negatives,
        };
        if x.cast::<numpy::PyArrayDyn<f32>>().is_ok() {
            self.run::<f32>(py, &inputs, options)
        } else if x.cast::<numpy::PyArrayDyn<f64>>().is_ok() {
            self.run::<f64>(py, &inputs, options)
        } else {
            Err(PyValueError::new_err(format!(
                "`x` must be a NumPy array of float32 or float64, found {}",
                arrays::dtype_name(x)
            )))
        }
    }

    /// Runs the operator on a batch of `B` independent problems in one call: `x` `(B, N, D)`,
    /// `y` `(B, M, D)`, optional weights `(B, N)` / `(B, M)`, optional guidance `negatives`
    /// `(B, K, D)` with `negative_weights` `(B, K)` (each negative's weight relative to one
    /// generated sample; 1 when not given), all NumPy arrays of one float dtype. Returns
    /// `(V, report)` with `V` a new `(B, N, D)` array of `x`'s dtype and the batch's report. The
    /// GIL is released while the field is computed.
    ///
    /// `collective` (optional) completes the batch-wide sums across processes (data parallelism):
    /// a callable `f(values: float64 array) -> float64 array` returning the element-wise sum over
    /// every process, which every process calls the same number of times in the same order
    /// (see `PyCollective`); with it, `P` processes each holding a slice of a batch get the
    /// statistics, and so the field, of one process on the whole batch. An exception raised in it
    /// makes this call raise `RuntimeError` (with the exception as its cause).
    #[pyo3(signature = (
        x, y, x_weights, y_weights, negatives, negative_weights, step, time, collective=None
    ))]
    #[allow(clippy::too_many_arguments)]
    fn apply_batch<'py>(
        &self,
        py: Python<'py>,
        x: &Bound<'py, PyAny>,
        y: &Bound<'py, PyAny>,
        x_weights: Option<&Bound<'py, PyAny>>,
        y_weights: Option<&Bound<'py, PyAny>>,
        negatives: Option<&Bound<'py, PyAny>>,
        negative_weights: Option<&Bound<'py, PyAny>>,
        step: u64,
        time: f64,
        collective: Option<&Bound<'py, PyAny>>,
    ) -> PyResult<(Bound<'py, PyAny>, BatchReport)> {
        if !time.is_finite() {
            return Err(PyValueError::new_err(format!(
                "time {}: must be finite",
                fmt_num(time)
            )));
        }
        let inputs = BatchInputs {
            x,
            y,
            x_weights,
            y_weights,
            negatives,
            negative_weights,
        };
        let context = Context::at(step, time);
        let collective = collective
            .filter(|c| !c.is_none())
            .map(PyCollective::new)
            .transpose()?;
        let collective = collective.as_ref();
        if x.cast::<numpy::PyArrayDyn<f32>>().is_ok() {
            run_batch::<f32>(py, self, &inputs, context, collective)
        } else if x.cast::<numpy::PyArrayDyn<f64>>().is_ok() {
            run_batch::<f64>(py, self, &inputs, context, collective)
        } else {
            Err(PyValueError::new_err(format!(
                "`x` must be a NumPy array of float32 or float64, found {}",
                arrays::dtype_name(x)
            )))
        }
    }

    fn __repr__(&self) -> String {
        let source = self.source.trim();
        if source.is_empty() {
            format!("drift.load({:?})", self.origin)
        } else {
            format!("drift.load({source:?})")
        }
    }
}

/// The arrays of one call.
struct Inputs<'a, 'py> {
    x: &'a Bound<'py, PyAny>,
    y: &'a Bound<'py, PyAny>,
    x_weights: Option<&'a Bound<'py, PyAny>>,
    y_weights: Option<&'a Bound<'py, PyAny>>,
    negatives: Option<&'a Bound<'py, PyAny>>,
}

impl NativeOperator {
    /// The call in precision `T`: point sets copied out of the arrays under the GIL, the field
    /// computed without it.
    fn run<'py, T: Real + Element>(
        &self,
        py: Python<'py>,
        inputs: &Inputs<'_, 'py>,
        options: CallOptions<'_>,
    ) -> PyResult<(Bound<'py, PyAny>, Report)> {
        let (x, shape) = arrays::cloud::<T>(py, "x", inputs.x, inputs.x_weights)?;
        let (y, _) = arrays::cloud::<T>(py, "y", inputs.y, inputs.y_weights)?;
        let negatives = inputs
            .negatives
            .map(|n| arrays::cloud::<T>(py, "negatives", n, None).map(|(points, _)| points))
            .transpose()?;
        let context = Context::at(options.step, options.time);
        let op = self.shared();
        let pairs = x
            .len()
            .saturating_mul(y.len().saturating_add(x.len()))
            .saturating_mul(x.dim());
        let negative_weight = options.negative_weight;
        let compute = move |backend: &dyn Backend,
                            y: &PointCloud<T>|
              -> drift_api::Result<(Vec<T>, DriftReport)> {
            let mut field = try_vec("V", x.len() * x.dim(), T::zero())?;
            let report = drift_api::apply_drift(
                op.as_ref(),
                drift_api::DriftProblem::new(backend, &x, y, &context, &mut field).with_negatives(
                    negatives
                        .as_ref()
                        .map(|points| Negatives::new(points, negative_weight)),
                ),
            )?;
            Ok((field, report))
        };
        let (field, report) = match options.split {
            // The collective calls back into Python: computed on this thread, as apply_batch's.
            Some((collective, rank, ranks)) => py
                .detach(|| {
                    if options.columns {
                        let shard = column_shard(&y, ColumnSplit::new(collective, rank, ranks)?)?;
                        let shards = ColumnShards::new(&CpuBackend, collective, rank, ranks)?;
                        return compute(&shards, &shard);
                    }
                    let shards = RowShards::new(&CpuBackend, collective, rank, ranks)?;
                    compute(&shards, &y)
                })
                .map_err(|e| {
                    let err = to_py(py, e);
                    if let Some(cause) = collective.take_failure() {
                        err.set_cause(py, Some(cause));
                    }
                    err
                })?,
            None => {
                run_interruptible(py, pairs >= THREADED_FROM, move || compute(&CpuBackend, &y))?
                    .map_err(|e| to_py(py, e))?
            }
        };
        let v = arrays::field_array(py, shape, field)?;
        Ok((v, Report::from(report)))
    }
}

/// This process's `y` as its shard of the data split by columns, its whole (total weight, points
/// of positive weight) completed over the processes.
fn column_shard<T: Real>(
    y: &PointCloud<T>,
    split: ColumnSplit<'_>,
) -> drift_api::Result<PointCloud<T>> {
    let whole = split.whole(Whole::of_part(y.weights(), y.len()))?;
    let weights = y.weights().map(<[T]>::to_vec);
    PointCloud::shard(y.name(), y.data().to_vec(), y.dim(), weights, whole)
}
