//! Compositions against the same sums computed by hand from their parts, and guidance negatives
//! against the dense reference.

mod common;

use common::*;
use drift_api::{apply_drift, Context, DriftOperator, DriftProblem, Negatives, PointCloud};
use drift_ops::{
    Annealed, Clock, CpuBackend, DengAlg2, FeatureScale, Guidance, Mmd, MmdKernel,
    MultiTemperature, OneSided, Sinkhorn, SinkhornDrift, Sum, Weighted, WeightedTerm,
};

fn lib(c: &Cloud, name: &str) -> PointCloud<f64> {
    c.to_lib::<f64>(name)
}

fn run(
    op: &dyn DriftOperator,
    x: &PointCloud<f64>,
    y: &PointCloud<f64>,
    context: Context,
    negatives: Option<Negatives<'_, f64>>,
) -> Vec<f64> {
    let mut out = vec![0.0; x.len() * x.dim()];
    apply_drift(
        op,
        DriftProblem {
            backend: &CpuBackend,
            x,
            y,
            context: &context,
            out: &mut out,
            scale: 1.0,
            negatives,
        },
    )
    .unwrap();
    out
}

fn field(op: &dyn DriftOperator, x: &PointCloud<f64>, y: &PointCloud<f64>) -> Vec<f64> {
    drift_ops::drift(op, x, y).unwrap().0
}

fn inputs(seed: u64) -> (PointCloud<f64>, PointCloud<f64>) {
    let mut r = rng(seed);
    (
        lib(&Cloud::random(&mut r, 30, 3, 0.0, true), "x"),
        lib(&Cloud::random(&mut r, 25, 3, 0.5, false), "y"),
    )
}

fn norm(v: &[f64]) -> f64 {
    (v.iter().map(|c| c * c).sum::<f64>() / v.len() as f64).sqrt()
}

#[test]
fn sums_and_weighted_sums_add_their_parts() {
    let (x, y) = inputs(31);
    let parts: Vec<Box<dyn DriftOperator>> = vec![
        Box::new(OneSided::new(0.4)),
        Box::new(SinkhornDrift::new(0.3)),
        Box::new(Mmd::new(MmdKernel::Laplace, 0.5)),
    ];
    let fields: Vec<Vec<f64>> = parts.iter().map(|p| field(p.as_ref(), &x, &y)).collect();
    let weights = [0.5, -1.5, 2.0];
    let expect: Vec<f64> = (0..fields[0].len())
        .map(|k| fields.iter().zip(weights).map(|(f, w)| w * f[k]).sum())
        .collect();
    let weighted = Weighted {
        terms: parts
            .into_iter()
            .zip(weights)
            .map(|(operator, weight)| WeightedTerm { weight, operator })
            .collect(),
    };
    let (got, report) = drift_ops::drift(&weighted, &x, &y).unwrap();
    assert!(rel_err(&got, &expect) < 1e-13);
    assert!((report.drift_norm - norm(&expect)).abs() < 1e-12);
    assert_eq!(report.parts.len(), 3);

    let sum = Sum {
        operators: vec![
            Box::new(OneSided::new(0.4)),
            Box::new(SinkhornDrift::new(0.3)),
        ],
    };
    let expect: Vec<f64> = fields[0]
        .iter()
        .zip(&fields[1])
        .map(|(a, b)| a + b)
        .collect();
    assert!(rel_err(&field(&sum, &x, &y), &expect) < 1e-13);
}

#[test]
fn multi_temperature_normalises_each_temperature() {
    let (x, y) = inputs(32);
    let temps = [0.02, 0.05, 0.2];
    for normalise in [true, false] {
        let op = MultiTemperature {
            operator: Box::new(OneSided::new(1.0)),
            temperatures: temps.to_vec(),
            normalise,
            over: drift_api::kit::Reduction::Batch,
        };
        let mut expect = vec![0.0; x.len() * x.dim()];
        for t in temps {
            let v = field(&OneSided::new(t), &x, &y);
            let lambda = if normalise { norm(&v) } else { 1.0 };
            expect
                .iter_mut()
                .zip(&v)
                .for_each(|(e, c)| *e += c / lambda);
        }
        assert!(
            rel_err(&field(&op, &x, &y), &expect) < 1e-12,
            "normalise={normalise}"
        );
    }
}

