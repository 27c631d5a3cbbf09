//! Extreme scales: high dimensions and tiny temperatures in f32, far outliers, and the f32-versus-f64
//! agreement of every built-in operator.
//!
//! The guarantee tested here (`drift_api::kit::PrecisionReport`): before computing, the kernel engines
//! bound the largest log-weight magnitude `L` of the problem from the squared diameter of its point
//! sets. A weight `e^ℓ` computed in a float of unit round-off `ε` carries a relative error of about
//! `ε L`; when that exceeds `WEIGHT_ERROR_TOLERANCE = 1e-3` in f32, the field is computed in f64 and
//! the report says so (`promoted`); when even f64 cannot hold the log-weights, the result is a typed
//! error. So an f32 result either comes from weights accurate to 1e-3 relative, or was computed in
//! f64 and rounded once.

use drift_api::{operator_from_str, DriftError, DriftOperator, PointCloud, Real};
use drift_ops::random::SplitMix64;
use proptest::prelude::*;

fn gaussian_cloud(n: usize, d: usize, shift: f64, scale: f64, seed: u64) -> Vec<f64> {
    let mut r = SplitMix64::new(seed);
    (0..n * d).map(|_| scale * r.normal() + shift).collect()
}

fn clouds<T: Real>(x: &[f64], y: &[f64], d: usize) -> (PointCloud<T>, PointCloud<T>) {
    let cast = |v: &[f64]| v.iter().map(|a| T::of(*a)).collect::<Vec<T>>();
    (
        PointCloud::new("x", cast(x), d).unwrap(),
        PointCloud::new("y", cast(y), d).unwrap(),
    )
}

fn op(ron: &str) -> Box<dyn DriftOperator> {
    operator_from_str(ron, "test").unwrap_or_else(|e| panic!("{ron}: {e}"))
}

fn max_abs(v: &[f64]) -> f64 {
    v.iter().fold(0.0, |m, a| m.max(a.abs()))
}

/// `max |a − b| / max |b|`, with an absolute floor for fields that vanish.
fn rel_diff(a: &[f64], b: &[f64], floor: f64) -> f64 {
    let diff = a
        .iter()
        .zip(b)
        .fold(0.0f64, |m, (p, q)| m.max((p - q).abs()));
    diff / max_abs(b).max(floor)
}

/// The field in both precisions from the same (f64-rounded-to-f32) inputs, and the f32 report.
fn both(
    operator: &dyn DriftOperator,
    x: &[f64],
    y: &[f64],
    d: usize,
) -> (Vec<f64>, Vec<f64>, drift_api::DriftReport) {
    // Round the inputs to f32 first, so that both precisions see the same points.
    let x: Vec<f64> = x.iter().map(|v| *v as f32 as f64).collect();
    let y: Vec<f64> = y.iter().map(|v| *v as f32 as f64).collect();
    let (x64, y64) = clouds::<f64>(&x, &y, d);
    let (x32, y32) = clouds::<f32>(&x, &y, d);
    let (v64, _) = drift_ops::drift(operator, &x64, &y64).expect("f64 run");
    let (v32, report) = drift_ops::drift(operator, &x32, &y32).expect("f32 run");
    (v64, v32.iter().map(|v| *v as f64).collect(), report)
}

