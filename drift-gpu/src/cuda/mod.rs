//! The CUDA backend (feature `cuda`): a device context, the reduction modules compiled by NVRTC on
//! first use, and the launches.

mod check;
mod launch;
mod official;
mod pairs;
mod scaling;
mod sliced;

use crate::nvrtc::{compile_source, nvrtc_available};
use crate::source::{entry_point, kernel_expression, reduction_source_with};
use cudarc::driver::{
    CudaContext, CudaFunction, CudaSlice, CudaStream, DeviceRepr, DriverError, ValidAsZeroBits,
};
use drift_api::kit::pairs::Prepared;
use drift_api::kit::{
    Backend, OfficialJob, PairSet, ReductionJob, ResidentBody, ResidentMap, ResidentSets,
    RowReduction, SlicedJob, Stages,
};
use drift_api::{DriftError, PointCloud, Precision, Real, Result};
use std::collections::HashMap;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

pub(crate) use launch::{Launch, Mode};

/// A precision the device computes in: `f32` or `f64`, as cudarc moves them.
pub(crate) trait DeviceReal: Real + DeviceRepr + ValidAsZeroBits + Unpin + 'static {
    /// The backend's resident point sets of this precision.
    fn resident(backend: &CudaBackend) -> &ResidentMap<Arc<CudaSlice<Self>>>;
}
impl DeviceReal for f32 {
    fn resident(backend: &CudaBackend) -> &ResidentMap<Arc<CudaSlice<Self>>> {
        &backend.resident_f32
    }
}
impl DeviceReal for f64 {
    fn resident(backend: &CudaBackend) -> &ResidentMap<Arc<CudaSlice<Self>>> {
        &backend.resident_f64
    }
}

/// A driver failure as a typed error, with what was being done.
pub(crate) fn driver_error(doing: &str, e: DriverError) -> DriftError {
    DriftError::Custom(format!("CUDA {doing}: {e}").into())
}

/// What selects a compiled module: the precision, the dimension and the kernel expression.
type ModuleKey = (Precision, usize, String, crate::TensorCores);

/// The CUDA backend: one device, one stream, and the reduction modules compiled for it.
///
/// The point sets of a drift evaluation are uploaded once, when its residency scope opens
/// ([`Backend::keep_resident`]), and every reduction, pair preparation and sliced job of the
/// evaluation reads them there; a set outside any scope is uploaded by the call that reads it.
/// Each call moves only its potentials in and its row results out.
pub struct CudaBackend {
    ctx: Arc<CudaContext>,
    stream: Arc<CudaStream>,
    /// `sm_XY` of the device: what NVRTC compiles for.
    arch: String,
    name: String,
    /// Compiled entry points, per precision, dimension and kernel expression (compiled once).
    modules: Mutex<HashMap<ModuleKey, CudaFunction>>,
    /// The sliced-Wasserstein stages, per precision (compiled once).
    sliced: Mutex<HashMap<Precision, Arc<sliced::SlicedFunctions>>>,
    /// The Sinkhorn scaling updates, per precision (compiled once).
    scaling: Mutex<HashMap<Precision, Arc<scaling::ScalingFunctions>>>,
    /// The official loss's batched passes, per precision (compiled once).
    official: Mutex<HashMap<Precision, Arc<official::OfficialFunctions>>>,
    /// The tensor-core option of the f32 reduction (off by default).
    tensor_cores: crate::TensorCores,
    /// The point sets of the open residency scopes, on the device.
    resident_f32: ResidentMap<Arc<CudaSlice<f32>>>,
    resident_f64: ResidentMap<Arc<CudaSlice<f64>>>,
    /// Point sets copied to the device so far ([`CudaBackend::point_uploads`]).
    point_uploads: AtomicUsize,
}

impl std::fmt::Debug for CudaBackend {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CudaBackend")
            .field("device", &self.name)
            .field("ordinal", &self.ctx.ordinal())
            .field("arch", &self.arch)
            .finish()
    }
}

fn no_device(reason: impl Into<String>) -> DriftError {
    DriftError::NoDevice {
        reason: reason.into(),
    }
}

