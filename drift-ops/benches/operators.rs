//! Criterion benchmarks of every built-in drift operator on the CPU backend, across the number of
//! particles `N`, the number of data points `M`, the dimension `D` and the precision.
//!
//! Each operator is built from its RON text with [`drift_api::operator_from_str`], exactly as a user
//! writes it, and evaluated once per iteration with
//! `drift_ops::drift_with(&CpuBackend, op, &x, &y, &Context::default())` (`guidance` goes through
//! [`drift_api::apply_drift`], which is the only way to hand it its negatives).
//!
//! # Groups and names
//!
//! One group per operator, named by its RON name; a benchmark is
//! `<operator>/<f32|f64>/n<N>_m<M>_d<D>`. Run one group (or any regex over the names) with
//! `cargo bench -p drift-ops --bench operators -- <regex>`, e.g. `-- sinkhorn_drift` or
//! `-- 'one_sided/f32/n1024_m1024'`; `-- --test` runs each benchmark once, which checks that all
//! of them build and run.
//!
//! # Throughput
//!
//! Criterion's "elem/s" is kernel pairs per second: the elements of one evaluation are the pairs one
//! pass over the attraction and the repulsion visits, `N·M + N·N` (for `guidance`, whose repulsion
//! also holds the `N_neg = N/4` negatives, `N·M + N·(N + N_neg)`). The count is the same for every
//! operator so that rates compare directly, but operators differ in how many passes they make:
//! the Sinkhorn operators (`sinkhorn_drift`, `sinkhorn_divergence`, `cross_minus_self`, `joint`,
//! with a fixed 10 iterations and tolerance 0, no ε-scaling; `sinkhorn_k` with 3 iterations) visit
//! the pairs several times per evaluation, `multi_temperature` once per temperature and the
//! two-sided normalisations (`deng_alg2`, `sinkhorn_proxy`) more than once; for them "elem/s" is
//! evaluations × (`N·M + N²`) per second, not the rate of the inner loop. `sliced_wasserstein` visits
//! no pairs: its elements are the projected points, `(N + M)·directions` (64 directions), so its
//! "elem/s" is projections (and sorted entries) per second. The compositions `weighted` and `sum`
//! count `N·M + N²` once, although each of their terms makes its own passes.
//!
//! # Data, temperatures and sizes
//!
//! Seeded clouds `X ~ N(0, I)` (the particles) and `Y ~ N(0.5·1, I)` (the data), whose squared
//! distances are about `2.25·D`. The temperature is of the order of the squared distances, `τ = D/2`,
//! for kernels of the squared distance (Gaussian, the Sinkhorn divergence, MMD, the Parzen scores),
//! and of the order of the distances, `τ = √(D/2)`, for the Laplace kernel (`exp(−|x − y|/τ)`), so
//! that no kernel is flat or a spike.
//!
//! - Single-pass and two-sided operators: `(N, M) ∈ {(1024, 1024), (1024, 4096), (4096, 1024)}`,
//!   `D ∈ {2, 64}`, f32 and f64; `one_sided`, `mmd` and `score_difference` also at
//!   `N = M = 1024`, `D = 512`.
//! - The Sinkhorn operators: the same `(N, M)` at `D = 2`, and `N = M = 1024` at `D = 64` (at
//!   `D = 512` one sample of the f64 Sinkhorn drift takes seconds).
//! - The compositions (`multi_temperature`, `feature_scale`, `annealed`, `guidance`, `weighted`,
//!   `sum`): `N = M = 1024`, `D = 64`.
//!
//! Every group uses flat sampling, 10 samples, 0.5 s of warm-up and 2 s of measurement: a whole run
//! of the 142 benchmarks takes ten to fifteen minutes on two cores (at least 2.5 s each; the slow
//! cases run their 10 samples of one evaluation regardless, and criterion says so).

use criterion::measurement::WallTime;
use criterion::{
    criterion_group, criterion_main, BenchmarkGroup, BenchmarkId, Criterion, SamplingMode,
    Throughput,
};
use drift_api::{
    apply_drift, operator_from_str, Context, DriftOperator, DriftProblem, Negatives, PointCloud,
    Real,
};
use drift_ops::random::SplitMix64;
use drift_ops::CpuBackend;
use std::cell::OnceCell;
use std::hint::black_box;
use std::time::Duration;

