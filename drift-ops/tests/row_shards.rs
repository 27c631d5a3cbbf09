//! One problem split by rows over several processes ([`RowShards`], here threads adding their
//! sums through shared memory): every registered operator, in f64 and f32, with and without
//! guidance negatives, gives every process the field of one process to rounding (1e-12 of the
//! field's largest value in f64, 1e-5 in f32), and fails where one process fails.

mod common;

use common::{random_cloud as cloud, registry_operators, within, ThreadGroup};
use drift_api::{
    apply_drift, operator_from_str, Context, DriftOperator, DriftProblem, Negatives, PointCloud,
    Real,
};
use drift_ops::{CpuBackend, RowShards};

/// The field on one process, and on each of `ranks` processes splitting the rows.
#[allow(clippy::type_complexity)]
fn fields<T: Real>(
    op: &dyn DriftOperator,
    ranks: usize,
    negatives: Option<&PointCloud<T>>,
) -> (drift_api::Result<Vec<T>>, Vec<drift_api::Result<Vec<T>>>) {
    let x = cloud::<T>(1, 13, 3, 0.0, false);
    let y = cloud::<T>(2, 11, 3, 0.7, true);
    // The pair cache is off on both sides, so that both take the fused passes.
    let backend = CpuBackend::builder().pair_cache_budget(0).build().unwrap();
    let context = Context::at(2, 0.3);
    let run = |b: &dyn drift_api::kit::Backend| {
        let mut v = vec![T::zero(); x.data().len()];
        let problem = DriftProblem::new(b, &x, &y, &context, &mut v)
            .with_negatives(negatives.map(|n| Negatives::new(n, 0.5)));
        apply_drift(op, problem).map(|_| v)
    };
    let single = run(&backend);
    let split = std::thread::scope(|s| {
        let handles: Vec<_> = ThreadGroup::members(ranks)
            .into_iter()
            .map(|member| {
                let run = &run;
                let backend = &backend;
                s.spawn(move || {
                    let shards = RowShards::new(backend, &member, member.rank, ranks).unwrap();
                    run(&shards)
                })
            })
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    });
    (single, split)
}

fn check<T: Real>(tolerance: f64, ranks: usize) {
    let negatives = cloud::<T>(3, 5, 3, 0.4, false);
    let mut checked = 0;
    for (name, op) in registry_operators() {
        for negatives in [None, Some(&negatives)] {
            let (single, split) = fields::<T>(op.as_ref(), ranks, negatives);
            let what = format!("{name} (negatives: {})", negatives.is_some());
            let Ok(want) = single else {
                for got in split {
                    assert!(
                        got.is_err(),
                        "{what}: one process failed, a split one did not"
                    );
                }
                continue;
            };
            for (rank, got) in split.into_iter().enumerate() {
                let got = got.unwrap_or_else(|e| panic!("{what}, rank {rank}: {e}"));
                if let Err(gap) = within(&got, &want, tolerance) {
                    panic!("{what}, rank {rank} of {ranks}: {gap}");
                }
            }
            checked += 1;
        }
    }
    assert!(checked >= 25, "only {checked} operator cases ran");
}

#[test]
fn every_operator_split_over_three_processes_gives_the_one_process_field_f64() {
    check::<f64>(1e-12, 3);
}

#[test]
fn every_operator_split_over_four_processes_gives_the_one_process_field_f32() {
    check::<f32>(1e-5, 4);
}

#[test]
fn more_processes_than_rows_leaves_some_with_nothing_to_compute() {
    let op = operator_from_str(r#"{"sinkhorn_drift": (temperature: 0.5)}"#, "op").unwrap();
    let (single, split) = fields::<f64>(op.as_ref(), 16, None);
    let want = single.unwrap();
    for got in split {
        let got = got.unwrap();
        assert!(got.iter().zip(&want).all(|(a, b)| (a - b).abs() <= 1e-12));
    }
}

#[test]
fn a_rank_outside_the_group_is_a_typed_error() {
    let err = RowShards::new(&CpuBackend, &drift_api::kit::SingleProcess, 2, 2).unwrap_err();
    assert!(err.to_string().contains("rank 2"), "{err}");
}
