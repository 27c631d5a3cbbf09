//! The fused batched paths. The Sinkhorn drift against a second generated batch
//! (`self_transport: Negatives`): one problem against a dense f64 Sinkhorn written here. The
//! Sinkhorn, one-sided, Algorithm 2, split proxy and MMD drifts on the fused path (alone, and
//! inside `feature_scale` / `multi_temperature`) against the per-problem default over random
//! ragged batches, weights, negatives, kernels, iteration caps and tolerance stops.

mod fused_support;

use drift_api::{
    apply_drift, operator_from_str, BatchReport, Context, DriftError, DriftOperator, DriftProblem,
    Negatives, PointCloud, Real,
};
use drift_ops::CpuBackend;
use fused_support::*;

/// log of normalised weights.
fn log_normalised(w: &Option<Vec<f64>>, n: usize) -> Vec<f64> {
    let w = w.clone().unwrap_or(vec![1.0; n]);
    let total: f64 = w.iter().sum();
    w.iter().map(|v| (v / total).ln()).collect()
}

fn lse(values: impl Iterator<Item = f64> + Clone) -> f64 {
    let top = values.clone().fold(f64::NEG_INFINITY, f64::max);
    top + values.map(|v| (v - top).exp()).sum::<f64>().ln()
}

/// The barycentres of the balanced Sinkhorn plan between `x` and `t` (Gaussian kernel,
/// `ℓ = −‖x − t‖²/τ`), row-normalised, as MATH.md states the loop (from `g = log b`; stop once the
/// column error is at most `tol` or after `cap` updates).
fn sinkhorn_barycentres(
    x: &[f64],
    la: &[f64],
    t: &[f64],
    lb: &[f64],
    dim: usize,
    tau: f64,
    cap: usize,
    tol: f64,
) -> Vec<f64> {
    let (n, m) = (la.len(), lb.len());
    let l = |i: usize, j: usize| {
        let d: f64 = (0..dim)
            .map(|k| (x[i * dim + k] - t[j * dim + k]).powi(2))
            .sum();
        -d / tau
    };
    let mut g = lb.to_vec();
    for iteration in 0.. {
        let f: Vec<f64> = (0..n)
            .map(|i| la[i] - lse((0..m).map(|j| g[j] + l(i, j))))
            .collect();
        let c: Vec<f64> = (0..m)
            .map(|j| lse((0..n).map(|i| f[i] + l(i, j))))
            .collect();
        let error: f64 = (0..m)
            .map(|j| ((g[j] + c[j]).exp() - lb[j].exp()).abs())
            .sum();
        if error <= tol || iteration >= cap {
            break;
        }
        g = (0..m).map(|j| lb[j] - c[j]).collect();
    }
    let mut bar = vec![0.0; n * dim];
    for i in 0..n {
        let row = lse((0..m).map(|j| g[j] + l(i, j)));
        for j in 0..m {
            let p = (g[j] + l(i, j) - row).exp();
            for k in 0..dim {
                bar[i * dim + k] += p * t[j * dim + k];
            }
        }
    }
    bar
}

/// `V = bar(X → Y) − bar(X → Z)` of one problem, in f64.
fn reference(p: &Problem, dim: usize, tau: f64, cap: usize, tol: f64) -> Vec<f64> {
    let n = p.x.len() / dim;
    let la = log_normalised(&p.wx, n);
    let to = |t: &[f64], w: &Option<Vec<f64>>| {
        let lb = log_normalised(w, t.len() / dim);
        sinkhorn_barycentres(&p.x, &la, t, &lb, dim, tau, cap, tol)
    };
    let (plus, minus) = (to(&p.y, &p.wy), to(&p.z, &p.wz));
    plus.iter().zip(&minus).map(|(a, b)| a - b).collect()
}

fn cloud<T: Real>(what: &str, v: &[f64], w: &Option<Vec<f64>>, dim: usize) -> PointCloud<T> {
    let c = PointCloud::new(what, v.iter().map(|v| T::of(*v)).collect(), dim).unwrap();
    match w {
        Some(w) => c
            .with_weights(w.iter().map(|v| T::of(*v)).collect())
            .unwrap(),
        None => c,
    }
}

