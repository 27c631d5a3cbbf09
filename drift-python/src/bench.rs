//! The Rust side of the overhead measurement (`drift-python/bench_overhead.py`).

use crate::errors::to_py;
use crate::operator::NativeOperator;
use drift_api::{apply_drift, Context, DriftProblem, PointCloud};
use drift_ops::CpuBackend;
use numpy::{PyReadonlyArray2, PyUntypedArrayMethods};
use pyo3::prelude::*;
use std::time::Instant;

/// Times `repeats` calls of the operator as a Rust program makes them: point sets built from the
/// caller's float64 slices (one copy each, as the Python call makes), an output buffer, and
/// `apply_drift`, with the GIL released throughout. Returns the seconds of each call.
#[pyfunction]
pub(crate) fn bench_rust_call(
    py: Python<'_>,
    op: &NativeOperator,
    x: PyReadonlyArray2<'_, f64>,
    y: PyReadonlyArray2<'_, f64>,
    repeats: usize,
) -> PyResult<Vec<f64>> {
    let (xs, ys) = (x.as_slice()?.to_vec(), y.as_slice()?.to_vec());
    let (dx, dy) = (x.shape()[1], y.shape()[1]);
    let op = op.operator();
    py.detach(|| -> drift_api::Result<Vec<f64>> {
        let mut times = Vec::with_capacity(repeats);
        for _ in 0..repeats {
            let start = Instant::now();
            let x = PointCloud::new("x", xs.clone(), dx)?;
            let y = PointCloud::new("y", ys.clone(), dy)?;
            let mut field = vec![0.0f64; xs.len()];
            apply_drift(
                op,
                DriftProblem {
                    backend: &CpuBackend,
                    x: &x,
                    y: &y,
                    context: &Context::default(),
                    out: &mut field,
                    scale: 1.0,
                    negatives: None,
                },
            )?;
            std::hint::black_box(&field);
            times.push(start.elapsed().as_secs_f64());
        }
        Ok(times)
    })
    .map_err(|e| to_py(py, e))
}