#[test]
fn the_f32_proxy_at_high_dimension_matches_f64() {
    // The reported case: X ~ N(0, 1), Y ~ N(0, 1) + 0.1, 64 points each, D = 65536 (f32 used to give
    // max |V| = 6.1e4 against 6.57), and τ = 1e-4 at D = 1000 with 50 points (720 against 5.65).
    for (n, d, tau) in [(64, 65536, 1.0), (64, 4096, 1.0), (50, 1000, 1e-4)] {
        let x = gaussian_cloud(n, d, 0.0, 1.0, 1);
        let y = gaussian_cloud(n, d, 0.1, 1.0, 2);
        let proxy = op(&format!(r#"{{"sinkhorn_proxy": (temperature: {tau})}}"#));
        let (v64, v32, report) = both(proxy.as_ref(), &x, &y, d);
        let err = rel_diff(&v32, &v64, 0.0);
        assert!(err < 1e-5, "D = {d}, τ = {tau}: f32 off by {err:e}");
        assert!(report.trusted(), "{report:?}");
    }
}

#[test]
fn the_f32_sinkhorn_marginal_error_at_high_dimension_is_honest() {
    let (n, d) = (32, 65536);
    let x = gaussian_cloud(n, d, 0.0, 1.0, 3);
    let y = gaussian_cloud(n, d, 0.1, 1.0, 4);
    let sinkhorn = op(r#"{"sinkhorn_drift": (temperature: 1.0)}"#);
    let (x64, y64) = clouds::<f64>(&x, &y, d);
    let (x32, y32) = clouds::<f32>(&x, &y, d);
    let (_, r64) = drift_ops::drift(sinkhorn.as_ref(), &x64, &y64).unwrap();
    let (_, r32) = drift_ops::drift(sinkhorn.as_ref(), &x32, &y32).unwrap();
    let (e64, e32) = (
        r64.max_marginal_error().unwrap(),
        r32.max_marginal_error().unwrap(),
    );
    // It used to report 1.1e9; a marginal error is at most 2 (two L1 distances of probabilities).
    assert!(
        e32 <= 2.0 && (e32 - e64).abs() < 1e-3 * e64.max(1e-3),
        "{e32} vs {e64}"
    );
    assert!(
        r32.promoted(),
        "f32 cannot hold log-weights of 1e5: {r32:?}"
    );
}

/// The zero-temperature limit of a row-softmax drift: each particle moves from its nearest other
/// particle (itself when the repulsion diagonal is not masked) to its nearest data point.
fn nearest_neighbour_field(x: &[f64], y: &[f64], d: usize, masked: bool) -> Vec<f64> {
    let sq = |a: &[f64], b: &[f64]| a.iter().zip(b).map(|(p, q)| (p - q).powi(2)).sum::<f64>();
    let nearest = |p: &[f64], set: &[f64], skip: Option<usize>| {
        (0..set.len() / d)
            .filter(|j| Some(*j) != skip)
            .min_by(|a, b| sq(p, &set[a * d..][..d]).total_cmp(&sq(p, &set[b * d..][..d])))
            .unwrap()
    };
    let mut v = Vec::with_capacity(x.len());
    for i in 0..x.len() / d {
        let p = &x[i * d..][..d];
        let (jy, jx) = (nearest(p, y, None), nearest(p, x, masked.then_some(i)));
        v.extend((0..d).map(|k| y[jy * d + k] - x[jx * d + k]));
    }
    v
}

#[test]
fn tiny_temperatures_give_the_nearest_neighbour_field_not_zeros() {
    let d = 2;
    let x = gaussian_cloud(12, d, 0.0, 1.0, 5);
    let y = gaussian_cloud(15, d, 0.5, 1.0, 6);
    let (x32, y32) = clouds::<f32>(&x, &y, d);
    let x_r: Vec<f64> = x32.data().iter().map(|v| *v as f64).collect();
    let y_r: Vec<f64> = y32.data().iter().map(|v| *v as f64).collect();
    let want = nearest_neighbour_field(&x_r, &y_r, d, true);
    let unmasked = nearest_neighbour_field(&x_r, &y_r, d, false);
    for (ron, want) in [
        (r#"{"one_sided": (temperature: 1e-40)}"#, &want),
        (
            r#"{"one_sided": (temperature: 1e-40, kernel: {"gaussian": ()})}"#,
            &want,
        ),
        (r#"{"score_difference": (temperature: 1e-40)}"#, &unmasked),
        (
            r#"{"f_divergence": (divergence: kl, temperature: 1e-40, mask_self: true)}"#,
            &want,
        ),
    ] {
        let (v, report) = drift_ops::drift(op(ron).as_ref(), &x32, &y32).unwrap();
        let v: Vec<f64> = v.iter().map(|a| *a as f64).collect();
        assert!(rel_diff(&v, want, 0.0) < 1e-6, "{ron}: {v:?} vs {want:?}");
        assert!(report.promoted(), "{ron}");
    }
    // Every f-divergence: finite, and a positive multiple of the nearest-neighbour field per particle.
    for f in [
        "reverse_kl",
        "chi_squared",
        "jensen_shannon",
        "squared_hellinger",
    ] {
        let ron = format!(
            r#"{{"f_divergence": (divergence: {f}, temperature: 1e-40, mask_self: true)}}"#
        );
        let (v, _) = drift_ops::drift(op(&ron).as_ref(), &x32, &y32).unwrap();
        for i in 0..x.len() / d {
            let (got, nn) = (&v[i * d..][..d], &want[i * d..][..d]);
            let ratio = got[0] as f64 / nn[0];
            assert!(ratio.is_finite() && ratio > 0.0, "{f}: {got:?} vs {nn:?}");
            assert!(
                (got[1] as f64 - ratio * nn[1]).abs() < 1e-5 * (1.0 + ratio),
                "{f}"
            );
        }
    }
    // The inverse multiquadric's weights do not sharpen as τ → 0 (`(d/τ)^−β`): the f32 field is the
    // f64 one.
    let imq = op(r#"{"one_sided": (temperature: 1e-40, kernel: {"inverse_multiquadric": ()})}"#);
    let (v64, v32, _) = both(imq.as_ref(), &x, &y, d);
    assert!(max_abs(&v64) > 0.1 && rel_diff(&v32, &v64, 0.0) < 1e-5);
}

#[test]
fn temperatures_below_what_f64_resolves_are_a_typed_error() {
    let d = 2;
    let x = gaussian_cloud(8, d, 0.0, 1.0, 7);
    let y = gaussian_cloud(8, d, 0.5, 1.0, 8);
    let (x64, y64) = clouds::<f64>(&x, &y, d);
    for ron in [
        r#"{"one_sided": (temperature: 5e-324)}"#,
        r#"{"sinkhorn_drift": (temperature: 1e-320, kernel: {"gaussian": ()})}"#,
        r#"{"deng_alg2": (temperature: 5e-324)}"#,
    ] {
        match drift_ops::drift(op(ron).as_ref(), &x64, &y64) {
            Err(DriftError::PrecisionExhausted { temperature, .. }) => {
                assert!(temperature < 1e-300, "{ron}")
            }
            other => panic!("{ron}: expected PrecisionExhausted, got {other:?}"),
        }
    }
}

#[test]
fn a_far_outlier_gets_a_field_on_the_data_scale_and_leaves_the_others_alone() {
    let d = 2;
    let y = gaussian_cloud(20, d, 0.0, 1.0, 9);
    let near = gaussian_cloud(19, d, 0.3, 1.0, 10);
    let mut x = near.clone();
    x.extend([1e30, 0.0]);
    for ron in [
        r#"{"one_sided": (temperature: 0.5)}"#,
        r#"{"sinkhorn_proxy": (temperature: 0.5)}"#,
        r#"{"deng_alg2": (temperature: 0.5)}"#,
        r#"{"f_divergence": (divergence: kl, temperature: 0.5, mask_self: true)}"#,
    ] {
        let operator = op(ron);
        let (x64, y64) = clouds::<f64>(&x, &y, d);
        let (v, _) = drift_ops::drift(operator.as_ref(), &x64, &y64).unwrap();
        // Both barycentres of the outlier are convex combinations of the other points: its field is
        // bounded by the spread of the data and the particles, not by its own position (it was 4e14).
        let spread = 2.0 * y.iter().chain(&near).fold(0.0f64, |m, a| m.max(a.abs()));
        let outlier = &v[19 * d..];
        assert!(
            outlier.iter().all(|a| a.abs() <= spread),
            "{ron}: {outlier:?} exceeds {spread}"
        );
        // The outlier is invisible to everyone else (its kernel weight is exp(−1e30/τ) = 0), except
        // through the counts of the proxy's relative masses.
        if !ron.contains("proxy") && !ron.contains("deng") {
            let (x_near, _) = clouds::<f64>(&near, &y, d);
            let (v_near, _) = drift_ops::drift(operator.as_ref(), &x_near, &y64).unwrap();
            assert!(rel_diff(&v[..19 * d], &v_near, 0.0) < 1e-12, "{ron}");
        }
    }
}

#[test]
fn a_far_f32_particle_gets_the_f64_field() {
    // A particle at 1e7 in f32 got (3.0, 0.54) against (1.50, −0.23).
    let d = 2;
    let y = gaussian_cloud(20, d, 0.0, 1.0, 11);
    let mut x = gaussian_cloud(19, d, 0.3, 1.0, 12);
    x.extend([1e7, 0.0]);
    let operator = op(r#"{"one_sided": (temperature: 0.5)}"#);
    let (v64, v32, report) = both(operator.as_ref(), &x, &y, d);
    assert!(rel_diff(&v32, &v64, 0.0) < 1e-6, "{v32:?} vs {v64:?}");
    assert!(report.promoted());
}

/// Every built-in operator, as RON, at temperature `tau` (in units of the data's scale `s`: `τ` for
/// Laplace-type kernels, `τ s²` for Gaussian ones, which are quadratic in the distance).
fn every_operator(tau: f64) -> Vec<String> {
    let sq = tau; // data scale 1
    vec![
        format!(r#"{{"one_sided": (temperature: {tau})}}"#),
        format!(r#"{{"deng_alg2": (temperature: {tau})}}"#),
        format!(r#"{{"sinkhorn_proxy": (temperature: {sq}, kernel: {{"gaussian": ()}})}}"#),
        format!(
            r#"{{"sinkhorn_drift": (temperature: {sq}, kernel: {{"gaussian": ()}}, sinkhorn: (max_iters: 20, tol: 0.0))}}"#
        ),
        format!(r#"{{"sinkhorn_k": (temperature: {tau}, iterations: 5)}}"#),
        format!(
            r#"{{"sinkhorn_divergence": (temperature: {sq}, sinkhorn: (max_iters: 20, tol: 0.0))}}"#
        ),
        format!(r#"{{"mmd": (kernel: gaussian, temperature: {sq})}}"#),
        format!(r#"{{"score_difference": (temperature: {sq})}}"#),
        format!(r#"{{"f_divergence": (divergence: chi_squared, temperature: {tau})}}"#),
        format!(r#"{{"f_divergence": (divergence: jensen_shannon, temperature: {tau})}}"#),
        r#"{"sliced_wasserstein": (directions: 32)}"#.to_string(),
    ]
}

/// The stated f32 tolerance: weights accurate to `WEIGHT_ERROR_TOLERANCE` (1e-3) move a field by at
/// most about that much relative to its largest value; 2e-3 leaves room for the field's own rounding.
/// Fields below f32's normal range (MMD's at low temperature, `e^(−d/τ)`) are compared absolutely.
const F32_TOLERANCE: f64 = 2e-3;

proptest! {
    #![proptest_config(ProptestConfig::with_cases(24))]

    #[test]
    fn f32_agrees_with_f64_or_says_it_cannot(
        d in prop::sample::select(vec![1usize, 2, 3, 17, 64, 512, 4096]),
        log_tau in -4.0f64..2.0,
        seed in 0u64..1000,
    ) {
        let tau = 10f64.powf(log_tau);
        let (n, m) = (12, 9);
        // Data on a unit scale per coordinate, normalised so that distances are O(1) at every D.
        let s = 1.0 / (d as f64).sqrt();
        let x = gaussian_cloud(n, d, 0.0, s, seed);
        let y = gaussian_cloud(m, d, 0.3 * s, s, seed + 7);
        for ron in every_operator(tau) {
            let (v64, v32, report) = both(op(&ron).as_ref(), &x, &y, d);
            let err = rel_diff(&v32, &v64, 1e-30);
            prop_assert!(
                err < F32_TOLERANCE || !report.trusted(),
                "{} D = {} τ = {:e}: f32 off by {:e} ({:?})", ron, d, tau, err, report.precision
            );
        }
    }
}