impl CudaBackend {
    /// Opens the first CUDA device; [`DriftError::NoDevice`] says why when none can be used (no
    /// driver library, no device, no NVRTC).
    pub fn new() -> Result<Self> {
        Self::with_ordinal(0)
    }

    /// Opens the CUDA device `ordinal`.
    pub fn with_ordinal(ordinal: usize) -> Result<Self> {
        #[allow(unsafe_code)]
        // SAFETY: probing loads the driver library by name and unloads it; cudarc would panic on
        // its first call without it, so this is checked before any.
        let driver = unsafe { cudarc::driver::sys::is_culib_present() };
        if !driver {
            return Err(no_device(
                "no CUDA driver library (libcuda.so.1) found on this machine",
            ));
        }
        // cudarc unwraps symbol lookups: an old driver lacking one must not abort the caller.
        let opened = catch_unwind(AssertUnwindSafe(|| {
            let count = CudaContext::device_count()?;
            if (count as i64) <= ordinal as i64 {
                return Ok(Err(format!(
                    "the CUDA driver reports {count} device(s), device {ordinal} was asked for"
                )));
            }
            let ctx = CudaContext::new(ordinal)?;
            let (major, minor) = ctx.compute_capability()?;
            let name = ctx.name()?;
            Ok(Ok((ctx, major, minor, name)))
        }))
        .map_err(|_| no_device("the CUDA driver library failed on its first calls (too old?)"))?
        .map_err(|e: DriverError| no_device(format!("the CUDA driver failed: {e}")))?
        .map_err(no_device)?;
        let (ctx, major, minor, name) = opened;
        nvrtc_available()?;
        let stream = ctx.default_stream();
        Ok(CudaBackend {
            ctx,
            stream,
            arch: format!("sm_{major}{minor}"),
            name,
            modules: Mutex::new(HashMap::new()),
            sliced: Mutex::new(HashMap::new()),
            scaling: Mutex::new(HashMap::new()),
            official: Mutex::new(HashMap::new()),
            tensor_cores: crate::TensorCores::Off,
            resident_f32: ResidentMap::new(),
            resident_f64: ResidentMap::new(),
            point_uploads: AtomicUsize::new(0),
        })
    }

    /// The same backend with the tensor-core option of its f32 reductions
    /// ([`TensorCores`](crate::TensorCores): `Off` by default; `Tf32` about `1e-3` relative on
    /// squared distances, `Split3` at f32 accuracy). It applies where
    /// [`tensor_core_tile`](crate::tensor_core_tile) does (`D` a multiple of 8 up to 512);
    /// other reductions run the exact path.
    pub fn with_tensor_cores(mut self, tensor_cores: crate::TensorCores) -> Self {
        self.tensor_cores = tensor_cores;
        self.modules
            .get_mut()
            .unwrap_or_else(|p| p.into_inner())
            .clear();
        self
    }

    /// The tensor-core option in force.
    pub fn tensor_cores(&self) -> crate::TensorCores {
        self.tensor_cores
    }

    /// The device's name, as the driver gives it.
    pub fn device_name(&self) -> &str {
        &self.name
    }

    /// The architecture the reductions are compiled for (`sm_90`, …).
    pub fn arch(&self) -> &str {
        &self.arch
    }

    pub(crate) fn stream(&self) -> &Arc<CudaStream> {
        &self.stream
    }

    /// The coordinates of `set` on the device: the resident copy when a scope holds it, else a
    /// fresh upload (`what` names it in errors).
    pub(crate) fn points<T: DeviceReal>(
        &self,
        set: &PointCloud<T>,
        what: &str,
    ) -> Result<Arc<CudaSlice<T>>> {
        match T::resident(self).get(set) {
            Some(on_device) => Ok(on_device),
            None => self.upload(set, what),
        }
    }

    /// How many point sets this backend has copied to the device since it was opened: inside a
    /// drift evaluation, one per set it reads (its residency scope's), whatever the number of
    /// reductions, Sinkhorn iterations and sub-operators.
    pub fn point_uploads(&self) -> usize {
        self.point_uploads.load(Ordering::Relaxed)
    }

