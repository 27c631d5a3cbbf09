//! The debiased Sinkhorn divergence: its drift (the NSGF velocity) and its value `S_ε`.

use crate::column_shards::complete::box_diagonal_on;
use crate::couplings::{Schedule, Sinkhorn};
use crate::engine::cross_minus_self;
use crate::engine::TermRef;
use crate::kernels::Gaussian;
use drift_api::kit::Tagged;
use drift_api::kit::{Backend, PairSets};
use drift_api::Coupling;
use drift_api::{
    check_temperature, ColumnBlock, CouplingProblem, DriftOperator, DriftProblem, DriftReport,
    PointCloud, Potentials, Real, Result,
};
use serde::{Deserialize, Serialize};
use std::borrow::Cow;

/// Sinkhorn divergence drift: `V_i = −(1/a_i) ∂S_ε/∂x_i` for the debiased divergence
/// `S_ε(α, β) = OT_ε(α, β) − ½ OT_ε(α, α) − ½ OT_ε(β, β)` with cost `C = ½‖x − y‖²`, i.e. the velocity
/// of the Sinkhorn-divergence gradient flow (NSGF). With converged potentials it equals
/// `bar⁺_i − bar⁻_i`: the row-normalised cross Sinkhorn plan against `Y` minus the symmetric Sinkhorn
/// plan of `X` with itself (Feydy et al.; He et al.). The Gaussian kernel `exp(−‖x − y‖²/τ)` is
/// `exp(−C/ε)` with `ε = τ/2`. The solver defaults to GeomLoss' schedule: ε-scaling from the diameter
/// with ratio 0.5, then iterations to a tolerance of 1e-6.
///
/// With `sinkhorn: (schedule: GeomLoss, epsilon_scaling: Some(r))` the three problems run GeomLoss'
/// `sinkhorn_loop` exactly (one averaged update per temperature, stopping unconverged: see
/// [`Sinkhorn`]), all from the diameter of `X ∪ Y` as GeomLoss computes it, so the field is
/// `−(1/a_i) ∂S/∂x_i` of `SamplesLoss("sinkhorn", p=2, blur=sqrt(τ/2), scaling=sqrt(r),
/// debias=True)` (GeomLoss' gradient, through its last extrapolation with the loop's potentials held
/// fixed: `bar⁺ − bar⁻` of the loop's plans) and [`sinkhorn_divergence`] is its value.
///
/// RON name `sinkhorn_divergence`: `{"sinkhorn_divergence": (temperature: 0.05)}`; GeomLoss' loop
/// with blur 0.5 and scaling 0.9:
/// `{"sinkhorn_divergence": (temperature: 0.5, sinkhorn: (schedule: GeomLoss, epsilon_scaling: Some(0.81)))}`.
///
/// ```
/// use drift_api::PointCloud;
/// let op = drift_ops::SinkhornDivergence::new(0.2);
/// let x = PointCloud::new("x", vec![0.0f64, 0.0, 1.0, 0.0], 2).unwrap();
/// let y = PointCloud::new("y", vec![0.0f64, 1.0, 1.0, 1.0, 0.5, 1.5], 2).unwrap();
/// let s = drift_ops::sinkhorn_divergence(&op, &x, &y).unwrap();
/// assert!(s > 0.0);
/// assert!(drift_ops::sinkhorn_divergence(&op, &x, &x).unwrap().abs() < 1e-9);
/// ```
#[derive(Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SinkhornDivergence {
    /// Temperature `τ = 2ε` of the Gaussian kernel.
    pub temperature: f64,
    /// Solver settings (default: ε-scaling 0.5, tolerance 1e-6, at most 1000 iterations).
    #[serde(default = "geomloss_solver")]
    pub sinkhorn: Sinkhorn,
}

fn geomloss_solver() -> Sinkhorn {
    Sinkhorn::new(1000, 1e-6).with_epsilon_scaling(0.5)
}

impl SinkhornDivergence {
    /// The divergence drift at temperature `τ = 2ε` with GeomLoss' solver schedule.
    pub fn new(temperature: f64) -> Self {
        SinkhornDivergence {
            temperature,
            sinkhorn: geomloss_solver(),
        }
    }

    /// The solver for problems on `x` and `y`: with GeomLoss' loop, a copy that starts every
    /// problem's schedule from the diameter of `x ∪ y` (GeomLoss' `max_diameter`, also for the
    /// self problems); otherwise the operator's own (its warm-start state included).
    fn solver<T: Real>(
        &self,
        backend: &dyn Backend,
        x: &PointCloud<T>,
        y: &PointCloud<T>,
    ) -> Result<Cow<'_, Sinkhorn>> {
        Ok(if self.sinkhorn.schedule == Schedule::GeomLoss {
            let diameter = box_diagonal_on(backend, &[x, y])?;
            Cow::Owned(self.sinkhorn.clone().with_diameter(diameter))
        } else {
            Cow::Borrowed(&self.sinkhorn)
        })
    }

    fn run<T: Real>(&self, p: DriftProblem<'_, T>) -> Result<DriftReport> {
        let solver = self.solver(p.backend, p.x, p.y)?;
        let t = TermRef::mean(&Gaussian, solver.as_ref(), self.temperature);
        cross_minus_self(p, "sinkhorn_divergence", t, t, false, &crate::Unit)
    }
}