/// The `(N, M)` pairs: square, more data than particles, more particles than data.
const SHAPES: [(usize, usize); 3] = [(1024, 1024), (1024, 4096), (4096, 1024)];
/// The dimensions of the full grid.
const DIMS: [usize; 2] = [2, 64];
/// The dimension of the wide case, run at `N = M = 1024` only.
const WIDE: usize = 512;
/// The one size at which the compositions run.
const COMPOSITION_SIZE: Case = Case {
    n: 1024,
    m: 1024,
    dim: 64,
};
/// Directions of the sliced Wasserstein operator (its elements per point).
const DIRECTIONS: usize = 64;

/// One problem size.
#[derive(Clone, Copy, Debug)]
struct Case {
    n: usize,
    m: usize,
    dim: usize,
}

/// Which sizes an operator runs at.
#[derive(Clone, Copy, Debug)]
enum Sizes {
    /// Every shape at every dimension of [`DIMS`], and the wide case when `wide`.
    Full { wide: bool },
    /// Every shape at `D = 2`, the square shape only at `D = 64` (several passes per evaluation).
    MultiPass,
    /// [`COMPOSITION_SIZE`] only.
    Composition,
}

impl Sizes {
    fn cases(self) -> Vec<Case> {
        let (n0, m0) = SHAPES[0];
        let grid = |dims: &[usize]| -> Vec<Case> {
            dims.iter()
                .flat_map(|&dim| SHAPES.iter().map(move |&(n, m)| Case { n, m, dim }))
                .collect()
        };
        let wide_case = Case {
            n: n0,
            m: m0,
            dim: WIDE,
        };
        match self {
            Sizes::Full { wide } => {
                let mut cases = grid(&DIMS);
                cases.extend(wide.then_some(wide_case));
                cases
            }
            Sizes::MultiPass => {
                let mut cases = grid(&[DIMS[0]]);
                cases.push(Case {
                    n: n0,
                    m: m0,
                    dim: DIMS[1],
                });
                cases
            }
            Sizes::Composition => vec![COMPOSITION_SIZE],
        }
    }
}

/// What criterion counts as the elements of one evaluation.
#[derive(Clone, Copy, Debug)]
enum Elements {
    /// Kernel pairs of one pass: `N·M + N·N`, plus `N·N_neg` with negatives.
    Pairs,
    /// Projected points: `(N + M)·directions`.
    Projections,
}

/// One benchmarked operator.
struct Spec {
    /// The RON name, also the group's name.
    name: &'static str,
    /// The RON text, with `$TAU` for the squared-distance temperature, `$TAU_L` for the distance
    /// (Laplace) temperature and `$DIRECTIONS` for [`DIRECTIONS`].
    ron: &'static str,
    sizes: Sizes,
    elements: Elements,
    /// Whether the operator needs negatives (unconditional samples, `N/4` of them).
    negatives: bool,
}

impl Spec {
    const fn new(name: &'static str, ron: &'static str, sizes: Sizes) -> Self {
        Spec {
            name,
            ron,
            sizes,
            elements: Elements::Pairs,
            negatives: false,
        }
    }

    /// The operator at dimension `dim`, built from its RON text.
    fn operator(&self, dim: usize) -> Box<dyn DriftOperator> {
        let src = self
            .ron
            .replace("$TAU_L", &format!("{:?}", tau_distance(dim)))
            .replace("$TAU", &format!("{:?}", tau_squared(dim)))
            .replace("$DIRECTIONS", &DIRECTIONS.to_string());
        operator_from_str(&src, self.name).unwrap_or_else(|e| panic!("{}: {e}", self.name))
    }

    fn elements(&self, case: Case) -> u64 {
        let Case { n, m, .. } = case;
        let count = match self.elements {
            Elements::Pairs => {
                n * m
                    + n * n
                    + if self.negatives {
                        n * negatives_len(n)
                    } else {
                        0
                    }
            }
            Elements::Projections => (n + m) * DIRECTIONS,
        };
        count as u64
    }
}

/// The temperature of kernels of the squared distance: of the order of `|x − y|² ≈ 2.25·D`.
fn tau_squared(dim: usize) -> f64 {
    0.5 * dim as f64
}

/// The temperature of the Laplace kernel, a kernel of the distance: of the order of `|x − y|`.
fn tau_distance(dim: usize) -> f64 {
    tau_squared(dim).sqrt()
}

/// The number of negatives for `n` particles.
fn negatives_len(n: usize) -> usize {
    n / 4
}

