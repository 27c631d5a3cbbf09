//! Balanced entropic optimal transport by log-domain Sinkhorn scaling.

mod spec;
mod steps;

use super::passes::{marginal_l1, scaling_all, PreparedBlocks};
// The solver's steps, each a function of the prepared pairs and the potentials.
use drift_api::kit::{ScalingLoop, ScalingOutcome};
use drift_api::{
    check_param, ColumnBlock, CouplingJob, CouplingProblem, CouplingReport, DriftError, PointCloud,
    Potentials, Real, Result, RowMasses,
};
use serde::{Deserialize, Serialize};
use spec::SinkhornRon;
use std::collections::HashMap;
use std::sync::Mutex;
use steps::*;

pub use spec::Schedule;

/// Balanced Sinkhorn coupling: both marginals enforced, `π = exp(f ⊕ g + ℓ)` the entropic OT plan.
///
/// Iterates `f_i = log a_i − LSE_j(g_j + ℓ_ij)`, `g_j = log b_j − LSE_i(f_i + ℓ_ij)` in the log domain,
/// starting from `g = log b` (so zero iterations is the one-sided coupling), until the L1 error of the
/// column marginal (rows are exact after each `f` update) is below `tol` or `max_iters` is reached;
/// both the iterations and the final error are reported, never hidden. The self problem uses the
/// symmetric averaged update `f ← ½(f + log a − LSE_k(f_k + ℓ_ik))` (GeomLoss), which converges much
/// faster. Zero weights are valid: a zero-weight point keeps the potential `−∞` (its row or column
/// of the plan vanishes, as in the limit of a vanishing weight) while its row-normalised barycentre
/// still comes from the other side's potentials; a point of positive mass that no mass can reach
/// (the plan is infeasible) is left out too and its mass stays in the reported error. Options: ε-scaling from the data's diameter down to `τ` with ratio `epsilon_scaling`
/// (GeomLoss' annealing, one update per stage), and a warm start from the previous call's potentials
/// (rescaled to the new temperature) when the shapes match, kept per problem of a batch
/// ([`drift_api::Context::problem`]) so that a batch's result does not depend on the order its
/// problems ran in. Single calls all have index 0: an operator called from several threads at once
/// shares one warm state between them (give each thread its own operator for reproducible runs).
///
/// With `schedule: GeomLoss` the solver runs GeomLoss' `sinkhorn_loop` (balanced, `p = 2`) exactly
/// instead of iterating to `tol`: the temperatures `τ_0, τ_0, τ_0 r, τ_0 r², …` (those above `τ`),
/// then `τ`, with `τ_0 = 2 · kernel.temperature_scale(diameter)` (`2·diam²` for the Gaussian kernel:
/// GeomLoss' `ε_0 = diam²` in cost units `½‖x − y‖²`, `τ = 2ε`) and `r = epsilon_scaling` (GeomLoss'
/// `scaling²`); the potentials start from one pass each at `τ_0` against the other side's weights,
/// and every temperature makes one averaged update from the previous potentials,
/// `f ← ½(f + log a − LSE_j(g_j + ℓ_ij))` and `g ← ½(g + log b − LSE_i(f_i + ℓ_ij))` in parallel (the
/// symmetric problem: its averaged update). The column potentials `g` are the loop's last ones (those
/// GeomLoss differentiates through); `f = log a − LSE_j(g_j + ℓ_ij)` is GeomLoss' final
/// extrapolation, so the plan's rows are exact and the reported marginal error is that of its
/// columns (the symmetric problem: `g` the loop's potential, `f` its extrapolation, the error that
/// of the symmetric plan `exp(g_i + g_k + ℓ_ik)`). `max_iters` plays no part; `converged` says
/// whether that error is at most `tol` (the loop stops unconverged at small temperatures, as
/// GeomLoss does). The diameter is that of the bounding box of every point of the problem, zero
/// weights included (GeomLoss' `max_diameter`: unlike the other modes, a zero-weight point can move
/// the schedule, hence the others' potentials); [`Sinkhorn::with_diameter`] sets it instead (the
/// Sinkhorn divergence gives the diameter of `X ∪ Y` to all three of its problems). Requires
/// `epsilon_scaling`, excludes `warm_start`.
///
/// RON name `sinkhorn`, every field optional (defaults `max_iters: 100`, `tol: 1e-5`, no ε-scaling,
/// no warm start, `schedule: Standard`):
/// `coupling: {"sinkhorn": (max_iters: 100, tol: 1e-5, epsilon_scaling: Some(0.5), warm_start: false, schedule: Standard)}`.
/// The schedule's former spelling, `geomloss: true` (`GeomLoss`) or `geomloss: false`
/// (`Standard`), is still read, so older files load unchanged; it is written as `schedule`.
///
/// ```
/// use drift_api::Coupling;
/// let s = drift_ops::Sinkhorn::new(50, 1e-6).with_epsilon_scaling(0.7).with_warm_start(true);
/// assert!(s.validate().is_ok());
/// // GeomLoss' loop with its scaling 0.9: ratio 0.81 per temperature.
/// assert!(drift_ops::Sinkhorn::default().with_geomloss(0.81).validate().is_ok());
/// assert!(drift_ops::Sinkhorn::new(50, -1.0).validate().is_err());
/// ```
#[derive(Debug, Serialize, Deserialize)]
#[serde(try_from = "SinkhornRon")]
pub struct Sinkhorn {
    /// Iteration cap at the target temperature (each iteration is one `g` and one `f` update; the
    /// ε-scaling stages come on top and are counted in the reported iterations).
    #[serde(default = "default_max_iters")]
    pub max_iters: usize,
    /// Stop when the L1 marginal error is at most this.
    #[serde(default = "default_tol")]
    pub tol: f64,
    /// ε-scaling ratio in `(0, 1)`: anneal the temperature geometrically from the data's diameter.
    #[serde(default)]
    pub epsilon_scaling: Option<f64>,
    /// Reuse the previous call's potentials (same shapes) as the starting point.
    #[serde(default)]
    pub warm_start: bool,
    /// Which loop runs: iterations to `tol` ([`Schedule::Standard`]) or GeomLoss' fixed ε-scaling
    /// loop ([`Schedule::GeomLoss`], see the type's docs; requires `epsilon_scaling`).
    #[serde(default)]
    pub schedule: Schedule,
    /// The diameter that starts GeomLoss' schedule, when set by the caller
    /// ([`Sinkhorn::with_diameter`]); not part of the RON form.
    #[serde(skip)]
    diameter: Option<f64>,
    /// Warm-start potentials of previous calls, one per problem of a batch and shape
    /// ([`WarmKey`]): the problems of a batch run in parallel never share one.
    #[serde(skip)]
    cache: Mutex<HashMap<WarmKey, Vec<Vec<f64>>>>,
}