#[test]
fn feature_scale_runs_on_normalised_features_and_returns_original_units() {
    let (x, y) = inputs(33);
    let d = x.dim() as f64;
    let mut mean = 0.0;
    let (a, b) = (x.probabilities(), y.probabilities());
    for i in 0..x.len() {
        for j in 0..y.len() {
            let dist: f64 = x
                .point(i)
                .iter()
                .zip(y.point(j))
                .map(|(p, q)| (p - q) * (p - q))
                .sum::<f64>()
                .sqrt();
            mean += a[i] * b[j] * dist;
        }
    }
    let s = mean / d.sqrt();
    let tau = 0.05;
    let op = FeatureScale::new(Box::new(OneSided::new(tau)));
    let xs = x.map_coords(|_, v| v / s).unwrap();
    let ys = y.map_coords(|_, v| v / s).unwrap();
    let inner = field(&OneSided::new(tau * d.sqrt()), &xs, &ys);
    let expect: Vec<f64> = inner.iter().map(|v| v * s).collect();
    assert!(rel_err(&field(&op, &x, &y), &expect) < 1e-12);
}

#[test]
fn annealing_follows_the_context_clock() {
    let (x, y) = inputs(34);
    let op = Annealed {
        operator: Box::new(OneSided::new(0.5)),
        rate: 0.3,
        clock: Clock::Time,
        min_factor: 1e-12,
    };
    for time in [0.0, 1.0, 4.0] {
        let got = run(&op, &x, &y, Context::at(0, time), None);
        let expect = field(&OneSided::new(0.5 * (-0.3 * time).exp()), &x, &y);
        assert!(rel_err(&got, &expect) < 1e-12, "t = {time}");
    }
    let by_step = Annealed {
        clock: Clock::Step,
        ..op
    };
    let got = run(&by_step, &x, &y, Context::at(3, 100.0), None);
    let expect = field(&OneSided::new(0.5 * (-0.9f64).exp()), &x, &y);
    assert!(rel_err(&got, &expect) < 1e-12);
}

/// Merges reference sides over blocks as one column set.
fn merge(sides: &[SideRef]) -> SideRef {
    let n = sides[0].0.len();
    let mut out = (vec![0.0; n], vec![], vec![0.0; n], vec![0.0; n]);
    for i in 0..n {
        let total = lse(sides.iter().map(|s| s.2[i]));
        let d = sides[0].1[i].len();
        let mut disp = vec![0.0; d];
        for s in sides {
            let w = (s.2[i] - total).exp();
            for k in 0..d {
                disp[k] += w * s.1[i][k];
            }
            out.0[i] += s.0[i];
        }
        out.1.push(disp);
        out.2[i] = total;
        out.3[i] = lse(sides.iter().map(|s| s.3[i]));
    }
    out
}

#[test]
fn guidance_negatives_join_the_repulsion_as_weighted_columns() {
    let mut r = rng(35);
    let x = Cloud::random(&mut r, 12, 2, 0.0, false);
    let y = Cloud::random(&mut r, 10, 2, 0.6, false);
    let u = Cloud::random(&mut r, 6, 2, -0.4, true);
    let (xl, yl, ul) = (lib(&x, "x"), lib(&y, "y"), lib(&u, "u"));
    let alpha = 2.5;
    let w = Negatives::<f64>::guidance_weight(alpha, x.n(), u.n());
    let (n, m, nu) = (x.n() as f64, y.n() as f64, u.n() as f64);
    let tau = 0.4;
    let negatives = Some(Negatives::new(&ul, 0.0));

    // Split engine: one-sided (row couplings) and Sinkhorn drift (weighted Sinkhorn columns).
    for (c, op, mask) in [
        (
            C::Row,
            Box::new(OneSided::new(tau)) as Box<dyn DriftOperator>,
            true,
        ),
        (
            C::Sinkhorn(9),
            Box::new(SinkhornDrift {
                kernel: K::Gaussian.boxed(),
                temperature: tau,
                sinkhorn: Sinkhorn::new(9, 0.0),
                self_transport: Default::default(),
            }),
            false,
        ),
    ] {
        let k = if matches!(c, C::Row) {
            K::Laplace
        } else {
            K::Gaussian
        };
        let total = n + w * nu;
        let blocks = [
            Block {
                pts: &x.pts,
                log_b: x.log_w.iter().map(|v| v + (n / total).ln()).collect(),
                mask,
            },
            Block {
                pts: &u.pts,
                log_b: u.log_w.iter().map(|v| v + (w * nu / total).ln()).collect(),
                mask: false,
            },
        ];
        let cross = [Block {
            pts: &y.pts,
            log_b: y.log_w.clone(),
            mask: false,
        }];
        let mean = drift_ops::DisplacementKind::Mean;
        let pc = plan(c, k, tau, &x.pts, &x.log_w, &cross, false);
        let ps = plan(c, k, tau, &x.pts, &x.log_w, &blocks, false);
        let plus = &block_terms(k, tau, &x.pts, &cross, &pc, mean)[0];
        let minus = merge(&block_terms(k, tau, &x.pts, &blocks, &ps, mean));
        let expect = combine(RowWeighting::Unit, plus, &minus);
        let guided = Guidance {
            operator: op,
            alpha,
        };
        let got = run(&guided, &xl, &yl, Context::default(), negatives);
        assert!(
            rel_err(&got, &expect) < 1e-10,
            "{c:?}: {}",
            rel_err(&got, &expect)
        );
    }

    // Joint engine: Deng's Algorithm 2 over [Y; X; U].
    let total = m + n + w * nu;
    let blocks = [
        Block {
            pts: &y.pts,
            log_b: y.log_w.iter().map(|v| v + (m / total).ln()).collect(),
            mask: false,
        },
        Block {
            pts: &x.pts,
            log_b: x.log_w.iter().map(|v| v + (n / total).ln()).collect(),
            mask: true,
        },
        Block {
            pts: &u.pts,
            log_b: u.log_w.iter().map(|v| v + (w * nu / total).ln()).collect(),
            mask: false,
        },
    ];
    let p = plan(C::Proxy, K::Laplace, tau, &x.pts, &x.log_w, &blocks, false);
    let sides = block_terms(
        K::Laplace,
        tau,
        &x.pts,
        &blocks,
        &p,
        drift_ops::DisplacementKind::Mean,
    );
    let expect = combine(RowWeighting::MassProduct, &sides[0], &merge(&sides[1..]));
    let guided = Guidance {
        operator: Box::new(DengAlg2::new(tau)),
        alpha,
    };
    let got = run(&guided, &xl, &yl, Context::default(), negatives);
    assert!(rel_err(&got, &expect) < 1e-10);

    // α = 1 switches guidance off.
    let off = Guidance {
        operator: Box::new(DengAlg2::new(tau)),
        alpha: 1.0,
    };
    let got = run(&off, &xl, &yl, Context::default(), negatives);
    assert!(rel_err(&got, &field(&DengAlg2::new(tau), &xl, &yl)) < 1e-13);
    // Guidance without negatives is a typed error.
    let e = drift_ops::drift(&off, &xl, &yl).unwrap_err();
    assert!(e.to_string().contains("negatives"), "{e}");
}

