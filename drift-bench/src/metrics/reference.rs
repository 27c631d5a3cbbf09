//! A held-out data set prepared once for the metrics of many sample sets.

use super::energy::energy_distance_given;
use super::input::rows;
use super::mmd::{gaussian, median_bandwidth, mmd_squared_given};
use super::pairs::pair_mean;
use anyhow::Result;

/// Held-out data with what every comparison against it shares: the MMD bandwidth (the median
/// heuristic, [`median_bandwidth`]) and the data's own pair terms of the MMD and the energy
/// distance. Scoring a sample set then costs its own pairs and the cross pairs only; the results
/// are those of [`super::mmd_squared`] and [`super::energy_distance`] to the last bit.
#[derive(Clone, Debug)]
pub struct HeldOutReference {
    points: Vec<f64>,
    dim: usize,
    bandwidth: f64,
    mmd_data_term: f64,
    energy_data_term: f64,
}

impl HeldOutReference {
    /// Prepares `points` (row-major, `dim` columns); `seed` draws the bandwidth's subsample when the
    /// data have more than [`super::MEDIAN_BANDWIDTH_POINTS`] points.
    pub fn new(points: Vec<f64>, dim: usize, seed: u64) -> Result<Self> {
        rows("held-out data", &points, dim)?;
        let bandwidth = median_bandwidth(&points, dim, seed)?;
        let mmd_data_term = pair_mean(&points, &points, dim, gaussian(bandwidth));
        let energy_data_term = pair_mean(&points, &points, dim, f64::sqrt);
        Ok(HeldOutReference {
            points,
            dim,
            bandwidth,
            mmd_data_term,
            energy_data_term,
        })
    }

    /// The data, row-major.
    pub fn points(&self) -> &[f64] {
        &self.points
    }

    /// Number of points.
    pub fn len(&self) -> usize {
        self.points.len() / self.dim
    }

    /// Always false: a reference has at least one point.
    pub fn is_empty(&self) -> bool {
        self.points.is_empty()
    }

    /// The MMD bandwidth `σ`.
    pub fn bandwidth(&self) -> f64 {
        self.bandwidth
    }

    /// `MMD²(x, data)` with the Gaussian kernel of [`Self::bandwidth`].
    pub fn mmd_squared(&self, x: &[f64]) -> Result<f64> {
        rows("MMD samples X", x, self.dim)?;
        Ok(mmd_squared_given(
            x,
            &self.points,
            self.dim,
            self.bandwidth,
            self.mmd_data_term,
        ))
    }

    /// The energy distance between `x` and the data.
    pub fn energy_distance(&self, x: &[f64]) -> Result<f64> {
        rows("energy distance samples X", x, self.dim)?;
        Ok(energy_distance_given(
            x,
            &self.points,
            self.dim,
            self.energy_data_term,
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::datasets::gaussian_blob;
    use crate::metrics::{energy_distance, mmd_squared};

    #[test]
    fn scores_equal_the_one_shot_metrics_bit_for_bit() {
        let y = gaussian_blob(150, &[0.0, 1.0, 2.0], 1.0, 1);
        let x = gaussian_blob(120, &[0.5, 1.0, 2.0], 0.8, 2);
        let r = HeldOutReference::new(y.clone(), 3, 7).unwrap();
        assert_eq!(r.bandwidth(), median_bandwidth(&y, 3, 7).unwrap());
        assert_eq!(
            r.mmd_squared(&x).unwrap(),
            mmd_squared(&x, &y, 3, r.bandwidth()).unwrap()
        );
        assert_eq!(
            r.energy_distance(&x).unwrap(),
            energy_distance(&x, &y, 3).unwrap()
        );
        assert_eq!(r.len(), 150);
        assert!(r.mmd_squared(&x[..5]).is_err());
        assert!(HeldOutReference::new(vec![f64::NAN, 0.0, 0.0], 3, 0).is_err());
    }
}
