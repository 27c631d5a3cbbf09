//! The sliced-Wasserstein field on the device (`sliced.cu`): the points and masses are uploaded
//! once, each block of directions is projected, sorted and matched there, the field accumulates
//! on the device in double precision and comes back once.

use super::launch::grid;
use super::{driver_error, CudaBackend, DeviceReal};
use crate::sliced_source::SLICED_SCAN_THREADS;
use cudarc::driver::{CudaFunction, CudaSlice, CudaStream, LaunchConfig, PushKernelArg};
use drift_api::kit::SlicedJob;
use drift_api::{DriftError, Result};
use std::sync::Arc;

/// The entry points of one precision's module.
pub(crate) struct SlicedFunctions {
    pub project: CudaFunction,
    pub bitonic: CudaFunction,
    pub levels: CudaFunction,
    pub matching: CudaFunction,
    pub accumulate: CudaFunction,
    pub store: CudaFunction,
}

impl SlicedFunctions {
    pub(crate) fn load(
        module: &Arc<cudarc::driver::CudaModule>,
        p: drift_api::Precision,
    ) -> Result<Self> {
        let get = |stage: &str| CudaBackend::stage_function(module, stage, p);
        Ok(SlicedFunctions {
            project: get("sw_project_")?,
            bitonic: get("sw_bitonic_")?,
            levels: get("sw_levels_")?,
            matching: get("sw_match_")?,
            accumulate: get("sw_accumulate_")?,
            store: get("sw_store_")?,
        })
    }
}

/// Device memory the per-direction buffers of one block may take; the block of directions
/// processed at once shrinks to fit it (down to one direction).
const BLOCK_BYTES: usize = 256 << 20;

/// Most directions processed at once.
const MAX_BLOCK: usize = 64;

/// The largest point count: indices are 32-bit on the device and sort lengths are padded to a
/// power of two.
const MAX_POINTS: usize = 1 << 30;

/// Bytes of device memory one direction of a block needs.
fn bytes_per_direction(n: usize, m: usize, dim: usize) -> usize {
    let (px, py) = (n.next_power_of_two(), m.next_power_of_two());
    // keys (8) and indices (4) of both sorts; projections, levels and shifts of the particles;
    // projections, knot levels and knot values of the targets; the direction itself.
    12 * (px + py) + 24 * n + 24 * m + 4 + 8 * dim
}

/// The buffers of one sort: keys and indices, `k × padded`, and projections `k × count`.
struct Sorted {
    keys: CudaSlice<i64>,
    idx: CudaSlice<i32>,
    proj: CudaSlice<f64>,
    count: usize,
    padded: usize,
}

impl Sorted {
    fn new(s: &Arc<CudaStream>, k: usize, count: usize) -> Result<Self> {
        let padded = count.next_power_of_two();
        let alloc = "allocation of the sliced-Wasserstein buffers";
        Ok(Sorted {
            keys: s
                .alloc_zeros(k * padded)
                .map_err(|e| driver_error(alloc, e))?,
            idx: s
                .alloc_zeros(k * padded)
                .map_err(|e| driver_error(alloc, e))?,
            proj: s
                .alloc_zeros(k * count)
                .map_err(|e| driver_error(alloc, e))?,
            count,
            padded,
        })
    }

    /// The weighted mid-rank levels of the block's `k` sorted directions (`sw_levels`), with the
    /// point masses `masses`: one per point into `level` (`k × count`) or, with `compact`, the
    /// distinct knots' levels into `level`, their values into `values` and their number per
    /// direction into `counts` (`values` and `counts` are not written otherwise).
    #[allow(clippy::too_many_arguments)]
    fn levels<T: DeviceReal>(
        &self,
        s: &Arc<CudaStream>,
        f: &SlicedFunctions,
        masses: &CudaSlice<T>,
        compact: bool,
        level: &mut CudaSlice<f64>,
        values: &mut CudaSlice<f64>,
        counts: &mut CudaSlice<i32>,
        k: usize,
    ) -> Result<()> {
        let (padded, count, compact) = (self.padded as i64, self.count as i64, compact as i32);
        let mut l = s.launch_builder(&f.levels);
        l.arg(&self.idx)
            .arg(&padded)
            .arg(masses)
            .arg(&count)
            .arg(&self.proj)
            .arg(&compact)
            .arg(level)
            .arg(values)
            .arg(counts);
        let cfg = LaunchConfig {
            grid_dim: (k as u32, 1, 1),
            block_dim: (SLICED_SCAN_THREADS as u32, 1, 1),
            shared_mem_bytes: 0,
        };
        #[allow(unsafe_code)]
        // SAFETY: sw_levels's signature; `idx` holds `k × padded` sorted indices below `count`,
        // `masses` `count` masses, `proj` and `level` `k × count` values, `values` `k × count` and
        // `counts` `k` (written only when `compact`). One block of SLICED_SCAN_THREADS (SW_SCAN)
        // per direction.
        unsafe { l.launch(cfg) }.map_err(|e| driver_error("kernel launch", e))?;
        Ok(())
    }

