//! `Sinkhorn { geomloss: true }` reproduces GeomLoss' `sinkhorn_loop` (balanced, `p = 2`, debiased,
//! tensorized backend): the Sinkhorn-divergence drift and value against a dense float64
//! transcription of that loop, written here from GeomLoss' source; its validation and RON form.

use drift_api::{operator_from_str, Coupling, DriftError, PointCloud};
use drift_ops::random::SplitMix64;
use drift_ops::{sinkhorn_divergence, Schedule, Sinkhorn, SinkhornDivergence};

/// GeomLoss' `log_weights`: `log a`, with `−100000` where `a ≤ 0`.
fn log_weights(a: &[f64]) -> Vec<f64> {
    a.iter()
        .map(|w| if *w > 0.0 { w.ln() } else { -100_000.0 })
        .collect()
}

/// `C_ij = ½‖x_i − y_j‖²`, `n × m` row-major.
fn cost(x: &[f64], y: &[f64], d: usize) -> Vec<f64> {
    let mut c = Vec::new();
    for xi in x.chunks(d) {
        for yj in y.chunks(d) {
            c.push(0.5 * xi.iter().zip(yj).map(|(u, v)| (u - v).powi(2)).sum::<f64>());
        }
    }
    c
}

/// `Cᵀ` of an `n × m` matrix.
fn transpose(c: &[f64], n: usize, m: usize) -> Vec<f64> {
    (0..m)
        .flat_map(|j| (0..n).map(move |i| c[i * m + j]))
        .collect()
}

fn lse(v: impl Iterator<Item = f64> + Clone) -> f64 {
    let max = v.clone().fold(f64::NEG_INFINITY, f64::max);
    max + v.map(|t| (t - max).exp()).sum::<f64>().ln()
}

/// GeomLoss' `softmin_tensorized`: `f_i = −ε LSE_j(h_j − C_ij / ε)`.
fn softmin(eps: f64, c: &[f64], h: &[f64]) -> Vec<f64> {
    let m = h.len();
    c.chunks(m)
        .map(|row| -eps * lse(row.iter().zip(h).map(|(cij, hj)| hj - cij / eps)))
        .collect()
}

/// `log w + p / ε`.
fn shifted(log_w: &[f64], p: &[f64], eps: f64) -> Vec<f64> {
    log_w.iter().zip(p).map(|(l, v)| l + v / eps).collect()
}

fn average(p: &[f64], next: &[f64]) -> Vec<f64> {
    p.iter().zip(next).map(|(u, v)| 0.5 * (u + v)).collect()
}

/// `Σ_j softmax_j(h_j − C_ij / ε) z_j` for every row `i`.
fn barycentres(eps: f64, c: &[f64], h: &[f64], z: &[f64], d: usize) -> Vec<f64> {
    let m = h.len();
    let mut out = Vec::new();
    for row in c.chunks(m) {
        let s: Vec<f64> = row.iter().zip(h).map(|(cij, hj)| hj - cij / eps).collect();
        let l = lse(s.iter().copied());
        let mut bar = vec![0.0; d];
        for (sj, zj) in s.iter().zip(z.chunks(d)) {
            let p = (sj - l).exp();
            for (b, v) in bar.iter_mut().zip(zj) {
                *b += p * v;
            }
        }
        out.extend(bar);
    }
    out
}

/// `epsilon_schedule(2, diameter, blur, scaling)`: `[diam²] + exp(arange(2 ln diam, 2 ln blur,
/// 2 ln scaling)) + [blur²]`.
fn epsilon_schedule(diameter: f64, blur: f64, scaling: f64) -> Vec<f64> {
    let (start, stop, step) = (2.0 * diameter.ln(), 2.0 * blur.ln(), 2.0 * scaling.ln());
    let count = ((stop - start) / step).ceil().max(0.0) as usize;
    let mut eps = vec![diameter * diameter];
    eps.extend((0..count).map(|k| (start + k as f64 * step).exp()));
    eps.push(blur * blur);
    eps
}

