//! The drifting loss `‖f_θ(z) − stopgrad(f_θ(z) + V)‖²` as a candle graph.

use anyhow::Result;
use candle_core::Tensor;

/// The drifting loss of a batch of generated samples `x = f_θ(z)` (`rows × dim`, still attached
/// to the network's graph) and their drift `v` (same shape, a constant):
/// `mean((x − stopgrad(x + v))²)` over every sample and coordinate.
///
/// Its value is `mean(v²)`; its gradient with respect to `x` is `−2v / (rows · dim)`, so a
/// gradient step moves every sample along its drift. The target is detached: the network is
/// pulled toward where the drift says its samples should be, without differentiating the drift.
pub fn drifting_loss(x: &Tensor, v: &Tensor) -> Result<Tensor> {
    let target = (x.detach() + v)?.detach();
    Ok((x - target)?.sqr()?.mean_all()?)
}

#[cfg(test)]
mod tests {
    use super::*;
    use candle_core::{Device, Var};

    #[test]
    fn the_value_is_the_mean_squared_drift_and_the_gradient_minus_two_v_over_n() {
        let x = Var::from_vec(
            vec![0.5f64, -1.0, 2.0, 0.25, 3.0, -2.0],
            (3, 2),
            &Device::Cpu,
        )
        .unwrap();
        let v_values = vec![1.0f64, -2.0, 0.5, 0.0, -1.5, 3.0];
        let v = Tensor::from_vec(v_values.clone(), (3, 2), &Device::Cpu).unwrap();
        let loss = drifting_loss(x.as_tensor(), &v).unwrap();
        let mean_sq = v_values.iter().map(|a| a * a).sum::<f64>() / 6.0;
        assert!((loss.to_scalar::<f64>().unwrap() - mean_sq).abs() < 1e-12);
        let grads = loss.backward().unwrap();
        let g = grads
            .get(&x)
            .unwrap()
            .flatten_all()
            .unwrap()
            .to_vec1::<f64>()
            .unwrap();
        for (g, v) in g.iter().zip(&v_values) {
            assert!((g + 2.0 * v / 6.0).abs() < 1e-12, "{g} vs {v}");
        }
    }
}
