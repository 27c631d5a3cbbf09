//! Balanced entropic optimal transport by log-domain Sinkhorn scaling.

use super::passes::{marginal_l1, minus, scaling, PreparedBlocks};
use drift_api::{
    check_param, ColumnBlock, Coupling, CouplingJob, CouplingProblem, CouplingReport, DriftError,
    PointCloud, Potentials, Real, Result, RowMasses,
};
use serde::{Deserialize, Serialize};
use std::sync::Mutex;

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
/// (rescaled to the new temperature) when the shapes match.
///
/// RON name `sinkhorn`, every field optional (defaults `max_iters: 100`, `tol: 1e-5`, no ε-scaling,
/// no warm start):
/// `coupling: {"sinkhorn": (max_iters: 100, tol: 1e-5, epsilon_scaling: Some(0.5), warm_start: false)}`.
///
/// ```
/// use drift_api::Coupling;
/// let s = drift_ops::Sinkhorn::new(50, 1e-6).with_epsilon_scaling(0.7).with_warm_start(true);
/// assert!(s.validate().is_ok());
/// assert!(drift_ops::Sinkhorn::new(50, -1.0).validate().is_err());
/// ```
#[derive(Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
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
    #[serde(skip)]
    cache: Mutex<Vec<WarmState>>,
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
            cache: Mutex::new(Vec::new()),
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
            cache: Mutex::new(Vec::new()),
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
        ) == (o.max_iters, o.tol, o.epsilon_scaling, o.warm_start)
    }
}

