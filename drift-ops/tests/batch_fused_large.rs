//! The fused batched paths at the training workload's sizes (tens of generated samples against
//! tens of targets, `D` from 64 to 300, where the distances and the fields are dense products):
//! equal to the per-problem default, and taken exactly where the default computes in the inputs'
//! own precision.

mod fused_support;

use drift_api::{operator_from_str, Precision, Real};
use fused_support::*;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

/// `problems` problems of `n` generated samples, `m` data points and `k` negatives each (the
/// sizes varied by a few points per problem), in dimension `dim`, far from the origin.
fn sized_batch(
    seed: u64,
    problems: usize,
    (n, m, k): (usize, usize, usize),
    dim: usize,
) -> Vec<Problem> {
    let mut rng = StdRng::seed_from_u64(seed);
    (0..problems)
        .map(|_| {
            let (n, m, k) = (
                n + rng.gen_range(0..4),
                m + rng.gen_range(0..4),
                k + rng.gen_range(0..4),
            );
            let c = 5.0 + rng.gen::<f64>() * 3.0;
            let wz = Some(weights(&mut rng, k));
            Problem {
                x: points(&mut rng, n, dim, c),
                y: points(&mut rng, m, dim, c + 0.2),
                z: points(&mut rng, k, dim, c - 0.1),
                wx: None,
                wy: Some(weights(&mut rng, m)),
                wz,
            }
        })
        .collect()
}

/// The leaves with a fused path, inside `multi_temperature` (temperature factors `temps`) of
/// `feature_scale` with the statistics per problem or over the batch (the fused path then
/// combines the temperatures in its own pass).
fn trees(temps: &str) -> Vec<String> {
    let leaves = [
        r#"{"one_sided": (temperature: 1.0)}"#,
        r#"{"one_sided": (temperature: 1.0, kernel: {"gaussian": ()}, mask_self: false)}"#,
        r#"{"deng_alg2": (temperature: 1.0)}"#,
        r#"{"sinkhorn_drift": (temperature: 1.0, sinkhorn: (max_iters: 8, tol: 0.0), self_transport: Negatives)}"#,
        r#"{"sinkhorn_proxy": (temperature: 1.0, mask_self: true)}"#,
        r#"{"mmd": (temperature: 1.0)}"#,
        r#"{"sinkhorn_drift": (temperature: 1.0, sinkhorn: (max_iters: 8, tol: 0.0), self_transport: Particles)}"#,
    ];
    let mut trees = Vec::new();
    for leaf in leaves {
        for over in ["Problem", "Batch"] {
            trees.push(format!(
                r#"{{"multi_temperature": (operator: {{"feature_scale": (operator: {leaf}, over: {over})}}, temperatures: {temps}, over: {over})}}"#
            ));
        }
    }
    trees
}

/// Fused against the per-problem default in precision `T` at temperature factors `temps`, within
/// `tolerance`, with the statistics per problem (what the default computes).
fn equals_the_default<T: Real>(temps: &str, tolerance: f64) {
    let mut worst = 0.0f64;
    for (seed, dim) in [(1u64, 64usize), (2, 300)] {
        let problems = sized_batch(seed, 5, (24, 40, 8), dim);
        let f = flat::<T>(&problems, dim);
        let b = f.batch();
        for text in trees(temps).iter().filter(|t| t.contains("over: Problem")) {
            let op = operator_from_str(text, "t").unwrap();
            let (fast, report) = batched(op.as_ref(), &b);
            assert!(report.fused, "{text}: not on the fused path");
            let r = rel(&fast, &per_problem(op.as_ref(), &b));
            worst = worst.max(r);
            assert!(r < tolerance, "D={dim} {text}: {r:e}");
        }
    }
    eprintln!("largest relative difference: {worst:e}");
}

#[test]
fn at_training_sizes_the_fused_path_equals_the_per_problem_default_in_f32() {
    // Temperatures whose log-weights stay small, as in `batch_fused.rs`: in f32 both paths'
    // weights are off by about ε·|ℓ|, which at the low temperatures is above 1e-6 on either.
    // One-sided and Algorithm 2 stay under 9e-7, the split proxy 1.1e-6; the Sinkhorn drift at
    // D = 300 reaches 1.5e-6 (its eight iterations compound the distances' rounding; the same
    // with the fused path centred on the data's median, as the default is), the MMD 1.6e-6 (the
    // particle's own position enters its field: `Σ C t − (Σ C) x`).
    equals_the_default::<f32>("[1.0, 2.0]", 2e-6);
}

#[test]
fn at_training_sizes_the_fused_path_equals_the_per_problem_default_in_f64() {
    equals_the_default::<f64>("[0.05, 0.2, 1.0]", 1e-12);
}

/// Over the batch, the fused path combines the temperatures after every problem's fields: the
/// same field as per problem when the batch holds one problem's copies (every problem's scale
/// and λ_τ are then the batch's).
#[test]
fn batch_wide_statistics_of_identical_problems_are_each_problem_s_own() {
    let dim = 64;
    let one = sized_batch(3, 1, (24, 40, 8), dim);
    let copies: Vec<Problem> = (0..4).map(|_| one[0].clone()).collect();
    let f = flat::<f64>(&copies, dim);
    let b = f.batch();
    for pair in trees("[0.05, 0.2, 1.0]").chunks(2) {
        let (per, over) = (&pair[0], &pair[1]);
        let field = |text: &str| batched(operator_from_str(text, "t").unwrap().as_ref(), &b);
        let ((a, ra), (z, rz)) = (field(per), field(over));
        assert!(ra.fused && rz.fused, "{over}");
        let r = rel(&z, &a);
        assert!(r < 1e-12, "{over}: {r:e}");
    }
}

/// The fused path runs in the inputs' precision, so it must decline exactly where the default
/// would widen a problem to f64: over temperatures across the f32 bound, the fused path is taken
/// if and only if every problem of the per-problem default computed in f32.
#[test]
fn the_fused_path_is_taken_exactly_where_the_default_keeps_f32() {
    let dim = 64;
    let problems = sized_batch(4, 4, (24, 40, 8), dim);
    let f = flat::<f32>(&problems, dim);
    let b = f.batch();
    let (mut taken, mut declined) = (0, 0);
    for step in 0..40 {
        let tau = 1e-3 * 1.25f64.powi(step);
        for leaf in ["one_sided", "deng_alg2"] {
            let text = format!(r#"{{"{leaf}": (temperature: {tau}, kernel: {{"gaussian": ()}})}}"#);
            let op = operator_from_str(&text, "t").unwrap();
            let (_, fast) = batched(op.as_ref(), &b);
            let (_, slow) = per_problem_with_report(op.as_ref(), &b);
            let native = slow
                .per_problem
                .iter()
                .all(|r| r.precision.as_ref().unwrap().computed == Precision::F32);
            assert_eq!(fast.fused, native, "{text}");
            if native {
                taken += 1;
            } else {
                declined += 1;
            }
        }
    }
    // The sweep crosses the bound: both decisions are exercised.
    assert!(
        taken > 4 && declined > 4,
        "{taken} taken, {declined} declined"
    );
}