/// `max_diameter(x, y)`: the diagonal of the bounding box of both clouds.
fn max_diameter(x: &[f64], y: &[f64], d: usize) -> f64 {
    (0..d)
        .map(|k| {
            let coords = x.chunks(d).chain(y.chunks(d)).map(|p| p[k]);
            let lo = coords.clone().fold(f64::INFINITY, f64::min);
            let hi = coords.fold(f64::NEG_INFINITY, f64::max);
            (hi - lo).powi(2)
        })
        .sum::<f64>()
        .sqrt()
}

/// GeomLoss' `sinkhorn_tensorized` + `sinkhorn_loop` + `sinkhorn_cost` and the gradient autograd
/// takes through them: the drift `V_i = −(1/a_i) ∂S/∂x_i = bar⁺_i − bar⁻_i` (the loop's potentials
/// are detached and the right-hand sides of the cost matrices too, so only `f_ba` and `f_aa`
/// depend on `x_i`, through `C(x_i, ·)` in the last extrapolation; a zero-weight row gets the
/// same expression, the limit of a vanishing weight), and the value `S`.
fn geomloss(
    x: &[f64],
    a: &[f64],
    y: &[f64],
    b: &[f64],
    d: usize,
    blur: f64,
    scaling: f64,
) -> (Vec<f64>, f64) {
    let (n, m) = (a.len(), b.len());
    let (a_log, b_log) = (log_weights(a), log_weights(b));
    let c_xy = cost(x, y, d);
    let c_yx = transpose(&c_xy, n, m);
    let c_xx = cost(x, x, d);
    let c_yy = cost(y, y, d);
    let eps_list = epsilon_schedule(max_diameter(x, y, d), blur, scaling);
    let eps0 = eps_list[0];
    let mut g_ab = softmin(eps0, &c_yx, &a_log);
    let mut f_ba = softmin(eps0, &c_xy, &b_log);
    let mut f_aa = softmin(eps0, &c_xx, &a_log);
    let mut g_bb = softmin(eps0, &c_yy, &b_log);
    for &eps in &eps_list {
        let ft_ba = softmin(eps, &c_xy, &shifted(&b_log, &g_ab, eps));
        let gt_ab = softmin(eps, &c_yx, &shifted(&a_log, &f_ba, eps));
        let ft_aa = softmin(eps, &c_xx, &shifted(&a_log, &f_aa, eps));
        let gt_bb = softmin(eps, &c_yy, &shifted(&b_log, &g_bb, eps));
        (f_ba, g_ab) = (average(&f_ba, &ft_ba), average(&g_ab, &gt_ab));
        (f_aa, g_bb) = (average(&f_aa, &ft_aa), average(&g_bb, &gt_bb));
    }
    let eps = blur * blur;
    // The field: the plans of the last extrapolation, built on the loop's potentials.
    let attraction = barycentres(eps, &c_xy, &shifted(&b_log, &g_ab, eps), y, d);
    let repulsion = barycentres(eps, &c_xx, &shifted(&a_log, &f_aa, eps), x, d);
    let field = attraction
        .iter()
        .zip(&repulsion)
        .map(|(p, q)| p - q)
        .collect();
    // The value: the last extrapolation (parallel for the cross problem).
    let f_ext = softmin(eps, &c_xy, &shifted(&b_log, &g_ab, eps));
    let g_ext = softmin(eps, &c_yx, &shifted(&a_log, &f_ba, eps));
    let f_aa_ext = softmin(eps, &c_xx, &shifted(&a_log, &f_aa, eps));
    let g_bb_ext = softmin(eps, &c_yy, &shifted(&b_log, &g_bb, eps));
    let scal = |w: &[f64], p: &[f64], q: &[f64]| -> f64 {
        w.iter().zip(p).zip(q).map(|((w, p), q)| w * (p - q)).sum()
    };
    let value = scal(a, &f_ext, &f_aa_ext) + scal(b, &g_ext, &g_bb_ext);
    (field, value)
}