    /// Projects `pts` on the block's `k` directions and sorts each direction's projections.
    fn project_and_sort<T: DeviceReal>(
        &mut self,
        s: &Arc<CudaStream>,
        f: &SlicedFunctions,
        pts: &CudaSlice<T>,
        dim: usize,
        thetas: &CudaSlice<f64>,
        k: usize,
    ) -> Result<()> {
        let (count, padded) = (self.count as i64, self.padded as i64);
        let (dim_i, k_i) = (dim as i32, k as i32);
        let mut b = s.launch_builder(&f.project);
        b.arg(pts)
            .arg(&count)
            .arg(&dim_i)
            .arg(thetas)
            .arg(&k_i)
            .arg(&padded)
            .arg(&mut self.keys)
            .arg(&mut self.idx)
            .arg(&mut self.proj);
        #[allow(unsafe_code)]
        // SAFETY: the arguments match sw_project's signature in sliced.cu one for one; `pts`
        // holds `count × dim` values, `thetas` at least `k × dim`, `keys` and `idx`
        // `k × padded` (allocated for at least `k` directions), `proj` `k × count`; the grid
        // covers `k × padded` threads and the kernel returns beyond them.
        unsafe { b.launch(grid(k * self.padded)) }.map_err(|e| driver_error("kernel launch", e))?;
        // Bitonic sort, one launch per stage: merge sequences of size `width`, partners `j` apart.
        let mut width = 2i64;
        while width <= padded {
            let mut j = width / 2;
            while j >= 1 {
                let mut b = s.launch_builder(&f.bitonic);
                b.arg(&mut self.keys)
                    .arg(&mut self.idx)
                    .arg(&padded)
                    .arg(&k_i)
                    .arg(&j)
                    .arg(&width);
                #[allow(unsafe_code)]
                // SAFETY: sw_bitonic's signature; `keys` and `idx` hold `k × padded` entries,
                // the grid covers them and every thread touches only its own segment.
                unsafe { b.launch(grid(k * self.padded)) }
                    .map_err(|e| driver_error("kernel launch", e))?;
                j /= 2;
            }
            width *= 2;
        }
        Ok(())
    }
}