/// Potentials of a previous call in cost units (`τ·(g − log b)`), keyed by the problem's shape.
#[derive(Debug, Clone)]
struct WarmState {
    key: (bool, usize, Vec<usize>),
    duals: Vec<Vec<f64>>,
}

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

    fn run<T: Real>(&self, p: CouplingProblem<'_, T>) -> Result<CouplingReport> {
        let key = (
            p.symmetric,
            p.rows.len(),
            p.blocks.iter().map(|b| b.points.len()).collect::<Vec<_>>(),
        );
        let log_b: Vec<&[T]> = p.blocks.iter().map(|b| b.log_weights).collect();
        let warm = self.warm_start.then(|| self.recall(&key)).flatten();
        let stages = self.stage_temperatures(
            p.kernel,
            p.rows,
            p.row_log_weights,
            p.blocks,
            p.tau.as_f64(),
        );
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
        let passes = Passes {
            pairs: &pairs,
            tau: p.tau,
        };
        // Every stage update counts: the report reflects the work done.
        let mut iterations = stages.len();
        let (f, error) = if p.symmetric {
            let mut f = std::mem::take(&mut g[0]);
            loop {
                let (next, err) = symmetric_update(&passes, &p, &f)?;
                if err <= self.tol || iterations >= self.max_iters + stages.len() {
                    break (f, err);
                }
                f = next;
                iterations += 1;
            }
        } else {
            loop {
                let (f, next_g, err) = sweep(&passes, &p, &g)?;
                if err <= self.tol || iterations >= self.max_iters + stages.len() {
                    break (f, err);
                }
                g = next_g;
                iterations += 1;
            }
        };
        if p.symmetric {
            g = vec![f.clone()];
        }
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

    /// The ε-scaling temperatures strictly above `tau`, from the kernel's scale at the diameter.
    fn stage_temperatures<T: Real>(
        &self,
        kernel: &dyn drift_api::Kernel,
        rows: &PointCloud<T>,
        row_log_weights: &[T],
        blocks: &[ColumnBlock<'_, T>],
        tau: f64,
    ) -> Vec<f64> {
        let Some(ratio) = self.epsilon_scaling else {
            return Vec::new();
        };
        let diameter = bounding_diameter(rows, row_log_weights, blocks);
        let mut t = kernel.temperature_scale(diameter.max(f64::MIN_POSITIVE));
        let mut stages = Vec::new();
        while t > tau && t.is_finite() && stages.len() < 1000 {
            stages.push(t);
            t *= ratio;
        }
        stages
    }

    fn recall(&self, key: &(bool, usize, Vec<usize>)) -> Option<Vec<Vec<f64>>> {
        let cache = self.cache.lock().ok()?;
        cache
            .iter()
            .find(|w| &w.key == key)
            .map(|w| w.duals.clone())
    }

    fn remember<T: Real>(
        &self,
        key: (bool, usize, Vec<usize>),
        g: &[Vec<T>],
        log_b: &[&[T]],
        tau: f64,
    ) {
        let duals = g
            .iter()
            .zip(log_b)
            .map(|(gb, lb)| to_duals(gb, lb, tau))
            .collect();
        if let Ok(mut cache) = self.cache.lock() {
            cache.retain(|w| w.key != key);
            cache.push(WarmState { key, duals });
        }
    }
}

/// The prepared pairs at one temperature.
struct Passes<'p, 'a, T> {
    pairs: &'p PreparedBlocks<'a, T>,
    tau: T,
}

/// One alternating iteration from `g`: `f` ([`row_update`]), then the next `g` and the marginal error
/// of `(f, g)` ([`column_update`]). With one block of columns the pair set runs both passes together
/// ([`drift_api::PreparedPairs::sweep`]: one read of the pairs where they are cached).
#[allow(clippy::type_complexity)]
fn sweep<T: Real>(
    passes: &Passes<'_, '_, T>,
    p: &CouplingProblem<'_, T>,
    g: &[Vec<T>],
) -> Result<(Vec<T>, Vec<Vec<T>>, f64)> {
    if let ([block], [g0]) = (p.blocks, g) {
        let log_a = p.row_log_weights;
        let mut f = vec![T::zero(); p.rows.len()];
        let mut lse = vec![T::zero(); block.points.len()];
        let update = |i: usize, l: T| scaling(log_a[i], l);
        passes
            .pairs
            .sweep(0, passes.tau, g0, &update, &mut f, &mut lse)?;
        let error = marginal_l1(g0, &lse, block.log_weights);
        return Ok((f, vec![minus(block.log_weights, &lse)], error));
    }
    let f = row_update(passes, p, g)?;
    let (next, error) = column_update(passes, p, &f, g)?;
    Ok((f, next, error))
}

/// `f = log a − LSE_{b,j}(g_bj + ℓ_ij)`.
fn row_update<T: Real>(
    passes: &Passes<'_, '_, T>,
    p: &CouplingProblem<'_, T>,
    g: &[Vec<T>],
) -> Result<Vec<T>> {
    let lse = passes.pairs.row_lse_all(passes.tau, g, p.rows.len())?;
    Ok(minus(p.row_log_weights, &lse))
}

/// `g_b = log b − LSE_i(f_i + ℓ_ij)` per block, and the column marginal error `Σ_j |exp(g_j + lse_j) −
/// b_j|` of the plan with the current potentials `(f, g)`.
fn column_update<T: Real>(
    passes: &Passes<'_, '_, T>,
    p: &CouplingProblem<'_, T>,
    f: &[T],
    g: &[Vec<T>],
) -> Result<(Vec<Vec<T>>, f64)> {
    let mut next = Vec::with_capacity(p.blocks.len());
    let mut error = 0.0;
    for (b, (block, gb)) in p.blocks.iter().zip(g).enumerate() {
        let lse = passes.pairs.col_lse(b, passes.tau, f, block.points.len())?;
        error += marginal_l1(gb, &lse, block.log_weights);
        next.push(minus(block.log_weights, &lse));
    }
    Ok((next, error))
}

/// The symmetric averaged update `f ← ½(f + log a − LSE_k(f_k + ℓ_ik))`, and the marginal error of the
/// plan `exp(f_i + f_k + ℓ_ik)` before the update.
fn symmetric_update<T: Real>(
    passes: &Passes<'_, '_, T>,
    p: &CouplingProblem<'_, T>,
    f: &[T],
) -> Result<(Vec<T>, f64)> {
    let lse = passes.pairs.row_lse(0, passes.tau, Some(f), p.rows.len())?;
    let error = marginal_l1(f, &lse, p.row_log_weights);
    let half = T::of(0.5);
    let next = f
        .iter()
        .zip(&lse)
        .zip(p.row_log_weights)
        .map(|((fi, l), la)| half * scaling(*fi + *la, *l))
        .collect();
    Ok((next, error))
}

/// Moves potentials from temperature `from` to `to`, keeping the duals `τ(g − log b)` fixed.
fn rescale<T: Real>(g: &mut [Vec<T>], log_b: &[&[T]], from: f64, to: f64) {
    if from == to {
        return;
    }
    let ratio = T::of(from / to);
    for (gb, lb) in g.iter_mut().zip(log_b) {
        for (v, l) in gb.iter_mut().zip(lb.iter()) {
            if l.is_finite() {
                *v = *l + (*v - *l) * ratio;
            }
        }
    }
}

fn to_duals<T: Real>(g: &[T], log_b: &[T], tau: f64) -> Vec<f64> {
    g.iter()
        .zip(log_b)
        .map(|(v, l)| {
            if l.is_finite() {
                tau * (*v - *l).as_f64()
            } else {
                0.0
            }
        })
        .collect()
}

fn from_duals<T: Real>(log_b: &[T], duals: &[f64], tau: f64) -> Vec<T> {
    log_b
        .iter()
        .zip(duals)
        .map(|(l, d)| *l + T::of(d / tau))
        .collect()
}

/// Length of the diagonal of the bounding box of the points with mass: an upper bound on the
/// diameter of the supports. Zero-weight points are left out so that they cannot change the
/// ε-scaling schedule, hence the plan, of the others.
fn bounding_diameter<T: Real>(
    rows: &PointCloud<T>,
    row_log_weights: &[T],
    blocks: &[ColumnBlock<'_, T>],
) -> f64 {
    let d = rows.dim();
    let mut lo = vec![f64::INFINITY; d];
    let mut hi = vec![f64::NEG_INFINITY; d];
    let sets = std::iter::once((rows, row_log_weights))
        .chain(blocks.iter().map(|b| (b.points, b.log_weights)));
    for (set, log_w) in sets {
        for (point, l) in set.data().chunks_exact(d).zip(log_w) {
            if !l.is_finite() {
                continue;
            }
            for (k, v) in point.iter().enumerate() {
                let v = v.as_f64();
                lo[k] = lo[k].min(v);
                hi[k] = hi[k].max(v);
            }
        }
    }
    lo.iter()
        .zip(&hi)
        .map(|(l, h)| (h - l) * (h - l))
        .sum::<f64>()
        .sqrt()
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
        match self.epsilon_scaling {
            Some(r) => check_param(
                "sinkhorn.epsilon_scaling",
                r,
                r > 0.0 && r < 1.0,
                "in (0, 1)",
            ),
            None => Ok(()),
        }
    }
}

#[typetag::serde(name = "sinkhorn")]
impl Coupling for Sinkhorn {
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

drift_api::register!(
    Coupling,
    "sinkhorn",
    summary: "Balanced log-domain Sinkhorn (entropic OT plan), optional epsilon-scaling and warm start",
    params: "max_iters: usize = 100, tol: f64 = 1e-5, epsilon_scaling: Option<f64> = None, warm_start: bool = false",
    example: r#"{"sinkhorn": (max_iters: 100, tol: 1e-5, epsilon_scaling: Some(0.5), warm_start: false)}"#
);