/// A Gaussian cloud of `n` points in `d` dimensions around `shift`.
fn cloud(rng: &mut SplitMix64, n: usize, d: usize, spread: f64, shift: f64) -> Vec<f64> {
    (0..n * d).map(|_| shift + spread * rng.normal()).collect()
}

/// Uneven weights in `[0.2, 2]`, with zeros at `zeros`.
fn weights(rng: &mut SplitMix64, n: usize, zeros: &[usize]) -> Vec<f64> {
    (0..n)
        .map(|i| {
            if zeros.contains(&i) {
                0.0
            } else {
                0.2 + 1.8 * rng.uniform()
            }
        })
        .collect()
}

fn normalised(w: &[f64]) -> Vec<f64> {
    let total: f64 = w.iter().sum();
    w.iter().map(|v| v / total).collect()
}

/// `max |u − v| / max |v|`.
fn rel_err(u: &[f64], v: &[f64]) -> f64 {
    let scale = v.iter().fold(0.0f64, |s, t| s.max(t.abs()));
    u.iter()
        .zip(v)
        .fold(0.0f64, |s, (p, q)| s.max((p - q).abs()))
        / scale
}

struct Case {
    n: usize,
    m: usize,
    d: usize,
    blur: f64,
    scaling: f64,
    zeros_x: Vec<usize>,
    zeros_y: Vec<usize>,
}

fn cases() -> Vec<Case> {
    let case = |n, m, d, blur, scaling, zeros_x: &[usize], zeros_y: &[usize]| Case {
        n,
        m,
        d,
        blur,
        scaling,
        zeros_x: zeros_x.to_vec(),
        zeros_y: zeros_y.to_vec(),
    };
    vec![
        case(50, 80, 2, 0.5, 0.9, &[], &[]),
        case(120, 60, 3, 0.3, 0.7, &[], &[]),
        case(200, 150, 5, 0.5, 0.9, &[], &[]),
        case(90, 110, 2, 0.4, 0.8, &[3], &[7, 20]),
        // A blur above the diameter: the schedule is [diam², blur²].
        case(60, 70, 2, 20.0, 0.9, &[], &[]),
    ]
}

/// The operator for GeomLoss' `blur` and `scaling`: `τ = 2 blur²`, ratio `scaling²`.
fn operator(blur: f64, scaling: f64) -> SinkhornDivergence {
    SinkhornDivergence {
        temperature: 2.0 * blur * blur,
        sinkhorn: Sinkhorn::default().with_geomloss(scaling * scaling),
    }
}

#[test]
fn the_field_and_value_are_geomloss_in_f64() {
    for (k, c) in cases().iter().enumerate() {
        let mut rng = SplitMix64::new(17 + k as u64);
        let x = cloud(&mut rng, c.n, c.d, 1.0, 0.0);
        let y = cloud(&mut rng, c.m, c.d, 0.7, 1.5);
        let (wx, wy) = (
            weights(&mut rng, c.n, &c.zeros_x),
            weights(&mut rng, c.m, &c.zeros_y),
        );
        let (want, value) = geomloss(
            &x,
            &normalised(&wx),
            &y,
            &normalised(&wy),
            c.d,
            c.blur,
            c.scaling,
        );
        let px = PointCloud::new("x", x, c.d)
            .unwrap()
            .with_weights(wx)
            .unwrap();
        let py = PointCloud::new("y", y, c.d)
            .unwrap()
            .with_weights(wy)
            .unwrap();
        let op = operator(c.blur, c.scaling);
        let (v, report) = drift_ops::drift(&op, &px, &py).unwrap();
        let err = rel_err(&v, &want);
        assert!(err < 1e-10, "case {k}: field error {err:e}");
        assert!(v.iter().all(|t| t.is_finite()), "case {k}");
        for term in &report.couplings {
            let e = term.marginal_error.unwrap();
            assert!(e.is_finite() && e >= 0.0, "case {k}: {e}");
            assert_eq!(term.converged, e <= op.sinkhorn.tol, "case {k}");
        }
        let s = sinkhorn_divergence(&op, &px, &py).unwrap();
        assert!(
            (s - value).abs() <= 1e-10 * value.abs().max(1e-3),
            "case {k}: value {s} against {value}"
        );
    }
}

