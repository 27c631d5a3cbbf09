//! The settings of a one-step generator and its training.

use anyhow::{ensure, Result};

/// Settings of a one-step generator `f_θ: z → x` and of its training with the drifting loss.
///
/// The network is an MLP: `layers` hidden layers of width `hidden`, each a linear map followed by
/// SiLU, then a linear output layer of the data's dimension (no activation, so the samples can
/// reach any coordinate). Its input is the latent `z ~ N(0, I)` of size `latent_dim`, followed by
/// the one-hot class when the training data are labelled.
#[derive(Clone, Debug, PartialEq)]
pub struct GeneratorConfig {
    /// Size of the latent `z` (standard normal).
    pub latent_dim: usize,
    /// Width of every hidden layer.
    pub hidden: usize,
    /// Number of hidden layers (linear + SiLU); 0 makes the generator an affine map.
    pub layers: usize,
    /// Number of optimiser steps.
    pub steps: usize,
    /// Generated samples per step (per class when the generator is class-conditional).
    pub batch: usize,
    /// Adam learning rate (candle-nn's AdamW with no weight decay, so the drifting loss is the
    /// only objective).
    pub learning_rate: f64,
    /// Largest number of data points a drift sees per step (per class when conditional): a class
    /// with more points is represented by a fresh seeded random subset of this size at every step;
    /// with fewer, all its points are used.
    pub max_targets: usize,
    /// Seed of the weights' initialisation, the latents and the data subsets.
    pub seed: u64,
    /// Where the drifts are computed (the network runs on candle's CPU device).
    pub backend: crate::backend_kind::BackendKind,
    /// What the drift sees of a sample: the sample (`Raw`) or a fixed encoder's feature maps.
    pub features: super::Features,
}

impl Default for GeneratorConfig {
    fn default() -> Self {
        GeneratorConfig {
            latent_dim: 16,
            hidden: 128,
            layers: 2,
            steps: 500,
            batch: 64,
            learning_rate: 1e-3,
            max_targets: 1024,
            seed: 0,
            backend: crate::backend_kind::BackendKind::Cpu,
            features: super::Features::Raw,
        }
    }
}

impl GeneratorConfig {
    /// Checks that every size is positive and the learning rate finite and positive.
    pub fn validate(&self) -> Result<()> {
        ensure!(
            self.latent_dim > 0,
            "generator latent_dim must be at least 1"
        );
        ensure!(
            self.hidden > 0 || self.layers == 0,
            "generator hidden width must be at least 1"
        );
        ensure!(self.batch > 0, "generator batch must be at least 1");
        ensure!(
            self.max_targets > 0,
            "generator max_targets must be at least 1"
        );
        ensure!(
            self.learning_rate.is_finite() && self.learning_rate > 0.0,
            "generator learning_rate must be finite and positive, got {}",
            self.learning_rate
        );
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_default_is_valid_and_bad_sizes_are_refused() {
        assert!(GeneratorConfig::default().validate().is_ok());
        let bad = GeneratorConfig {
            batch: 0,
            ..Default::default()
        };
        assert!(bad.validate().unwrap_err().to_string().contains("batch"));
        let bad = GeneratorConfig {
            learning_rate: f64::NAN,
            ..Default::default()
        };
        assert!(bad
            .validate()
            .unwrap_err()
            .to_string()
            .contains("learning_rate"));
    }
}
