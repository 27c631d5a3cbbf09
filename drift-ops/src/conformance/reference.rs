//! The dense f64 reference of one row reduction, the seeded inputs, and the comparisons with
//! their tolerances.

use drift_api::kit::Displacement;
use drift_api::{Kernel, Real};

/// Deterministic uniform numbers in `[0, 1)` (splitmix64).
pub fn uniform(seed: u64, len: usize) -> Vec<f64> {
    let mut rng = crate::random::SplitMix64::new(seed);
    (0..len)
        .map(|_| (rng.next_u64() >> 11) as f64 / (1u64 << 53) as f64)
        .collect()
}

/// The dense f64 reference of one row reduction: `(lse, disp)`.
pub fn reference(
    x: &[f64],
    y: &[f64],
    dim: usize,
    kernel: &dyn Kernel,
    tau: f64,
    g: Option<&[f64]>,
    mask: bool,
    mode: Displacement,
    origin: Option<&[f64]>,
) -> (Vec<f64>, Vec<f64>) {
    let (n, m) = (x.len() / dim, y.len() / dim);
    let (mut lse, mut disp) = (vec![0.0; n], vec![0.0; n * dim]);
    for i in 0..n {
        let xi = &x[i * dim..(i + 1) * dim];
        let d2: Vec<f64> = (0..m)
            .map(|j| (0..dim).map(|k| (y[j * dim + k] - xi[k]).powi(2)).sum())
            .collect();
        let mut s = d2.clone();
        kernel.log_weight_f64(&mut s, tau);
        for j in 0..m {
            s[j] += g.map_or(0.0, |g| g[j]);
            if mask && j == i {
                s[j] = f64::NEG_INFINITY;
            }
        }
        let max = s.iter().cloned().fold(f64::NEG_INFINITY, f64::max);
        if max == f64::NEG_INFINITY {
            lse[i] = f64::NEG_INFINITY;
            continue;
        }
        let sum: f64 = s.iter().map(|v| (v - max).exp()).sum();
        lse[i] = max + sum.ln();
        let from = match (mode, origin) {
            (Displacement::Mean, Some(o)) => o,
            _ => xi,
        };
        for j in 0..m {
            let p = (s[j] - lse[i]).exp();
            let w = match mode {
                Displacement::None => 0.0,
                Displacement::Mean => p,
                Displacement::Unit if d2[j] > 0.0 => p / d2[j].sqrt(),
                Displacement::Unit => 0.0,
            };
            for k in 0..dim {
                disp[i * dim + k] += w * (y[j * dim + k] - from[k]);
            }
        }
    }
    (lse, disp)
}

/// The tolerance of a precision: 1e-4 relative in f32, 1e-10 in f64.
pub fn tolerance<T: Real>() -> f64 {
    if std::mem::size_of::<T>() == 4 {
        1e-4
    } else {
        1e-10
    }
}

/// Log-sum-exps agree: both `−∞`, or within `tol` relative (to at least 1).
pub fn compare_lse(what: &str, got: &[f64], want: &[f64], tol: f64) -> Result<(), String> {
    for (i, (a, b)) in got.iter().zip(want).enumerate() {
        let ok = if b.is_finite() {
            (a - b).abs() <= tol * b.abs().max(1.0)
        } else {
            a == b
        };
        if !ok {
            return Err(format!("{what}: lse[{i}] = {a}, reference {b}"));
        }
    }
    Ok(())
}

/// Displacements agree within `tol` relative to the largest reference coordinate.
pub fn compare_field(what: &str, got: &[f64], want: &[f64], tol: f64) -> Result<(), String> {
    let scale = want.iter().fold(0.0f64, |a, v| a.max(v.abs())).max(1e-300);
    for (i, (a, b)) in got.iter().zip(want).enumerate() {
        let close = (a - b).abs() <= tol * scale;
        if !close {
            return Err(format!(
                "{what}: disp[{i}] = {a}, reference {b} (field scale {scale:e})"
            ));
        }
    }
    Ok(())
}