const FULL: Sizes = Sizes::Full { wide: false };
const FULL_WIDE: Sizes = Sizes::Full { wide: true };
const MULTI_PASS: Sizes = Sizes::MultiPass;
const COMPOSITION: Sizes = Sizes::Composition;

/// Every built-in operator, as a user writes it.
fn specs() -> Vec<Spec> {
    vec![
        Spec::new(
            "one_sided",
            r#"{"one_sided": (temperature: $TAU_L, kernel: {"laplace": ()}, mask_self: true)}"#,
            FULL_WIDE,
        ),
        Spec::new(
            "deng_alg2",
            r#"{"deng_alg2": (temperature: $TAU_L, kernel: {"laplace": ()}, mask_self: true)}"#,
            FULL,
        ),
        Spec::new(
            "sinkhorn_proxy",
            r#"{"sinkhorn_proxy": (temperature: $TAU, kernel: {"gaussian": ()}, mask_self: false)}"#,
            FULL,
        ),
        Spec::new(
            "sinkhorn_drift",
            r#"{"sinkhorn_drift": (temperature: $TAU, kernel: {"gaussian": ()},
                sinkhorn: (max_iters: 10, tol: 0.0, epsilon_scaling: None, warm_start: false))}"#,
            MULTI_PASS,
        ),
        Spec::new(
            "sinkhorn_k",
            r#"{"sinkhorn_k": (temperature: $TAU, iterations: 3, kernel: {"gaussian": ()})}"#,
            MULTI_PASS,
        ),
        Spec::new(
            "sinkhorn_divergence",
            r#"{"sinkhorn_divergence": (temperature: $TAU,
                sinkhorn: (max_iters: 10, tol: 0.0, epsilon_scaling: None, warm_start: false))}"#,
            MULTI_PASS,
        ),
        Spec::new(
            "mmd",
            r#"{"mmd": (temperature: $TAU, kernel: gaussian)}"#,
            FULL_WIDE,
        ),
        Spec::new(
            "score_difference",
            r#"{"score_difference": (temperature: $TAU)}"#,
            FULL_WIDE,
        ),
        Spec::new(
            "f_divergence",
            r#"{"f_divergence": (divergence: jensen_shannon, temperature: $TAU)}"#,
            FULL,
        ),
        Spec::new(
            "cross_minus_self",
            r#"{"cross_minus_self": (
                attraction: (kernel: {"gaussian": ()}, coupling: {"sinkhorn": (max_iters: 10, tol: 0.0)}, temperature: $TAU),
                repulsion: (kernel: {"gaussian": ()}, coupling: {"proxy": ()}, temperature: $TAU),
                mask_self: false,
                weighting: {"unit": ()},
            )}"#,
            MULTI_PASS,
        ),
        Spec::new(
            "joint",
            r#"{"joint": (
                term: (kernel: {"laplace": ()}, coupling: {"sinkhorn": (max_iters: 10, tol: 0.0)}, temperature: $TAU_L),
                mask_self: true,
                weighting: {"mass_product": ()},
            )}"#,
            MULTI_PASS,
        ),
        Spec {
            elements: Elements::Projections,
            ..Spec::new(
                "sliced_wasserstein",
                r#"{"sliced_wasserstein": (directions: $DIRECTIONS, seed: 0, resample_each_step: true)}"#,
                FULL,
            )
        },
        Spec::new(
            "multi_temperature",
            r#"{"multi_temperature": (
                operator: {"one_sided": (temperature: $TAU_L, kernel: {"laplace": ()})},
                temperatures: [0.5, 1.0, 2.0],
                normalise: true,
            )}"#,
            COMPOSITION,
        ),
        // Feature scaling rescales the data to a mean distance of √D and the temperature by √D, so
        // the inner temperature is relative: 1.0 is of the order of the distances.
        Spec::new(
            "feature_scale",
            r#"{"feature_scale": (operator: {"one_sided": (temperature: 1.0, kernel: {"laplace": ()})})}"#,
            COMPOSITION,
        ),
        // At step 0 and time 0 the annealing factor is 1: the cost is the schedule's bookkeeping.
        Spec::new(
            "annealed",
            r#"{"annealed": (
                operator: {"score_difference": (temperature: $TAU)},
                rate: 0.5,
                clock: time,
                min_factor: 0.01,
            )}"#,
            COMPOSITION,
        ),
        Spec {
            negatives: true,
            ..Spec::new(
                "guidance",
                r#"{"guidance": (operator: {"deng_alg2": (temperature: $TAU_L)}, alpha: 2.0)}"#,
                COMPOSITION,
            )
        },
        Spec::new(
            "weighted",
            r#"{"weighted": (terms: [
                (weight: 1.0, operator: {"one_sided": (temperature: $TAU_L)}),
                (weight: 0.5, operator: {"mmd": (temperature: $TAU)}),
            ])}"#,
            COMPOSITION,
        ),
        Spec::new(
            "sum",
            r#"{"sum": (operators: [
                {"one_sided": (temperature: $TAU_L)},
                {"sliced_wasserstein": (directions: 16)},
            ])}"#,
            COMPOSITION,
        ),
    ]
}