fn single<T: Real>(op: &dyn DriftOperator, p: &Problem, dim: usize) -> drift_api::Result<Vec<T>> {
    let (x, y) = (
        cloud::<T>("x", &p.x, &p.wx, dim),
        cloud("y", &p.y, &p.wy, dim),
    );
    let z = cloud::<T>("z", &p.z, &p.wz, dim);
    let mut out = vec![T::zero(); p.x.len()];
    apply_drift(
        op,
        DriftProblem {
            backend: &CpuBackend,
            x: &x,
            y: &y,
            context: &Context::default(),
            out: &mut out,
            scale: T::one(),
            negatives: Some(Negatives::new(&z, 1.0)),
        },
    )?;
    Ok(out)
}

#[test]
fn one_problem_transports_to_the_second_batch_as_the_dense_reference_does() {
    let dim = 3;
    for (seed, weighted, cap, tol) in [(1, false, 15, 0.0), (2, true, 200, 1e-9)] {
        let batch = random_batch(seed, 4, dim, weighted);
        for tau in [0.7, 2.0] {
            let op = operator_from_str(
                &format!(
                    r#"{{"sinkhorn_drift": (temperature: {tau}, sinkhorn: (max_iters: {cap}, tol: {tol}), self_transport: Negatives)}}"#
                ),
                "t",
            )
            .unwrap();
            for p in &batch {
                let got = single::<f64>(op.as_ref(), p, dim).unwrap();
                let want = reference(p, dim, tau, cap, tol);
                assert!(rel(&got, &want) < 1e-11, "τ {tau}: {}", rel(&got, &want));
            }
        }
    }
}

#[test]
fn without_a_second_batch_the_negatives_form_is_a_typed_error() {
    let op = operator_from_str(
        r#"{"sinkhorn_drift": (temperature: 1.0, self_transport: Negatives)}"#,
        "t",
    )
    .unwrap();
    let x = PointCloud::new("x", vec![0.0f64, 1.0], 1).unwrap();
    let y = PointCloud::new("y", vec![2.0f64, 3.0], 1).unwrap();
    let e = drift_ops::drift(op.as_ref(), &x, &y).unwrap_err();
    assert!(
        matches!(&e, DriftError::InvalidParameter { what, .. } if what == "sinkhorn_drift.self_transport"),
        "{e}"
    );
}

/// The Sinkhorn leaf at temperature `tau`, cap `cap`, tolerance `tol`.
fn leaf(tau: f64, cap: usize, tol: f64) -> String {
    format!(
        r#"{{"sinkhorn_drift": (temperature: {tau}, sinkhorn: (max_iters: {cap}, tol: {tol}), self_transport: Negatives)}}"#
    )
}

