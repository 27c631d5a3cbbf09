//! Prepared pair sets on the device: the points are on the device once (the evaluation's resident
//! copies, or one upload outside an evaluation), and every Sinkhorn pass moves only its potentials
//! in and its log-sum-exps out; a Sinkhorn loop over device pair sets moves neither between its
//! iterations (`scaling.rs`).

use super::{check, driver_error, CudaBackend, DeviceReal, Launch, Mode};
use cudarc::driver::{CudaFunction, CudaSlice, CudaStream};
use drift_api::kit::scaling::scaling_loop_on_host;
use drift_api::kit::{PairPath, PairSet, PreparedPairs, ScalingLoop, ScalingOutcome};
use drift_api::Result;
use std::sync::{Arc, Mutex};

/// The device buffers a pass writes into, reused across passes.
struct Scratch<T> {
    /// Potentials of the columns of a row pass (`cols`) or of the rows of a column pass (`rows`).
    col_potential: CudaSlice<T>,
    row_potential: CudaSlice<T>,
    row_lse: CudaSlice<T>,
    col_lse: CudaSlice<T>,
}

/// One side of a pass: its points on the device and their count.
type Side<'s, T> = (&'s CudaSlice<T>, usize);

/// What a pass over a pair set needs on the device: the compiled reduction, the points, the mask
/// and the stream. It owns no borrow, so a device loop can recognise it among a coupling's
/// blocks ([`PreparedPairs::as_any`]).
pub(crate) struct DeviceBlock<T> {
    func: CudaFunction,
    rows: Arc<CudaSlice<T>>,
    cols: Arc<CudaSlice<T>>,
    pub(crate) n: usize,
    pub(crate) m: usize,
    mask_diagonal: bool,
    pub(crate) stream: Arc<CudaStream>,
}

impl<T: DeviceReal> DeviceBlock<T> {
    /// The two sides of a pass, `(own, other)`.
    fn sides(&self, transpose: bool) -> (Side<'_, T>, Side<'_, T>) {
        if transpose {
            ((&*self.cols, self.m), (&*self.rows, self.n))
        } else {
            ((&*self.rows, self.n), (&*self.cols, self.m))
        }
    }

    /// One pass on device buffers, queued on the stream: rows against columns
    /// (`transpose = false`) or columns against rows, with the other side's potential, into `lse`.
    pub(crate) fn pass(
        &self,
        transpose: bool,
        tau: T,
        potential: Option<&CudaSlice<T>>,
        lse: &mut CudaSlice<T>,
    ) -> Result<()> {
        let (own, other) = self.sides(transpose);
        Launch {
            func: &self.func,
            rows: own,
            cols: other,
            tau,
            col_potential: potential,
            mask_diagonal: self.mask_diagonal,
            mode: Mode::None,
            origin: None,
        }
        .run(&self.stream, lse, None)
    }
}

/// A pair set whose points live on the device.
pub(crate) struct DevicePairs<'a, T> {
    backend: &'a CudaBackend,
    block: DeviceBlock<T>,
    /// Passes run one at a time on the backend's stream; the lock also guards the scratch.
    scratch: Mutex<Scratch<T>>,
}

impl<T> std::fmt::Debug for DevicePairs<'_, T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DevicePairs")
            .field("rows", &self.block.n)
            .field("cols", &self.block.m)
            .field("mask_diagonal", &self.block.mask_diagonal)
            .finish()
    }
}

impl<'a, T: DeviceReal> DevicePairs<'a, T> {
    pub(crate) fn new(backend: &'a CudaBackend, set: PairSet<'a, T>) -> Result<Self> {
        set.rows.check_same_dim(set.cols)?;
        let (n, m, dim) = (set.rows.len(), set.cols.len(), set.rows.dim());
        crate::source::check_dim(dim)?;
        check::check_mask(set.mask_diagonal, n, m)?;
        let func = backend.function(T::PRECISION, dim, set.kernel)?;
        let s = backend.stream();
        let zeros = |len: usize| {
            s.alloc_zeros::<T>(len)
                .map_err(|e| driver_error("allocation", e))
        };
        Ok(DevicePairs {
            backend,
            block: DeviceBlock {
                func,
                rows: backend.points(set.rows, "upload of the rows")?,
                cols: backend.points(set.cols, "upload of the columns")?,
                n,
                m,
                mask_diagonal: set.mask_diagonal,
                stream: s.clone(),
            },
            scratch: Mutex::new(Scratch {
                col_potential: zeros(m)?,
                row_potential: zeros(n)?,
                row_lse: zeros(n)?,
                col_lse: zeros(m)?,
            }),
        })
    }

    /// One pass from and to the host: rows against columns (`transpose = false`) or columns
    /// against rows.
    fn pass(&self, transpose: bool, tau: T, potential: Option<&[T]>, lse: &mut [T]) -> Result<()> {
        let (own, other) = self.block.sides(transpose);
        check::check_len("lse", lse.len(), own.1)?;
        if let Some(p) = potential {
            check::check_len("potential", p.len(), other.1)?;
        }
        let s = self.backend.stream();
        let mut scratch = self.scratch.lock().unwrap_or_else(|p| p.into_inner());
        let Scratch {
            col_potential,
            row_potential,
            row_lse,
            col_lse,
        } = &mut *scratch;
        let (pot_buf, lse_buf) = if transpose {
            (row_potential, col_lse)
        } else {
            (col_potential, row_lse)
        };
        if let Some(p) = potential {
            s.memcpy_htod(p, pot_buf)
                .map_err(|e| driver_error("upload of the potentials", e))?;
        }
        self.block
            .pass(transpose, tau, potential.map(|_| &*pot_buf), lse_buf)?;
        let down = "download of the log-sum-exps";
        s.memcpy_dtoh(&*lse_buf, lse)
            .map_err(|e| driver_error(down, e))?;
        s.synchronize().map_err(|e| driver_error(down, e))
    }
}

impl<T: DeviceReal> PreparedPairs<T> for DevicePairs<'_, T> {
    fn row_lse(&self, tau: T, col_potential: Option<&[T]>, lse: &mut [T]) -> Result<()> {
        self.pass(false, tau, col_potential, lse)
    }

    fn col_lse(&self, tau: T, row_potential: Option<&[T]>, lse: &mut [T]) -> Result<()> {
        self.pass(true, tau, row_potential, lse)
    }

    /// The passes recompute the pairs on the device in streamed tiles (only the points are kept).
    fn path(&self) -> PairPath {
        PairPath::Fused
    }

    /// On the device when every block is a device pair set on this backend's stream (`scaling.cu`:
    /// the potentials stay there between iterations); otherwise the host loop.
    fn scaling_loop(
        &self,
        blocks: &[&dyn PreparedPairs<T>],
        l: ScalingLoop<'_, T>,
    ) -> Result<ScalingOutcome<T>> {
        let on_device: Option<Vec<&DeviceBlock<T>>> = blocks
            .iter()
            .map(|b| {
                b.as_any()?
                    .downcast_ref::<DeviceBlock<T>>()
                    .filter(|d| Arc::ptr_eq(&d.stream, &self.block.stream))
            })
            .collect();
        match on_device {
            Some(device) => super::scaling::scaling_loop(self.backend, &device, l),
            None => scaling_loop_on_host(blocks, l),
        }
    }

    fn as_any(&self) -> Option<&dyn std::any::Any> {
        Some(&self.block)
    }
}
