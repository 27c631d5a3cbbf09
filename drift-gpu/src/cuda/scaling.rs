//! The Sinkhorn loop on the device ([`drift_api::kit::PreparedPairs::scaling_loop`] over device pair
//! sets, one or more column blocks of the same rows): the potentials, their log-weights and the
//! passes' log-sum-exps stay on the device for the whole loop; each iteration reads back one
//! number, its marginal error, for the stopping test, and the final potentials come back once. The
//! stopping rule is the host's ([`drift_api::kit::scaling::scaling_iterations`]), the updates are
//! `scaling.cu`'s.

use super::launch::grid;
use super::pairs::DeviceBlock;
use super::{driver_error, CudaBackend, DeviceReal};
use cudarc::driver::{CudaFunction, CudaModule, CudaSlice, CudaStream, PushKernelArg};
use drift_api::kit::scaling::scaling_iterations;
use drift_api::kit::{check_len, ScalingLoop, ScalingOutcome};
use drift_api::Result;
use std::sync::Arc;

/// The entry points of one precision's scaling module.
pub(crate) struct ScalingFunctions {
    log_add: CudaFunction,
    rows: CudaFunction,
    columns: CudaFunction,
    symmetric: CudaFunction,
}

impl ScalingFunctions {
    pub(crate) fn load(module: &Arc<CudaModule>, p: drift_api::Precision) -> Result<Self> {
        let get = |stage: &str| CudaBackend::stage_function(module, stage, p);
        Ok(ScalingFunctions {
            log_add: get("sc_log_add_")?,
            rows: get("sc_rows_")?,
            columns: get("sc_columns_")?,
            symmetric: get("sc_symmetric_")?,
        })
    }
}

/// Device buffers and launches of one loop, on one stream.
struct Device<'s> {
    stream: &'s Arc<CudaStream>,
    functions: Arc<ScalingFunctions>,
}

impl Device<'_> {
    fn upload<T: DeviceReal>(&self, what: &str, v: &[T]) -> Result<CudaSlice<T>> {
        self.stream.clone_htod(v).map_err(|e| driver_error(what, e))
    }

    fn zeros<T: DeviceReal>(&self, len: usize) -> Result<CudaSlice<T>> {
        self.stream
            .alloc_zeros::<T>(len)
            .map_err(|e| driver_error("allocation of the scaling buffers", e))
    }

    fn download<T: DeviceReal>(&self, v: &CudaSlice<T>) -> Result<Vec<T>> {
        let doing = "download of the potentials";
        let host = self
            .stream
            .clone_dtoh(v)
            .map_err(|e| driver_error(doing, e))?;
        self.stream
            .synchronize()
            .map_err(|e| driver_error(doing, e))?;
        Ok(host)
    }

    /// The marginal error the last updates summed: the one number an iteration reads back.
    fn read_error(&self, error: &CudaSlice<f64>) -> Result<f64> {
        let mut host = [0f64];
        let doing = "download of the marginal error";
        self.stream
            .memcpy_dtoh(error, &mut host)
            .map_err(|e| driver_error(doing, e))?;
        self.stream
            .synchronize()
            .map_err(|e| driver_error(doing, e))?;
        Ok(host[0])
    }

    fn zero_error(&self, error: &mut CudaSlice<f64>) -> Result<()> {
        self.stream
            .memset_zeros(error)
            .map_err(|e| driver_error("reset of the marginal error", e))
    }

    /// `acc = log(exp(acc) + exp(lse))`, element-wise over `n`.
    fn log_add<T: DeviceReal>(
        &self,
        acc: &mut CudaSlice<T>,
        lse: &CudaSlice<T>,
        n: usize,
    ) -> Result<()> {
        let n_i = n as i64;
        let mut b = self.stream.launch_builder(&self.functions.log_add);
        b.arg(acc).arg(lse).arg(&n_i);
        #[allow(unsafe_code)]
        // SAFETY: sc_log_add's signature; `acc` and `lse` hold `n` values; the grid covers `n`.
        unsafe { b.launch(grid(n)) }.map_err(|e| driver_error("kernel launch", e))?;
        Ok(())
    }

    /// `f = scaling(log_a, lse)`, element-wise over `n`.
    fn rows<T: DeviceReal>(
        &self,
        log_a: &CudaSlice<T>,
        lse: &CudaSlice<T>,
        f: &mut CudaSlice<T>,
        n: usize,
    ) -> Result<()> {
        let n_i = n as i64;
        let mut b = self.stream.launch_builder(&self.functions.rows);
        b.arg(log_a).arg(lse).arg(f).arg(&n_i);
        #[allow(unsafe_code)]
        // SAFETY: sc_rows' signature; `log_a`, `lse` and `f` hold `n` values; the grid covers `n`.
        unsafe { b.launch(grid(n)) }.map_err(|e| driver_error("kernel launch", e))?;
        Ok(())
    }

    /// The column update of one block (`columns`) or the symmetric update (`symmetric`):
    /// `next` from the potential, the pass's log-sum-exps and the weights, with the error added
    /// into `error`.
    fn update<T: DeviceReal>(
        &self,
        symmetric: bool,
        potential: &CudaSlice<T>,
        lse: &CudaSlice<T>,
        log_w: &CudaSlice<T>,
        next: &mut CudaSlice<T>,
        error: &mut CudaSlice<f64>,
        len: usize,
    ) -> Result<()> {
        let func = match symmetric {
            true => &self.functions.symmetric,
            false => &self.functions.columns,
        };
        let len_i = len as i64;
        let mut b = self.stream.launch_builder(func);
        b.arg(potential)
            .arg(lse)
            .arg(log_w)
            .arg(next)
            .arg(error)
            .arg(&len_i);
        #[allow(unsafe_code)]
        // SAFETY: sc_columns' and sc_symmetric's signature (the same); `potential`, `lse`,
        // `log_w` and `next` hold `len` values, `error` one double; the grid covers `len`.
        unsafe { b.launch(grid(len)) }.map_err(|e| driver_error("kernel launch", e))?;
        Ok(())
    }
}