fn default_max_iters() -> usize {
    100
}
fn default_tol() -> f64 {
    1e-5
}

impl Default for Sinkhorn {
    fn default() -> Self {
        Sinkhorn {
            max_iters: default_max_iters(),
            tol: default_tol(),
            epsilon_scaling: None,
            warm_start: false,
            schedule: Schedule::Standard,
            diameter: None,
            cache: Mutex::default(),
        }
    }
}

impl Clone for Sinkhorn {
    fn clone(&self) -> Self {
        Sinkhorn {
            max_iters: self.max_iters,
            tol: self.tol,
            epsilon_scaling: self.epsilon_scaling,
            warm_start: self.warm_start,
            schedule: self.schedule,
            diameter: self.diameter,
            cache: Mutex::default(),
        }
    }
}

impl PartialEq for Sinkhorn {
    fn eq(&self, o: &Self) -> bool {
        (
            self.max_iters,
            self.tol,
            self.epsilon_scaling,
            self.warm_start,
            self.schedule,
            self.diameter,
        ) == (
            o.max_iters,
            o.tol,
            o.epsilon_scaling,
            o.warm_start,
            o.schedule,
            o.diameter,
        )
    }
}

/// What a warm start is kept under: the problem's index in its batch
/// ([`drift_api::Context::problem`]), whether it is the self problem, and the shapes (rows, each
/// block's columns). The kept potentials are in cost units (`τ·(g − log b)`).
type WarmKey = (usize, bool, usize, Vec<usize>);

impl Sinkhorn {
    /// A solver with the given cap and tolerance, no ε-scaling, no warm start.
    pub fn new(max_iters: usize, tol: f64) -> Self {
        Sinkhorn {
            max_iters,
            tol,
            ..Default::default()
        }
    }

