//! The steps the Sinkhorn solver is made of: one alternating or symmetric update at a temperature,
//! GeomLoss' temperature schedule, the diameters that start it, and the potentials' rescaling
//! between temperatures and to and from cost units (warm starts).

use super::super::passes::PreparedBlocks;
use crate::bounding_box::BoundingBox;
use crate::column_shards::complete::{box_diagonal_on, split_of};
use drift_api::kit::scaling::{asymmetric_step, column_potentials, row_potential, symmetric_step};
use drift_api::kit::Backend;
use drift_api::{ColumnBlock, CouplingProblem, DriftError, PointCloud, Real, Result};

/// The prepared pairs at one temperature.
pub(super) struct Passes<'p, 'a, T> {
    pub(super) pairs: &'p PreparedBlocks<'a, T>,
    pub(super) tau: T,
}

/// One alternating iteration from `g` ([`asymmetric_step`]): `f`, the next `g` and the marginal
/// error of `(f, g)`. With one block of columns the pair set runs both passes together
/// ([`drift_api::kit::PreparedPairs::sweep`]: one read of the pairs where they are cached).
#[allow(clippy::type_complexity)]
pub(super) fn sweep<T: Real>(
    passes: &Passes<'_, '_, T>,
    p: &CouplingProblem<'_, T>,
    g: &[Vec<T>],
) -> Result<(Vec<T>, Vec<Vec<T>>, f64)> {
    let log_b: Vec<&[T]> = p.blocks.iter().map(|b| b.log_weights).collect();
    asymmetric_step(
        passes.pairs.all(),
        passes.tau,
        g,
        p.row_log_weights,
        &log_b,
        false,
    )
}

/// `f = log a − LSE_{b,j}(g_bj + ℓ_ij)` ([`row_potential`]).
pub(super) fn row_update<T: Real>(
    passes: &Passes<'_, '_, T>,
    p: &CouplingProblem<'_, T>,
    g: &[Vec<T>],
) -> Result<Vec<T>> {
    row_potential(passes.pairs.all(), passes.tau, g, p.row_log_weights, false)
}

/// `g_b = log b − LSE_i(f_i + ℓ_ij)` per block, and the column marginal error of `(f, g)`
/// ([`column_potentials`]).
pub(super) fn column_update<T: Real>(
    passes: &Passes<'_, '_, T>,
    p: &CouplingProblem<'_, T>,
    f: &[T],
    g: &[Vec<T>],
) -> Result<(Vec<Vec<T>>, f64)> {
    let log_b: Vec<&[T]> = p.blocks.iter().map(|b| b.log_weights).collect();
    column_potentials(passes.pairs.all(), passes.tau, f, g, &log_b)
}

/// The symmetric averaged update `f ← ½(f + log a − LSE_k(f_k + ℓ_ik))`, and the marginal error of the
/// plan `exp(f_i + f_k + ℓ_ik)` before the update ([`symmetric_step`] on the one block).
pub(super) fn symmetric_update<T: Real>(
    passes: &Passes<'_, '_, T>,
    p: &CouplingProblem<'_, T>,
    f: &[T],
) -> Result<(Vec<T>, f64)> {
    symmetric_step(
        passes.pairs.block(0),
        passes.tau,
        f,
        p.row_log_weights,
        false,
    )
}

/// `p ← ½(p + next)`: GeomLoss' averaged update (in cost units `ε(p − log w)` as in the log domain,
/// the weights cancelling). Two `−∞` (a zero-weight point) stay `−∞`.
pub(super) fn average<T: Real>(p: &mut [T], next: &[T]) {
    let half = T::of(0.5);
    for (v, n) in p.iter_mut().zip(next) {
        *v = half * (*v + *n);
    }
}

/// Most temperatures GeomLoss' schedule may have: past this the ratio is too close to 1 for the
/// data's diameter and the temperature, and the run is refused rather than left running.
const MAX_GEOMLOSS_STAGES: usize = 1_000_000;

