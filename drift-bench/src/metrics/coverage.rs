//! Which modes of a mixture a particle set reaches, and with how much of its mass.

use super::input::{dist_sq, rows};
use anyhow::{bail, Result};

/// How a particle set covers a mixture's modes (see [`mode_coverage`]).
#[derive(Clone, Debug, PartialEq)]
pub struct ModeCoverage {
    /// Particles within the capture radius of each mode (a particle counts for its nearest centre only).
    pub counts: Vec<usize>,
    /// Number of modes holding at least the minimum fraction of particles.
    pub reached: usize,
    /// Fraction of all particles within the capture radius of some mode ("on-data" particles).
    pub near_fraction: f64,
}

/// Counts which modes a particle set reaches.
///
/// The rule: each particle is assigned to its nearest centre and counted there if it lies within
/// `radius` of it (the demo uses 4 standard deviations, which holds all but ~0.03% of a 2-D mode's own
/// samples); a mode is *reached* when it holds at least `min_fraction` of all particles (the demo uses
/// 2%, a sixth of the 12.5% an even share of 8 modes would get), and at least one.
///
/// The input is not checked (the demo passes its own well-formed sets); [`mode_masses`] applies the
/// same rule with checks and reports mass errors as well.
pub fn mode_coverage(
    points: &[f64],
    dim: usize,
    centres: &[Vec<f64>],
    radius: f64,
    min_fraction: f64,
) -> ModeCoverage {
    let n = points.len() / dim.max(1);
    let counts = capture_counts(points, dim, centres, radius);
    let reached = reached(&counts, n, min_fraction);
    let near_fraction = counts.iter().sum::<usize>() as f64 / n.max(1) as f64;
    ModeCoverage {
        counts,
        reached,
        near_fraction,
    }
}

/// Per-mode counts and mass errors of a particle set against a weighted mixture (see
/// [`mode_masses`]).
#[derive(Clone, Debug, PartialEq)]
pub struct ModeMasses {
    /// Particles captured by each mode: nearest centre, within the capture radius.
    pub counts: Vec<usize>,
    /// Modes holding at least `min_fraction` of all particles (and at least one particle).
    pub reached: usize,
    /// Fraction of all particles captured by some mode: `Σ_k counts_k / n`.
    pub near_fraction: f64,
    /// Fraction of all particles in each mode: `counts_k / n` (sums to `near_fraction`).
    pub fractions: Vec<f64>,
    /// Fraction of the captured particles in each mode: `counts_k / Σ_j counts_j`, the particles'
    /// distribution over the modes (sums to 1; all zero when no particle is captured).
    pub on_mode_fractions: Vec<f64>,
    /// Total variation between the particles' and the mixture's distributions over the modes:
    /// `½ Σ_k |on_mode_fractions_k − w_k|` with `w` the weights normalised to sum 1; in `[0, 1]`,
    /// and 1 when no particle is captured.
    pub mass_error: f64,
}

