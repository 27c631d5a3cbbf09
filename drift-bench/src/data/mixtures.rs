//! Gaussian-mixture data sets with their ground truth (centres, weights, spread): the 8 Gaussians,
//! the 25-Gaussian grid, two modes of unequal mass, and `K` modes in `D` dimensions.

use super::{Dataset, MixtureTruth};
use crate::datasets::GaussianMixture;
use anyhow::{bail, Result};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use rand_distr::{Distribution, StandardNormal};

/// Standard deviation of a mode of [`grid25`] (the value of the VEEGAN and PacGAN papers).
pub const GRID25_STD: f64 = 0.05;
/// Standard deviation of a mode of [`unequal_modes`].
pub const UNEQUAL_STD: f64 = 0.2;
/// Masses of the two modes of [`unequal_modes`], at `(-2, 0)` and `(2, 0)`.
pub const UNEQUAL_WEIGHTS: [f64; 2] = [0.8, 0.2];
/// Radius of the sphere that the centres of [`mixture`] lie on.
pub const MIXTURE_RADIUS: f64 = 4.0;
/// Smallest distance between two centres of [`mixture`], where they can be placed that far apart.
pub const MIXTURE_SEPARATION: f64 = 2.0;

/// `n` points of the classic 8 Gaussians ([`GaussianMixture::eight_gaussians`]: centres on the
/// circle of radius 2, standard deviation 0.08, equal weights).
pub fn eight_gaussians(n: usize, seed: u64) -> Dataset {
    equal_weights(
        "eight_gaussians",
        GaussianMixture::eight_gaussians(),
        n,
        seed,
    )
}

/// `n` points of the 25-Gaussian grid: centres at `{-4, -2, 0, 2, 4}²`, standard deviation
/// [`GRID25_STD`], equal weights.
pub fn grid25(n: usize, seed: u64) -> Dataset {
    let ticks = [-4.0, -2.0, 0.0, 2.0, 4.0];
    let centres = ticks
        .iter()
        .flat_map(|&x| ticks.iter().map(move |&y| vec![x, y]))
        .collect();
    let g = GaussianMixture {
        centres,
        std: GRID25_STD,
    };
    equal_weights("grid25", g, n, seed)
}

/// `n` points of two Gaussians of unequal mass: weights [`UNEQUAL_WEIGHTS`] on centres `(-2, 0)`
/// and `(2, 0)`, standard deviation [`UNEQUAL_STD`]. A test of whether a drift matches the masses of
/// the modes, not only their places.
pub fn unequal_modes(n: usize, seed: u64) -> Dataset {
    let truth = MixtureTruth {
        centres: vec![vec![-2.0, 0.0], vec![2.0, 0.0]],
        weights: UNEQUAL_WEIGHTS.to_vec(),
        std: UNEQUAL_STD,
    };
    let mut rng = StdRng::seed_from_u64(seed);
    let mut points = Vec::with_capacity(2 * n);
    for _ in 0..n {
        let u: f64 = rng.gen();
        // The last mode takes whatever rounding leaves of the cumulative weights.
        let mut k = truth.weights.len() - 1;
        let mut acc = 0.0;
        for (j, w) in truth.weights.iter().enumerate() {
            acc += w;
            if u < acc {
                k = j;
                break;
            }
        }
        for m in &truth.centres[k] {
            let z: f64 = StandardNormal.sample(&mut rng);
            points.push(m + truth.std * z);
        }
    }
    Dataset {
        name: "unequal_modes".into(),
        dim: 2,
        points,
        labels: None,
        mixture: Some(truth),
        image_shape: None,
    }
}

/// The per-coordinate standard deviation of a mode of [`mixture`] in `dim` dimensions: `0.5/√dim`,
/// so that a mode's points lie about 0.5 from its centre whatever the dimension.
pub fn mixture_std(dim: usize) -> f64 {
    0.5 / (dim as f64).sqrt()
}

/// `n` points of an equal-weight mixture of `modes` isotropic Gaussians in `dim ≥ 2` dimensions, of
/// standard deviation [`mixture_std`]. The centres are uniform on the sphere of radius
/// [`MIXTURE_RADIUS`], each redrawn until it is at least [`MIXTURE_SEPARATION`] from those before
/// it (the threshold is lowered by 10% after every 1000 failed draws, so that any number of modes
/// can be placed). The centres depend only on `dim` and `modes`, never on `seed`: different seeds
/// draw different samples of the same problem.
pub fn mixture(dim: usize, modes: usize, n: usize, seed: u64) -> Result<Dataset> {
    if dim < 2 {
        bail!("mixture:{dim}:{modes}: the dimension must be at least 2");
    }
    if modes == 0 {
        bail!("mixture:{dim}:{modes}: the number of modes must be at least 1");
    }
    let g = GaussianMixture {
        centres: mixture_centres(dim, modes),
        std: mixture_std(dim),
    };
    Ok(equal_weights(&format!("mixture:{dim}:{modes}"), g, n, seed))
}

