//! Guidance on the fused batched paths: a `guidance` node inside `multi_temperature` /
//! `feature_scale` (the negatives weighted as guidance weighs them) against the per-problem
//! default, for every leaf with a fused path, over random ragged batches with and without
//! weights; and `guidance` around a fused tree, whose inner batch takes the fused path.

mod fused_support;

use drift_api::{operator_from_str, Real};
use fused_support::*;

/// Every leaf with a fused path at temperature `tau` (its negatives, here the unconditional
/// samples, weighted by guidance).
fn leaves(tau: f64) -> Vec<String> {
    vec![
        format!(r#"{{"one_sided": (temperature: {tau})}}"#),
        format!(r#"{{"deng_alg2": (temperature: {tau}, kernel: {{"gaussian": ()}})}}"#),
        format!(r#"{{"sinkhorn_proxy": (temperature: {tau}, mask_self: true)}}"#),
        format!(r#"{{"mmd": (temperature: {tau})}}"#),
        format!(
            r#"{{"sinkhorn_drift": (temperature: {tau}, sinkhorn: (max_iters: 9, tol: 0.0))}}"#
        ),
        format!(
            r#"{{"sinkhorn_drift": (temperature: {tau}, sinkhorn: (max_iters: 200, tol: 1e-4), self_transport: Negatives)}}"#
        ),
    ]
}

/// The trees with `guidance` inside, every statistic per problem (what the default computes).
fn trees(leaf: &str, temps: &str) -> Vec<String> {
    let guided = format!(r#"{{"guidance": (operator: {leaf}, alpha: 2.5)}}"#);
    vec![
        format!(
            r#"{{"multi_temperature": (operator: {guided}, temperatures: {temps}, over: Problem)}}"#
        ),
        format!(
            r#"{{"feature_scale": (operator: {{"multi_temperature": (operator: {guided}, temperatures: {temps}, normalise: false)}}, over: Problem)}}"#
        ),
        format!(
            r#"{{"multi_temperature": (operator: {{"feature_scale": (operator: {guided}, over: Problem)}}, temperatures: {temps}, over: Problem)}}"#
        ),
    ]
}

fn guidance_inside_equals_the_default<T: Real>(temps: &str, tau: f64, tolerance: f64) {
    let mut worst = 0.0f64;
    for seed in 0..6u64 {
        let dim = [2, 5, 17][seed as usize % 3];
        let problems = random_batch_with(300 + seed, 3 + seed as usize % 3, dim, seed >= 3, 1);
        let f = flat::<T>(&problems, dim);
        let b = f.batch();
        for leaf in leaves(tau) {
            for text in trees(&leaf, temps) {
                let op = operator_from_str(&text, "t").unwrap();
                let (fast, report) = batched(op.as_ref(), &b);
                assert!(report.fused, "{text}: not on the fused path");
                let r = rel(&fast, &per_problem(op.as_ref(), &b));
                worst = worst.max(r);
                assert!(r < tolerance, "seed {seed} D={dim} {text}: {r:e}");
            }
        }
    }
    eprintln!("largest relative difference: {worst:e}");
}

#[test]
fn guidance_inside_a_fused_tree_equals_the_per_problem_default_in_f64() {
    guidance_inside_equals_the_default::<f64>("[0.5, 1.0, 2.0]", 0.7, 1e-12);
}

#[test]
fn guidance_inside_a_fused_tree_equals_the_per_problem_default_in_f32() {
    guidance_inside_equals_the_default::<f32>("[1.0, 2.0]", 2.0, 1e-6);
}

/// `guidance` around a fused tree hands its weighted negatives to the tree's own batched path.
#[test]
fn guidance_around_a_fused_tree_runs_it_fused() {
    let dim = 3;
    let problems = random_batch_with(9, 4, dim, true, 1);
    let f = flat::<f64>(&problems, dim);
    let b = f.batch();
    for leaf in leaves(0.8) {
        let text = format!(
            r#"{{"guidance": (operator: {{"multi_temperature": (operator: {leaf}, over: Problem)}}, alpha: 2.0)}}"#
        );
        let op = operator_from_str(&text, "t").unwrap();
        let (fast, report) = batched(op.as_ref(), &b);
        assert!(report.parts[0].fused, "{text}");
        let r = rel(&fast, &per_problem(op.as_ref(), &b));
        assert!(r < 1e-12, "{text}: {r:e}");
    }
}

/// A batch with a problem without negatives: guidance inside the tree keeps the general path's
/// error.
#[test]
fn guidance_without_negatives_keeps_the_general_path_s_error() {
    let dim = 2;
    let mut problems = random_batch_with(5, 3, dim, false, 1);
    problems[1].z.clear();
    let f = flat::<f64>(&problems, dim);
    let b = f.batch();
    let text = format!(
        r#"{{"multi_temperature": (operator: {{"guidance": (operator: {}, alpha: 2.0)}}, over: Problem)}}"#,
        leaves(1.0)[0]
    );
    let op = operator_from_str(&text, "t").unwrap();
    let mut out = vec![0.0; b.field_len()];
    let context = drift_api::Context::default();
    let problem =
        drift_api::batch::BatchProblem::new(&drift_ops::CpuBackend, &b, &context, &mut out);
    assert!(drift_api::batch::apply_drift_batch(op.as_ref(), problem).is_err());
}
