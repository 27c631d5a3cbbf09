//! One problem split by columns over several processes ([`ColumnShards`], here threads adding
//! their sums through shared memory): each process holds all of `X` and one shard of `Y` (shards
//! of unequal sizes, one of them empty), and every registered operator it accepts, in f64 and
//! f32, with and without guidance negatives and weights on `Y`, gives every process the field of
//! one process holding all of `Y` (1e-12 of the field's largest value in f64, 1e-5 in f32); the
//! operators that need `Y` in one place refuse with a typed error naming them.

mod common;

use common::{random_cloud as cloud, registry_operators, within, Counting, SumsOnly, ThreadGroup};
use drift_api::kit::{reduce, Backend, Collective, ColumnSplit, Displacement, RowReduction, Whole};
use drift_api::{
    apply_drift, operator_from_str, Context, DriftError, DriftOperator, DriftProblem, DriftReport,
    Negatives, PointCloud, Real, Result,
};
use drift_ops::{ColumnShards, CpuBackend, Gaussian};

/// The registry examples refused on a shard, each with the operator that refuses: those that
/// read `Y`'s points themselves, and the sum holding one of them.
const REFUSED: [(&str, &str); 3] = [
    ("sliced_wasserstein", "sliced_wasserstein"),
    ("deng_official", "deng_official"),
    ("sum", "sliced_wasserstein"),
];

/// The operator that refuses the registry example `name` on a shard, if any.
fn refusing(name: &str) -> Option<&'static str> {
    REFUSED.iter().find(|(n, _)| *n == name).map(|(_, by)| *by)
}

/// One problem's inputs: 13 particles in 3-D, and `Y` (weighted or not) as `sizes` shards.
struct Inputs<T> {
    x: PointCloud<T>,
    y: PointCloud<T>,
    sizes: Vec<usize>,
}

impl<T: Real> Inputs<T> {
    fn new(sizes: &[usize], weighted: bool) -> Self {
        let m = sizes.iter().sum();
        Inputs {
            x: cloud(1, 13, 3, 0.0, false),
            y: cloud(2, m, 3, 0.7, weighted),
            sizes: sizes.to_vec(),
        }
    }

    /// Process `rank`'s shard of `y` (contiguous points), its whole completed over `split`.
    fn shard(&self, split: ColumnSplit<'_>) -> Result<PointCloud<T>> {
        let start: usize = self.sizes[..split.rank()].iter().sum();
        let range = start..start + self.sizes[split.rank()];
        let d = self.y.dim();
        let data = self.y.data()[range.start * d..range.end * d].to_vec();
        let weights = self.y.weights().map(|w| w[range.clone()].to_vec());
        let whole = split.whole(Whole::of_part(weights.as_deref(), range.len()))?;
        PointCloud::shard("y", data, d, weights, whole)
    }
}

type Run<T> = Result<(Vec<T>, DriftReport)>;

/// `op`'s field and report on `backend` for `x` against `y`.
fn run<T: Real>(
    op: &dyn DriftOperator,
    backend: &dyn Backend,
    x: &PointCloud<T>,
    y: &PointCloud<T>,
    negatives: Option<&PointCloud<T>>,
) -> Run<T> {
    let context = Context::at(2, 0.3);
    let mut v = vec![T::zero(); x.data().len()];
    let problem = DriftProblem::new(backend, x, y, &context, &mut v)
        .with_negatives(negatives.map(|n| Negatives::new(n, 0.5)));
    let report = apply_drift(op, problem)?;
    Ok((v, report))
}

/// The pair cache is off, so that one process and the shards both take the fused passes.
fn backend() -> CpuBackend {
    CpuBackend::builder().pair_cache_budget(0).build().unwrap()
}

/// The field on one process holding all of `y`, and on each process holding its shard; each
/// process's collective counts the values it moves.
fn fields<T: Real>(
    op: &dyn DriftOperator,
    inputs: &Inputs<T>,
    negatives: Option<&PointCloud<T>>,
) -> (Run<T>, Vec<(Run<T>, usize)>) {
    fields_on(&backend(), op, inputs, negatives)
}

/// [`fields`] on `backend` (both sides).
fn fields_on<T: Real>(
    backend: &CpuBackend,
    op: &dyn DriftOperator,
    inputs: &Inputs<T>,
    negatives: Option<&PointCloud<T>>,
) -> (Run<T>, Vec<(Run<T>, usize)>) {
    fields_with(backend, op, inputs, negatives, false)
}

