//! The sliced-Wasserstein drift (Liutkus et al. 2019): sort-based quantile matching along random
//! directions.

use crate::engine::add_field;
use crate::random::SplitMix64;
use drift_api::kit::{
    sliced_wasserstein_on, try_vec, try_with_capacity, DirectionSource, SlicedJob,
};
use drift_api::{DriftError, DriftProblem, DriftReport, PointCloud, Real, Result};
use rayon::prelude::*;
use serde::{Deserialize, Serialize};

/// Sliced-Wasserstein drift: for `L` seeded unit directions `θ_l`, project both clouds, match each
/// `x_i` to the quantile of the projected targets at its own quantile level, and move it by
/// `V(x_i) = (D / L) Σ_l (q_l(x_i) − θ_l·x_i) θ_l`. Levels are the weighted mid-ranks
/// `Σ_{k<i} a_k + a_i/2`; the target quantile function interpolates linearly between the weighted
/// mid-ranks of the sorted targets (so `N ≠ M` and weights are handled), clamped at the ends.
/// `V = −(D/a_i) ∂(SW₂²/2)/∂x_i` away from ties, with [`sliced_wasserstein_squared`] the matching
/// value. No kernel and no temperature; cost `O(L (N + M)(D + log(N + M)))`. The directions are
/// streamed in blocks, so memory is `O(N·D + M)` whatever `L` is.
///
/// The evaluation is first offered to the problem's backend as a [`SlicedJob`] (the directions
/// and weights drawn here); a backend that does not take it (the CPU backend) leaves it to the
/// code of this file. The CUDA backend of `drift-gpu` takes it.
///
/// RON name `sliced_wasserstein` (defaults `directions: 64`, `seed: 0`, `resample_each_step: true`):
/// `{"sliced_wasserstein": (directions: 64, seed: 0, resample_each_step: true)}`.
///
/// ```
/// use drift_api::PointCloud;
/// let op = drift_ops::SlicedWasserstein { directions: 32, seed: 1, resample_each_step: false };
/// let x = PointCloud::new("x", vec![0.0f64, 1.0, 2.0], 1).unwrap();
/// let y = PointCloud::new("y", vec![10.0f64, 11.0, 12.0], 1).unwrap();
/// let (v, _) = drift_ops::drift(&op, &x, &y).unwrap();
/// // In one dimension every direction is ±1: the drift is the exact transport displacement.
/// assert!(v.iter().all(|d| (d - 10.0).abs() < 1e-12));
/// ```
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SlicedWasserstein {
    /// Number of directions `L`.
    #[serde(default = "default_directions")]
    pub directions: usize,
    /// Seed of the directions.
    #[serde(default)]
    pub seed: u64,
    /// Draw fresh directions at every step of the context (seeded by `seed` and the step).
    #[serde(default = "default_resample")]
    pub resample_each_step: bool,
}

fn default_directions() -> usize {
    64
}
fn default_resample() -> bool {
    true
}

impl SlicedWasserstein {
    /// `L` directions from `seed`, redrawn at each step.
    pub fn new(directions: usize, seed: u64) -> Self {
        SlicedWasserstein {
            directions,
            seed,
            resample_each_step: true,
        }
    }

    /// The directions the operator uses at `step`, drawn block by block from one generator so that
    /// they do not depend on the block size.
    fn directions_for(&self, dim: usize, step: u64) -> Directions {
        let seed = if self.resample_each_step {
            self.seed ^ step.wrapping_mul(0x2545_f491_4f6c_dd1d)
        } else {
            self.seed
        };
        Directions {
            rng: SplitMix64::new(seed),
            left: self.directions,
            total: self.directions,
            dim,
        }
    }

    fn run<T: Real>(&self, mut p: DriftProblem<'_, T>) -> Result<DriftReport> {
        p.check()?;
        p.needs_whole_y(
            "sliced_wasserstein",
            "its projections of y are sorted as a whole",
        )?;
        let d = p.x.dim();
        let job = SlicedJob {
            x: p.x,
            y: p.y,
            directions: &mut self.directions_for(d, p.context.step),
            scale: d as f64 / self.directions as f64,
        };
        let field = match sliced_wasserstein_on(p.backend, job) {
            Some(field) => field?,
            None => self.cpu_field(&p)?,
        };
        let norm = add_field(&mut p, &field, "sliced_wasserstein drift")?;
        Ok(DriftReport::of("sliced_wasserstein", Vec::new(), norm))
    }

