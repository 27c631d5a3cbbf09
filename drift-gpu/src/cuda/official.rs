//! The official loss's batched passes on the device (`official.cu`): the batch's targets
//! `[x; negatives; positives]`, centred per problem on the host as the CPU stages centre them, are
//! uploaded once; distances, coefficients and every temperature's `G_R` stay on the device
//! between the passes, and each pass returns only its per-problem sums (the caller completes the
//! batch-wide statistics between them, as for the CPU stages).

use super::{driver_error, CudaBackend, DeviceReal};
use crate::official_source::OFFICIAL_THREADS;
use cudarc::driver::{CudaFunction, CudaSlice, CudaStream, LaunchConfig, PushKernelArg};
use drift_api::kit::{centre_rows, OfficialJob, OfficialStages, ProblemBatch, SoftmaxFloors};
use drift_api::{DriftError, Real, Result};
use std::sync::Arc;

/// The entry points of one precision's module.
pub(crate) struct OfficialFunctions {
    distances: CudaFunction,
    coefficients: CudaFunction,
    forces: CudaFunction,
    combine: CudaFunction,
}

impl OfficialFunctions {
    pub(crate) fn load(
        module: &Arc<cudarc::driver::CudaModule>,
        p: drift_api::Precision,
    ) -> Result<Self> {
        let get = |stage: &str| CudaBackend::stage_function(module, stage, p);
        Ok(OfficialFunctions {
            distances: get("of_distances_")?,
            coefficients: get("of_coefficients_")?,
            forces: get("of_forces_")?,
            combine: get("of_combine_")?,
        })
    }
}

/// The batch on the host in the kernels' layout: each problem's targets (centred on their mean)
/// and weights, with the offsets that delimit the problems.
struct HostLayout<T> {
    targets: Vec<T>,
    weights: Vec<T>,
    /// Each problem's first target (`B + 1`).
    t_off: Vec<i64>,
    /// Each problem's first generated sample (`B + 1`).
    x_off: Vec<i64>,
    /// Each problem's first pair (`B + 1`).
    d_off: Vec<i64>,
    /// Each problem's first positive among its targets (`N_b` plus its negatives).
    split: Vec<i64>,
}

impl<T: Real> HostLayout<T> {
    fn of(batch: &ProblemBatch<'_, T>) -> Self {
        let dim = batch.dim();
        let mut l = HostLayout {
            targets: Vec::new(),
            weights: Vec::new(),
            t_off: vec![0],
            x_off: vec![0],
            d_off: vec![0],
            split: Vec::new(),
        };
        for b in 0..batch.problems() {
            let n = batch.x.len(b);
            let neg = batch.negatives.as_ref();
            let blocks = [
                Some((batch.x.points(b), batch.x.weights_of(b))),
                neg.map(|s| (s.points(b), s.weights_of(b))),
                Some((batch.y.points(b), batch.y.weights_of(b))),
            ];
            let first = l.targets.len();
            for (points, weights) in blocks.into_iter().flatten() {
                l.targets.extend_from_slice(points);
                match weights {
                    Some(w) => l.weights.extend_from_slice(w),
                    None => l
                        .weights
                        .extend(std::iter::repeat_n(T::one(), points.len() / dim)),
                }
            }
            let m = (l.targets.len() - first) / dim;
            centre_rows(&mut l.targets[first..], dim);
            l.split.push((n + neg.map_or(0, |s| s.len(b))) as i64);
            l.t_off.push(l.t_off[b] + m as i64);
            l.x_off.push(l.x_off[b] + n as i64);
            l.d_off.push(l.d_off[b] + (n * m) as i64);
        }
        l
    }
}