/// A seeded cloud of `n` points in `dim` dimensions, `N(centre·1, I)`.
fn cloud<T: Real>(name: &str, n: usize, dim: usize, centre: f64, seed: u64) -> PointCloud<T> {
    let mut rng = SplitMix64::new(seed);
    let data = (0..n * dim).map(|_| T::of(centre + rng.normal())).collect();
    PointCloud::new(name, data, dim).expect("finite points")
}

/// The clouds of one case: the particles, the data and the negatives.
struct Clouds<T> {
    x: PointCloud<T>,
    y: PointCloud<T>,
    negatives: PointCloud<T>,
}

impl<T: Real> Clouds<T> {
    fn new(case: Case) -> Self {
        Clouds {
            x: cloud("x", case.n, case.dim, 0.0, 11),
            y: cloud("y", case.m, case.dim, 0.5, 12),
            negatives: cloud("negatives", negatives_len(case.n), case.dim, -0.5, 13),
        }
    }
}

/// One evaluation of `op`: the field, `N × D`.
fn evaluate<T: Real>(op: &dyn DriftOperator, clouds: &Clouds<T>, negatives: bool) -> Vec<T> {
    let context = Context::default();
    if negatives {
        let mut out = vec![T::zero(); clouds.x.len() * clouds.x.dim()];
        apply_drift(
            op,
            DriftProblem {
                backend: &CpuBackend,
                x: &clouds.x,
                y: &clouds.y,
                context: &context,
                out: &mut out,
                scale: T::one(),
                negatives: Some(Negatives::new(&clouds.negatives, 0.0)),
            },
        )
        .expect("drift with negatives");
        out
    } else {
        drift_ops::drift_with(&CpuBackend, op, &clouds.x, &clouds.y, &context)
            .expect("drift")
            .0
    }
}

fn bench_spec<T: Real>(group: &mut BenchmarkGroup<'_, WallTime>, spec: &Spec, label: &str) {
    for case in spec.sizes.cases() {
        let id = BenchmarkId::new(label, format!("n{}_m{}_d{}", case.n, case.m, case.dim));
        // Filtered-out benchmarks must not pay for their clouds: they are made on first use.
        let clouds = OnceCell::new();
        let op = spec.operator(case.dim);
        group.throughput(Throughput::Elements(spec.elements(case)));
        group.bench_function(id, |b| {
            let clouds = clouds.get_or_init(|| {
                let clouds = Clouds::<T>::new(case);
                // A benchmark of a broken operator would time nothing useful.
                let v = evaluate(op.as_ref(), &clouds, spec.negatives);
                assert!(
                    v.iter().all(|c| c.is_finite()),
                    "{}: non-finite field at {case:?}",
                    spec.name
                );
                clouds
            });
            b.iter(|| black_box(evaluate(op.as_ref(), clouds, spec.negatives)))
        });
    }
}

fn operators(c: &mut Criterion) {
    for spec in specs() {
        let mut group = c.benchmark_group(spec.name);
        group.sampling_mode(SamplingMode::Flat);
        bench_spec::<f32>(&mut group, &spec, "f32");
        bench_spec::<f64>(&mut group, &spec, "f64");
        group.finish();
    }
}

/// The benchmark group, in a module because `criterion_group!` generates an undocumented `pub fn`.
#[allow(missing_docs)]
mod group {
    use super::*;

    criterion_group! {
        name = benches;
        config = Criterion::default()
            .sample_size(10)
            .warm_up_time(Duration::from_millis(500))
            .measurement_time(Duration::from_secs(2));
        targets = operators
    }
}
criterion_main!(group::benches);
