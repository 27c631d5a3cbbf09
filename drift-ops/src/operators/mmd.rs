//! The MMD gradient drift and the MMD² value.

use crate::couplings::passes::Passes;
use crate::couplings::Unnormalised;
use crate::engine::cross_minus_self;
use crate::engine::{DisplacementKind, TermRef};
use crate::kernels::{Gaussian, Laplace};
use drift_api::batch::BatchProblem;
use drift_api::kit::Backend;
use drift_api::{
    check_temperature, BatchReport, DriftOperator, DriftProblem, DriftReport, Kernel, PointCloud,
    Real, Result,
};
use serde::{Deserialize, Serialize};

/// The kernels whose MMD gradient the reduction computes exactly.
///
/// In RON: `gaussian` or `laplace`, bare (the `kernel` field of `mmd`; not the `{"gaussian": ()}`
/// form of a registered kernel).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum MmdKernel {
    /// `k = exp(−‖x − y‖²/τ)`: `∇_x k = (2/τ) k (y − x)`, the barycentre form.
    #[default]
    Gaussian,
    /// `k = exp(−‖x − y‖/τ)`: `∇_x k = (1/τ) k (y − x)/‖y − x‖`, the unit-displacement form.
    Laplace,
}

impl MmdKernel {
    fn kernel(&self) -> &'static dyn Kernel {
        match self {
            MmdKernel::Gaussian => &Gaussian,
            MmdKernel::Laplace => &Laplace,
        }
    }
    fn displacement(&self) -> DisplacementKind {
        match self {
            MmdKernel::Gaussian => DisplacementKind::Mean,
            MmdKernel::Laplace => DisplacementKind::Unit,
        }
    }
    /// The factor `c` in `∇_x k = c · k · displacement`.
    fn gradient_scale(&self, tau: f64) -> f64 {
        match self {
            MmdKernel::Gaussian => 2.0 / tau,
            MmdKernel::Laplace => 1.0 / tau,
        }
    }
}

/// MMD gradient drift (Arbel et al. 2019; Deng et al. App. C.2): the gradient of the witness
/// `w(x) = Σ_j b_j k(x, y_j) − Σ_k a_k k(x, x_k)`, so `V_i = −(1/a_i) ∂(½ MMD²)/∂x_i`. Unnormalised
/// plans on both sides, the repulsion includes `k = i`, row masses `α± = c · Σ_j b_j k_ij` with
/// `c = 2/τ` (Gaussian, barycentre form) or `1/τ` (Laplace, unit-displacement form). On a batch
/// of problems the Gaussian form, alone or under `feature_scale` / `multi_temperature` /
/// `guidance`, runs on a fused batched path (`crate::batched::mmd`).
///
/// RON name `mmd` (`kernel` is an [`MmdKernel`], `gaussian` by default, not a boxed kernel):
/// `{"mmd": (temperature: 0.5, kernel: gaussian)}`.
///
/// ```
/// use drift_api::PointCloud;
/// let op = drift_ops::Mmd::new(drift_ops::MmdKernel::Gaussian, 1.0);
/// let x = PointCloud::new("x", vec![0.0f64, 0.5], 1).unwrap();
/// let (v, _) = drift_ops::drift(&op, &x, &x).unwrap();
/// assert!(v.iter().all(|c| c.abs() < 1e-15)); // V = 0 at X = Y
/// let y = PointCloud::new("y", vec![1.0f64, 1.5], 1).unwrap();
/// assert!(drift_ops::mmd_squared(&op, &x, &y).unwrap() > 0.0);
/// ```
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Mmd {
    /// Gaussian (default) or Laplace.
    #[serde(default)]
    pub kernel: MmdKernel,
    /// Temperature `τ > 0`.
    pub temperature: f64,
}

impl Mmd {
    /// An MMD drift with the given kernel and temperature.
    pub fn new(kernel: MmdKernel, temperature: f64) -> Self {
        Mmd {
            kernel,
            temperature,
        }
    }

    fn term(&self, temperature: f64) -> TermRef<'static> {
        TermRef {
            kernel: self.kernel.kernel(),
            coupling: &Unnormalised,
            temperature,
            displacement: self.kernel.displacement(),
            problem: 0,
        }
    }

    fn run<T: Real>(&self, p: DriftProblem<'_, T>) -> Result<DriftReport> {
        // The engine applies the context's temperature factor to the term; the gradient scale must
        // use the same effective temperature.
        let t = self.term(self.temperature);
        let scale = self
            .kernel
            .gradient_scale(self.temperature * p.context.temperature_factor);
        cross_minus_self(p, "mmd", t, t, false, &crate::Masses { scale })
    }

    /// A batch on the fused path (`crate::batched::fused`, Gaussian kernel: distances once per
    /// problem for every temperature of a `multi_temperature` around it), else problem by
    /// problem.
    fn run_batch<T: Real>(&self, p: BatchProblem<'_, T>) -> Result<BatchReport> {
        crate::batched::fused::run_or_default(self, p)
    }
}

impl Mmd {
    /// Validates the whole parameter tree of this operator.
    fn check(&self) -> Result<()> {
        check_temperature("mmd.temperature", self.temperature)
    }
}

/// `MMD²(X, Y) = Σ a a k(x, x') − 2 Σ a b k(x, y) + Σ b b k(y, y')` for the operator's kernel and
/// temperature, computed with three log-domain reductions on the CPU backend.
pub fn mmd_squared<T: Real>(op: &Mmd, x: &PointCloud<T>, y: &PointCloud<T>) -> Result<f64> {
    mmd_squared_with(&crate::CpuBackend, op, x, y)
}

/// [`mmd_squared`] on a given backend.
pub fn mmd_squared_with<T: Real>(
    backend: &dyn Backend,
    op: &Mmd,
    x: &PointCloud<T>,
    y: &PointCloud<T>,
) -> Result<f64> {
    op.validate()?;
    x.check_same_dim(y)?;
    let passes = Passes {
        backend,
        kernel: op.kernel.kernel(),
        tau: T::of(op.temperature),
    };
    Ok(passes.mean_kernel(x, x)? - 2.0 * passes.mean_kernel(x, y)? + passes.mean_kernel(y, y)?)
}

drift_api::operator!(
    Mmd = "mmd",
    batched,
    summary: "MMD gradient drift (witness gradient), Gaussian or Laplace kernel",
    params: "temperature: f64, kernel: gaussian|laplace = gaussian",
    example: r#"(temperature: 0.5, kernel: gaussian)"#
);
