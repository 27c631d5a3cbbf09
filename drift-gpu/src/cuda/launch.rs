//! One launch of the compiled reduction on buffers already on the device.

use super::{driver_error, DeviceReal};
use crate::source::BLOCK_ROWS;
use cudarc::driver::{CudaFunction, CudaSlice, CudaStream, LaunchConfig, PushKernelArg};
use drift_api::kit::Displacement;
use drift_api::{DriftError, Result};
use std::sync::Arc;

/// The displacement to accumulate, as the kernel's `mode` argument numbers it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Mode {
    None = 0,
    Mean = 1,
    Unit = 2,
}

impl Mode {
    pub(crate) fn of(d: Displacement) -> Self {
        match d {
            Displacement::None => Mode::None,
            Displacement::Mean => Mode::Mean,
            Displacement::Unit => Mode::Unit,
        }
    }
}

/// The arguments of one reduction: rows and columns as `(points, count)` on the device.
pub(crate) struct Launch<'a, T> {
    pub func: &'a CudaFunction,
    pub rows: (&'a CudaSlice<T>, usize),
    pub cols: (&'a CudaSlice<T>, usize),
    pub tau: T,
    pub col_potential: Option<&'a CudaSlice<T>>,
    pub mask_diagonal: bool,
    pub mode: Mode,
    pub origin: Option<&'a CudaSlice<T>>,
}

/// Threads per block of the element-wise stages (sliced Wasserstein, scaling updates).
const THREADS: u32 = 256;

/// One thread per element of `total`, in blocks of [`THREADS`] (a multiple of the warp size).
pub(crate) fn grid(total: usize) -> LaunchConfig {
    LaunchConfig {
        grid_dim: ((total as u64).div_ceil(THREADS as u64) as u32, 1, 1),
        block_dim: (THREADS, 1, 1),
        shared_mem_bytes: 0,
    }
}

fn as_int(what: &str, v: usize) -> Result<i32> {
    i32::try_from(v).map_err(|_| {
        DriftError::invalid(
            what,
            format!(
                "the CUDA backend takes at most {} points, got {v}",
                i32::MAX
            ),
        )
    })
}

impl<T: DeviceReal> Launch<'_, T> {
    /// Queues the reduction on `stream`, writing `lse` (and `disp` unless the mode is `None`).
    pub(crate) fn run(
        &self,
        stream: &Arc<CudaStream>,
        lse: &mut CudaSlice<T>,
        disp: Option<&mut CudaSlice<T>>,
    ) -> Result<()> {
        let (n, m) = (as_int("rows", self.rows.1)?, as_int("cols", self.cols.1)?);
        if n == 0 {
            return Ok(());
        }
        // The kernel reads an optional buffer only when its flag is set; absent ones are bound
        // to a one-element placeholder so that every argument is a valid device pointer.
        let placeholder = stream
            .alloc_zeros::<T>(1)
            .map_err(|e| driver_error("allocation", e))?;
        let mut disp_placeholder = None;
        let disp = match disp {
            Some(d) => d,
            None => disp_placeholder.insert(
                stream
                    .alloc_zeros::<T>(1)
                    .map_err(|e| driver_error("allocation", e))?,
            ),
        };
        let (has_g, has_origin) = (
            self.col_potential.is_some() as i32,
            self.origin.is_some() as i32,
        );
        let (mask, mode) = (self.mask_diagonal as i32, self.mode as i32);
        let cfg = LaunchConfig {
            grid_dim: ((n as u32).div_ceil(BLOCK_ROWS as u32), 1, 1),
            block_dim: (BLOCK_ROWS as u32, 1, 1),
            shared_mem_bytes: 0,
        };
        let mut b = stream.launch_builder(self.func);
        b.arg(self.rows.0)
            .arg(self.cols.0)
            .arg(&n)
            .arg(&m)
            .arg(&self.tau)
            .arg(self.col_potential.unwrap_or(&placeholder))
            .arg(&has_g)
            .arg(&mask)
            .arg(&mode)
            .arg(self.origin.unwrap_or(&placeholder))
            .arg(&has_origin)
            .arg(&mut *lse)
            .arg(disp);
        #[allow(unsafe_code)]
        // SAFETY: the arguments match the entry point's signature in row_reduce.cu one for one
        // (pointers, three ints, the precision's real, ...); the buffers hold `rows × dim`,
        // `cols × dim`, `cols`, `dim`, `rows` and `rows × dim` values as the kernel indexes them
        // (checked by the caller), and the grid covers the rows with `BLOCK_ROWS` threads per
        // block, the block size the source was compiled for.
        unsafe { b.launch(cfg) }.map_err(|e| driver_error("kernel launch", e))?;
        Ok(())
    }
}
