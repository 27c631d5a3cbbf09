//! The metrics of one run: its final samples (data units) against the held-out data.

use crate::compare::prepared::PreparedData;
use crate::compare::record::RunMetrics;
use crate::metrics;
use anyhow::Result;

/// Random directions of the sliced W2 distance.
pub const SLICED_DIRECTIONS: usize = 128;
/// The largest sample the exact `W2²` compares (a seeded subsample beyond: the assignment costs
/// `O(n³)` time and `n²` memory).
pub const W2_MAX_POINTS: usize = 1000;
/// A mode or class counts as covered when it holds at least this fraction of an even share of the
/// samples (a fifth of `1/K`).
pub const COVERAGE_SHARE: f64 = 0.2;

/// A mixture mode's capture radius: `std·(√D + 3)`, three standard deviations beyond the typical
/// distance `std·√D` of a mode's own samples from its centre.
pub fn capture_radius(std: f64, dim: usize) -> f64 {
    std * ((dim as f64).sqrt() + 3.0)
}

/// Every sample metric of `samples` (data units) against the held-out part of `data`;
/// `intended` gives the class each sample was generated for (class-conditional generators).
pub fn sample_metrics(
    samples: &[f64],
    intended: Option<&[usize]>,
    data: &PreparedData,
    seed: u64,
) -> Result<RunMetrics> {
    let dim = data.dim;
    let reference = data.test.points();
    let mut m = RunMetrics {
        w2_sq: Some(metrics::w2_squared_exact_subsampled(
            samples,
            reference,
            dim,
            W2_MAX_POINTS,
            seed,
        )?),
        sliced_w2: Some(metrics::sliced_w2(
            samples,
            reference,
            dim,
            SLICED_DIRECTIONS,
            seed,
        )),
        mmd_sq: Some(data.test.mmd_squared(samples)?),
        mmd_bandwidth: Some(data.test.bandwidth()),
        energy: Some(data.test.energy_distance(samples)?),
        ..RunMetrics::default()
    };
    if let Some(mix) = &data.mixture {
        let k = mix.centres.len();
        let masses = metrics::mode_masses(
            samples,
            dim,
            &mix.centres,
            &mix.weights,
            capture_radius(mix.std, dim),
            COVERAGE_SHARE / k as f64,
        )?;
        m.modes_covered = Some(masses.reached);
        m.modes_total = Some(k);
        m.mode_mass_error = Some(masses.mass_error);
        m.mode_shares = Some(masses.on_mode_fractions);
        m.near_fraction = Some(masses.near_fraction);
    }
    if let (Some(classifier), Some(k)) = (&data.classifier, data.classes) {
        let predicted = classifier.predict(samples)?;
        let hist = metrics::class_histogram(&predicted, k)?;
        m.classes_covered = Some(metrics::classes_covered(&hist, COVERAGE_SHARE / k as f64));
        m.classes_total = Some(k);
        m.class_histogram = Some(hist);
        if let Some(intended) = intended {
            m.accuracy = Some(metrics::accuracy(&predicted, intended)?);
        }
    }
    Ok(m)
}