/// Counts which modes of a weighted mixture a particle set (row-major, `dim` columns) reaches, and
/// how far its split over the modes is from the mixture's weights.
///
/// Capture rule, as in [`mode_coverage`]: each particle is assigned to its nearest centre (the first
/// one on an exact tie) and counted there if it lies within `radius` of it; a mode is *reached* when
/// it holds at least `min_fraction` of all `n` particles, and at least one.
///
/// Mass error: with `c_k` the count of mode `k`, `C = Σ_k c_k` and `w_k` the weights divided by
/// their sum,
///
/// ```text
/// mass_error = ½ Σ_k |c_k / C − w_k|
/// ```
///
/// the total variation distance between the distribution of the *captured* particles over the modes
/// and the mixture's (1 when `C = 0`). Renormalising over the captured particles makes this a
/// distance between two probability vectors and keeps the two failures apart: particles off the
/// data lower `near_fraction` (and show in the distances between distributions), while
/// `mass_error` measures only how the mass on the data is shared between the modes. Unnormalised,
/// `½ Σ_k |c_k / n − w_k|` would mix the two, and would give even a sample of the mixture itself an
/// error of half its own off-radius fraction. The unnormalised `fractions` are reported too.
///
/// Errors: a bad point set; no centres; a centre whose length is not `dim`, or not finite; weights
/// not one per centre, negative, non-finite or all zero; a radius that is not finite and ≥ 0; a
/// `min_fraction` outside `[0, 1]`.
pub fn mode_masses(
    points: &[f64],
    dim: usize,
    centres: &[Vec<f64>],
    weights: &[f64],
    radius: f64,
    min_fraction: f64,
) -> Result<ModeMasses> {
    let n = rows("mode masses samples", points, dim)?;
    if centres.is_empty() {
        bail!("mode masses: the mixture has no centres");
    }
    for (k, c) in centres.iter().enumerate() {
        if c.len() != dim {
            bail!(
                "mode masses: centre {k} has {} coordinates, the samples have {dim}",
                c.len()
            );
        }
        if c.iter().any(|v| !v.is_finite()) {
            bail!("mode masses: centre {k} has a non-finite coordinate");
        }
    }
    if weights.len() != centres.len() {
        bail!(
            "mode masses: {} weights for {} centres",
            weights.len(),
            centres.len()
        );
    }
    if let Some(k) = weights.iter().position(|w| !(w.is_finite() && *w >= 0.0)) {
        bail!(
            "mode masses: weight {k} is {} (must be finite and ≥ 0)",
            weights[k]
        );
    }
    let total_weight: f64 = weights.iter().sum();
    if total_weight <= 0.0 {
        bail!("mode masses: the weights are all zero");
    }
    if !(radius.is_finite() && radius >= 0.0) {
        bail!("mode masses: the capture radius {radius} must be finite and ≥ 0");
    }
    if !(0.0..=1.0).contains(&min_fraction) {
        bail!("mode masses: the minimum fraction {min_fraction} must be in [0, 1]");
    }

    let counts = capture_counts(points, dim, centres, radius);
    let captured: usize = counts.iter().sum();
    let fractions: Vec<f64> = counts.iter().map(|&c| c as f64 / n as f64).collect();
    let on_mode_fractions: Vec<f64> = counts
        .iter()
        .map(|&c| {
            if captured == 0 {
                0.0
            } else {
                c as f64 / captured as f64
            }
        })
        .collect();
    let mass_error = if captured == 0 {
        1.0
    } else {
        0.5 * on_mode_fractions
            .iter()
            .zip(weights)
            .map(|(f, w)| (f - w / total_weight).abs())
            .sum::<f64>()
    };
    Ok(ModeMasses {
        reached: reached(&counts, n, min_fraction),
        near_fraction: captured as f64 / n as f64,
        counts,
        fractions,
        on_mode_fractions,
        mass_error,
    })
}

/// Particles per mode: nearest centre (first on a tie), within `radius`.
fn capture_counts(points: &[f64], dim: usize, centres: &[Vec<f64>], radius: f64) -> Vec<usize> {
    let mut counts = vec![0usize; centres.len()];
    for p in points.chunks_exact(dim.max(1)) {
        let nearest = centres
            .iter()
            .map(|c| dist_sq(p, c))
            .enumerate()
            .min_by(|a, b| a.1.total_cmp(&b.1));
        if let Some((k, d2)) = nearest {
            if d2 <= radius * radius {
                counts[k] += 1;
            }
        }
    }
    counts
}