#[test]
fn the_field_is_geomloss_in_f32() {
    for (k, c) in cases().iter().enumerate() {
        let mut rng = SplitMix64::new(101 + k as u64);
        // f32 coordinates and weights, the reference computed from the same rounded inputs.
        let round = |v: Vec<f64>| v.into_iter().map(|t| t as f32 as f64).collect::<Vec<_>>();
        let x = round(cloud(&mut rng, c.n, c.d, 1.0, 0.0));
        let y = round(cloud(&mut rng, c.m, c.d, 0.7, 1.5));
        let (wx, wy) = (
            round(weights(&mut rng, c.n, &c.zeros_x)),
            round(weights(&mut rng, c.m, &c.zeros_y)),
        );
        let (want, _) = geomloss(
            &x,
            &normalised(&wx),
            &y,
            &normalised(&wy),
            c.d,
            c.blur,
            c.scaling,
        );
        let narrow = |v: &[f64]| v.iter().map(|t| *t as f32).collect::<Vec<f32>>();
        let px = PointCloud::new("x", narrow(&x), c.d)
            .unwrap()
            .with_weights(narrow(&wx))
            .unwrap();
        let py = PointCloud::new("y", narrow(&y), c.d)
            .unwrap()
            .with_weights(narrow(&wy))
            .unwrap();
        let (v, _) = drift_ops::drift(&operator(c.blur, c.scaling), &px, &py).unwrap();
        let v: Vec<f64> = v.iter().map(|t| *t as f64).collect();
        let err = rel_err(&v, &want);
        assert!(err < 1e-4, "case {k}: field error {err:e}");
    }
}

/// The loop stops unconverged: far from the converged divergence drift at a small blur, which is
/// what tells the two modes apart (the test above could not fail by running the tolerance loop).
#[test]
fn the_loop_differs_from_the_converged_drift() {
    let mut rng = SplitMix64::new(5);
    let (n, d) = (80, 2);
    let x = PointCloud::new("x", cloud(&mut rng, n, d, 1.0, 0.0), d).unwrap();
    let y = PointCloud::new("y", cloud(&mut rng, n, d, 0.7, 1.5), d).unwrap();
    let geomloss = operator(0.3, 0.9);
    let converged = SinkhornDivergence {
        temperature: geomloss.temperature,
        sinkhorn: Sinkhorn::new(20_000, 1e-12).with_epsilon_scaling(0.81),
    };
    let (v, report) = drift_ops::drift(&geomloss, &x, &y).unwrap();
    let (w, _) = drift_ops::drift(&converged, &x, &y).unwrap();
    let err = rel_err(&v, &w);
    assert!(
        err > 1e-4,
        "GeomLoss' loop agrees with the converged drift to {err:e}"
    );
    // Every temperature of the schedule is one update (τ_0 twice, then the ratio's stages, then τ).
    let schedule = epsilon_schedule(Sinkhorn::geomloss_diameter(&[&x, &y]), 0.3, 0.9);
    assert_eq!(report.couplings[0].iterations, schedule.len());
}

#[test]
fn geomloss_needs_epsilon_scaling_and_no_warm_start() {
    let mut s = Sinkhorn::default();
    s.schedule = Schedule::GeomLoss;
    let e = s.validate().unwrap_err();
    assert!(matches!(e, DriftError::InvalidParameter { .. }), "{e}");
    assert!(e.to_string().contains("epsilon_scaling"), "{e}");
    let e = Sinkhorn::default()
        .with_geomloss(0.81)
        .with_warm_start(true)
        .validate()
        .unwrap_err();
    assert!(e.to_string().contains("warm_start"), "{e}");
    assert!(Sinkhorn::default().with_geomloss(1.2).validate().is_err());
    assert!(Sinkhorn::default()
        .with_geomloss(0.81)
        .with_diameter(f64::NAN)
        .validate()
        .is_err());
    // The operator reports it before any work, as does its value.
    let ron = r#"{"sinkhorn_divergence": (temperature: 0.5, sinkhorn: (geomloss: true))}"#;
    let e = operator_from_str(ron, "<test>")
        .and_then(|op| op.validate())
        .unwrap_err();
    assert!(e.to_string().contains("epsilon_scaling"), "{e}");
    let op = SinkhornDivergence {
        temperature: 0.5,
        sinkhorn: s,
    };
    let x = PointCloud::new("x", vec![0.0f64, 1.0], 1).unwrap();
    assert!(sinkhorn_divergence(&op, &x, &x).is_err());
    assert!(drift_ops::drift(&op, &x, &x).is_err());
}