    /// The field computed here, on the CPU.
    fn cpu_field<T: Real>(&self, p: &DriftProblem<'_, T>) -> Result<Vec<T>> {
        let (n, d) = (p.x.len(), p.x.dim());
        // V_i = (D/L) Σ_l s_li θ_l, accumulated in f64 one block of directions at a time; within a
        // row the terms are added in the order of l, so blocking does not change a bit.
        let factor = d as f64 / self.directions as f64;
        let mut acc = try_vec("sliced_wasserstein field", n * d, 0.0f64)?;
        for_each_block(
            p.x,
            p.y,
            self.directions_for(d, p.context.step),
            |thetas, shifts| {
                acc.par_chunks_mut(d).enumerate().for_each(|(i, v)| {
                    for (theta, s) in thetas.chunks_exact(d).zip(shifts.chunks_exact(n)) {
                        let s = factor * s[i];
                        v.iter_mut().zip(theta).for_each(|(a, t)| *a += s * t);
                    }
                });
            },
        )?;
        let mut field = try_with_capacity("sliced_wasserstein field", n * d)?;
        field.extend(acc.iter().map(|a| T::of(*a)));
        Ok(field)
    }

    fn check(&self) -> Result<()> {
        if self.directions == 0 || self.directions > MAX_DIRECTIONS {
            return Err(DriftError::invalid(
                "sliced_wasserstein.directions",
                format!("must be in 1..={MAX_DIRECTIONS}, got {}", self.directions),
            ));
        }
        Ok(())
    }
}

/// The largest number of directions accepted: the cost grows linearly with it, the memory does not.
const MAX_DIRECTIONS: usize = 1_000_000;

/// Directions handled at once. Memory holds one block of directions and of shifts,
/// `BLOCK · (D + N)` values, whatever the number of directions; 64 keeps every core busy on the
/// block's sorts while staying small next to the point sets.
const BLOCK: usize = 64;

/// The seeded stream of unit directions of one evaluation.
struct Directions {
    rng: SplitMix64,
    left: usize,
    total: usize,
    dim: usize,
}

impl DirectionSource for Directions {
    fn total(&self) -> usize {
        self.total
    }
    fn next_block(&mut self, thetas: &mut Vec<f64>) -> usize {
        Directions::next_block(self, thetas)
    }
}

impl Directions {
    /// Replaces the contents of `thetas` with the next (up to) [`BLOCK`] directions, row-major;
    /// returns how many there are (0 at the end).
    fn next_block(&mut self, thetas: &mut Vec<f64>) -> usize {
        let k = self.left.min(BLOCK);
        thetas.clear();
        for _ in 0..k {
            thetas.extend_from_slice(&self.rng.unit_vector(self.dim));
        }
        self.left -= k;
        k
    }
}

/// Streams the directions in blocks: for each block, calls `visit(thetas, shifts)` with the block's
/// directions (`k × D`, row-major) and the shifts `s_li = q_l(x_i) − θ_l·x_i` (`k × N`). Blocks
/// come in the order of the directions.
fn for_each_block<T: Real>(
    x: &PointCloud<T>,
    y: &PointCloud<T>,
    mut directions: Directions,
    mut visit: impl FnMut(&[f64], &[f64]),
) -> Result<()> {
    let (n, d) = (x.len(), x.dim());
    let block = directions.left.min(BLOCK);
    let mut thetas = try_with_capacity("sliced_wasserstein directions", block * d)?;
    let mut shifts = try_vec("sliced_wasserstein shifts", block * n, 0.0)?;
    let (a, b) = (x.probabilities(), y.probabilities());
    loop {
        let k = directions.next_block(&mut thetas);
        if k == 0 {
            return Ok(());
        }
        let shifts = &mut shifts[..k * n];
        shifts
            .par_chunks_mut(n)
            .zip(thetas.par_chunks(d))
            .try_for_each(|(s, theta)| quantile_shifts(x, y, &a, &b, theta, s))?;
        visit(&thetas, shifts);
    }
}

