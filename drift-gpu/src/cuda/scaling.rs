//! The Sinkhorn loop on the device ([`drift_api::PreparedPairs::scaling_loop`] of a device pair
//! set): the potentials, their log-weights and the passes' log-sum-exps stay on the device for the
//! whole loop; each iteration reads back one number, its marginal error, for the stopping test, and
//! the final potentials come back once. The stopping rule is the host's
//! ([`drift_api::scaling::scaling_iterations`]), the updates are `scaling.cu`'s.

use super::launch::grid;
use super::pairs::DevicePairs;
use super::{driver_error, CudaBackend, DeviceReal};
use cudarc::driver::{CudaFunction, CudaModule, CudaSlice, PushKernelArg};
use drift_api::scaling::scaling_iterations;
use drift_api::{check_len, Result, ScalingLoop, ScalingOutcome};
use std::sync::Arc;

/// The entry points of one precision's scaling module.
pub(crate) struct ScalingFunctions {
    rows: CudaFunction,
    columns: CudaFunction,
    symmetric: CudaFunction,
}

impl ScalingFunctions {
    pub(crate) fn load(module: &Arc<CudaModule>, p: drift_api::Precision) -> Result<Self> {
        let get = |stage: &str| CudaBackend::stage_function(module, stage, p);
        Ok(ScalingFunctions {
            rows: get("sc_rows_")?,
            columns: get("sc_columns_")?,
            symmetric: get("sc_symmetric_")?,
        })
    }
}

/// Runs `l` on the device pair set `pairs`.
pub(crate) fn scaling_loop<T: DeviceReal>(
    pairs: &DevicePairs<'_, T>,
    l: ScalingLoop<'_, T>,
) -> Result<ScalingOutcome<T>> {
    let (n, m) = pairs.shape();
    check_len("scaling loop: row log-weights", l.row_log_weights.len(), n)?;
    if l.symmetric {
        check_len("scaling loop: columns of a symmetric problem", m, n)?;
        check_len("scaling loop: starting row potential", l.start.len(), n)?;
    } else {
        check_len(
            "scaling loop: column log-weights",
            l.col_log_weights.len(),
            m,
        )?;
        check_len("scaling loop: starting column potential", l.start.len(), m)?;
    }
    let backend = pairs.backend();
    let functions = backend.scaling_functions(T::PRECISION)?;
    let s = backend.stream();
    let up = |what: &str, v: &[T]| s.clone_htod(v).map_err(|e| driver_error(what, e));
    let alloc = |len: usize| {
        s.alloc_zeros::<T>(len)
            .map_err(|e| driver_error("allocation of the scaling buffers", e))
    };
    let log_a = up("upload of the row log-weights", l.row_log_weights)?;
    let start = up("upload of the starting potential", &l.start)?;
    let (mut row_lse, mut col_lse) = (alloc(n)?, alloc(m)?);
    let mut error = s
        .alloc_zeros::<f64>(1)
        .map_err(|e| driver_error("allocation of the scaling buffers", e))?;
    let (n_i, m_i) = (n as i64, m as i64);
    // The marginal error of the last update, the one number each iteration reads back.
    let read_error = |error: &CudaSlice<f64>| -> Result<f64> {
        let mut host = [0f64];
        let doing = "download of the marginal error";
        s.memcpy_dtoh(error, &mut host)
            .map_err(|e| driver_error(doing, e))?;
        s.synchronize().map_err(|e| driver_error(doing, e))?;
        Ok(host[0])
    };
    let zero_error = |error: &mut CudaSlice<f64>| {
        s.memset_zeros(error)
            .map_err(|e| driver_error("reset of the marginal error", e))
    };
    // The pairs keep no pass for a later displacement, so the last pass needs no notice.
    let at_cap = || {};
    let down = |what: &str, v: &CudaSlice<T>| -> Result<Vec<T>> {
        let host = s.clone_dtoh(v).map_err(|e| driver_error(what, e))?;
        s.synchronize().map_err(|e| driver_error(what, e))?;
        Ok(host)
    };
    if l.symmetric {
        let ((), f, err, iterations) = scaling_iterations(
            start,
            l.counted,
            l.cap,
            l.tol,
            at_cap,
            |f: &CudaSlice<T>| {
                pairs.device_pass(false, l.tau, Some(f), &mut row_lse)?;
                zero_error(&mut error)?;
                let mut next = alloc(n)?;
                let mut b = s.launch_builder(&functions.symmetric);
                b.arg(f)
                    .arg(&row_lse)
                    .arg(&log_a)
                    .arg(&mut next)
                    .arg(&mut error)
                    .arg(&n_i);
                #[allow(unsafe_code)]
                // SAFETY: sc_symmetric's signature; `f`, `row_lse`, `log_a` and `next` hold `n`
                // values, `error` one double; the grid covers `n` threads.
                unsafe { b.launch(grid(n)) }.map_err(|e| driver_error("kernel launch", e))?;
                Ok(((), next, read_error(&error)?))
            },
        )?;
        let f = down("download of the potentials", &f)?;
        return Ok(ScalingOutcome {
            g: f.clone(),
            f,
            error: err,
            iterations,
        });
    }
    let log_b = up("upload of the column log-weights", l.col_log_weights)?;
    let (f, g, err, iterations) = scaling_iterations(
        start,
        l.counted,
        l.cap,
        l.tol,
        at_cap,
        |g: &CudaSlice<T>| {
            pairs.device_pass(false, l.tau, Some(g), &mut row_lse)?;
            let mut f = alloc(n)?;
            let mut b = s.launch_builder(&functions.rows);
            b.arg(&log_a).arg(&row_lse).arg(&mut f).arg(&n_i);
            #[allow(unsafe_code)]
            // SAFETY: sc_rows' signature; `log_a`, `row_lse` and `f` hold `n` values; the grid
            // covers `n` threads.
            unsafe { b.launch(grid(n)) }.map_err(|e| driver_error("kernel launch", e))?;
            pairs.device_pass(true, l.tau, Some(&f), &mut col_lse)?;
            zero_error(&mut error)?;
            let mut next = alloc(m)?;
            let mut b = s.launch_builder(&functions.columns);
            b.arg(g)
                .arg(&col_lse)
                .arg(&log_b)
                .arg(&mut next)
                .arg(&mut error)
                .arg(&m_i);
            #[allow(unsafe_code)]
            // SAFETY: sc_columns' signature; `g`, `col_lse`, `log_b` and `next` hold `m` values,
            // `error` one double; the grid covers `m` threads.
            unsafe { b.launch(grid(m)) }.map_err(|e| driver_error("kernel launch", e))?;
            Ok((f, next, read_error(&error)?))
        },
    )?;
    Ok(ScalingOutcome {
        f: down("download of the potentials", &f)?,
        g: down("download of the potentials", &g)?,
        error: err,
        iterations,
    })
}