/// Runs `job` on `backend`'s device.
pub(crate) fn sliced_field<T: DeviceReal>(
    backend: &CudaBackend,
    job: SlicedJob<'_, T>,
) -> Result<Vec<T>> {
    job.check()?;
    let (n, m, dim) = (job.x.len(), job.y.len(), job.x.dim());
    if n.max(m) > MAX_POINTS {
        return Err(DriftError::invalid(
            "points",
            format!("the CUDA sliced-Wasserstein drift takes at most {MAX_POINTS} points per set"),
        ));
    }
    let mut field = drift_api::kit::try_vec("sliced_wasserstein field", n * dim, T::zero())?;
    if n == 0 || dim == 0 {
        return Ok(field);
    }
    let f = backend.sliced_functions(T::PRECISION)?;
    let s = backend.stream();
    let up = |what: &str, v: &[T]| s.clone_htod(v).map_err(|e| driver_error(what, e));
    let x = backend.points(job.x, "upload of the particles")?;
    let y = backend.points(job.y, "upload of the targets")?;
    let a = up("upload of the particle masses", &job.x.probabilities())?;
    let b = up("upload of the target masses", &job.y.probabilities())?;
    let alloc = "allocation of the sliced-Wasserstein buffers";
    let k_max = (BLOCK_BYTES / bytes_per_direction(n, m, dim)).clamp(1, MAX_BLOCK);
    let mut thetas = s
        .alloc_zeros::<f64>(k_max * dim)
        .map_err(|e| driver_error(alloc, e))?;
    let mut sx = Sorted::new(s, k_max, n)?;
    let mut sy = Sorted::new(s, k_max, m)?;
    let zeros = |len: usize| {
        s.alloc_zeros::<f64>(len)
            .map_err(|e| driver_error(alloc, e))
    };
    let (mut ux, mut shift) = (zeros(k_max * n)?, zeros(k_max * n)?);
    let (mut ku, mut kq) = (zeros(k_max * m)?, zeros(k_max * m)?);
    let mut kcount = s
        .alloc_zeros::<i32>(k_max)
        .map_err(|e| driver_error(alloc, e))?;
    let mut acc = zeros(n * dim)?;
    let (n_i, m_i, dim_i) = (n as i64, m as i64, dim as i32);
    let mut host = Vec::new();
    loop {
        let got = job.directions.next_block(&mut host);
        if got == 0 {
            break;
        }
        if host.len() != got * dim {
            return Err(DriftError::ShapeMismatch {
                what: "block of directions".into(),
                expected: got * dim,
                found: host.len(),
            });
        }
        for chunk in host.chunks(k_max * dim) {
            let k = chunk.len() / dim;
            let k_i = k as i32;
            s.memcpy_htod(chunk, &mut thetas)
                .map_err(|e| driver_error("upload of the directions", e))?;
            sx.project_and_sort(s, &f, &x, dim, &thetas, k)?;
            sy.project_and_sort(s, &f, &y, dim, &thetas, k)?;
            let px = sx.padded as i64;
            // The particles' levels, then the targets' as compacted knots.
            sx.levels(s, &f, &a, false, &mut ux, &mut kq, &mut kcount, k)?;
            sy.levels(s, &f, &b, true, &mut ku, &mut kq, &mut kcount, k)?;
            let mut b2 = s.launch_builder(&f.matching);
            b2.arg(&sx.idx)
                .arg(&px)
                .arg(&ux)
                .arg(&sx.proj)
                .arg(&n_i)
                .arg(&ku)
                .arg(&kq)
                .arg(&kcount)
                .arg(&m_i)
                .arg(&k_i)
                .arg(&mut shift);
            #[allow(unsafe_code)]
            // SAFETY: sw_match's signature; every buffer holds `k` directions' worth as
            // allocated above; the grid covers `k × n` threads.
            unsafe { b2.launch(grid(k * n)) }.map_err(|e| driver_error("kernel launch", e))?;
            let mut b3 = s.launch_builder(&f.accumulate);
            b3.arg(&thetas)
                .arg(&shift)
                .arg(&n_i)
                .arg(&dim_i)
                .arg(&k_i)
                .arg(&job.scale)
                .arg(&mut acc);
            #[allow(unsafe_code)]
            // SAFETY: sw_accumulate's signature; `thetas` `k × dim`, `shift` `k × n`, `acc`
            // `n × dim`; the grid covers `n × dim` threads.
            unsafe { b3.launch(grid(n * dim)) }.map_err(|e| driver_error("kernel launch", e))?;
        }
    }
    let mut out = s
        .alloc_zeros::<T>(n * dim)
        .map_err(|e| driver_error(alloc, e))?;
    let len = (n * dim) as i64;
    let mut b4 = s.launch_builder(&f.store);
    b4.arg(&acc).arg(&len).arg(&mut out);
    #[allow(unsafe_code)]
    // SAFETY: sw_store's signature; `acc` and `out` hold `len` values, the grid covers them.
    unsafe { b4.launch(grid(n * dim)) }.map_err(|e| driver_error("kernel launch", e))?;
    let down = "download of the field";
    s.memcpy_dtoh(&out, &mut field)
        .map_err(|e| driver_error(down, e))?;
    s.synchronize().map_err(|e| driver_error(down, e))?;
    Ok(field)
}