/// GeomLoss' temperature list for `p = 2` (`epsilon_schedule`), in the kernel's temperature:
/// `τ_0`, then `exp(ln τ_0 + k ln r)` for the `k ≥ 0` where that is above `τ` (NumPy's `arange`,
/// so `τ_0` comes twice when it is above `τ`), then `τ`. `τ_0 = 2 · temperature_scale(diameter)`:
/// for the Gaussian kernel `2·diam²`, GeomLoss' `ε_0 = diam²` with `τ = 2ε`; for other kernels the
/// temperature at which two points at the diameter get log-weight `−½` when `ℓ` is inversely
/// proportional to `τ`.
pub(super) fn geomloss_temperatures(
    kernel: &dyn drift_api::Kernel,
    diameter: f64,
    tau: f64,
    ratio: f64,
) -> Result<Vec<f64>> {
    let tau0 = 2.0 * kernel.temperature_scale(diameter.max(f64::MIN_POSITIVE));
    if !tau0.is_finite() || tau0 <= 0.0 {
        return Err(DriftError::invalid(
            "sinkhorn.schedule",
            format!("the schedule's first temperature is {tau0} (diameter {diameter})"),
        ));
    }
    let (start, stop, step) = (tau0.ln(), tau.ln(), ratio.ln());
    // NumPy's arange(start, stop, step): ceil((stop − start) / step) values start + k·step.
    let count = ((stop - start) / step).ceil().max(0.0);
    if count > MAX_GEOMLOSS_STAGES as f64 {
        return Err(DriftError::invalid(
            "sinkhorn.epsilon_scaling",
            format!(
                "GeomLoss' schedule from {tau0} down to {tau} with ratio {ratio} has {count} \
                 temperatures (at most {MAX_GEOMLOSS_STAGES})"
            ),
        ));
    }
    let mut stages = Vec::with_capacity(count as usize + 2);
    stages.push(tau0);
    stages.extend((0..count as usize).map(|k| (start + k as f64 * step).exp()));
    stages.push(tau);
    Ok(stages)
}

/// Length of the diagonal of the bounding box of every point of the rows and blocks, zero weights
/// included (GeomLoss' `max_diameter`): the default start of its schedule.
pub(super) fn all_points_diameter<T: Real>(
    backend: &dyn Backend,
    rows: &PointCloud<T>,
    blocks: &[ColumnBlock<'_, T>],
) -> Result<f64> {
    let sets: Vec<&PointCloud<T>> = std::iter::once(rows)
        .chain(blocks.iter().map(|b| b.points))
        .collect();
    box_diagonal_on(backend, &sets)
}

/// Length of the diagonal of the bounding box of every point of `sets` (same dimension), zero
/// weights included, in f64: GeomLoss' `max_diameter`. Zero for empty sets.
pub(super) fn bounding_box_diagonal<T: Real>(sets: &[&PointCloud<T>]) -> f64 {
    let d = sets.first().map_or(0, |s| s.dim());
    BoundingBox::of(d, sets.iter().flat_map(|s| s.data().chunks_exact(d.max(1)))).diagonal()
}

/// Moves potentials from temperature `from` to `to`, keeping the duals `τ(g − log b)` fixed.
pub(super) fn rescale<T: Real>(g: &mut [Vec<T>], log_b: &[&[T]], from: f64, to: f64) {
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

pub(super) fn to_duals<T: Real>(g: &[T], log_b: &[T], tau: f64) -> Vec<f64> {
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

pub(super) fn from_duals<T: Real>(log_b: &[T], duals: &[f64], tau: f64) -> Vec<T> {
    log_b
        .iter()
        .zip(duals)
        .map(|(l, d)| *l + T::of(d / tau))
        .collect()
}

/// Length of the diagonal of the bounding box of the points with mass: an upper bound on the
/// diameter of the supports. Zero-weight points are left out so that they cannot change the
/// ε-scaling schedule, hence the plan, of the others.
pub(super) fn bounding_diameter<T: Real>(
    backend: &dyn Backend,
    rows: &PointCloud<T>,
    row_log_weights: &[T],
    blocks: &[ColumnBlock<'_, T>],
) -> Result<f64> {
    let sets: Vec<&PointCloud<T>> = std::iter::once(rows)
        .chain(blocks.iter().map(|b| b.points))
        .collect();
    let split = split_of(backend, &sets);
    let d = rows.dim();
    let sets = std::iter::once((rows, row_log_weights))
        .chain(blocks.iter().map(|b| (b.points, b.log_weights)));
    let with_mass = sets.flat_map(|(set, log_w)| {
        set.data()
            .chunks_exact(d.max(1))
            .zip(log_w)
            .filter(|(_, l)| l.is_finite())
            .map(|(point, _)| point)
    });
    Ok(BoundingBox::of(d, with_mass).completed(split)?.diagonal())
}