    /// Enables ε-scaling with the given ratio in `(0, 1)`.
    pub fn with_epsilon_scaling(mut self, ratio: f64) -> Self {
        self.epsilon_scaling = Some(ratio);
        self
    }

    /// Enables or disables warm starts across calls.
    pub fn with_warm_start(mut self, on: bool) -> Self {
        self.warm_start = on;
        self
    }

    /// Runs GeomLoss' loop with the given ratio per temperature (`scaling²` for GeomLoss'
    /// `scaling`): sets `epsilon_scaling: Some(ratio)` and `schedule: GeomLoss`.
    pub fn with_geomloss(mut self, ratio: f64) -> Self {
        self.epsilon_scaling = Some(ratio);
        self.schedule = Schedule::GeomLoss;
        self
    }

    /// Sets the loop the solver runs.
    pub fn with_schedule(mut self, schedule: Schedule) -> Self {
        self.schedule = schedule;
        self
    }

    /// Starts GeomLoss' schedule from this diameter instead of the bounding box of the problem's
    /// points (a caller solving several problems on the same data gives them all the same
    /// schedule). Only read with `schedule: GeomLoss`; not part of the RON form.
    pub fn with_diameter(mut self, diameter: f64) -> Self {
        self.diameter = Some(diameter);
        self
    }

    /// The diameter GeomLoss' schedule starts from for these point sets (`max_diameter`): the
    /// diagonal of the bounding box of all their points, zero weights included.
    ///
    /// ```
    /// use drift_api::PointCloud;
    /// let x = PointCloud::new("x", vec![0.0f64, 0.0, 1.0, 0.0], 2).unwrap();
    /// let y = PointCloud::new("y", vec![0.5f64, 2.0], 2).unwrap();
    /// let d = drift_ops::Sinkhorn::geomloss_diameter(&[&x, &y]);
    /// assert!((d - 5.0f64.sqrt()).abs() < 1e-15);
    /// ```
    pub fn geomloss_diameter<T: Real>(sets: &[&PointCloud<T>]) -> f64 {
        bounding_box_diagonal(sets)
    }

    fn run<T: Real>(&self, p: CouplingProblem<'_, T>) -> Result<CouplingReport> {
        if self.schedule == Schedule::GeomLoss {
            return self.run_geomloss(p);
        }
        let key = (
            p.problem,
            p.symmetric,
            p.rows.len(),
            p.blocks.iter().map(|b| b.points.len()).collect::<Vec<_>>(),
        );
        let log_b: Vec<&[T]> = p.blocks.iter().map(|b| b.log_weights).collect();
        let warm = self.warm_start.then(|| self.recall(&key)).flatten();
        let stages = self.stage_temperatures(
            p.backend,
            p.kernel,
            p.rows,
            p.row_log_weights,
            p.blocks,
            p.tau.as_f64(),
        )?;
        // Column potentials at the first temperature: warm start or g = log b.
        let first_tau = stages.first().copied().unwrap_or(p.tau.as_f64());
        let mut g: Vec<Vec<T>> = match &warm {
            Some(duals) => log_b
                .iter()
                .zip(duals)
                .map(|(lb, d)| from_duals(lb, d, first_tau))
                .collect(),
            None if p.symmetric => vec![p.row_log_weights.to_vec()],
            None => log_b.iter().map(|lb| lb.to_vec()).collect(),
        };
        // The pairs are prepared once for every pass of every stage (cached distances where the
        // backend keeps them).
        let pairs = PreparedBlocks::new(p.pairs, p.blocks.len())?;
        let mut current = first_tau;
        for &tau in &stages {
            rescale(&mut g, &log_b, current, tau);
            current = tau;
            let passes = Passes {
                pairs: &pairs,
                tau: T::of(tau),
            };
            if p.symmetric {
                g[0] = symmetric_update(&passes, &p, &g[0])?.0;
            } else {
                g = sweep(&passes, &p, &g)?.1;
            }
        }
        rescale(&mut g, &log_b, current, p.tau.as_f64());
        // Every stage update counts: the report reflects the work done. The pass at the iteration
        // cap is the last: its potentials are the ones returned, and the pairs may compute the
        // term's displacement alongside.
        let (counted, cap) = (stages.len(), self.max_iters + stages.len());
        // The loop at the final temperature is the pairs' own (on the device, for a device
        // backend).
        let ScalingOutcome {
            f,
            g,
            error,
            iterations,
        } = pairs.block(0).scaling_loop(
            pairs.all(),
            ScalingLoop {
                tau: p.tau,
                row_log_weights: p.row_log_weights,
                col_log_weights: log_b.clone(),
                symmetric: p.symmetric,
                start: g,
                counted,
                cap,
                tol: self.tol,
            },
        )?;
        if !error.is_finite() {
            return Err(DriftError::NonFiniteResult {
                what: "sinkhorn marginal error".into(),
                index: 0,
            });
        }
        if self.warm_start {
            self.remember(key, &g, &log_b, p.tau.as_f64());
        }
        *p.out = Potentials { f: Some(f), g };
        Ok(CouplingReport {
            coupling: "sinkhorn".into(),
            iterations,
            marginal_error: Some(error),
            converged: error <= self.tol,
            path: Some(pairs.path()),
            ..Default::default()
        })
    }

