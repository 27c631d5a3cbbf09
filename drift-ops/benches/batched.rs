//! Criterion benchmarks of batched drift: the training workload's shapes (`B` problems of `N = 64`
//! generated samples against targets `[X; 16 negatives of weight 2; 128 positives]`, f32), through
//! [`drift_api::batch::apply_drift_batch`] on the CPU backend.
//!
//! Groups (`cargo bench -p drift-ops --bench batched -- <regex>`; `-- --test` runs each once):
//! - `deng_official/b<B>_d<D>`: the official loss's field on its batched fast path at
//!   `B × D ∈ {256 × 256, 2048 × 16, 32 × 2048}` (the side-by-side harness's shapes) and one ragged
//!   batch (`ragged_b320_d64`: 128 problems of 64 generated samples and 128 positives, 128 of 48 and
//!   96, 64 of 32 and 64).
//! - `per_problem/…`: `multi_temperature` of `feature_scale` of `guidance` of `deng_alg2`, the
//!   composition a user wrote before `deng_official`, at `B × D = 256 × 16`, batch-wide
//!   statistics (its name from when it ran the per-problem default of `deng_alg2`; with
//!   `guidance` recognised inside the fused trees it runs on the fused path).
//!
//! - `fused_<family>/{fused,per_problem}_b256_d<D>`: the fused batched paths against the
//!   per-problem default (every problem through the single-problem call, in parallel) on the same
//!   operator, `B × D ∈ {256 × 16, 256 × 256, 32 × 2048}` (the last not for the Sinkhorn drifts),
//!   per-problem statistics (so both compute the same field):
//!   `sinkhorn` is `feature_scale` of `multi_temperature` (0.02, 0.05, 0.2) of `sinkhorn_drift`
//!   (Gaussian, τ = 1, 10 iterations) against a second generated batch of 64 given as the
//!   negatives (unweighted), `sinkhorn_particles` the same against the particles themselves (no
//!   negatives: the symmetric loop); `one_sided`, `deng_alg2`, `sinkhorn_proxy` and `mmd`
//!   (Gaussian) are `multi_temperature` of `feature_scale` of the operator at τ = 1 with the 16
//!   weighted negatives; `guidance` the same of `guidance` (α = 2, the 16 negatives unweighted) of
//!   `deng_alg2`.
//!
//! Throughput "elem/s" is kernel pairs per second: `Σ_b N_b · M_b` per evaluation.
//!
//! Data: per problem, `X ~ N(0, I)`, positives `~ N(0.5·1, I)`, negatives `~ N(0, I)`, seeded.

use criterion::{
    criterion_group, criterion_main, BenchmarkId, Criterion, SamplingMode, Throughput,
};
use drift_api::batch::{apply_drift_batch, problem_by_problem, BatchProblem};
use drift_api::kit::{BatchSets, ProblemBatch, SingleProcess};
use drift_api::{operator_from_str, BatchJob, Context, DriftOperator};
use drift_ops::CpuBackend;
use rand::rngs::StdRng;
use rand::SeedableRng;
use rand_distr::{Distribution, StandardNormal};

/// One group of same-sized problems: `(problems, generated, positives)`.
type Group = (usize, usize, usize);

const NEGATIVES: usize = 16;

struct Data {
    dim: usize,
    x: (Vec<f32>, Vec<usize>),
    y: (Vec<f32>, Vec<usize>),
    n: (Vec<f32>, Vec<usize>),
    n_weights: Vec<f32>,
    pairs: u64,
}

fn data(groups: &[Group], dim: usize) -> Data {
    data_with(groups, dim, NEGATIVES, 2.0)
}

/// `negatives` per problem of weight `weight`.
fn data_with(groups: &[Group], dim: usize, negatives: usize, weight: f32) -> Data {
    let mut rng = StdRng::seed_from_u64(7);
    let mut draw = |count: usize, shift: f32| -> Vec<f32> {
        (0..count * dim)
            .map(|_| {
                let v: f32 = StandardNormal.sample(&mut rng);
                v + shift
            })
            .collect()
    };
    let (mut x, mut y, mut n) = (vec![], vec![], vec![]);
    let (mut xo, mut yo, mut no) = (vec![0], vec![0], vec![0]);
    let mut pairs = 0u64;
    for &(problems, gen, pos) in groups {
        for _ in 0..problems {
            x.extend(draw(gen, 0.0));
            y.extend(draw(pos, 0.5));
            n.extend(draw(negatives, 0.0));
            xo.push(xo.last().unwrap() + gen);
            yo.push(yo.last().unwrap() + pos);
            no.push(no.last().unwrap() + negatives);
            pairs += (gen * (gen + negatives + pos)) as u64;
        }
    }
    let n_weights = vec![weight; n.len() / dim];
    Data {
        dim,
        x: (x, xo),
        y: (y, yo),
        n: (n, no),
        n_weights,
        pairs,
    }
}

fn bench(c: &mut Criterion, group: &str, op: &dyn DriftOperator, label: &str, d: &Data) {
    bench_path(c, group, op, label, d, true)
}