    fn upload<T: DeviceReal>(&self, set: &PointCloud<T>, what: &str) -> Result<Arc<CudaSlice<T>>> {
        self.point_uploads.fetch_add(1, Ordering::Relaxed);
        let on_device = self
            .stream
            .clone_htod(set.data())
            .map_err(|e| driver_error(what, e))?;
        Ok(Arc::new(on_device))
    }

    /// The reduction's entry point for this precision, dimension and kernel, compiled on first use.
    pub(crate) fn function(
        &self,
        precision: Precision,
        dim: usize,
        kernel: &dyn drift_api::Kernel,
    ) -> Result<CudaFunction> {
        let expr = kernel_expression(kernel)?;
        let tc = self.tensor_cores.effective(precision, dim);
        let key = (precision, dim, expr, tc);
        let mut modules = self.modules.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(f) = modules.get(&key) {
            return Ok(f.clone());
        }
        let module = self.module(&reduction_source_with(precision, dim, &key.2, tc))?;
        let f = module
            .load_function(entry_point(precision))
            .map_err(|e| driver_error("function lookup", e))?;
        modules.insert(key, f.clone());
        Ok(f)
    }

    /// The sliced-Wasserstein stages for points of `precision`, compiled on first use.
    pub(crate) fn sliced_functions(
        &self,
        precision: Precision,
    ) -> Result<Arc<sliced::SlicedFunctions>> {
        let source = crate::sliced_source::sliced_source;
        self.stages(
            &self.sliced,
            precision,
            source,
            sliced::SlicedFunctions::load,
        )
    }

    /// The Sinkhorn scaling updates for potentials of `precision`, compiled on first use.
    pub(crate) fn scaling_functions(
        &self,
        precision: Precision,
    ) -> Result<Arc<scaling::ScalingFunctions>> {
        let source = crate::scaling_source::scaling_source;
        self.stages(
            &self.scaling,
            precision,
            source,
            scaling::ScalingFunctions::load,
        )
    }

    /// The official loss's batched passes for points of `precision`, compiled on first use.
    pub(crate) fn official_functions(
        &self,
        precision: Precision,
    ) -> Result<Arc<official::OfficialFunctions>> {
        let source = crate::official_source::official_source;
        self.stages(
            &self.official,
            precision,
            source,
            official::OfficialFunctions::load,
        )
    }

    /// A module of stages per precision, compiled from `source` and its entry points looked up by
    /// `load` on first use, then kept in `cache`.
    fn stages<F>(
        &self,
        cache: &Mutex<HashMap<Precision, Arc<F>>>,
        precision: Precision,
        source: fn(Precision) -> String,
        load: fn(&Arc<cudarc::driver::CudaModule>, Precision) -> Result<F>,
    ) -> Result<Arc<F>> {
        let mut cache = cache.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(f) = cache.get(&precision) {
            return Ok(f.clone());
        }
        let module = self.module(&source(precision))?;
        let f = Arc::new(load(&module, precision)?);
        cache.insert(precision, f.clone());
        Ok(f)
    }

    /// The entry point of `stage` for `precision` in a module of stages.
    pub(crate) fn stage_function(
        module: &Arc<cudarc::driver::CudaModule>,
        stage: &str,
        precision: Precision,
    ) -> Result<CudaFunction> {
        module
            .load_function(&crate::source::stage_entry(stage, precision))
            .map_err(|e| driver_error("function lookup", e))
    }

    /// Compiles `source` for this device and loads it.
    fn module(&self, source: &str) -> Result<Arc<cudarc::driver::CudaModule>> {
        let ptx = compile_source(source, &self.arch)?;
        self.ctx
            .load_module(cudarc::nvrtc::Ptx::from_src(ptx))
            .map_err(|e| driver_error("module load", e))
    }