/// One block per problem (and temperature, `temperatures` of them).
fn blocks(problems: usize, temperatures: usize) -> Result<LaunchConfig> {
    let count = |what: &str, v: usize, max: u32| {
        u32::try_from(v).ok().filter(|v| *v <= max).ok_or_else(|| {
            DriftError::invalid(
                what,
                format!("the CUDA official loss takes at most {max}, got {v}"),
            )
        })
    };
    Ok(LaunchConfig {
        grid_dim: (
            count("problems", problems, i32::MAX as u32)?,
            count("temperatures", temperatures, 65_535)?,
            1,
        ),
        block_dim: (OFFICIAL_THREADS as u32, 1, 1),
        shared_mem_bytes: 0,
    })
}

/// The device's stages for `job`, or `None` for an empty batch (nothing to launch).
pub(crate) fn stages<'a, T: DeviceReal>(
    backend: &'a CudaBackend,
    job: OfficialJob<'a, T>,
) -> Result<Option<drift_api::kit::Stages<'a, T>>> {
    if job.batch.problems() == 0 {
        return Ok(None);
    }
    Ok(Some(Box::new(DeviceOfficial::new(backend, job)?)))
}

/// The passes of one official job on a device.
pub(crate) struct DeviceOfficial<'a, T: DeviceReal> {
    batch: &'a ProblemBatch<'a, T>,
    stream: Arc<CudaStream>,
    f: Arc<OfficialFunctions>,
    job_temperatures: Vec<f64>,
    k: drift_api::kit::OfficialConstants,
    /// `B + 1` offsets of targets, generated samples and pairs; `B` splits.
    t_off: CudaSlice<i64>,
    x_off: CudaSlice<i64>,
    d_off: CudaSlice<i64>,
    split: CudaSlice<i64>,
    targets: CudaSlice<T>,
    weights: CudaSlice<T>,
    dist: CudaSlice<T>,
    /// Every temperature's `G_R` (`R × rows × dim`), written by pass 2.
    fields: Option<CudaSlice<T>>,
    pairs: usize,
    total_targets: usize,
}

impl<'a, T: DeviceReal> DeviceOfficial<'a, T> {
    pub(crate) fn new(backend: &CudaBackend, job: OfficialJob<'a, T>) -> Result<Self> {
        let f = backend.official_functions(T::PRECISION)?;
        let s = backend.stream().clone();
        let host = HostLayout::of(job.batch);
        let up = "upload of the official loss's batch";
        let pairs = *host.d_off.last().unwrap_or(&0) as usize;
        let total_targets = *host.t_off.last().unwrap_or(&0) as usize;
        let put_i = |v: &[i64]| s.clone_htod(v).map_err(|e| driver_error(up, e));
        let put = |v: &[T]| s.clone_htod(v).map_err(|e| driver_error(up, e));
        Ok(DeviceOfficial {
            batch: job.batch,
            f,
            job_temperatures: job.temperatures.to_vec(),
            k: job.constants,
            t_off: put_i(&host.t_off)?,
            x_off: put_i(&host.x_off)?,
            d_off: put_i(&host.d_off)?,
            split: put_i(&host.split)?,
            targets: put(&host.targets)?,
            weights: put(&host.weights)?,
            dist: s
                .alloc_zeros::<T>(pairs.max(1))
                .map_err(|e| driver_error("allocation of the distances", e))?,
            fields: None,
            pairs,
            total_targets,
            stream: s,
        })
    }

    fn zeros<V: DeviceReal>(&self, len: usize, what: &str) -> Result<CudaSlice<V>> {
        self.stream
            .alloc_zeros::<V>(len.max(1))
            .map_err(|e| driver_error(what, e))
    }

    fn sums(&self, on_device: &CudaSlice<f64>, len: usize) -> Result<Vec<f64>> {
        let mut host = vec![0.0f64; on_device.len()];
        let down = "download of the official loss's sums";
        self.stream
            .memcpy_dtoh(on_device, &mut host)
            .map_err(|e| driver_error(down, e))?;
        self.stream
            .synchronize()
            .map_err(|e| driver_error(down, e))?;
        host.truncate(len);
        Ok(host)
    }
}

