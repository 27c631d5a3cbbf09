//! The sliced-Wasserstein drift (Liutkus et al. 2019): sort-based quantile matching along random
//! directions.

use crate::field::{add_field, report};
use crate::random::SplitMix64;
use drift_api::{DriftError, DriftProblem, DriftReport, PointCloud, Real, Result};
use rayon::prelude::*;
use serde::{Deserialize, Serialize};

/// Sliced-Wasserstein drift: for `L` seeded unit directions `θ_l`, project both clouds, match each
/// `x_i` to the quantile of the projected targets at its own quantile level, and move it by
/// `V(x_i) = (D / L) Σ_l (q_l(x_i) − θ_l·x_i) θ_l`. Levels are the weighted mid-ranks
/// `Σ_{k<i} a_k + a_i/2`; the target quantile function interpolates linearly between the weighted
/// mid-ranks of the sorted targets (so `N ≠ M` and weights are handled), clamped at the ends.
/// `V = −(D/a_i) ∂(SW₂²/2)/∂x_i` away from ties, with [`sliced_wasserstein_squared`] the matching
/// value. No kernel and no temperature; cost `O(L (N + M)(D + log(N + M)))`.
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

    fn directions_for(&self, dim: usize, step: u64) -> Vec<Vec<f64>> {
        let seed = if self.resample_each_step {
            self.seed ^ step.wrapping_mul(0x2545_f491_4f6c_dd1d)
        } else {
            self.seed
        };
        let mut rng = SplitMix64::new(seed);
        (0..self.directions).map(|_| rng.unit_vector(dim)).collect()
    }

    fn run<T: Real>(&self, mut p: DriftProblem<'_, T>) -> Result<DriftReport> {
        p.check()?;
        let (n, d) = (p.x.len(), p.x.dim());
        let thetas = self.directions_for(d, p.context.step);
        let shifts = quantile_shifts(p.x, p.y, &thetas);
        // V_i = (D/L) Σ_l s_li θ_l, row by row.
        let factor = d as f64 / thetas.len() as f64;
        let mut field = vec![T::zero(); n * d];
        field.par_chunks_mut(d).enumerate().for_each(|(i, v)| {
            let mut acc = vec![0.0; d];
            for (l, theta) in thetas.iter().enumerate() {
                let s = factor * shifts[l * n + i];
                acc.iter_mut().zip(theta).for_each(|(a, t)| *a += s * t);
            }
            v.iter_mut().zip(&acc).for_each(|(o, a)| *o = T::of(*a));
        });
        let norm = add_field(&mut p, &field, "sliced_wasserstein drift")?;
        Ok(report("sliced_wasserstein", Vec::new(), norm, Vec::new()))
    }

    fn check(&self) -> Result<()> {
        if self.directions == 0 || self.directions > 1_000_000 {
            return Err(DriftError::invalid(
                "sliced_wasserstein.directions",
                format!("must be in 1..=1000000, got {}", self.directions),
            ));
        }
        Ok(())
    }
}

/// For every direction `l` and particle `i`, `s_li = q_l(x_i) − θ_l·x_i` (flattened `L × N`).
fn quantile_shifts<T: Real>(x: &PointCloud<T>, y: &PointCloud<T>, thetas: &[Vec<f64>]) -> Vec<f64> {
    let (a, b) = (x.probabilities(), y.probabilities());
    let n = x.len();
    let mut shifts = vec![0.0; thetas.len() * n];
    shifts
        .par_chunks_mut(n)
        .zip(thetas.par_iter())
        .for_each(|(s, theta)| {
            let px = project(x, theta);
            let py = project(y, theta);
            let order_x = argsort(&px);
            let order_y = argsort(&py);
            // Weighted mid-ranks of the sorted targets: the knots of the quantile function.
            let mut knots = Vec::with_capacity(order_y.len());
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
        });
    shifts
}

fn project<T: Real>(p: &PointCloud<T>, theta: &[f64]) -> Vec<f64> {
    p.data()
        .chunks_exact(p.dim())
        .map(|pt| pt.iter().zip(theta).map(|(c, t)| c.as_f64() * t).sum())
        .collect()
}

/// Indices sorted by value, ties broken by index (deterministic).
fn argsort(v: &[f64]) -> Vec<usize> {
    let mut idx: Vec<usize> = (0..v.len()).collect();
    idx.sort_by(|&i, &j| v[i].total_cmp(&v[j]).then(i.cmp(&j)));
    idx
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
    let thetas = op.directions_for(x.dim(), step);
    let shifts = quantile_shifts(x, y, &thetas);
    let a = x.probabilities();
    let n = x.len();
    let total: f64 = shifts
        .chunks(n)
        .map(|s| {
            s.iter()
                .zip(&a)
                .map(|(v, w)| w.as_f64() * v * v)
                .sum::<f64>()
        })
        .sum();
    Ok(total / thetas.len() as f64)
}

super::builtin_operator!(
    SlicedWasserstein,
    "sliced_wasserstein",
    summary: "Sliced Wasserstein drift: quantile matching along seeded random directions",
    params: "directions: usize = 64, seed: u64 = 0, resample_each_step: bool = true",
    example: r#"{"sliced_wasserstein": (directions: 64, seed: 0, resample_each_step: true)}"#
);
