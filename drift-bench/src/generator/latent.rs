//! The generator's inputs: seeded Gaussian latents, with the one-hot class when conditional.

use anyhow::Result;
use candle_core::{Device, Tensor};
use rand::rngs::StdRng;
use rand_distr::{Distribution, StandardNormal};

/// The input batch, one row per entry of `classes`: `latent_dim` standard normal values drawn
/// from `rng`, followed, when `conditional` is `Some(n)`, by the row's class one-hot over `n`
/// classes (`None`: the latent alone, the classes ignored). F32, `rows × (latent_dim + n)`.
pub fn generator_input(
    classes: &[usize],
    latent_dim: usize,
    conditional: Option<usize>,
    rng: &mut StdRng,
) -> Result<Tensor> {
    let width = latent_dim + conditional.unwrap_or(0);
    let mut values = Vec::with_capacity(classes.len() * width);
    for &c in classes {
        values.extend((0..latent_dim).map(|_| -> f32 { StandardNormal.sample(rng) }));
        if let Some(n) = conditional {
            values.extend((0..n).map(|k| if k == c { 1.0f32 } else { 0.0 }));
        }
    }
    Ok(Tensor::from_vec(
        values,
        (classes.len(), width),
        &Device::Cpu,
    )?)
}

/// The class of every one of `n` samples shared out over `classes` classes in blocks: class `c`
/// gets `n / classes` samples, plus one for the first `n % classes` classes.
pub fn balanced_classes(n: usize, classes: usize) -> Vec<usize> {
    (0..classes)
        .flat_map(|c| std::iter::repeat_n(c, n / classes + usize::from(c < n % classes)))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;

    #[test]
    fn inputs_carry_the_one_hot_class_after_the_latent() {
        let x = generator_input(&[0, 2], 3, Some(3), &mut StdRng::seed_from_u64(0)).unwrap();
        let rows: Vec<Vec<f32>> = x.to_vec2().unwrap();
        assert_eq!(&rows[0][3..], &[1.0, 0.0, 0.0]);
        assert_eq!(&rows[1][3..], &[0.0, 0.0, 1.0]);
        let plain = generator_input(&[0, 0], 3, None, &mut StdRng::seed_from_u64(0)).unwrap();
        assert_eq!(plain.dims(), &[2, 3]);
    }

    #[test]
    fn samples_are_shared_out_evenly_in_blocks() {
        assert_eq!(balanced_classes(7, 3), vec![0, 0, 0, 1, 1, 2, 2]);
        assert_eq!(balanced_classes(4, 1), vec![0; 4]);
    }
}