#[test]
fn geomloss_round_trips_through_ron() {
    let s = Sinkhorn::new(7, 1e-4).with_geomloss(0.81);
    let text = ron::to_string(&s).unwrap();
    assert!(text.contains("schedule:GeomLoss"), "{text}");
    let back: Sinkhorn = ron::from_str(&text).unwrap();
    assert_eq!(back, s);
    assert_eq!(back.schedule, Schedule::GeomLoss);
    // Off by default, and absent from older files.
    let old: Sinkhorn = ron::from_str("(max_iters: 7, epsilon_scaling: Some(0.81))").unwrap();
    assert_eq!(old.schedule, Schedule::Standard);
    let ron = r#"{"sinkhorn_divergence": (temperature: 0.5, sinkhorn: (geomloss: true, epsilon_scaling: Some(0.81)))}"#;
    let op = operator_from_str(ron, "<test>").unwrap();
    assert!(op.validate().is_ok());
    // The loaded operator computes GeomLoss' field.
    let mut rng = SplitMix64::new(9);
    let (x, y) = (
        cloud(&mut rng, 40, 2, 1.0, 0.0),
        cloud(&mut rng, 30, 2, 0.7, 1.5),
    );
    let (want, _) = geomloss(&x, &[1.0 / 40.0; 40], &y, &[1.0 / 30.0; 30], 2, 0.5, 0.9);
    let px = PointCloud::new("x", x, 2).unwrap();
    let py = PointCloud::new("y", y, 2).unwrap();
    let (v, _) = drift_ops::drift(op.as_ref(), &px, &py).unwrap();
    assert!(rel_err(&v, &want) < 1e-10);
}

/// The schedule's two RON spellings, `schedule: GeomLoss` and the former `geomloss: true` (and
/// `Standard` / `false`), load the same operator and give the same field bit for bit; both at once
/// must agree.
#[test]
fn both_spellings_of_the_schedule_give_the_same_field() {
    let mut rng = SplitMix64::new(11);
    let (x, y) = (
        cloud(&mut rng, 35, 2, 1.0, 0.0),
        cloud(&mut rng, 25, 2, 0.7, 1.5),
    );
    let px = PointCloud::new("x", x, 2).unwrap();
    let py = PointCloud::new("y", y, 2).unwrap();
    let field = |sinkhorn: &str| {
        let ron = format!(
            r#"{{"sinkhorn_divergence": (temperature: 0.5, sinkhorn: ({sinkhorn}, epsilon_scaling: Some(0.81)))}}"#
        );
        let op = operator_from_str(&ron, "<test>").unwrap();
        drift_ops::drift(op.as_ref(), &px, &py).unwrap().0
    };
    let new = field("schedule: GeomLoss");
    assert_eq!(new, field("geomloss: true"));
    assert_eq!(new, field("schedule: GeomLoss, geomloss: true"));
    let standard = field("schedule: Standard");
    assert_eq!(standard, field("geomloss: false"));
    assert_ne!(new, standard, "the two loops give different fields");
    let ron = r#"{"sinkhorn_divergence": (temperature: 0.5, sinkhorn: (schedule: Standard, geomloss: true))}"#;
    let e = operator_from_str(ron, "<test>").unwrap_err();
    assert!(e.to_string().contains("disagree"), "{e}");
}
