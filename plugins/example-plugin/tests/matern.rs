//! The Matérn-3/2 kernel against the textbook formula in f64, alone and inside a one-sided drift.

use drift_api::{DriftOperator, Kernel, PointCloud, Real};
use drift_example_plugin::Matern32;
use drift_ops::OneSided;

/// `log k = ln(1 + s) − s`, `s = √3 r / τ`, straightforwardly in f64.
fn log_k(d2: f64, tau: f64) -> f64 {
    let s = 3f64.sqrt() * d2.sqrt() / tau;
    s.ln_1p() - s
}

/// Squared distances from 1e-6 τ to 1e3 τ (log-spaced), for temperatures from 1e-3 to 1e3.
fn cases() -> impl Iterator<Item = (f64, Vec<f64>)> {
    (0..=12).map(|t| {
        let tau = 10f64.powf(-3.0 + 0.5 * t as f64);
        let d2 = (0..=400)
            .map(|k| (tau * 10f64.powf(-6.0 + 9.0 * k as f64 / 400.0)).powi(2))
            .collect();
        (tau, d2)
    })
}

#[test]
fn log_weights_match_the_formula_in_both_precisions() {
    for (tau, d2) in cases() {
        let mut got = d2.clone();
        Matern32.log_weight_f64(&mut got, tau);
        for (q, g) in d2.iter().zip(&got) {
            let want = log_k(*q, tau);
            // A few roundings of s (relative 1e-16 each) move ln(1 + s) − s by about s·1e-16.
            let bound = 1e-14 * (1.0 + want.abs());
            assert!(
                (g - want).abs() <= bound,
                "d2 = {q}, tau = {tau}: {g} vs {want}"
            );
        }
        let (d2, tau) = (
            d2.iter().map(|q| *q as f32).collect::<Vec<f32>>(),
            tau as f32,
        );
        let mut got = d2.clone();
        Matern32.log_weight_f32(&mut got, tau);
        for (q, g) in d2.iter().zip(&got) {
            let want = log_k(*q as f64, tau as f64);
            let bound = 1e-6 * (1.0 + want.abs());
            assert!(
                (*g as f64 - want).abs() <= bound,
                "d2 = {q}, tau = {tau}: {g} vs {want}"
            );
        }
    }
}

#[test]
fn coincident_and_infinitely_distant_points() {
    let mut d2 = [0.0f64, f64::INFINITY];
    Matern32.log_weight_f64(&mut d2, 0.5);
    assert_eq!(d2, [0.0, f64::NEG_INFINITY]);
    let mut d2 = [0.0f32, f32::INFINITY];
    Matern32.log_weight_f32(&mut d2, 0.5);
    assert_eq!(d2, [0.0, f32::NEG_INFINITY]);
}

#[test]
fn a_ron_operator_names_it() {
    let src = r#"{"one_sided": (temperature: 0.7, kernel: {"example.matern32": ()})}"#;
    let op = drift_api::operator_from_str(src, "inline").unwrap();
    let (x, y) = (points(12, 2, 0.1, 0.0), points(15, 2, 0.9, 0.5));
    let got = drift_of_op::<f64>(op.as_ref(), &x, &y);
    let want = one_sided_reference(&x, &y, 0.7);
    assert!(got.iter().zip(&want).all(|(g, w)| (g - w).abs() < 1e-12));
}

/// `V_i = bar⁺_i − bar⁻_i`: kernel-weighted means of `Y`, and of `X` without `x_i`, in f64.
fn one_sided_reference(x: &[Vec<f64>], y: &[Vec<f64>], tau: f64) -> Vec<f64> {
    let d2 = |a: &[f64], b: &[f64]| a.iter().zip(b).map(|(p, q)| (p - q).powi(2)).sum::<f64>();
    let barycentre = |xi: &[f64], set: &[Vec<f64>], skip: Option<usize>| {
        let mut num = vec![0.0; xi.len()];
        let mut den = 0.0;
        for (j, p) in set.iter().enumerate() {
            if Some(j) == skip {
                continue;
            }
            let w = log_k(d2(xi, p), tau).exp();
            den += w;
            for (n, c) in num.iter_mut().zip(p) {
                *n += w * c;
            }
        }
        num.into_iter().map(|n| n / den).collect::<Vec<f64>>()
    };
    x.iter()
        .enumerate()
        .flat_map(|(i, xi)| {
            let plus = barycentre(xi, y, None);
            let minus = barycentre(xi, x, Some(i));
            plus.into_iter().zip(minus).map(|(p, m)| p - m)
        })
        .collect()
}

fn points(n: usize, dim: usize, seed: f64, shift: f64) -> Vec<Vec<f64>> {
    (0..n)
        .map(|i| {
            (0..dim)
                .map(|k| shift + ((i * dim + k) as f64 * 0.618 + seed).sin() * 1.5)
                .collect()
        })
        .collect()
}

/// The field of `op` on `x` and `y`, computed in precision `T`.
fn drift_of_op<T: Real>(op: &dyn DriftOperator, x: &[Vec<f64>], y: &[Vec<f64>]) -> Vec<f64> {
    let cloud = |p: &[Vec<f64>]| {
        let dim = p[0].len();
        PointCloud::new("p", p.iter().flatten().map(|v| T::of(*v)).collect(), dim).unwrap()
    };
    let (v, _) = drift_ops::drift(op, &cloud(x), &cloud(y)).unwrap();
    v.into_iter().map(|c| c.as_f64()).collect()
}

/// The one-sided drift with the Matérn kernel, masked self term, in precision `T`.
fn drift_of<T: Real>(x: &[Vec<f64>], y: &[Vec<f64>], tau: f64) -> Vec<f64> {
    let op = OneSided {
        kernel: Box::new(Matern32),
        temperature: tau,
        mask_self: true,
    };
    drift_of_op::<T>(&op, x, y)
}

#[test]
fn one_sided_drift_matches_a_dense_reference() {
    // D = 3 runs the direct distances, D = 20 the Gram form.
    for dim in [3, 20] {
        let x = points(45, dim, 0.3, 0.0);
        let y = points(60, dim, 1.7, 0.4);
        for tau in [0.2, 1.0, 5.0] {
            let want = one_sided_reference(&x, &y, tau);
            let scale = want.iter().fold(0.0f64, |m, v| m.max(v.abs()));
            for (precision, got, tol) in [
                ("f64", drift_of::<f64>(&x, &y, tau), 1e-11),
                ("f32", drift_of::<f32>(&x, &y, tau), 2e-4),
            ] {
                let err = got
                    .iter()
                    .zip(&want)
                    .fold(0.0f64, |m, (g, w)| m.max((g - w).abs()));
                assert!(
                    err <= tol * (1.0 + scale),
                    "{precision}, D = {dim}, tau = {tau}: error {err}"
                );
            }
        }
    }
}