    /// GeomLoss' `sinkhorn_loop`: one pass each at `τ_0` for the starting potentials, one
    /// averaged parallel update per temperature of [`geomloss_temperatures`], then the final row
    /// extrapolation (see the type's docs).
    fn run_geomloss<T: Real>(&self, p: CouplingProblem<'_, T>) -> Result<CouplingReport> {
        let ratio = self.epsilon_scaling.ok_or_else(|| {
            DriftError::invalid("sinkhorn.schedule", "requires epsilon_scaling: Some(ratio)")
        })?;
        let diameter = match self.diameter {
            Some(d) => d,
            None => all_points_diameter(p.backend, p.rows, p.blocks)?,
        };
        let stages = geomloss_temperatures(p.kernel, diameter, p.tau.as_f64(), ratio)?;
        let log_a = p.row_log_weights;
        let log_b: Vec<&[T]> = p.blocks.iter().map(|b| b.log_weights).collect();
        let pairs = PreparedBlocks::new(p.pairs, p.blocks.len())?;
        let at = |tau: f64| Passes {
            pairs: &pairs,
            tau: T::of(tau),
        };
        let first = at(stages[0]);
        let last = at(p.tau.as_f64());
        let (f, g, error) = if p.symmetric {
            // f = log a − LSE_k(log a_k + ℓ_ik) at τ_0, then the averaged symmetric update.
            let lse = pairs.row_lse(0, first.tau, Some(log_a), p.rows.len())?;
            let mut f = vec![scaling_all(log_a, &lse)];
            let mut current = stages[0];
            for &tau in &stages {
                rescale(&mut f, &[log_a], current, tau);
                current = tau;
                f[0] = symmetric_update(&at(tau), &p, &f[0])?.0;
            }
            rescale(&mut f, &[log_a], current, p.tau.as_f64());
            // The extrapolation, and the marginal error of the plan exp(f_i + f_k + ℓ_ik).
            let lse = pairs.row_lse(0, last.tau, Some(&f[0]), p.rows.len())?;
            let error = marginal_l1(&f[0], &lse, log_a);
            (scaling_all(log_a, &lse), f, error)
        } else {
            // f = log a − LSE_j(log b_j + ℓ_ij) and g = log b − LSE_i(log a_i + ℓ_ij) at τ_0.
            let weights: Vec<Vec<T>> = log_b.iter().map(|l| l.to_vec()).collect();
            let mut f = vec![row_update(&first, &p, &weights)?];
            let mut g = column_update(&first, &p, log_a, &weights)?.0;
            let mut current = stages[0];
            for &tau in &stages {
                rescale(&mut f, &[log_a], current, tau);
                rescale(&mut g, &log_b, current, tau);
                current = tau;
                let passes = at(tau);
                // Both updates from the previous pair (GeomLoss' parallel update), then averaged.
                let next_f = row_update(&passes, &p, &g)?;
                let next_g = column_update(&passes, &p, &f[0], &g)?.0;
                average(&mut f[0], &next_f);
                for (gb, nb) in g.iter_mut().zip(&next_g) {
                    average(gb, nb);
                }
            }
            rescale(&mut g, &log_b, current, p.tau.as_f64());
            // The extrapolation f = log a − LSE_j(g_j + ℓ_ij) and its plan's column error.
            let (f, _, error) = sweep(&last, &p, &g)?;
            (f, g, error)
        };
        if !error.is_finite() {
            return Err(DriftError::NonFiniteResult {
                what: "sinkhorn marginal error".into(),
                index: 0,
            });
        }
        *p.out = Potentials { f: Some(f), g };
        Ok(CouplingReport {
            coupling: "sinkhorn".into(),
            iterations: stages.len(),
            marginal_error: Some(error),
            converged: error <= self.tol,
            path: Some(pairs.path()),
            ..Default::default()
        })
    }

