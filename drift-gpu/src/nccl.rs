//! NCCL's all-reduce as the operators' collective ([`drift_api::kit::Collective`]): the
//! batch-wide sums of a batch split over GPUs, completed between the GPUs by NCCL (feature `cuda`;
//! NCCL is loaded at run time, like the driver and NVRTC).
//!
//! **Wiring it (one process per GPU).** Start one process per GPU (`mpirun -np K`, `srun`,
//! `torchrun`); rank 0 creates a [`NcclUniqueId`] and sends its [`bytes`](NcclUniqueId::to_bytes)
//! to every other rank over the launcher's own channel (an MPI broadcast of 128 bytes, a file on
//! a shared disk, a `torch.distributed` store); every rank then opens
//! [`NcclCollective::new`]`(device, rank, ranks, &id)` on its GPU, and the operators given it as
//! their collective sum over every GPU. With MPI (rsmpi):
//!
//! ```ignore
//! let world = mpi::initialize().unwrap().world();
//! let mut id = [0u8; 128];
//! if world.rank() == 0 {
//!     id = NcclUniqueId::new()?.to_bytes();
//! }
//! world.process_at_rank(0).broadcast_into(&mut id[..]);
//! let local_gpu = world.rank() as usize % gpus_per_node;
//! let collective = NcclCollective::new(local_gpu, world.rank() as usize,
//!                                      world.size() as usize, &NcclUniqueId::from_bytes(id))?;
//! ```
//!
//! Each call moves the values to the GPU, all-reduces them there and copies the sums back: the
//! operators' sums are a few numbers per problem, so this is for jobs whose processes already
//! sit on GPUs, not a faster path than MPI for host values.
//!
//! Without the `cuda` feature, without a driver, a device or NCCL (`libnccl.so.2`), opening it
//! returns [`DriftError::NoDevice`] saying which.

use drift_api::{DriftError, Result};

/// The bytes of an NCCL unique id: what rank 0 creates and every rank opens the communicator with.
pub const NCCL_ID_BYTES: usize = 128;

fn no_device(reason: impl Into<String>) -> DriftError {
    DriftError::NoDevice {
        reason: reason.into(),
    }
}

/// An NCCL communicator's unique id (`ncclUniqueId`), created once by rank 0 and shared.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct NcclUniqueId([u8; NCCL_ID_BYTES]);

impl NcclUniqueId {
    /// The id from the bytes rank 0 sent.
    pub fn from_bytes(bytes: [u8; NCCL_ID_BYTES]) -> Self {
        NcclUniqueId(bytes)
    }

    /// The bytes to send to every other rank.
    pub fn to_bytes(&self) -> [u8; NCCL_ID_BYTES] {
        self.0
    }
}

#[cfg(feature = "cuda")]
pub use with_cuda::{cuda_device_count, NcclCollective};

#[cfg(not(feature = "cuda"))]
pub use without_cuda::{cuda_device_count, NcclCollective};

#[cfg(not(feature = "cuda"))]
mod without_cuda {
    use super::*;

    /// The GPUs this process can open: none in a build without the `cuda` feature.
    pub fn cuda_device_count() -> usize {
        0
    }

    fn not_built() -> DriftError {
        no_device(
            "this build has no CUDA support: build drift-gpu with its `cuda` feature for NCCL",
        )
    }

    impl NcclUniqueId {
        /// Always [`DriftError::NoDevice`]: the `cuda` feature is off in this build.
        pub fn new() -> Result<Self> {
            Err(not_built())
        }
    }

    /// NCCL's all-reduce over GPUs; this build has no CUDA support, so it cannot be opened.
    #[derive(Debug)]
    pub struct NcclCollective {
        _unconstructible: (),
    }

    impl NcclCollective {
        /// Always [`DriftError::NoDevice`]: the `cuda` feature is off in this build.
        pub fn new(device: usize, rank: usize, ranks: usize, id: &NcclUniqueId) -> Result<Self> {
            let _ = (device, rank, ranks, id);
            Err(not_built())
        }
    }

    impl drift_api::kit::Collective for NcclCollective {
        fn all_reduce_sum(&self, _values: &mut [f64]) -> Result<()> {
            Err(not_built())
        }
    }
}

#[cfg(feature = "cuda")]
mod with_cuda {
    use super::*;
    use cudarc::driver::{CudaContext, CudaStream};
    use cudarc::nccl::{Comm, Id, ReduceOp};
    use std::panic::{catch_unwind, AssertUnwindSafe};
    use std::sync::{Arc, Mutex};

    /// Whether the driver and NCCL libraries load: cudarc panics on its first call to a missing
    /// one, so this is asked before any.
    fn libraries() -> Result<()> {
        #[allow(unsafe_code)]
        // SAFETY: each probe loads a library by name and unloads it; nothing else is called.
        let (driver, nccl) = unsafe {
            (
                cudarc::driver::sys::is_culib_present(),
                cudarc::nccl::sys::is_culib_present(),
            )
        };
        if !driver {
            return Err(no_device(
                "no CUDA driver library (libcuda.so.1) found on this machine",
            ));
        }
        if !nccl {
            return Err(no_device(
                "no NCCL library (libnccl.so.2) found on the library search path",
            ));
        }
        Ok(())
    }