/// Runs `l` over the device pair sets `blocks` (the same rows against each block's columns).
pub(crate) fn scaling_loop<T: DeviceReal>(
    backend: &CudaBackend,
    blocks: &[&DeviceBlock<T>],
    l: ScalingLoop<'_, T>,
) -> Result<ScalingOutcome<T>> {
    l.check(blocks.len())?;
    let n = l.row_log_weights.len();
    for (b, block) in blocks.iter().enumerate() {
        check_len("scaling loop: rows of a block", block.n, n)?;
        check_len(
            "scaling loop: starting potential",
            l.start[b].len(),
            block.m,
        )?;
        if !l.symmetric {
            check_len(
                "scaling loop: column log-weights",
                l.col_log_weights[b].len(),
                block.m,
            )?;
        }
    }
    if l.symmetric {
        check_len(
            "scaling loop: columns of a symmetric problem",
            blocks[0].m,
            n,
        )?;
    }
    let d = Device {
        stream: backend.stream(),
        functions: backend.scaling_functions(T::PRECISION)?,
    };
    let log_a = d.upload("upload of the row log-weights", l.row_log_weights)?;
    let start = l
        .start
        .iter()
        .map(|g| d.upload("upload of the starting potentials", g))
        .collect::<Result<Vec<_>>>()?;
    let mut error = d.zeros::<f64>(1)?;
    let mut row_lse = d.zeros::<T>(n)?;
    // The pairs keep no pass for a later displacement: the last pass is like the others.
    if l.symmetric {
        let block = blocks[0];
        let ((), f, err, iterations) = scaling_iterations(
            start,
            l.counted,
            l.cap,
            l.tol,
            |f: &Vec<CudaSlice<T>>, _last| {
                block.pass(false, l.tau, Some(&f[0]), &mut row_lse)?;
                d.zero_error(&mut error)?;
                let mut next = d.zeros::<T>(n)?;
                d.update(true, &f[0], &row_lse, &log_a, &mut next, &mut error, n)?;
                Ok(((), vec![next], d.read_error(&error)?))
            },
        )?;
        let f = d.download(&f[0])?;
        return Ok(ScalingOutcome {
            g: vec![f.clone()],
            f,
            error: err,
            iterations,
        });
    }
    let log_b = l
        .col_log_weights
        .iter()
        .map(|lb| d.upload("upload of the column log-weights", lb))
        .collect::<Result<Vec<_>>>()?;
    let mut block_lse = d.zeros::<T>(n)?;
    let mut col_lse = blocks
        .iter()
        .map(|b| d.zeros::<T>(b.m))
        .collect::<Result<Vec<_>>>()?;
    let (f, g, err, iterations) = scaling_iterations(
        start,
        l.counted,
        l.cap,
        l.tol,
        |g: &Vec<CudaSlice<T>>, _last| {
            // f = log a − LSE over every block of its row pass.
            for (b, block) in blocks.iter().enumerate() {
                if b == 0 {
                    block.pass(false, l.tau, Some(&g[0]), &mut row_lse)?;
                } else {
                    block.pass(false, l.tau, Some(&g[b]), &mut block_lse)?;
                    d.log_add(&mut row_lse, &block_lse, n)?;
                }
            }
            let mut f = d.zeros::<T>(n)?;
            d.rows(&log_a, &row_lse, &mut f, n)?;
            // Each block's column pass, its next potential and its share of the error.
            d.zero_error(&mut error)?;
            let mut next = Vec::with_capacity(blocks.len());
            for (b, block) in blocks.iter().enumerate() {
                block.pass(true, l.tau, Some(&f), &mut col_lse[b])?;
                let mut next_b = d.zeros::<T>(block.m)?;
                d.update(
                    false,
                    &g[b],
                    &col_lse[b],
                    &log_b[b],
                    &mut next_b,
                    &mut error,
                    block.m,
                )?;
                next.push(next_b);
            }
            Ok((f, next, d.read_error(&error)?))
        },
    )?;
    Ok(ScalingOutcome {
        f: d.download(&f)?,
        g: g.iter().map(|gb| d.download(gb)).collect::<Result<_>>()?,
        error: err,
        iterations,
    })
}
