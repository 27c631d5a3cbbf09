//! 2-D data sets that are not mixtures of Gaussians: two moons, the checkerboard and the spiral, as
//! the generative-model literature draws them. They have no ground truth besides their points.

use super::Dataset;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use rand_distr::{Distribution, StandardNormal};
use std::f64::consts::PI;

/// Standard deviation of the Gaussian noise added to [`two_moons`].
pub const MOONS_NOISE: f64 = 0.05;
/// Standard deviation of the Gaussian noise added to [`spiral`].
pub const SPIRAL_NOISE: f64 = 0.1;

/// `n` points of scikit-learn's two moons (`make_moons`): each point picks a moon with probability
/// 1/2, the upper one `(cos t, sin t)` or the lower one `(1 − cos t, 0.5 − sin t)` with `t`
/// uniform on `[0, π]`, plus Gaussian noise of standard deviation [`MOONS_NOISE`].
pub fn two_moons(n: usize, seed: u64) -> Dataset {
    let mut rng = StdRng::seed_from_u64(seed);
    let mut points = Vec::with_capacity(2 * n);
    for _ in 0..n {
        let t = rng.gen_range(0.0..PI);
        let (x, y) = if rng.gen_bool(0.5) {
            (t.cos(), t.sin())
        } else {
            (1.0 - t.cos(), 0.5 - t.sin())
        };
        points.push(x + MOONS_NOISE * normal(&mut rng));
        points.push(y + MOONS_NOISE * normal(&mut rng));
    }
    plain("two_moons", points)
}

/// `n` points uniform on the 8 black squares of a 4 × 4 checkerboard on `[-4, 4]²` (squares of side
/// 2; the square `[0, 2] × [0, 2]` is black), as in FFJORD and the flow-matching toy benchmarks.
pub fn checkerboard(n: usize, seed: u64) -> Dataset {
    let mut rng = StdRng::seed_from_u64(seed);
    let mut points = Vec::with_capacity(2 * n);
    for _ in 0..n {
        // FFJORD's recipe in units of half a square: x1 in [-2, 2), x2 in one of the two unit
        // intervals of its column's colour, then everything doubled.
        let x1: f64 = rng.gen_range(-2.0..2.0);
        let lower = if rng.gen_bool(0.5) { -2.0 } else { 0.0 };
        let x2 = rng.gen_range(0.0..1.0) + lower + x1.floor().rem_euclid(2.0);
        points.push(2.0 * x1);
        points.push(2.0 * x2);
    }
    plain("checkerboard", points)
}

/// `n` points of two interleaved spiral arms (FFJORD's `2spirals`, without its uniform jitter):
/// `t = 3π·sqrt(u)` with `u` uniform on `[0, 1)`, the point `t·(−cos t, sin t)/3` on the first arm
/// or its negation on the second (probability 1/2 each), plus Gaussian noise of standard deviation
/// [`SPIRAL_NOISE`]. The arms reach a radius of π.
pub fn spiral(n: usize, seed: u64) -> Dataset {
    let mut rng = StdRng::seed_from_u64(seed);
    let mut points = Vec::with_capacity(2 * n);
    for _ in 0..n {
        let t = 3.0 * PI * rng.gen_range(0.0f64..1.0).sqrt();
        let sign = if rng.gen_bool(0.5) { 1.0 } else { -1.0 };
        points.push(sign * -t.cos() * t / 3.0 + SPIRAL_NOISE * normal(&mut rng));
        points.push(sign * t.sin() * t / 3.0 + SPIRAL_NOISE * normal(&mut rng));
    }
    plain("spiral", points)
}

fn normal(rng: &mut StdRng) -> f64 {
    StandardNormal.sample(rng)
}

fn plain(name: &str, points: Vec<f64>) -> Dataset {
    Dataset {
        name: name.into(),
        dim: 2,
        points,
        labels: None,
        mixture: None,
        image_shape: None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn checkerboard_fills_the_black_squares_only() {
        let d = checkerboard(8000, 4);
        let mut cells = [[0usize; 4]; 4];
        for p in d.points.chunks(2) {
            assert!(p.iter().all(|v| (-4.0..4.0).contains(v)), "{p:?}");
            let (i, j) = (((p[0] + 4.0) / 2.0) as usize, ((p[1] + 4.0) / 2.0) as usize);
            cells[i][j] += 1;
        }
        for (i, col) in cells.iter().enumerate() {
            for (j, &c) in col.iter().enumerate() {
                // Black squares: [0,2]x[0,2] is cell (2, 2), and the colours alternate.
                if (i + j) % 2 == 0 {
                    assert!((850..1150).contains(&c), "cell ({i},{j}): {c}");
                } else {
                    assert_eq!(c, 0, "cell ({i},{j})");
                }
            }
        }
    }

    #[test]
    fn moons_and_spiral_lie_on_their_curves() {
        let d = two_moons(2000, 1);
        for p in d.points.chunks(2) {
            let upper = ((p[0] * p[0] + p[1] * p[1]).sqrt() - 1.0).abs();
            let lower = (((p[0] - 1.0).powi(2) + (p[1] - 0.5).powi(2)).sqrt() - 1.0).abs();
            assert!(upper.min(lower) < 6.0 * MOONS_NOISE, "{p:?}");
        }
        let s = spiral(2000, 1);
        for p in s.points.chunks(2) {
            assert!((p[0] * p[0] + p[1] * p[1]).sqrt() < PI + 6.0 * SPIRAL_NOISE);
        }
    }
}