impl<T: DeviceReal> OfficialStages<T> for DeviceOfficial<'_, T> {
    fn scale_sums(&mut self) -> Result<Vec<(f64, f64)>> {
        let problems = self.batch.problems();
        if problems == 0 {
            return Ok(Vec::new());
        }
        let mut sums = self.zeros::<f64>(2 * problems, "allocation of the scale's sums")?;
        let (dim, floor) = (self.batch.dim() as i32, T::of(self.k.distance_floor));
        let mut l = self.stream.launch_builder(&self.f.distances);
        l.arg(&self.targets)
            .arg(&self.t_off)
            .arg(&self.x_off)
            .arg(&self.d_off)
            .arg(&self.weights)
            .arg(&dim)
            .arg(&floor)
            .arg(&mut self.dist)
            .arg(&mut sums);
        #[allow(unsafe_code)]
        // SAFETY: of_distances's signature in official.cu, one for one; the offsets hold B + 1
        // entries delimiting `targets` (rows of `dim`), `weights` and `dist` as allocated from
        // them; `sums` holds 2 B; one block of OF_THREADS per problem.
        unsafe { l.launch(blocks(problems, 1)?) }.map_err(|e| driver_error("kernel launch", e))?;
        let host = self.sums(&sums, 2 * problems)?;
        Ok(host.chunks_exact(2).map(|s| (s[0], s[1])).collect())
    }

    fn forces(&mut self, scales: &[f64]) -> Result<Vec<Vec<f64>>> {
        let (problems, n_t) = (self.batch.problems(), self.job_temperatures.len());
        if problems == 0 {
            return Ok(Vec::new());
        }
        let rows = self.batch.field_len() / self.batch.dim().max(1);
        let k = self.k;
        // The scalars as the CPU stages compute them, in the precision of the points.
        let inv_scale: Vec<T> = scales
            .iter()
            .map(|s| T::of(1.0 / s.max(k.scale_floor)))
            .collect();
        let halves: Vec<T> = self
            .job_temperatures
            .iter()
            .map(|t| -T::of(0.5) / T::of(*t))
            .collect();
        let SoftmaxFloors {
            lowest_half,
            root_tiny,
            root_floor,
        } = k.softmax_floors::<T>();
        let mask = T::of(k.self_mask);
        let up = "upload of the official loss's scales";
        let s = self.stream.clone();
        let inv_scale = s.clone_htod(&inv_scale).map_err(|e| driver_error(up, e))?;
        let halves = s.clone_htod(&halves).map_err(|e| driver_error(up, e))?;
        let mut coeff = self.zeros::<T>(n_t * self.pairs, "allocation of the coefficients")?;
        let mut col_top = self.zeros::<T>(n_t * self.total_targets, "allocation of scratch")?;
        let mut col_norm = self.zeros::<T>(n_t * self.total_targets, "allocation of scratch")?;
        let (pairs, total_targets) = (self.pairs as i64, self.total_targets as i64);
        let cfg = blocks(problems, n_t)?;
        let mut l = s.launch_builder(&self.f.coefficients);
        l.arg(&self.dist)
            .arg(&self.t_off)
            .arg(&self.x_off)
            .arg(&self.d_off)
            .arg(&self.split)
            .arg(&self.weights)
            .arg(&inv_scale)
            .arg(&halves)
            .arg(&pairs)
            .arg(&total_targets)
            .arg(&mask)
            .arg(&lowest_half)
            .arg(&root_tiny)
            .arg(&root_floor)
            .arg(&mut coeff)
            .arg(&mut col_top)
            .arg(&mut col_norm);
        #[allow(unsafe_code)]
        // SAFETY: of_coefficients's signature, one for one; `dist` holds `pairs` values, `coeff`
        // R × pairs, the scratch R × total_targets, `inv_scale` B and `halves` R; one block of
        // OF_THREADS per problem and temperature.
        unsafe { l.launch(cfg) }.map_err(|e| driver_error("kernel launch", e))?;
        let dim = self.batch.dim();
        let mut row_sum = self.zeros::<T>(n_t * rows, "allocation of scratch")?;
        let mut fields = self.zeros::<T>(n_t * rows * dim, "allocation of the fields")?;
        let mut squares = self.zeros::<f64>(problems * n_t, "allocation of the sums")?;
        let (rows_i, dim_i, n_t_i) = (rows as i64, dim as i32, n_t as i32);
        let mut l = s.launch_builder(&self.f.forces);
        l.arg(&coeff)
            .arg(&self.targets)
            .arg(&self.t_off)
            .arg(&self.x_off)
            .arg(&self.d_off)
            .arg(&pairs)
            .arg(&rows_i)
            .arg(&dim_i)
            .arg(&n_t_i)
            .arg(&mut row_sum)
            .arg(&mut fields)
            .arg(&mut squares);
        #[allow(unsafe_code)]
        // SAFETY: of_forces's signature, one for one; `coeff` R × pairs, `targets` rows of
        // `dim` delimited by `t_off`, `row_sum` R × rows, `fields` R × rows × dim, `squares`
        // B × R; one block of OF_THREADS per problem and temperature.
        unsafe { l.launch(cfg) }.map_err(|e| driver_error("kernel launch", e))?;
        self.fields = Some(fields);
        let host = self.sums(&squares, problems * n_t)?;
        Ok(host.chunks_exact(n_t.max(1)).map(<[f64]>::to_vec).collect())
    }

    fn combine(
        &mut self,
        weights: &[Vec<f64>],
        out: &mut [T],
        out_scale: T,
    ) -> Result<Vec<(f64, f64)>> {
        if self.batch.problems() == 0 {
            return Ok(Vec::new());
        }
        let fields = self
            .fields
            .as_ref()
            .ok_or_else(|| DriftError::invalid("official stages", "combine runs after forces"))?;
        let (problems, n_t, dim) = (
            self.batch.problems(),
            self.job_temperatures.len(),
            self.batch.dim(),
        );
        let flat: Vec<f64> = weights.iter().flatten().copied().collect();
        if flat.len() != problems * n_t || out.len() != self.batch.field_len() {
            return Err(DriftError::ShapeMismatch {
                what: "official combine weights and field".into(),
                expected: problems * n_t,
                found: flat.len(),
            });
        }
        let s = self.stream.clone();
        let up = "upload of the official loss's weights and field";
        let flat = s.clone_htod(&flat).map_err(|e| driver_error(up, e))?;
        let mut field = s.clone_htod(&*out).map_err(|e| driver_error(up, e))?;
        let mut field_sums = self.zeros::<f64>(problems, "allocation of the sums")?;
        let rows = (out.len() / dim.max(1)) as i64;
        let (dim_i, n_t_i) = (dim as i32, n_t as i32);
        let mut l = s.launch_builder(&self.f.combine);
        l.arg(fields)
            .arg(&flat)
            .arg(&self.x_off)
            .arg(&rows)
            .arg(&dim_i)
            .arg(&n_t_i)
            .arg(&out_scale)
            .arg(&mut field)
            .arg(&mut field_sums);
        #[allow(unsafe_code)]
        // SAFETY: of_combine's signature, one for one; `fields` R × rows × dim, `flat` B × R,
        // `field` rows × dim, `field_sums` B; one block of OF_THREADS per problem.
        unsafe { l.launch(blocks(problems, 1)?) }.map_err(|e| driver_error("kernel launch", e))?;
        let down = "download of the field";
        s.memcpy_dtoh(&field, out)
            .map_err(|e| driver_error(down, e))?;
        let sums = self.sums(&field_sums, problems)?;
        Ok(sums
            .into_iter()
            .enumerate()
            .map(|(b, sq)| (sq, (self.batch.x.len(b) * dim) as f64))
            .collect())
    }
}