    /// The GPUs this process can open (0 without a driver), so that a caller starts one rank per
    /// GPU.
    pub fn cuda_device_count() -> usize {
        #[allow(unsafe_code)]
        // SAFETY: the probe loads the driver library by name and unloads it.
        if !unsafe { cudarc::driver::sys::is_culib_present() } {
            return 0;
        }
        catch_unwind(CudaContext::device_count)
            .ok()
            .and_then(|c| c.ok())
            .map_or(0, |c| c.max(0) as usize)
    }

    /// A failure of NCCL or the driver, with what was being done.
    fn failed(doing: &str, e: impl std::fmt::Debug) -> DriftError {
        DriftError::Custom(format!("NCCL {doing}: {e:?}").into())
    }

    /// Runs `f`, turning a panic of cudarc (a symbol missing from an old library) into an error.
    fn guarded<T>(doing: &str, f: impl FnOnce() -> Result<T>) -> Result<T> {
        catch_unwind(AssertUnwindSafe(f))
            .map_err(|_| no_device(format!("NCCL {doing}: the library failed (too old?)")))?
    }

    impl NcclUniqueId {
        /// A fresh id (`ncclGetUniqueId`), on rank 0; [`DriftError::NoDevice`] without the driver
        /// or NCCL.
        pub fn new() -> Result<Self> {
            libraries()?;
            let id = guarded("unique id", || {
                Id::new().map_err(|e| failed("unique id", e.0))
            })?;
            Ok(NcclUniqueId(id.internal().map(|c| c as u8)))
        }
    }

    /// A communicator, used by one thread at a time (NCCL allows any thread, not two at once).
    struct Shared(Comm);

    #[allow(unsafe_code)]
    // SAFETY: the communicator is reached only through the collective's mutex, so never from two
    // threads at once, which is what NCCL requires of a communicator.
    unsafe impl Send for Shared {}

    /// NCCL's all-reduce of `f64` sums over one GPU per process (see the module docs).
    pub struct NcclCollective {
        comm: Mutex<Shared>,
        stream: Arc<CudaStream>,
        rank: usize,
        ranks: usize,
    }

    impl std::fmt::Debug for NcclCollective {
        fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            write!(
                f,
                "NcclCollective {{ rank: {}, ranks: {} }}",
                self.rank, self.ranks
            )
        }
    }

    impl NcclCollective {
        /// Joins the communicator of `ranks` processes as `rank`, on GPU `device`, with the id
        /// rank 0 created (every rank calls it; it returns once every rank has). Fails with
        /// [`DriftError::NoDevice`] without a driver, the device or NCCL.
        pub fn new(device: usize, rank: usize, ranks: usize, id: &NcclUniqueId) -> Result<Self> {
            if rank >= ranks {
                return Err(DriftError::Custom(
                    format!("NCCL rank {rank} is not below the number of ranks, {ranks}").into(),
                ));
            }
            libraries()?;
            let id = Id::uninit(id.0.map(|b| b as std::ffi::c_char));
            let (comm, stream) = guarded("communicator", || {
                let count = CudaContext::device_count().map_err(|e| failed("device count", e))?;
                if (count as i64) <= device as i64 {
                    return Err(no_device(format!(
                        "the CUDA driver reports {count} device(s), device {device} was asked for"
                    )));
                }
                let ctx = CudaContext::new(device).map_err(|e| failed("device", e))?;
                let stream = ctx.default_stream();
                let comm = Comm::from_rank(stream.clone(), rank, ranks, id)
                    .map_err(|e| failed("communicator", e.0))?;
                Ok((comm, stream))
            })?;
            Ok(NcclCollective {
                comm: Mutex::new(Shared(comm)),
                stream,
                rank,
                ranks,
            })
        }

        /// This process's rank.
        pub fn rank(&self) -> usize {
            self.rank
        }

        /// The number of processes of the communicator.
        pub fn ranks(&self) -> usize {
            self.ranks
        }
    }

    impl drift_api::kit::Collective for NcclCollective {
        fn all_reduce_sum(&self, values: &mut [f64]) -> Result<()> {
            if values.is_empty() {
                // Every rank calls with the same length: none calls NCCL.
                return Ok(());
            }
            let comm = self
                .comm
                .lock()
                .map_err(|_| failed("all-reduce", "a previous call panicked"))?;
            let mut device = self
                .stream
                .clone_htod(values)
                .map_err(|e| failed("copy to the device", e))?;
            comm.0
                .all_reduce_in_place(&mut device, &ReduceOp::Sum)
                .map_err(|e| failed("all-reduce", e.0))?;
            let sums = self
                .stream
                .clone_dtoh(&device)
                .map_err(|e| failed("copy from the device", e))?;
            // The copy to pageable memory has completed on return; waiting says so explicitly.
            self.stream
                .synchronize()
                .map_err(|e| failed("synchronise", e))?;
            values.copy_from_slice(&sums);
            Ok(())
        }
    }
}