fn mixture_centres(dim: usize, modes: usize) -> Vec<Vec<f64>> {
    // A stream of its own per (dim, modes), unrelated to the sampling seed.
    let stream = 0x6d69_7874_7572_6500_u64 ^ ((dim as u64) << 32) ^ modes as u64;
    let mut rng = StdRng::seed_from_u64(stream);
    let mut placed = Placed::new(MIXTURE_SEPARATION);
    let mut failures = 0;
    while placed.centres.len() < modes {
        let c: Vec<f64> = crate::datasets::random_direction(dim, &mut rng)
            .into_iter()
            .map(|x| MIXTURE_RADIUS * x)
            .collect();
        if placed.far_from_all(&c) {
            placed.push(c);
            failures = 0;
        } else {
            failures += 1;
            if failures == 1000 {
                placed.shrink(0.9);
                failures = 0;
            }
        }
    }
    placed.centres
}

/// The centres placed so far, binned on a grid of cells as wide as the separation over their first
/// two coordinates, so that "at least `separation` from every centre" looks at the centres of the
/// 3 × 3 cells around a draw only: the same answer as comparing with all of them (two points
/// closer than the separation are within one cell of each other in every coordinate), without
/// the quadratic cost that made thousands of modes take minutes.
struct Placed {
    centres: Vec<Vec<f64>>,
    separation: f64,
    cells: std::collections::HashMap<(i64, i64), Vec<usize>>,
}

impl Placed {
    fn new(separation: f64) -> Self {
        Placed {
            centres: Vec::new(),
            separation,
            cells: Default::default(),
        }
    }

    fn cell(&self, c: &[f64]) -> (i64, i64) {
        let at = |x: f64| (x / self.separation).floor() as i64;
        (at(c[0]), at(c[1]))
    }

    fn far_from_all(&self, c: &[f64]) -> bool {
        let (i, j) = self.cell(c);
        let min2 = self.separation * self.separation;
        (i - 1..=i + 1)
            .flat_map(|a| (j - 1..=j + 1).map(move |b| (a, b)))
            .filter_map(|key| self.cells.get(&key))
            .flatten()
            .all(|&k| {
                let d2: f64 = self.centres[k]
                    .iter()
                    .zip(c)
                    .map(|(a, b)| (a - b) * (a - b))
                    .sum();
                d2 >= min2
            })
    }

    fn push(&mut self, c: Vec<f64>) {
        let key = self.cell(&c);
        self.cells.entry(key).or_default().push(self.centres.len());
        self.centres.push(c);
    }

    /// Lowers the separation by `factor`, binning the centres again on the finer grid.
    fn shrink(&mut self, factor: f64) {
        self.separation *= factor;
        let centres = std::mem::take(&mut self.centres);
        self.cells.clear();
        for c in centres {
            self.push(c);
        }
    }
}

