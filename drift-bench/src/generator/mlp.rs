//! The generator network: a small MLP whose weights are initialised from a seed.

use anyhow::Result;
use candle_core::{DType, Device, Tensor, Var};
use candle_nn::{Linear, Module};
use rand::{rngs::StdRng, Rng};

/// An MLP `input → (linear, SiLU) × layers → linear → output` on the CPU.
///
/// The weights are candle [`Var`]s so that candle's autograd and optimisers train them. They are
/// drawn here from a seeded [`StdRng`] rather than by candle's initialisers, because candle's CPU
/// random generator cannot be seeded and the runs must be reproducible. Each layer is initialised
/// as PyTorch's `nn.Linear` is: weights and biases uniform in `±1/sqrt(fan_in)`.
#[derive(Debug)]
pub struct Mlp {
    layers: Vec<Linear>,
    vars: Vec<Var>,
}

impl Mlp {
    /// A network mapping `input` features to `output` through `hidden_layers` layers of width
    /// `hidden`, with weights of type `dtype` (F32 for training; F64 serves the gradient checks).
    pub fn new(
        input: usize,
        hidden: usize,
        hidden_layers: usize,
        output: usize,
        dtype: DType,
        rng: &mut StdRng,
    ) -> Result<Self> {
        let mut widths = vec![input];
        widths.extend(std::iter::repeat_n(hidden, hidden_layers));
        widths.push(output);
        let mut layers = Vec::new();
        let mut vars = Vec::new();
        for pair in widths.windows(2) {
            let (fan_in, fan_out) = (pair[0], pair[1]);
            let bound = 1.0 / (fan_in as f64).sqrt();
            let mut uniform = |n: usize| -> Result<Var> {
                let values: Vec<f64> = (0..n).map(|_| rng.gen_range(-bound..=bound)).collect();
                let t = Tensor::from_vec(values, n, &Device::Cpu)?.to_dtype(dtype)?;
                Ok(Var::from_tensor(&t)?)
            };
            let weight = uniform(fan_out * fan_in)?;
            let weight = Var::from_tensor(&weight.as_tensor().reshape((fan_out, fan_in))?)?;
            let bias = uniform(fan_out)?;
            // `Linear` holds the variables' own tensors, so gradients flow to the `Var`s.
            layers.push(Linear::new(
                weight.as_tensor().clone(),
                Some(bias.as_tensor().clone()),
            ));
            vars.push(weight);
            vars.push(bias);
        }
        Ok(Mlp { layers, vars })
    }

    /// The trainable variables: each layer's weight (`out × in`) then bias (`out`), input first.
    pub fn vars(&self) -> &[Var] {
        &self.vars
    }

    /// Applies the network to a batch (`rows × input`), giving `rows × output`.
    pub fn forward(&self, input: &Tensor) -> Result<Tensor> {
        let mut h = input.clone();
        let last = self.layers.len() - 1;
        for (i, layer) in self.layers.iter().enumerate() {
            h = layer.forward(&h)?;
            if i < last {
                h = h.silu()?;
            }
        }
        Ok(h)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;

    #[test]
    fn the_shapes_follow_the_widths_and_the_seed_fixes_the_weights() {
        let net = Mlp::new(3, 5, 2, 4, DType::F32, &mut StdRng::seed_from_u64(1)).unwrap();
        let shapes: Vec<Vec<usize>> = net.vars().iter().map(|v| v.dims().to_vec()).collect();
        assert_eq!(
            shapes,
            vec![
                vec![5, 3],
                vec![5],
                vec![5, 5],
                vec![5],
                vec![4, 5],
                vec![4]
            ]
        );
        let x = Tensor::ones((7, 3), DType::F32, &Device::Cpu).unwrap();
        assert_eq!(net.forward(&x).unwrap().dims(), &[7, 4]);
        let again = Mlp::new(3, 5, 2, 4, DType::F32, &mut StdRng::seed_from_u64(1)).unwrap();
        let w = |n: &Mlp| n.vars()[2].flatten_all().unwrap().to_vec1::<f32>().unwrap();
        assert_eq!(w(&net), w(&again));
        let bound = 1.0 / 5f32.sqrt();
        assert!(w(&net).iter().all(|v| v.abs() <= bound));
    }

    #[test]
    fn a_network_without_hidden_layers_is_affine() {
        let net = Mlp::new(2, 0, 0, 2, DType::F64, &mut StdRng::seed_from_u64(2)).unwrap();
        let x =
            Tensor::from_vec(vec![0.0f64, 0.0, 1.0, 0.0, 2.0, 0.0], (3, 2), &Device::Cpu).unwrap();
        let y: Vec<Vec<f64>> = net.forward(&x).unwrap().to_vec2().unwrap();
        for k in 0..2 {
            assert!((y[2][k] - 2.0 * y[1][k] + y[0][k]).abs() < 1e-12);
        }
    }
}