    fn reduce<T: DeviceReal>(&self, r: RowReduction<'_, T>) -> Result<()> {
        check::check_reduction(&r)?;
        let (n, m, dim) = (r.rows.len(), r.cols.len(), r.rows.dim());
        let func = self.function(T::PRECISION, dim, r.kernel)?;
        let s = &self.stream;
        let up = |what: &str, v: &[T]| s.clone_htod(v).map_err(|e| driver_error(what, e));
        let x = self.points(r.rows, "upload of the rows")?;
        let y = self.points(r.cols, "upload of the columns")?;
        let g = r
            .col_potential
            .map(|g| up("upload of the potentials", g))
            .transpose()?;
        let origin = r
            .origin
            .map(|o| up("upload of the origin", o))
            .transpose()?;
        let mode = Mode::of(r.displacement);
        let mut lse = s
            .alloc_zeros::<T>(n)
            .map_err(|e| driver_error("allocation", e))?;
        let mut disp = match mode {
            Mode::None => None,
            _ => Some(
                s.alloc_zeros::<T>(n * dim)
                    .map_err(|e| driver_error("allocation", e))?,
            ),
        };
        Launch {
            func: &func,
            rows: (&*x, n),
            cols: (&*y, m),
            tau: r.tau,
            col_potential: g.as_ref(),
            mask_diagonal: r.mask_diagonal,
            mode,
            origin: origin.as_ref(),
        }
        .run(s, &mut lse, disp.as_mut())?;
        let down = "download of the results";
        s.memcpy_dtoh(&lse, r.lse)
            .map_err(|e| driver_error(down, e))?;
        if let (Some(dev), Some(host)) = (disp.as_ref(), r.disp) {
            s.memcpy_dtoh(dev, host)
                .map_err(|e| driver_error(down, e))?;
        }
        s.synchronize().map_err(|e| driver_error(down, e))
    }
}

impl Backend for CudaBackend {
    fn name(&self) -> &str {
        "cuda"
    }

    fn row_reduce(&self, job: ReductionJob<'_>) -> Result<()> {
        match job {
            ReductionJob::F32(r) => self.reduce(r),
            ReductionJob::F64(r) => self.reduce(r),
        }
    }

    /// Keeps the points on the device (the resident copies inside a drift evaluation); every pass
    /// then moves only the potentials and the results.
    fn prepare_pairs_f32<'a>(&'a self, set: PairSet<'a, f32>) -> Result<Option<Prepared<'a, f32>>> {
        Ok(Some(Box::new(pairs::DevicePairs::new(self, set)?)))
    }

    /// Projections, sorts and quantile matching on the device (`sliced.cu`).
    fn sliced_wasserstein_f32(&self, job: SlicedJob<'_, f32>) -> Option<Result<Vec<f32>>> {
        Some(sliced::sliced_field(self, job))
    }

    /// Projections, sorts and quantile matching on the device (`sliced.cu`).
    fn sliced_wasserstein_f64(&self, job: SlicedJob<'_, f64>) -> Option<Result<Vec<f64>>> {
        Some(sliced::sliced_field(self, job))
    }

    /// Keeps the points on the device (the resident copies inside a drift evaluation); every pass
    /// then moves only the potentials and the results.
    fn prepare_pairs_f64<'a>(&'a self, set: PairSet<'a, f64>) -> Result<Option<Prepared<'a, f64>>> {
        Ok(Some(Box::new(pairs::DevicePairs::new(self, set)?)))
    }

    /// The official loss's passes on the device (`official.cu`), one block per problem (an
    /// empty batch is left to the host).
    fn official_stages_f32<'a>(
        &'a self,
        job: OfficialJob<'a, f32>,
    ) -> Result<Option<Stages<'a, f32>>> {
        official::stages(self, job)
    }

    /// The official loss's passes on the device (`official.cu`), one block per problem.
    fn official_stages_f64<'a>(
        &'a self,
        job: OfficialJob<'a, f64>,
    ) -> Result<Option<Stages<'a, f64>>> {
        official::stages(self, job)
    }

    /// Uploads each set once for the evaluation; the copies are freed when it returns.
    fn keep_resident(&self, sets: ResidentSets<'_>, body: &mut ResidentBody<'_>) -> Result<()> {
        let upload = "upload of the evaluation's points";
        match sets {
            ResidentSets::F32(sets) => {
                self.resident_f32
                    .scope(sets, |c| self.upload(c, upload), body)
            }
            ResidentSets::F64(sets) => {
                self.resident_f64
                    .scope(sets, |c| self.upload(c, upload), body)
            }
        }
    }
}