/// [`fields_on`], the processes' collective offering sums only when `sums_only` (its maxima
/// then gathered through sums).
fn fields_with<T: Real>(
    backend: &CpuBackend,
    op: &dyn DriftOperator,
    inputs: &Inputs<T>,
    negatives: Option<&PointCloud<T>>,
    sums_only: bool,
) -> (Run<T>, Vec<(Run<T>, usize)>) {
    let single = run(op, backend, &inputs.x, &inputs.y, negatives);
    let ranks = inputs.sizes.len();
    let split = std::thread::scope(|s| {
        let handles: Vec<_> = ThreadGroup::members(ranks)
            .into_iter()
            .map(|member| {
                s.spawn(move || {
                    let (rank, counting) = (member.rank, Counting::new(member));
                    let sums = SumsOnly(&counting);
                    let member: &dyn Collective = match sums_only {
                        true => &sums,
                        false => &counting,
                    };
                    let outcome = (|| {
                        let shards = ColumnShards::new(backend, member, rank, ranks)?;
                        let shard = inputs.shard(ColumnSplit::new(member, rank, ranks)?)?;
                        let before = counting.count();
                        let out = run(op, &shards, &inputs.x, &shard, negatives);
                        Ok::<_, DriftError>((out, counting.count() - before))
                    })();
                    outcome.unwrap_or_else(|e| (Err(e), 0))
                })
            })
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    });
    (single, split)
}

/// Every registered operator over shards of `sizes`: the one-process field, or a refusal.
fn check<T: Real>(tolerance: f64, sizes: &[usize]) {
    let negatives = cloud::<T>(3, 5, 3, 0.4, false);
    let (mut checked, mut refused) = (0, Vec::new());
    for (name, op) in registry_operators() {
        for weighted in [false, true] {
            let inputs = Inputs::<T>::new(sizes, weighted);
            for negatives in [None, Some(&negatives)] {
                let (single, split) = fields(op.as_ref(), &inputs, negatives);
                let what = format!(
                    "{name} (weighted y: {weighted}, negatives: {})",
                    negatives.is_some()
                );
                let Ok((want, _)) = single else {
                    for (got, _) in split {
                        assert!(got.is_err(), "{what}: one process failed, a split one not");
                    }
                    continue;
                };
                for (rank, (got, _)) in split.into_iter().enumerate() {
                    match got {
                        Ok((got, _)) => {
                            if let Err(gap) = within(&got, &want, tolerance) {
                                panic!("{what}, rank {rank} of {sizes:?}: {gap}");
                            }
                        }
                        Err(DriftError::ColumnSplit { operator, .. })
                            if refusing(&name) == Some(operator.as_str()) =>
                        {
                            refused.push(name.clone())
                        }
                        Err(e) => panic!("{what}, rank {rank} of {sizes:?}: {e}"),
                    }
                }
                checked += 1;
            }
        }
    }
    assert!(checked >= 60, "only {checked} operator cases ran");
    for (name, _) in REFUSED {
        assert!(refused.iter().any(|r| r == name), "{name} was not refused");
    }
}

#[test]
fn every_operator_split_over_three_unequal_shards_gives_the_one_process_field_f64() {
    check::<f64>(1e-12, &[3, 6, 2]);
}

#[test]
fn every_operator_split_over_four_shards_gives_the_one_process_field_f32() {
    check::<f32>(1e-5, &[3, 3, 2, 3]);
}

#[test]
fn an_empty_shard_leaves_a_process_with_no_data_points() {
    check::<f64>(1e-12, &[4, 0, 7]);
}

#[test]
fn a_tolerance_stop_ends_every_process_at_the_one_process_iteration() {
    let op = operator_from_str(common::TOLERANCE_STOP, "op").unwrap();
    let inputs = Inputs::<f64>::new(&[5, 1, 5], true);
    let (single, split) = fields(op.as_ref(), &inputs, None);
    let iterations = |r: &DriftReport| r.couplings[0].iterations;
    let want = iterations(&single.unwrap().1);
    assert!(want > 2 && want < 500, "stopped at {want}");
    for (got, _) in split {
        assert_eq!(iterations(&got.unwrap().1), want);
    }
}

/// The values one Sinkhorn iteration adds to each process's collective (fixed iteration counts,
/// tolerance 0: the difference between 10 and 30 iterations), over 3 shards of 13 rows.
fn moved_per_iteration(sums_only: bool) -> Vec<usize> {
    let moved = |iterations: usize| {
        let ron = format!(
            r#"{{"sinkhorn_drift": (temperature: 0.4, sinkhorn: (max_iters: {iterations}, tol: 0.0))}}"#
        );
        let op = operator_from_str(&ron, "op").unwrap();
        let inputs = Inputs::<f64>::new(&[4, 4, 3], false);
        let (_, split) = fields_with(&backend(), op.as_ref(), &inputs, None, sums_only);
        split
            .into_iter()
            .map(|(_, values)| values)
            .collect::<Vec<_>>()
    };
    let (few, more) = (moved(10), moved(30));
    few.iter()
        .zip(&more)
        .map(|(a, b)| {
            assert_eq!((b - a) % 20, 0);
            (b - a) / 20
        })
        .collect()
}