/// `fused`: through [`apply_drift_batch`] (the operator's batched path), else the per-problem
/// default ([`problem_by_problem`]).
fn bench_path(
    c: &mut Criterion,
    group: &str,
    op: &dyn DriftOperator,
    label: &str,
    d: &Data,
    fused: bool,
) {
    fn sets<'a>(what: &str, s: &'a (Vec<f32>, Vec<usize>), dim: usize) -> BatchSets<'a, f32> {
        BatchSets::ragged(what, &s.0, s.1.clone(), dim).unwrap()
    }
    let negatives = sets("negatives", &d.n, d.dim)
        .with_weights(&d.n_weights)
        .unwrap();
    let batch = ProblemBatch::new(sets("x", &d.x, d.dim), sets("y", &d.y, d.dim))
        .unwrap()
        .with_negatives(negatives)
        .unwrap();
    let mut out = vec![0.0f32; batch.field_len()];
    if fused {
        // The path measured is the fused one.
        let context = Context::default();
        let problem = BatchProblem::new(&CpuBackend, &batch, &context, &mut out);
        assert!(apply_drift_batch(op, problem).unwrap().fused, "{group}");
    }
    let mut g = c.benchmark_group(group);
    g.sampling_mode(SamplingMode::Flat)
        .sample_size(10)
        .warm_up_time(std::time::Duration::from_millis(500))
        .measurement_time(std::time::Duration::from_secs(2))
        .throughput(Throughput::Elements(d.pairs));
    g.bench_function(BenchmarkId::from_parameter(label), |b| {
        b.iter(|| {
            let problem = BatchProblem {
                backend: &CpuBackend,
                batch: &batch,
                context: &Context::default(),
                out: &mut out,
                scale: 1.0,
                collective: &SingleProcess,
            };
            match fused {
                true => apply_drift_batch(op, problem),
                false => problem_by_problem(op, BatchJob::F32(problem)),
            }
            .unwrap()
        })
    });
    g.finish();
}

fn batched(c: &mut Criterion) {
    let official = operator_from_str(r#"{"deng_official": ()}"#, "bench").unwrap();
    for (b, dim) in [(256, 256), (2048, 16), (32, 2048)] {
        let d = data(&[(b, 64, 128)], dim);
        bench(
            c,
            "deng_official",
            official.as_ref(),
            &format!("b{b}_d{dim}"),
            &d,
        );
    }
    let ragged = data(&[(128, 64, 128), (128, 48, 96), (64, 32, 64)], 64);
    bench(
        c,
        "deng_official",
        official.as_ref(),
        "ragged_b320_d64",
        &ragged,
    );
    let composed = operator_from_str(
        r#"{"multi_temperature": (operator: {"feature_scale": (operator: {"guidance": (operator: {"deng_alg2": (temperature: 1.0)}, alpha: 2.0)})})}"#,
        "bench",
    )
    .unwrap();
    let d = data(&[(256, 64, 128)], 16);
    bench(
        c,
        "per_problem",
        composed.as_ref(),
        "multi_temperature_deng_alg2_b256_d16",
        &d,
    );
}

/// The fused batched paths against the per-problem default.
fn fused(c: &mut Criterion) {
    let sinkhorn = r#"{"feature_scale": (operator: {"multi_temperature": (operator: {"sinkhorn_drift": (temperature: 1.0, sinkhorn: (max_iters: 10, tol: 0.0), self_transport: Negatives)}, over: Problem)}, over: Problem)}"#;
    let particles = sinkhorn.replace("self_transport: Negatives", "self_transport: Particles");
    let composed = |leaf: &str| {
        format!(
            r#"{{"multi_temperature": (operator: {{"feature_scale": (operator: {{"{leaf}": (temperature: 1.0)}})}}, over: Problem)}}"#
        )
    };
    let guided = composed("deng_alg2").replace(
        r#"{"deng_alg2": (temperature: 1.0)}"#,
        r#"{"guidance": (operator: {"deng_alg2": (temperature: 1.0)}, alpha: 2.0)}"#,
    );
    let families = [
        ("sinkhorn", sinkhorn.to_string(), 64, 1.0),
        ("one_sided", composed("one_sided"), NEGATIVES, 2.0),
        ("deng_alg2", composed("deng_alg2"), NEGATIVES, 2.0),
        ("sinkhorn_proxy", composed("sinkhorn_proxy"), NEGATIVES, 2.0),
        ("mmd", composed("mmd"), NEGATIVES, 2.0),
        ("sinkhorn_particles", particles, 0, 1.0),
        ("guidance", guided, NEGATIVES, 1.0),
    ];
    for (family, text, negatives, weight) in families {
        let op = operator_from_str(&text, "bench").unwrap();
        for (b, dim) in [(256, 16), (256, 256), (32, 2048)] {
            if matches!(family, "sinkhorn" | "sinkhorn_particles") && dim > 256 {
                continue;
            }
            let d = data_with(&[(b, 64, 128)], dim, negatives, weight);
            let group = format!("fused_{family}");
            for (path, fused) in [("fused", true), ("per_problem", false)] {
                let label = format!("{path}_b{b}_d{dim}");
                bench_path(c, &group, op.as_ref(), &label, &d, fused);
            }
        }
    }
}

/// The benchmark group, in a module because `criterion_group!` generates an undocumented `pub fn`.
#[allow(missing_docs)]
mod group {
    use super::*;
    criterion_group!(benches, batched, fused);
}
criterion_main!(group::benches);