impl SinkhornDivergence {
    /// Validates the whole parameter tree of this operator.
    fn check(&self) -> Result<()> {
        check_temperature("sinkhorn_divergence.temperature", self.temperature)?;
        drift_api::Coupling::validate(&self.sinkhorn)
    }
}

/// The Sinkhorn divergence `S_ε(α, β) = ⟨a, F_ab − F_aa⟩ + ⟨b, G_ab − G_bb⟩` in cost units of
/// `C = ½‖x − y‖²` (`ε = τ/2`), from the dual potentials `F = ε (f − log a)` of three Sinkhorn
/// problems solved with the operator's settings on the CPU backend. Nonnegative, and zero iff
/// `α = β`. With GeomLoss' loop it is GeomLoss' value: every potential its last extrapolation, the
/// cross problem solved both ways (`G_ab` is the row extrapolation of the problem from `Y`'s side,
/// which GeomLoss' symmetric loop makes the same problem).
pub fn sinkhorn_divergence<T: Real>(
    op: &SinkhornDivergence,
    x: &PointCloud<T>,
    y: &PointCloud<T>,
) -> Result<f64> {
    sinkhorn_divergence_with(&crate::CpuBackend, op, x, y)
}

/// [`sinkhorn_divergence`] on a given backend.
pub fn sinkhorn_divergence_with<T: Real>(
    backend: &dyn Backend,
    op: &SinkhornDivergence,
    x: &PointCloud<T>,
    y: &PointCloud<T>,
) -> Result<f64> {
    op.validate()?;
    x.check_same_dim(y)?;
    let eps = op.temperature / 2.0;
    let (la, lb) = (x.log_weights(), y.log_weights());
    let solver = op.solver(backend, x, y)?;
    let solve = |rows: &PointCloud<T>,
                 lr: &[T],
                 cols: &PointCloud<T>,
                 lc: &[T],
                 symmetric|
     -> Result<Potentials<T>> {
        let mut out = Potentials::default();
        let blocks = [ColumnBlock {
            points: cols,
            log_weights: lc,
            mask_diagonal: false,
        }];
        let pairs = PairSets::new(backend, &Gaussian, rows, &blocks);
        solver.as_ref().solve(
            CouplingProblem {
                backend,
                kernel: &Gaussian,
                tau: T::of(op.temperature),
                rows,
                row_log_weights: lr,
                blocks: &blocks,
                symmetric,
                pairs: &pairs,
                out: &mut out,
                problem: 0,
            }
            .tagged(),
        )?;
        Ok(out)
    };
    // ⟨w, ε (p − log w)⟩: the dual potential in cost units, integrated against its marginal. A
    // zero-weight point adds nothing (its `p − log w` would be `−∞ − (−∞)`).
    let dual = |p: &[T], lw: &[T]| -> f64 {
        p.iter()
            .zip(lw)
            .filter(|(_, l)| l.is_finite())
            .map(|(v, l)| l.exp().as_f64() * eps * (*v - *l).as_f64())
            .sum()
    };
    let ab = solve(x, &la, y, &lb, false)?;
    let aa = solve(x, &la, x, &la, true)?;
    let bb = solve(y, &lb, y, &lb, true)?;
    let f = |p: &Potentials<T>| p.f.clone().unwrap_or_default();
    if op.sinkhorn.schedule == Schedule::GeomLoss {
        // GeomLoss' value: the extrapolations `f` of all four problems (the loop's `g` is not
        // GeomLoss' extrapolated `G`).
        let ba = solve(y, &lb, x, &la, false)?;
        return Ok(
            dual(&f(&ab), &la) - dual(&f(&aa), &la) + dual(&f(&ba), &lb) - dual(&f(&bb), &lb)
        );
    }
    Ok(dual(&f(&ab), &la) - dual(&f(&aa), &la) + dual(&ab.g[0], &lb) - dual(&bb.g[0], &lb))
}

drift_api::operator!(
    SinkhornDivergence = "sinkhorn_divergence",
    summary: "Debiased Sinkhorn divergence drift (NSGF velocity), cost |x - y|^2 / 2, epsilon-scaled",
    params: "temperature: f64 (= 2 epsilon), sinkhorn: (...) = (max_iters: 1000, tol: 1e-6, epsilon_scaling: Some(0.5)); sinkhorn: (schedule: GeomLoss, epsilon_scaling: Some(scaling^2)) runs GeomLoss' loop from the diameter of X and Y",
    example: r#"(temperature: 0.05)"#
);