/// For one direction `θ` and every particle `i`, writes `s[i] = q(x_i) − θ·x_i`; `a` and `b` are
/// the probabilities of `x` and `y`.
fn quantile_shifts<T: Real>(
    x: &PointCloud<T>,
    y: &PointCloud<T>,
    a: &[T],
    b: &[T],
    theta: &[f64],
    s: &mut [f64],
) -> Result<()> {
    let px = project(x, theta)?;
    let py = project(y, theta)?;
    let order_x = argsort(&px)?;
    let order_y = argsort(&py)?;
    // Weighted mid-ranks of the sorted targets: the knots of the quantile function.
    let mut knots = try_with_capacity("sliced_wasserstein quantile knots", order_y.len())?;
    let mut cum = 0.0;
    for &j in &order_y {
        let w = b[j].as_f64();
        // A zero-weight target is no knot: it must not bend the quantile function.
        if w <= 0.0 {
            continue;
        }
        knots.push((cum + 0.5 * w, py[j]));
        cum += w;
    }
    let mut level = 0.0;
    let mut k = 0;
    for &i in &order_x {
        let w = a[i].as_f64();
        let u = level + 0.5 * w;
        level += w;
        while k + 1 < knots.len() && knots[k + 1].0 <= u {
            k += 1;
        }
        let q = if u <= knots[0].0 {
            knots[0].1
        } else if k + 1 >= knots.len() {
            knots[knots.len() - 1].1
        } else {
            let ((u0, q0), (u1, q1)) = (knots[k], knots[k + 1]);
            q0 + (q1 - q0) * (u - u0) / (u1 - u0)
        };
        s[i] = q - px[i];
    }
    Ok(())
}

fn project<T: Real>(p: &PointCloud<T>, theta: &[f64]) -> Result<Vec<f64>> {
    let mut out = try_with_capacity("sliced_wasserstein projections", p.len())?;
    out.extend(p.data().chunks_exact(p.dim()).map(|pt| {
        pt.iter()
            .zip(theta)
            .map(|(c, t)| c.as_f64() * t)
            .sum::<f64>()
    }));
    Ok(out)
}

/// Indices sorted by value, ties broken by index (deterministic). The order is total, so the
/// unstable sort gives the same result as a stable one without its scratch buffer.
fn argsort(v: &[f64]) -> Result<Vec<usize>> {
    let mut idx = try_with_capacity("sliced_wasserstein sort order", v.len())?;
    idx.extend(0..v.len());
    idx.sort_unstable_by(|&i, &j| v[i].total_cmp(&v[j]).then(i.cmp(&j)));
    Ok(idx)
}

/// The sliced Wasserstein value `SW₂² = (1/L) Σ_l Σ_i a_i (q_l(x_i) − θ_l·x_i)²` for the directions the
/// operator would use at `step`: the quantity whose gradient the drift follows.
///
/// ```
/// use drift_api::PointCloud;
/// let op = drift_ops::SlicedWasserstein { directions: 16, seed: 3, resample_each_step: false };
/// let x = PointCloud::new("x", vec![0.0f64, 0.0, 1.0, 1.0], 2).unwrap();
/// assert_eq!(drift_ops::sliced_wasserstein_squared(&op, &x, &x, 0).unwrap(), 0.0);
/// ```
pub fn sliced_wasserstein_squared<T: Real>(
    op: &SlicedWasserstein,
    x: &PointCloud<T>,
    y: &PointCloud<T>,
    step: u64,
) -> Result<f64> {
    op.check()?;
    x.check_same_dim(y)?;
    let a = x.probabilities();
    // Σ_l Σ_i a_i s_li², one direction's sum at a time, in the order of the directions.
    let mut total = 0.0;
    for_each_block(x, y, op.directions_for(x.dim(), step), |_, shifts| {
        for s in shifts.chunks_exact(x.len()) {
            total += s
                .iter()
                .zip(&a)
                .map(|(v, w)| w.as_f64() * v * v)
                .sum::<f64>();
        }
    })?;
    Ok(total / op.directions as f64)
}

drift_api::operator!(
    SlicedWasserstein = "sliced_wasserstein",
    summary: "Sliced Wasserstein drift: quantile matching along seeded random directions",
    params: "directions: usize = 64, seed: u64 = 0, resample_each_step: bool = true",
    example: r#"(directions: 64, seed: 0, resample_each_step: true)"#
);