    /// The ε-scaling temperatures strictly above `tau`, from the kernel's scale at the diameter.
    fn stage_temperatures<T: Real>(
        &self,
        backend: &dyn drift_api::kit::Backend,
        kernel: &dyn drift_api::Kernel,
        rows: &PointCloud<T>,
        row_log_weights: &[T],
        blocks: &[ColumnBlock<'_, T>],
        tau: f64,
    ) -> Result<Vec<f64>> {
        let Some(ratio) = self.epsilon_scaling else {
            return Ok(Vec::new());
        };
        let diameter = bounding_diameter(backend, rows, row_log_weights, blocks)?;
        let mut t = kernel.temperature_scale(diameter.max(f64::MIN_POSITIVE));
        let mut stages = Vec::new();
        while t > tau && t.is_finite() && stages.len() < 1000 {
            stages.push(t);
            t *= ratio;
        }
        Ok(stages)
    }

    fn recall(&self, key: &WarmKey) -> Option<Vec<Vec<f64>>> {
        self.cache.lock().ok()?.get(key).cloned()
    }

    fn remember<T: Real>(&self, key: WarmKey, g: &[Vec<T>], log_b: &[&[T]], tau: f64) {
        let duals = g
            .iter()
            .zip(log_b)
            .map(|(gb, lb)| to_duals(gb, lb, tau))
            .collect();
        if let Ok(mut cache) = self.cache.lock() {
            cache.insert(key, duals);
        }
    }
}

impl Sinkhorn {
    fn check(&self) -> Result<()> {
        check_param("sinkhorn.tol", self.tol, self.tol >= 0.0, ">= 0")?;
        if self.max_iters > 1_000_000 {
            return Err(DriftError::invalid(
                "sinkhorn.max_iters",
                format!("must be at most 1000000, got {}", self.max_iters),
            ));
        }
        if let Some(r) = self.epsilon_scaling {
            check_param(
                "sinkhorn.epsilon_scaling",
                r,
                r > 0.0 && r < 1.0,
                "in (0, 1)",
            )?;
        }
        if let Some(d) = self.diameter {
            check_param("sinkhorn.diameter", d, d >= 0.0, ">= 0")?;
        }
        if self.schedule == Schedule::GeomLoss {
            if self.epsilon_scaling.is_none() {
                return Err(DriftError::invalid(
                    "sinkhorn.schedule",
                    "requires epsilon_scaling: Some(ratio), the ratio per temperature (GeomLoss' \
                     scaling squared)",
                ));
            }
            if self.warm_start {
                return Err(DriftError::invalid(
                    "sinkhorn.schedule",
                    "excludes warm_start: GeomLoss' loop starts from its own potentials",
                ));
            }
        }
        Ok(())
    }
}

drift_api::coupling!(
    Sinkhorn = "sinkhorn",
    summary: "Balanced log-domain Sinkhorn (entropic OT plan), optional epsilon-scaling and warm start, or GeomLoss' fixed loop",
    params: "max_iters: usize = 100, tol: f64 = 1e-5, epsilon_scaling: Option<f64> = None, warm_start: bool = false, schedule: Standard | GeomLoss = Standard (GeomLoss: GeomLoss' sinkhorn_loop, one averaged update per temperature, needs epsilon_scaling; the former geomloss: bool is still read)",
    example: r#"(max_iters: 100, tol: 1e-5, epsilon_scaling: Some(0.5), warm_start: false, schedule: Standard)"#,
    impl {
        fn solve(&self, job: CouplingJob<'_>) -> Result<CouplingReport> {
            self.check()?;
            match job {
                CouplingJob::F32(p) => self.run(p),
                CouplingJob::F64(p) => self.run(p),
            }
        }
        fn validate(&self) -> Result<()> {
            self.check()
        }
        /// The plan's rows sum to the row weights `a_i`: reported as shares of them.
        fn row_masses(&self) -> RowMasses {
            RowMasses::FractionOfRowWeight
        }
    }
);
