//! The gated repulsion against a dense f64 reference written here from its definition, with and
//! without guidance negatives, in both precisions, and from RON.

use drift_api::{apply_drift, load_operator, Context, DriftProblem, Negatives, PointCloud};
use drift_example_plugin::GatedRepulsion;
use drift_ops::{CpuBackend, Gaussian, Guidance, Sinkhorn};

const TAU: f64 = 0.4;

fn points(n: usize, d: usize, seed: u64, shift: f64) -> Vec<Vec<f64>> {
    let mut s = seed;
    (0..n)
        .map(|_| {
            (0..d)
                .map(|_| {
                    s = s
                        .wrapping_mul(6364136223846793005)
                        .wrapping_add(1442695040888963407);
                    shift + (s >> 11) as f64 / (1u64 << 53) as f64
                })
                .collect()
        })
        .collect()
}

fn ell(a: &[f64], b: &[f64]) -> f64 {
    -a.iter().zip(b).map(|(u, v)| (u - v).powi(2)).sum::<f64>() / TAU
}

fn lse(v: impl Iterator<Item = f64>) -> f64 {
    let v: Vec<f64> = v.collect();
    let m = v.iter().cloned().fold(f64::NEG_INFINITY, f64::max);
    m + v.iter().map(|s| (s - m).exp()).sum::<f64>().ln()
}

/// `Σ_j w_j z_j / Σ_j w_j − x` for log-weights `s_j`.
fn displacement(x: &[f64], cols: &[Vec<f64>], s: &[f64]) -> Vec<f64> {
    let total = lse(s.iter().cloned());
    (0..x.len())
        .map(|c| {
            cols.iter()
                .zip(s)
                .map(|(z, sj)| (sj - total).exp() * (z[c] - x[c]))
                .sum()
        })
        .collect()
}

/// The field from its definition: a converged Sinkhorn attraction (uniform marginals), minus the
/// row-softmax repulsion over the particles and the negatives (each negative weighing `w` times a
/// particle), gated by `min(1, q̂/p̂)`.
fn reference(x: &[Vec<f64>], y: &[Vec<f64>], negatives: &[Vec<f64>], w: f64) -> Vec<f64> {
    let (n, m) = (x.len(), y.len());
    let (log_a, log_b) = (-(n as f64).ln(), -(m as f64).ln());
    let mut g = vec![log_b; m];
    for _ in 0..3000 {
        let f: Vec<f64> = x
            .iter()
            .map(|xi| log_a - lse(y.iter().zip(&g).map(|(yj, gj)| gj + ell(xi, yj))))
            .collect();
        g = y
            .iter()
            .map(|yj| log_b - lse(x.iter().zip(&f).map(|(xi, fi)| fi + ell(xi, yj))))
            .collect();
    }
    let total = n as f64 + w * negatives.len() as f64;
    let cols: Vec<Vec<f64>> = x.iter().chain(negatives).cloned().collect();
    let col_log_w: Vec<f64> = (0..cols.len())
        .map(|k| {
            if k < n {
                (1.0 / total).ln()
            } else {
                (w / total).ln()
            }
        })
        .collect();
    let mut v = Vec::new();
    for xi in x {
        let plus: Vec<f64> = y.iter().zip(&g).map(|(yj, gj)| gj + ell(xi, yj)).collect();
        let minus: Vec<f64> = cols
            .iter()
            .zip(&col_log_w)
            .map(|(z, lw)| lw + ell(xi, z))
            .collect();
        let log_p = lse(y.iter().map(|yj| log_b + ell(xi, yj)));
        let log_q = lse(minus.iter().cloned());
        let gate = (log_q - log_p).min(0.0).exp();
        let (dp, dm) = (displacement(xi, y, &plus), displacement(xi, &cols, &minus));
        v.extend(dp.iter().zip(&dm).map(|(a, b)| a - gate * b));
    }
    v
}

fn cloud<T: drift_api::Real>(name: &str, p: &[Vec<f64>]) -> PointCloud<T> {
    let d = p[0].len();
    PointCloud::new(name, p.iter().flatten().map(|v| T::of(*v)).collect(), d).unwrap()
}

fn op() -> GatedRepulsion {
    GatedRepulsion {
        kernel: Box::new(Gaussian),
        temperature: TAU,
        sinkhorn: Sinkhorn::new(3000, 1e-14),
    }
}

