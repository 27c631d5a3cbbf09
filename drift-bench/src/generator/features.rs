//! What the drift sees of a sample: the sample itself, or the feature maps of a fixed random
//! encoder, as the official training code takes its drifts (one problem per class and feature
//! location, the drift of every feature key summed in the loss).

use anyhow::{ensure, Result};
use candle_core::{DType, Device, Tensor};
use rand::{rngs::StdRng, Rng, SeedableRng};
use serde::{Deserialize, Serialize};

/// Channels of the fixed encoder.
pub const ENCODER_CHANNELS: usize = 8;

/// How the drift sees a generated sample.
///
/// In RON (a study's `train: (features: Encoder)`): `Raw` or `Encoder`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub enum Features {
    /// The sample itself: one problem per class.
    #[default]
    Raw,
    /// For square images (`D = s²`, `s` a multiple of 4): the raw sample, and a fixed random
    /// encoder (a 3 × 3 convolution with [`ENCODER_CHANNELS`] channels, stride 2, ReLU; weights
    /// drawn once from a fixed seed) seen at every location of its `s/2 × s/2` map, through the
    /// means and standard deviations of its 2 × 2 patches, and through its global mean and standard
    /// deviation: four feature keys, one drift problem per (class, key, location), each key's
    /// problems in one batched call, the losses of the keys summed (the official method's feature
    /// setting, on a small encoder).
    Encoder,
}

/// The feature keys of a [`Features`] setting, ready to apply to batches of samples.
#[derive(Debug)]
pub struct FeatureMaps {
    kind: Features,
    side: usize,
    conv: Option<Tensor>,
}

/// The seed of the encoder's weights (the same encoder for every run).
const ENCODER_SEED: u64 = 0x5eed_f00d;

impl FeatureMaps {
    /// The feature maps of samples of dimension `dim` (an error when `Encoder` is asked for
    /// samples that are not square images of a side divisible by 4).
    pub fn new(kind: Features, dim: usize) -> Result<Self> {
        let side = (dim as f64).sqrt().round() as usize;
        let conv = match kind {
            Features::Raw => None,
            Features::Encoder => {
                ensure!(
                    side * side == dim && side.is_multiple_of(4) && side > 0,
                    "features: Encoder needs square images whose side is a multiple of 4 \
                     (dimension 16, 64, 144, ...), got dimension {dim}"
                );
                let mut rng = StdRng::seed_from_u64(ENCODER_SEED);
                // He-uniform for a ReLU layer of fan-in 9.
                let bound = (6.0f32 / 9.0).sqrt();
                let w: Vec<f32> = (0..ENCODER_CHANNELS * 9)
                    .map(|_| rng.gen_range(-bound..=bound))
                    .collect();
                Some(Tensor::from_vec(
                    w,
                    (ENCODER_CHANNELS, 1, 3, 3),
                    &Device::Cpu,
                )?)
            }
        };
        Ok(FeatureMaps { kind, side, conv })
    }

    /// The setting.
    pub fn kind(&self) -> Features {
        self.kind
    }

    /// The feature keys of samples `x` (`n × D`, f32, possibly attached to a graph): one tensor
    /// `n × L × D_k` per key (`L` locations of `D_k` features), attached to `x`'s graph.
    pub fn keys(&self, x: &Tensor) -> Result<Vec<Tensor>> {
        let raw = x.unsqueeze(1)?;
        let Some(conv) = &self.conv else {
            return Ok(vec![raw]);
        };
        let (n, s, c) = (x.dim(0)?, self.side, ENCODER_CHANNELS);
        let h = s / 2;
        let image = x.reshape((n, 1, s, s))?;
        let map = image.conv2d(conv, 1, 2, 1, 1)?.relu()?; // n × c × h × h
                                                           // Every location: n × (h·h) × c.
        let locations = map.reshape((n, c, h * h))?.transpose(1, 2)?.contiguous()?;
        // 2 × 2 patches: n × c × (h/2) × 2 × (h/2) × 2.
        let q = h / 2;
        let patches = map
            .reshape((n, c, q, 2, q, 2))?
            .permute((0, 2, 4, 1, 3, 5))?
            .reshape((n, q * q, c, 4))?;
        let patch_stats = mean_and_std(&patches, 3)?; // n × q² × 2c
        let global = mean_and_std(&map.reshape((n, 1, c, h * h))?, 3)?; // n × 1 × 2c
        Ok(vec![raw, locations, patch_stats, global])
    }
}

/// The mean and the standard deviation over dimension `axis` (the last), side by side.
fn mean_and_std(t: &Tensor, axis: usize) -> Result<Tensor> {
    let mean = t.mean_keepdim(axis)?;
    let var = t.broadcast_sub(&mean)?.sqr()?.mean_keepdim(axis)?;
    // A small floor keeps the square root differentiable where a patch is constant.
    let std = (var + 1e-6)?.sqrt()?;
    Ok(Tensor::cat(&[mean.squeeze(axis)?, std.squeeze(axis)?], 2)?)
}

/// The values of one key's tensor `(classes · rows) × L × D_k` laid out as one problem per (class,
/// location): `[class][location][row][feature]`.
pub fn by_problem(key: &Tensor, classes: usize) -> Result<Vec<f32>> {
    let (n, l, d) = key.dims3()?;
    let rows = n / classes;
    Ok(key
        .reshape((classes, rows, l, d))?
        .transpose(1, 2)?
        .contiguous()?
        .to_dtype(DType::F32)?
        .flatten_all()?
        .to_vec1()?)
}

/// The inverse of [`by_problem`]: a field laid out per (class, location) back to the key's shape.
pub fn from_problems(
    field: Vec<f32>,
    classes: usize,
    shape: (usize, usize, usize),
) -> Result<Tensor> {
    let (n, l, d) = shape;
    let rows = n / classes;
    Ok(
        Tensor::from_vec(field, (classes, l, rows, d), &Device::Cpu)?
            .transpose(1, 2)?
            .contiguous()?
            .reshape((n, l, d))?,
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_encoder_gives_four_keys_of_the_promised_shapes() {
        let maps = FeatureMaps::new(Features::Encoder, 64).unwrap();
        let x = Tensor::randn(0f32, 1.0, (6, 64), &Device::Cpu).unwrap();
        let dims: Vec<_> = maps
            .keys(&x)
            .unwrap()
            .iter()
            .map(|k| k.dims3().unwrap())
            .collect();
        assert_eq!(dims, vec![(6, 1, 64), (6, 16, 8), (6, 4, 16), (6, 1, 16)]);
        assert!(FeatureMaps::new(Features::Encoder, 63).is_err());
        assert!(FeatureMaps::new(Features::Encoder, 36).is_err());
    }

    #[test]
    fn problems_layout_round_trips() {
        let x = Tensor::arange(0f32, 2.0 * 3.0 * 4.0 * 5.0, &Device::Cpu)
            .unwrap()
            .reshape((6, 4, 5))
            .unwrap();
        let flat = by_problem(&x, 2).unwrap();
        // Class 0, location 1, row 2 is sample 2's location 1: (location · rows + row) · D.
        let at = (3 + 2) * 5;
        assert_eq!(
            flat[at..at + 5],
            x.get(2).unwrap().get(1).unwrap().to_vec1::<f32>().unwrap()[..]
        );
        let back = from_problems(flat, 2, (6, 4, 5)).unwrap();
        assert_eq!(back.to_vec3::<f32>().unwrap(), x.to_vec3::<f32>().unwrap());
    }
}