fn equal_weights(name: &str, g: GaussianMixture, n: usize, seed: u64) -> Dataset {
    let k = g.centres.len();
    Dataset {
        name: name.into(),
        dim: g.dim(),
        points: g.sample(n, seed),
        labels: None,
        mixture: Some(MixtureTruth {
            weights: vec![1.0 / k as f64; k],
            std: g.std,
            centres: g.centres,
        }),
        image_shape: None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn nearest(truth: &MixtureTruth, p: &[f64]) -> (usize, f64) {
        truth
            .centres
            .iter()
            .enumerate()
            .map(|(k, c)| {
                let d2: f64 = c.iter().zip(p).map(|(a, b)| (a - b) * (a - b)).sum();
                (k, d2.sqrt())
            })
            .min_by(|a, b| a.1.total_cmp(&b.1))
            .unwrap()
    }

    #[test]
    fn eight_gaussians_lie_near_their_centres() {
        let d = eight_gaussians(4000, 3);
        let t = d.mixture.as_ref().unwrap();
        assert_eq!((d.len(), d.dim, t.centres.len(), t.std), (4000, 2, 8, 0.08));
        assert!((t.weights.iter().sum::<f64>() - 1.0).abs() < 1e-12);
        let mut hits = [0usize; 8];
        for i in 0..d.len() {
            let (k, dist) = nearest(t, d.row(i));
            // 6 standard deviations in 2-D: exceeded with probability exp(-18).
            assert!(dist < 6.0 * 0.08, "point {i} is {dist} from its centre");
            hits[k] += 1;
        }
        assert!(hits.iter().all(|&h| (400..600).contains(&h)), "{hits:?}");
    }

    #[test]
    fn grid_has_25_modes_on_the_lattice() {
        let d = grid25(2500, 1);
        let t = d.mixture.as_ref().unwrap();
        assert_eq!(t.centres.len(), 25);
        assert!(t.centres.contains(&vec![-4.0, 4.0]) && t.centres.contains(&vec![0.0, 0.0]));
        for i in 0..d.len() {
            assert!(nearest(t, d.row(i)).1 < 6.0 * GRID25_STD);
        }
    }

    #[test]
    fn unequal_modes_keep_their_masses() {
        let d = unequal_modes(10_000, 5);
        let t = d.mixture.as_ref().unwrap();
        let left = (0..d.len())
            .filter(|&i| nearest(t, d.row(i)).0 == 0)
            .count();
        let frac = left as f64 / 10_000.0;
        // Binomial standard deviation 0.004: 5 of them.
        assert!((frac - 0.8).abs() < 0.02, "{frac}");
    }

    /// The placement as first written: every draw compared with every centre placed before it.
    fn centres_by_brute_force(dim: usize, modes: usize) -> Vec<Vec<f64>> {
        let stream = 0x6d69_7874_7572_6500_u64 ^ ((dim as u64) << 32) ^ modes as u64;
        let mut rng = StdRng::seed_from_u64(stream);
        let mut separation = MIXTURE_SEPARATION;
        let mut centres: Vec<Vec<f64>> = Vec::new();
        let mut failures = 0;
        while centres.len() < modes {
            let c: Vec<f64> = crate::datasets::random_direction(dim, &mut rng)
                .into_iter()
                .map(|x| MIXTURE_RADIUS * x)
                .collect();
            let far = centres.iter().all(|o| {
                let d2: f64 = o.iter().zip(&c).map(|(a, b)| (a - b) * (a - b)).sum();
                d2 >= separation * separation
            });
            if far {
                centres.push(c);
                failures = 0;
            } else {
                failures += 1;
                if failures == 1000 {
                    separation *= 0.9;
                    failures = 0;
                }
            }
        }
        centres
    }

    #[test]
    fn the_binned_placement_equals_the_brute_force_one() {
        for (dim, modes) in [(2, 8), (2, 40), (2, 300), (3, 50), (16, 10), (5, 200)] {
            assert_eq!(
                mixture_centres(dim, modes),
                centres_by_brute_force(dim, modes),
                "mixture:{dim}:{modes}"
            );
        }
    }

    #[test]
    fn a_hundred_thousand_modes_are_placed_quickly() {
        // Minutes with every draw compared with every centre; seconds binned.
        let centres = mixture_centres(2, 100_000);
        assert_eq!(centres.len(), 100_000);
    }

    #[test]
    fn mixtures_in_d_dimensions() {
        let d = mixture(16, 10, 1000, 2).unwrap();
        let t = d.mixture.as_ref().unwrap();
        assert_eq!((d.len(), d.dim, t.centres.len()), (1000, 16, 10));
        for c in &t.centres {
            let r = c.iter().map(|x| x * x).sum::<f64>().sqrt();
            assert!((r - MIXTURE_RADIUS).abs() < 1e-12);
        }
        for (a, ca) in t.centres.iter().enumerate() {
            for cb in &t.centres[a + 1..] {
                let d2: f64 = ca.iter().zip(cb).map(|(x, y)| (x - y) * (x - y)).sum();
                assert!(d2.sqrt() >= MIXTURE_SEPARATION);
            }
        }
        // The centres are the problem, the seed only the sample.
        let other = mixture(16, 10, 1000, 3).unwrap();
        assert_eq!(other.mixture, d.mixture);
        assert_ne!(other.points, d.points);
        // Every point is closer to some centre than modes are to each other.
        for i in 0..d.len() {
            assert!(nearest(t, d.row(i)).1 < 1.0);
        }
        // Crowded modes still get placed.
        assert_eq!(
            mixture(2, 40, 10, 0)
                .unwrap()
                .mixture
                .unwrap()
                .centres
                .len(),
            40
        );
        assert!(mixture(1, 3, 10, 0).is_err());
        assert!(mixture(3, 0, 10, 0).is_err());
    }
}