fn max_rel(got: &[f64], want: &[f64]) -> f64 {
    let scale = want.iter().fold(0.0f64, |a, v| a.max(v.abs()));
    got.iter()
        .zip(want)
        .map(|(a, b)| (a - b).abs())
        .fold(0.0, f64::max)
        / scale
}

#[test]
fn matches_the_dense_reference_in_both_precisions() {
    for (n, m, d) in [(7, 9, 2), (30, 25, 3), (12, 40, 1)] {
        let x = points(n, d, 1 + n as u64, 0.0);
        let y = points(m, d, 2 + m as u64, 0.6);
        let want = reference(&x, &y, &[], 0.0);
        let (v, report) = drift_ops::drift(&op(), &cloud::<f64>("x", &x), &cloud("y", &y)).unwrap();
        assert!(
            max_rel(&v, &want) < 1e-9,
            "f64 {n}x{m}x{d}: {}",
            max_rel(&v, &want)
        );
        assert!(report.couplings[0].converged);
        let (v32, _) = drift_ops::drift(&op(), &cloud::<f32>("x", &x), &cloud("y", &y)).unwrap();
        let v32: Vec<f64> = v32.iter().map(|v| *v as f64).collect();
        assert!(
            max_rel(&v32, &want) < 1e-4,
            "f32 {n}x{m}x{d}: {}",
            max_rel(&v32, &want)
        );
    }
}

/// Runs `op` with negatives, as `apply` and the guidance composition do.
fn guided(
    op: &dyn drift_api::DriftOperator,
    x: &[Vec<f64>],
    y: &[Vec<f64>],
    u: &[Vec<f64>],
    w: f64,
) -> Vec<f64> {
    let (xc, yc, uc) = (cloud::<f64>("x", x), cloud("y", y), cloud("u", u));
    let mut out = vec![0.0; xc.len() * xc.dim()];
    apply_drift(
        op,
        DriftProblem {
            backend: &CpuBackend,
            x: &xc,
            y: &yc,
            context: &Context::default(),
            out: &mut out,
            scale: 1.0,
            negatives: Some(Negatives::new(&uc, w)),
        },
    )
    .unwrap();
    out
}

#[test]
fn guidance_negatives_join_the_gated_repulsion() {
    let (x, y, u) = (
        points(20, 2, 5, 0.0),
        points(24, 2, 6, 0.5),
        points(6, 2, 7, -0.4),
    );
    let plain = reference(&x, &y, &[], 0.0);
    let want = reference(&x, &y, &u, 1.5);
    assert!(
        max_rel(&plain, &want) > 1e-2,
        "the negatives must matter in this test"
    );
    assert!(max_rel(&guided(&op(), &x, &y, &u, 1.5), &want) < 1e-9);
    // Under `guidance`, with its weight (α − 1)(N − 1)/N_unc.
    let alpha = 2.0;
    let w = (alpha - 1.0) * (x.len() as f64 - 1.0) / u.len() as f64;
    let guidance = Guidance {
        operator: Box::new(op()),
        alpha,
    };
    assert!(
        max_rel(
            &guided(&guidance, &x, &y, &u, 0.0),
            &reference(&x, &y, &u, w)
        ) < 1e-9
    );
}

#[test]
fn the_template_ron_file_runs_every_piece() {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/template.ron");
    let op = load_operator(path).unwrap_or_else(|e| panic!("{e}"));
    let (x, y, u) = (
        points(16, 2, 8, 0.0),
        points(20, 2, 9, 0.5),
        points(4, 2, 10, -0.4),
    );
    let (v, report) =
        drift_ops::drift(op.as_ref(), &cloud::<f32>("x", &x), &cloud("y", &y)).unwrap();
    assert!(v.iter().all(|c| c.is_finite()));
    assert_eq!(report.operator, "example.warmup");
    let parts: Vec<&str> = report.parts[0]
        .parts
        .iter()
        .map(|p| p.operator.as_str())
        .collect();
    assert_eq!(parts, ["example.gated_repulsion", "cross_minus_self"]);
    let with_negatives = guided(op.as_ref(), &x, &y, &u, 1.0);
    let (without, _) =
        drift_ops::drift(op.as_ref(), &cloud::<f64>("x", &x), &cloud("y", &y)).unwrap();
    assert!(
        max_rel(&with_negatives, &without) > 1e-3,
        "negatives reach every part"
    );
}
