//! Built-in, seeded 2-D data sets and particle initialisations for the demonstrations.
//!
//! Everything here is deterministic given the seed (a `StdRng` per call), returns row-major
//! coordinates in `f64`, and knows its own ground truth (mode centres and spread) so that the metrics
//! can score a flow against it.

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use rand_distr::{Distribution, StandardNormal};

/// An equal-weight mixture of isotropic Gaussians with known centres: the target of the demo.
#[derive(Clone, Debug, PartialEq)]
pub struct GaussianMixture {
    /// Mode centres, each of length `dim`.
    pub centres: Vec<Vec<f64>>,
    /// Standard deviation of every mode, per coordinate.
    pub std: f64,
}

impl GaussianMixture {
    /// `k` modes evenly spaced on a circle of the given radius in the plane (angle `2πi/k`, the first
    /// mode at `(radius, 0)`), each with standard deviation `std`.
    pub fn ring(k: usize, radius: f64, std: f64) -> Self {
        let centres = (0..k)
            .map(|i| {
                let a = std::f64::consts::TAU * i as f64 / k as f64;
                vec![radius * a.cos(), radius * a.sin()]
            })
            .collect();
        GaussianMixture { centres, std }
    }

    /// The classic "8 Gaussians" toy: radius 2, standard deviation 0.08.
    pub fn eight_gaussians() -> Self {
        Self::ring(8, 2.0, 0.08)
    }

    /// Dimension of the points.
    pub fn dim(&self) -> usize {
        self.centres.first().map_or(0, Vec::len)
    }

    /// Draws `n` points (row-major, `n × dim`): each picks a mode uniformly at random.
    pub fn sample(&self, n: usize, seed: u64) -> Vec<f64> {
        let mut rng = StdRng::seed_from_u64(seed);
        let mut out = Vec::with_capacity(n * self.dim());
        for _ in 0..n {
            let c = &self.centres[rng.gen_range(0..self.centres.len())];
            out.extend(c.iter().map(|m| m + self.std * normal(&mut rng)));
        }
        out
    }
}

/// `n` points (row-major) from an isotropic Gaussian with the given centre and standard deviation.
pub fn gaussian_blob(n: usize, centre: &[f64], std: f64, seed: u64) -> Vec<f64> {
    let mut rng = StdRng::seed_from_u64(seed);
    let mut out = Vec::with_capacity(n * centre.len());
    for _ in 0..n {
        out.extend(centre.iter().map(|m| m + std * normal(&mut rng)));
    }
    out
}

/// `n` points (row-major) uniform on the axis-aligned box `[lo, hi]^dim`.
pub fn uniform_box(n: usize, dim: usize, lo: f64, hi: f64, seed: u64) -> Vec<f64> {
    let mut rng = StdRng::seed_from_u64(seed);
    (0..n * dim).map(|_| rng.gen_range(lo..hi)).collect()
}

/// The demo's initial particles: a Gaussian blob of standard deviation 0.3 centred at radius 1.5
/// between the first two modes of [`GaussianMixture::eight_gaussians`] (angle 22.5°), so that it
/// overlaps two modes and leaves the other six far away.
pub fn lopsided_start(n: usize, seed: u64) -> Vec<f64> {
    let a = std::f64::consts::PI / 8.0;
    gaussian_blob(n, &[1.5 * a.cos(), 1.5 * a.sin()], 0.3, seed)
}

/// A direction drawn uniformly on the unit sphere of `R^dim` (a normalised standard normal vector,
/// drawn again in the practically impossible case of a zero vector).
pub fn random_direction(dim: usize, rng: &mut StdRng) -> Vec<f64> {
    loop {
        let v: Vec<f64> = (0..dim).map(|_| normal(rng)).collect();
        let norm = v.iter().map(|c| c * c).sum::<f64>().sqrt();
        if norm > 1e-12 {
            return v.into_iter().map(|c| c / norm).collect();
        }
    }
}

fn normal(rng: &mut StdRng) -> f64 {
    StandardNormal.sample(rng)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ring_has_the_requested_geometry() {
        let g = GaussianMixture::eight_gaussians();
        assert_eq!((g.centres.len(), g.dim()), (8, 2));
        for c in &g.centres {
            assert!(((c[0] * c[0] + c[1] * c[1]).sqrt() - 2.0).abs() < 1e-12);
        }
    }

    #[test]
    fn sampling_is_seeded() {
        let g = GaussianMixture::eight_gaussians();
        assert_eq!(g.sample(64, 7), g.sample(64, 7));
        assert_ne!(g.sample(64, 7), g.sample(64, 8));
        assert_eq!(lopsided_start(10, 1).len(), 20);
        assert!(uniform_box(50, 3, -1.0, 1.0, 3)
            .iter()
            .all(|v| (-1.0..1.0).contains(v)));
    }
}