#[test]
fn multi_temperature_refuses_an_overflowing_inner_norm() {
    // The inner field is finite (about 1e200) but its squares overflow: λ = inf. The old weight
    // `1/λ` was 0 for every temperature, an all-zero field with no error.
    let (x, y) = inputs(34);
    let op = drift_api::operator_from_str(
        r#"{"multi_temperature": (operator: {"weighted": (terms: [(weight: 1e200, operator: {"one_sided": (temperature: 1.0)})])}, temperatures: [0.5, 2.0])}"#,
        "test",
    )
    .unwrap();
    let mut out = vec![0.0; x.len() * x.dim()];
    let e = apply_drift(
        op.as_ref(),
        DriftProblem {
            backend: &CpuBackend,
            x: &x,
            y: &y,
            context: &Context::default(),
            out: &mut out,
            scale: 1.0,
            negatives: None,
        },
    )
    .unwrap_err()
    .to_string();
    assert!(e.contains("multi_temperature.temperatures[0]"), "{e}");
    assert!(e.contains("temperature factor 0.5"), "{e}");
    assert!(e.contains("inf"), "{e}");
}

#[test]
fn multi_temperature_refuses_a_negligible_positive_weight() {
    // One point of weight 1e-300 beside weights of 1 counted fully in λ_τ and moved every other
    // point's field by about 10 %: it is now refused, and weight 0 leaves the others unchanged.
    let (x, y) = inputs(35);
    let n = x.len();
    let op = MultiTemperature::deng(Box::new(OneSided::new(1.0)));
    let mut data = x.data().to_vec();
    data.extend(std::iter::repeat_n(40.0, x.dim()));
    let with = |w: f64| {
        let mut weights = vec![1.0; n];
        weights.push(w);
        PointCloud::new("x", data.clone(), x.dim())
            .unwrap()
            .with_weights(weights)
            .unwrap()
    };
    let e = drift_ops::drift(&op, &with(1e-300), &y)
        .unwrap_err()
        .to_string();
    assert!(e.contains(&format!("weight of point {n} of `x`")), "{e}");
    assert!(e.contains("1e-300"), "{e}");
    let ones = PointCloud::new("x", x.data().to_vec(), x.dim())
        .unwrap()
        .with_weights(vec![1.0; n])
        .unwrap();
    let base = field(&op, &ones, &y);
    let zero = field(&op, &with(0.0), &y);
    assert!(rel_err(&zero[..base.len()], &base) < 1e-12);
    // A small weight that is still representable against the others is accepted.
    assert!(drift_ops::drift(&op, &with(1e-10), &y).is_ok());
}