#[test]
fn a_sinkhorn_iteration_moves_two_values_per_row_and_the_error() {
    // The row maxima, the shifted sums, the column marginal error.
    let n = 13;
    assert_eq!(moved_per_iteration(false), vec![2 * n + 1; 3]);
}

#[test]
fn without_maxima_a_sinkhorn_iteration_gathers_every_process_s_log_sum_exps() {
    let (ranks, n) = (3, 13);
    assert_eq!(moved_per_iteration(true), vec![ranks * n + 1; ranks]);
}

#[test]
fn a_collective_without_maxima_gives_the_same_fields() {
    let negatives = cloud::<f64>(3, 5, 3, 0.4, false);
    let inputs = Inputs::<f64>::new(&[3, 0, 6, 2], true);
    for ron in [
        common::TOLERANCE_STOP,
        r#"{"deng_alg2": (temperature: 0.5)}"#,
        r#"{"guidance": (alpha: 2.0, operator: {"sinkhorn_drift": (temperature: 0.4)})}"#,
        r#"{"sinkhorn_divergence": (temperature: 0.2)}"#,
    ] {
        let op = operator_from_str(ron, "op").unwrap();
        let (single, split) = fields_with(&backend(), op.as_ref(), &inputs, Some(&negatives), true);
        let (want, _) = single.unwrap();
        for (rank, (got, _)) in split.into_iter().enumerate() {
            if let Err(gap) = within(&got.unwrap().0, &want, 1e-12) {
                panic!("{ron}, rank {rank}: {gap}");
            }
        }
    }
}

#[test]
fn the_inner_backends_pair_cache_serves_the_local_pairs() {
    // The CPU backend's default budget keeps every pair set's distances here.
    let backend = CpuBackend::builder().build().unwrap();
    let inputs = Inputs::<f64>::new(&[5, 0, 6], true);
    for ron in [
        common::TOLERANCE_STOP,
        r#"{"joint": (term: (coupling: {"sinkhorn": (max_iters: 60)}, temperature: 0.3))}"#,
        r#"{"sinkhorn_divergence": (temperature: 0.2)}"#,
    ] {
        let op = operator_from_str(ron, "op").unwrap();
        let (single, split) = fields_on(&backend, op.as_ref(), &inputs, None);
        let (want, _) = single.unwrap();
        for (rank, (got, _)) in split.into_iter().enumerate() {
            let (got, report) = got.unwrap();
            // The cached passes round differently from the one-process ones.
            if let Err(gap) = within(&got, &want, 1e-9) {
                panic!("{ron}, rank {rank}: {gap}");
            }
            let path = report.couplings[0].path.unwrap();
            let cached = matches!(path, drift_api::kit::PairPath::Cached { .. });
            assert_eq!(cached, rank != 1, "{ron}, rank {rank}: {path}");
        }
    }
}

#[test]
fn shards_where_they_cannot_be_completed_are_typed_errors() {
    let inputs = Inputs::<f64>::new(&[4], false);
    let member = ThreadGroup::members(1).pop().unwrap();
    let shard = inputs
        .shard(ColumnSplit::new(&member, 0, 1).unwrap())
        .unwrap();
    let op = operator_from_str(common::TOLERANCE_STOP, "op").unwrap();
    let is_split = |r: Run<f64>| matches!(r, Err(DriftError::ColumnSplit { .. }));
    // A backend that sees one process's points only.
    assert!(is_split(run(
        op.as_ref(),
        &CpuBackend,
        &inputs.x,
        &shard,
        None
    )));
    // x as a shard.
    let shards = ColumnShards::new(&CpuBackend, &member, 0, 1).unwrap();
    assert!(is_split(run(op.as_ref(), &shards, &shard, &inputs.x, None)));
    // y against itself.
    let mut lse = vec![0.0; 4];
    let r = reduce(
        &shards,
        RowReduction {
            rows: &shard,
            cols: &shard,
            kernel: &Gaussian,
            tau: 1.0,
            col_potential: None,
            mask_diagonal: false,
            displacement: Displacement::None,
            origin: None,
            lse: &mut lse,
            disp: None,
        },
    );
    assert!(matches!(r, Err(DriftError::ColumnSplit { .. })), "{r:?}");
    let err = ColumnShards::new(&CpuBackend, &member, 2, 2).unwrap_err();
    assert!(err.to_string().contains("rank 2"), "{err}");
}
