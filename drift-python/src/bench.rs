//! The Rust side of the overhead measurements (`drift-python/bench_overhead.py`): one problem,
//! and a batch of problems.

use crate::errors::to_py;
use crate::operator::NativeOperator;
use drift_api::batch::{apply_drift_batch, BatchProblem};
use drift_api::kit::{BatchSets, ProblemBatch, SingleProcess};
use drift_api::{apply_drift, Context, DriftProblem, PointCloud};
use drift_ops::CpuBackend;
use numpy::{PyReadonlyArray2, PyReadonlyArray3, PyUntypedArrayMethods};
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

/// Times `repeats` batched calls as a Rust program makes them: the float32 `(B, N, D)` / `(B, M, D)`
/// / `(B, K, D)` arrays copied (as the Python call copies them), batch sets built, an output
/// buffer, and `apply_drift_batch`, with the GIL released throughout. Returns the seconds of each
/// call.
#[pyfunction]
#[pyo3(signature = (op, x, y, negatives, negative_weights, repeats))]
pub(crate) fn bench_rust_batch(
    py: Python<'_>,
    op: &NativeOperator,
    x: PyReadonlyArray3<'_, f32>,
    y: PyReadonlyArray3<'_, f32>,
    negatives: Option<PyReadonlyArray3<'_, f32>>,
    negative_weights: Option<PyReadonlyArray2<'_, f32>>,
    repeats: usize,
) -> PyResult<Vec<f64>> {
    let shape = |a: &[usize]| (a[0], a[1], a[2]);
    let (xs, xshape) = (x.as_slice()?.to_vec(), shape(x.shape()));
    let (ys, yshape) = (y.as_slice()?.to_vec(), shape(y.shape()));
    let negatives = match &negatives {
        Some(n) => Some((n.as_slice()?.to_vec(), shape(n.shape()))),
        None => None,
    };
    let negative_weights = match &negative_weights {
        Some(w) => Some(w.as_slice()?.to_vec()),
        None => None,
    };
    let op = op.operator();
    py.detach(|| -> drift_api::Result<Vec<f64>> {
        let mut times = Vec::with_capacity(repeats);
        for _ in 0..repeats {
            let start = Instant::now();
            let (xd, yd) = (xs.clone(), ys.clone());
            let (b, n, d) = xshape;
            let x = BatchSets::dense("x", &xd, b, n, d)?;
            let y = BatchSets::dense("y", &yd, yshape.0, yshape.1, yshape.2)?;
            let mut batch = ProblemBatch::new(x, y)?;
            let nd = negatives.as_ref().map(|(data, _)| data.clone());
            let nw = negative_weights.clone();
            if let (Some((_, (nb, nn, ndim))), Some(data)) = (&negatives, &nd) {
                let sets = BatchSets::dense("negatives", data, *nb, *nn, *ndim)?;
                let sets = match &nw {
                    Some(w) => sets.with_weights(w)?,
                    None => sets,
                };
                batch = batch.with_negatives(sets)?;
            }
            let mut field = vec![0.0f32; xd.len()];
            apply_drift_batch(
                op,
                BatchProblem {
                    backend: &CpuBackend,
                    batch: &batch,
                    context: &Context::default(),
                    out: &mut field,
                    scale: 1.0,
                    collective: &SingleProcess,
                },
            )?;
            std::hint::black_box(&field);
            times.push(start.elapsed().as_secs_f64());
        }
        Ok(times)
    })
    .map_err(|e| to_py(py, e))
}