/// Modes with at least one particle and at least `min_fraction` of all `n`.
fn reached(counts: &[usize], n: usize, min_fraction: f64) -> usize {
    let threshold = min_fraction * n as f64;
    counts
        .iter()
        .filter(|&&c| c > 0 && c as f64 >= threshold)
        .count()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn three_modes() -> Vec<Vec<f64>> {
        vec![vec![0.0, 0.0], vec![10.0, 0.0], vec![0.0, 10.0]]
    }

    /// Five particles: two on mode 0, one on mode 1, one between modes, one just outside mode 2.
    const POINTS: [f64; 10] = [
        0.1, 0.0, // mode 0
        -0.2, 0.1, // mode 0
        10.0, 0.3, // mode 1
        5.0, 5.0, // nowhere
        0.0, 10.9, // outside mode 2's radius
    ];

    #[test]
    fn modes_are_counted_on_hand_made_points() {
        let c = mode_coverage(&POINTS, 2, &three_modes(), 0.5, 0.2);
        assert_eq!(c.counts, vec![2, 1, 0]);
        assert_eq!(c.reached, 2); // 1 of 5 particles = 20% is enough
        assert!((c.near_fraction - 0.6).abs() < 1e-12);
        let strict = mode_coverage(&POINTS, 2, &three_modes(), 0.5, 0.3);
        assert_eq!(strict.reached, 1);
    }

    #[test]
    fn masses_on_hand_made_points() {
        // Captured: 2, 1, 0 of 5. Against weights (½, ¼, ¼): on-mode split (⅔, ⅓, 0), so
        // TV = ½ (|⅔ − ½| + |⅓ − ¼| + |0 − ¼|) = ½ (⅙ + 1/12 + ¼) = ¼.
        let m = mode_masses(&POINTS, 2, &three_modes(), &[2.0, 1.0, 1.0], 0.5, 0.2).unwrap();
        assert_eq!(m.counts, vec![2, 1, 0]);
        assert_eq!(m.reached, 2);
        assert!((m.near_fraction - 0.6).abs() < 1e-15);
        assert_eq!(m.fractions, vec![0.4, 0.2, 0.0]);
        assert!((m.on_mode_fractions[0] - 2.0 / 3.0).abs() < 1e-15);
        assert!((m.mass_error - 0.25).abs() < 1e-15, "{}", m.mass_error);
        // The same rule as mode_coverage.
        let c = mode_coverage(&POINTS, 2, &three_modes(), 0.5, 0.2);
        assert_eq!(
            (m.counts, m.reached, m.near_fraction),
            (c.counts, c.reached, c.near_fraction)
        );
    }

    #[test]
    fn a_split_in_the_mixture_s_proportions_has_no_mass_error() {
        // 3 particles on mode 0, 1 on mode 1, weights 3 : 1 (unnormalised), one particle off the
        // data: the off-data particle lowers near_fraction, not the mass error.
        let centres = vec![vec![0.0], vec![10.0]];
        let points = [0.0, 0.1, -0.1, 10.0, 50.0];
        let m = mode_masses(&points, 1, &centres, &[3.0, 1.0], 1.0, 0.0).unwrap();
        assert_eq!(m.counts, vec![3, 1]);
        assert_eq!(m.mass_error, 0.0);
        assert!((m.near_fraction - 0.8).abs() < 1e-15);
        // All on one mode of two equal ones: half the mass is in the wrong place.
        let m = mode_masses(&[0.0, 0.2], 1, &centres, &[1.0, 1.0], 1.0, 0.0).unwrap();
        assert_eq!(m.mass_error, 0.5);
        assert_eq!(m.reached, 1);
        // Nothing captured: the largest error.
        let m = mode_masses(&[5.0], 1, &centres, &[1.0, 1.0], 1.0, 0.0).unwrap();
        assert_eq!((m.mass_error, m.reached, m.near_fraction), (1.0, 0, 0.0));
        assert_eq!(m.on_mode_fractions, vec![0.0, 0.0]);
    }

    #[test]
    fn ties_go_to_the_first_centre() {
        let centres = vec![vec![-1.0], vec![1.0]];
        let m = mode_masses(&[0.0], 1, &centres, &[1.0, 1.0], 1.0, 0.0).unwrap();
        assert_eq!(m.counts, vec![1, 0]);
    }

    #[test]
    fn bad_input_is_refused() {
        let c = three_modes();
        let e = |r: Result<ModeMasses>| r.unwrap_err().to_string();
        let w = [1.0, 1.0, 1.0];
        assert!(e(mode_masses(&[], 2, &c, &w, 1.0, 0.1)).contains("empty"));
        assert_eq!(
            e(mode_masses(&POINTS, 2, &c, &[1.0, 1.0], 1.0, 0.1)),
            "mode masses: 2 weights for 3 centres"
        );
        assert!(e(mode_masses(&POINTS, 2, &c, &[1.0, -1.0, 1.0], 1.0, 0.1)).contains("weight 1"));
        assert!(e(mode_masses(&POINTS, 2, &c, &[0.0; 3], 1.0, 0.1)).contains("all zero"));
        assert!(e(mode_masses(&POINTS, 2, &c, &w, f64::NAN, 0.1)).contains("radius"));
        assert!(e(mode_masses(&POINTS, 2, &c, &w, 1.0, 1.5)).contains("minimum fraction"));
        assert!(e(mode_masses(&POINTS, 2, &[], &[], 1.0, 0.1)).contains("no centres"));
        assert!(e(mode_masses(&POINTS, 2, &[vec![0.0]], &[1.0], 1.0, 0.1)).contains("centre 0"));
    }
}