/// The trees with a fused path, every reduction per problem (what the per-problem default
/// computes).
fn per_problem_trees(leaf: &str, temps: &str) -> Vec<String> {
    vec![
        leaf.to_string(),
        format!(
            r#"{{"multi_temperature": (operator: {leaf}, temperatures: {temps}, over: Problem)}}"#
        ),
        format!(r#"{{"feature_scale": (operator: {leaf}, over: Problem)}}"#),
        format!(
            r#"{{"multi_temperature": (operator: {{"feature_scale": (operator: {leaf})}}, temperatures: {temps}, over: Problem)}}"#
        ),
        format!(
            r#"{{"feature_scale": (operator: {{"multi_temperature": (operator: {leaf}, temperatures: {temps}, normalise: false)}}, over: Problem)}}"#
        ),
    ]
}

/// The one-sided leaf (`cap` and `tol` unused): the kernel and mask vary with `tau`'s draw.
fn one_sided(tau: f64, cap: usize, _: f64) -> String {
    let kernel = ["laplace", "gaussian"][cap % 2];
    let mask = !cap.is_multiple_of(3);
    format!(
        r#"{{"one_sided": (temperature: {tau}, kernel: {{"{kernel}": ()}}, mask_self: {mask})}}"#
    )
}

/// Algorithm 2 (`cap` and `tol` unused), varied as [`one_sided`].
fn joint(tau: f64, cap: usize, tol: f64) -> String {
    one_sided(tau, cap, tol).replace("one_sided", "deng_alg2")
}

/// The Sinkhorn leaf with the Laplace kernel.
fn laplace_leaf(tau: f64, cap: usize, tol: f64) -> String {
    leaf(tau, cap, tol).replace("temperature:", r#"kernel: {"laplace": ()}, temperature:"#)
}

/// A leaf's RON text from its temperature, iteration cap and tolerance.
type LeafText = fn(f64, usize, f64) -> String;

/// The leaves with a fused path, and the fewest negatives per problem each needs.
const LEAVES: [(LeafText, usize); 4] = [(leaf, 1), (laplace_leaf, 1), (one_sided, 0), (joint, 0)];

/// Fused against the per-problem default in precision `T`, within `tolerance`.
fn fused_equals_the_default<T: Real>(temps: &str, taus: &[f64], tolerance: f64) {
    let mut worst = 0.0f64;
    for seed in 0..24u64 {
        let dim = [1, 3, 17][seed as usize % 3];
        let weighted = seed / 4 % 2 == 1;
        let (leaf, least) = LEAVES[seed as usize % 4];
        let case = Case {
            seed,
            dim,
            weighted,
            leaf,
            least,
        };
        worst = worst.max(case.check::<T>(temps, taus, tolerance));
    }
    eprintln!("largest relative difference: {worst:e}");
}

/// One random batch and one leaf, checked in every tree.
struct Case {
    seed: u64,
    dim: usize,
    weighted: bool,
    leaf: LeafText,
    least: usize,
}

impl Case {
    /// Fused against the per-problem default: the largest relative difference.
    fn check<T: Real>(&self, temps: &str, taus: &[f64], tolerance: f64) -> f64 {
        let (seed, dim) = (self.seed, self.dim);
        let problems = random_batch_with(
            100 + seed,
            2 + seed as usize % 5,
            dim,
            self.weighted,
            self.least,
        );
        let f = flat::<T>(&problems, dim);
        let b = f.batch();
        let mut worst = 0.0f64;
        // An iteration cap that stops every loop, and a tolerance that stops them earlier.
        for (cap, tol) in [(3 + seed as usize % 15, 0.0), (500, 1e-4), (7, 0.0)] {
            let tau = taus[seed as usize % taus.len()];
            for text in per_problem_trees(&(self.leaf)(tau, cap, tol), temps) {
                let op = operator_from_str(&text, "t").unwrap();
                let (fast, report) = batched(op.as_ref(), &b);
                assert!(report.fused, "{text}: not on the fused path");
                let slow = per_problem(op.as_ref(), &b);
                let r = rel(&fast, &slow);
                if r >= tolerance && self.as_close_to_f64(op.as_ref(), &problems, &fast, tolerance)
                {
                    continue;
                }
                worst = worst.max(r);
                assert!(r < tolerance, "seed {seed} D={dim} {text}: {r:e}");
            }
        }
        worst
    }

    /// Where the two f32 fields differ by more than the tolerance because the default's own
    /// rounding is that large (the split proxy in `D = 1`, weighted: 2.5e-6 from the f64 field)
    /// or both paths' are near it (the MMD in `D = 17`: 4.7e-7 and 9.4e-7), the fused field must
    /// be within the tolerance of the f64 field, or at least as close to it as the default's.
    fn as_close_to_f64<T: Real>(
        &self,
        op: &dyn DriftOperator,
        problems: &[Problem],
        fast: &[T],
        tolerance: f64,
    ) -> bool {
        let truth = per_problem(op, &flat::<f64>(problems, self.dim).batch());
        let slow = per_problem(op, &flat::<T>(problems, self.dim).batch());
        let (fused, default) = (rel(fast, &truth), rel(&slow, &truth));
        eprintln!(
            "seed {}: from the f64 field {fused:e} fused, {default:e} default",
            self.seed
        );
        fused < tolerance.max(default)
    }
}

/// The split Sinkhorn proxy (`cap` and `tol` unused), varied as [`one_sided`].
fn proxy(tau: f64, cap: usize, tol: f64) -> String {
    one_sided(tau, cap, tol).replace("one_sided", "sinkhorn_proxy")
}

/// The MMD gradient drift, Gaussian kernel (`cap` and `tol` unused).
fn mmd(tau: f64, _: usize, _: f64) -> String {
    format!(r#"{{"mmd": (temperature: {tau}, kernel: gaussian)}}"#)
}

/// The Sinkhorn drift against the particles themselves (the negatives, when a problem has some,
/// join them as weighted columns; without, the symmetric loop), the kernel varied with `cap`.
fn particles(tau: f64, cap: usize, tol: f64) -> String {
    let kernel = ["gaussian", "laplace"][cap % 2];
    format!(
        r#"{{"sinkhorn_drift": (temperature: {tau}, kernel: {{"{kernel}": ()}}, sinkhorn: (max_iters: {cap}, tol: {tol}), self_transport: Particles)}}"#
    )
}

/// The leaves whose negatives are optional (split proxy, MMD, the Sinkhorn drift against the
/// particles) against the per-problem default: each leaf in `D` = 1, 3 and 17, weighted and not,
/// some problems without negatives.
fn optional_negatives_equal_the_default<T: Real>(temps: &str, taus: &[f64], tolerance: f64) {
    let mut worst = 0.0f64;
    for seed in 0..18u64 {
        let leaf: LeafText = [proxy, mmd, particles][seed as usize % 3];
        let case = Case {
            seed,
            dim: [1, 3, 17][seed as usize / 3 % 3],
            weighted: seed / 9 % 2 == 1,
            leaf,
            least: 0,
        };
        worst = worst.max(case.check::<T>(temps, taus, tolerance));
    }
    eprintln!("largest relative difference: {worst:e}");
}

#[test]
fn proxy_mmd_and_particles_fused_paths_equal_the_per_problem_default_in_f64() {
    optional_negatives_equal_the_default::<f64>("[0.5, 1.0, 2.0]", &[0.3, 1.0, 4.0, 0.02], 1e-12);
}

#[test]
fn proxy_mmd_and_particles_fused_paths_equal_the_per_problem_default_in_f32() {
    optional_negatives_equal_the_default::<f32>("[1.0, 2.0]", &[2.0, 4.0], 1e-6);
}

#[test]
fn the_fused_path_equals_the_per_problem_default_in_f64() {
    fused_equals_the_default::<f64>("[0.5, 1.0, 2.0]", &[0.3, 1.0, 4.0, 0.02], 1e-12);
}

#[test]
fn the_fused_path_equals_the_per_problem_default_in_f32() {
    fused_equals_the_default::<f32>("[1.0, 2.0]", &[2.0, 4.0], 1e-6);
}

/// Batch-wide statistics: the scale and each λ_τ over every problem, against the per-problem
/// single calls of the leaf combined here.
#[test]
fn batch_wide_statistics_match_the_single_calls_combined() {
    let dim = 3;
    let problems = random_batch(7, 5, dim, true);
    let f = flat::<f64>(&problems, dim);
    let b = f.batch();
    let (tau, temps) = (0.8, [0.5, 1.0, 3.0]);
    let root_d = (dim as f64).sqrt();
    // The batch's scale: the mean distance over every pair of every problem, over √D.
    let (mut num, mut pairs) = (0.0, 0.0);
    for p in &problems {
        let (x, y) = (
            cloud::<f64>("x", &p.x, &p.wx, dim),
            cloud("y", &p.y, &p.wy, dim),
        );
        let count = (x.len() * y.len()) as f64;
        num += drift_ops::mean_distance(&CpuBackend, &x, &y).unwrap() * count;
        pairs += count;
    }
    let s = num / pairs / root_d;
    // V_τ per problem (data units), each the single call on the scaled problem.
    let fields: Vec<Vec<f64>> = temps
        .iter()
        .map(|t| {
            let op = operator_from_str(&leaf(tau * t * root_d, 10, 0.0), "t").unwrap();
            problems
                .iter()
                .flat_map(|p| {
                    let scaled = Problem {
                        x: p.x.iter().map(|v| v / s).collect(),
                        y: p.y.iter().map(|v| v / s).collect(),
                        z: p.z.iter().map(|v| v / s).collect(),
                        ..p.clone()
                    };
                    single::<f64>(op.as_ref(), &scaled, dim)
                        .unwrap()
                        .into_iter()
                        .map(|v| v * s)
                })
                .collect()
        })
        .collect();
    // Weighted points all count (weights are positive).
    let lambda = |v: &[f64]| (v.iter().map(|c| c * c).sum::<f64>() / v.len() as f64).sqrt();
    let temps_text = "[0.5, 1.0, 3.0]";
    let text = format!(
        r#"{{"multi_temperature": (operator: {{"feature_scale": (operator: {})}}, temperatures: {temps_text})}}"#,
        leaf(tau, 10, 0.0)
    );
    let op = operator_from_str(&text, "t").unwrap();
    let (got, report) = batched(op.as_ref(), &b);
    assert!(report.fused);
    let mut want = vec![0.0; got.len()];
    for (field, norm) in fields.iter().zip(&report.temperature_norms) {
        let l = lambda(field);
        assert!((norm.lambda - l).abs() < 1e-12 * l, "{} {l}", norm.lambda);
        want.iter_mut().zip(field).for_each(|(w, v)| *w += v / l);
    }
    assert!(rel(&got, &want) < 1e-12, "{}", rel(&got, &want));
    // feature_scale outside: λ_τ in scaled units, the sum then in data units (× s).
    let text = format!(
        r#"{{"feature_scale": (operator: {{"multi_temperature": (operator: {}, temperatures: {temps_text})}})}}"#,
        leaf(tau, 10, 0.0)
    );
    let op = operator_from_str(&text, "t").unwrap();
    let (outside, report) = batched(op.as_ref(), &b);
    assert!((report.scale.unwrap() - s).abs() < 1e-12 * s);
    let scaled: Vec<f64> = want.iter().map(|v| v * s).collect();
    assert!(rel(&outside, &scaled) < 1e-12, "{}", rel(&outside, &scaled));
}

#[test]
fn the_general_path_keeps_what_the_fused_one_does_not_cover() {
    let dim = 2;
    let problems = random_batch(3, 3, dim, false);
    let f = flat::<f64>(&problems, dim);
    let b = f.batch();
    // Another kernel, ε-scaling, the Laplace MMD: problem by problem.
    for text in [
        r#"{"sinkhorn_drift": (temperature: 1.0, kernel: {"inverse_multiquadric": (beta: 0.5)})}"#,
        r#"{"sinkhorn_drift": (temperature: 1.0, sinkhorn: (epsilon_scaling: Some(0.5)), self_transport: Negatives)}"#,
        r#"{"mmd": (temperature: 1.0, kernel: laplace)}"#,
    ] {
        let op = operator_from_str(text, "t").unwrap();
        let (fast, report) = batched(op.as_ref(), &b);
        assert_eq!(report.per_problem.len(), 3, "{text}");
        assert!(!report.fused, "{text}");
        assert!(rel(&fast, &per_problem(op.as_ref(), &b)) == 0.0);
    }
    // f32 at a temperature whose log-weights f32 cannot hold: the general path promotes it.
    let f32s = flat::<f32>(&problems, dim);
    let b = f32s.batch();
    let op = operator_from_str(&leaf(1e-5, 5, 0.0), "t").unwrap();
    let (_, report) = batched(op.as_ref(), &b);
    assert_eq!(report.per_problem.len(), 3);
}

/// The fused Sinkhorn path reports what the per-problem default does: every problem's couplings
/// (each temperature's attraction and repulsion), their iterations, which stopped unconverged,
/// and the worst marginal error.
#[test]
fn the_fused_sinkhorn_path_reports_iterations_and_unconverged_problems() {
    let dim = 3;
    // Against a second batch (every problem has one), and against the particles (some problems
    // without negatives: the symmetric loop).
    for (form, least) in [(leaf as LeafText, 1), (particles, 0)] {
        sinkhorn_reports_match(form, least, dim);
    }
}

fn sinkhorn_reports_match(form: LeafText, least: usize, dim: usize) {
    let problems = random_batch_with(77, 4, dim, true, least);
    let f = flat::<f64>(&problems, dim);
    let b = f.batch();
    for (cap, tol) in [(4, 0.0), (2000, 1e-6), (6, 1e-3)] {
        for text in per_problem_trees(&form(0.5, cap, tol), "[0.5, 1.0, 2.0]") {
            let op = operator_from_str(&text, "t").unwrap();
            let (_, fast) = batched(op.as_ref(), &b);
            assert!(fast.fused, "{text}");
            let (_, slow) = per_problem_with_report(op.as_ref(), &b);
            assert_eq!(fast.per_problem.len(), 4, "{text}");
            assert_eq!(fast.unconverged(), slow.unconverged(), "{text}");
            let total = |r: &BatchReport| -> usize {
                r.per_problem.iter().map(|p| p.total_iterations()).sum()
            };
            assert_eq!(total(&fast), total(&slow), "{text}");
            let (a, e) = (
                fast.max_marginal_error().unwrap(),
                slow.max_marginal_error().unwrap(),
            );
            assert!(
                (a - e).abs() <= 1e-9 * e.max(1e-12),
                "{text}: {a:e} against {e:e}"
            );
            if tol == 0.0 {
                // An iteration cap with no tolerance: every coupling stops unconverged.
                assert!(fast.unconverged() > 0, "{text}");
            }
        }
    }
}
