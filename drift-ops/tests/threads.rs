//! Results do not depend on the number of threads: every registered operator (from its registry
//! example, which includes the Sinkhorn drift on cached pairs) gives the same field, bit for bit, in
//! pools of 1, 2, 3 and 8 threads. Parallel passes split their work into parts fixed by the problem's
//! size, never by the thread count, and combine the parts in a fixed order.

use drift_api::registry::{entries, Kind};
use drift_api::{operator_from_str, PointCloud, Real};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

fn cloud<T: Real>(rng: &mut StdRng, n: usize, dim: usize, shift: f64) -> PointCloud<T> {
    let pts = (0..n * dim)
        .map(|_| T::of(shift + rng.gen::<f64>() * 2.0))
        .collect();
    PointCloud::new("points", pts, dim).unwrap()
}

fn fields<T: Real>(n: usize, m: usize) {
    let mut rng = StdRng::seed_from_u64(4);
    let (x, y) = (
        cloud::<T>(&mut rng, n, 3, 0.0),
        cloud::<T>(&mut rng, m, 3, 0.4),
    );
    let pools: Vec<_> = [1, 2, 3, 8]
        .iter()
        .map(|&k| {
            rayon::ThreadPoolBuilder::new()
                .num_threads(k)
                .build()
                .unwrap()
        })
        .collect();
    let mut failures = vec![];
    for r in entries().iter().filter(|r| r.kind == Kind::Operator) {
        let op = operator_from_str(r.example, r.name).unwrap();
        let run = |pool: &rayon::ThreadPool| {
            pool.install(|| drift_ops::drift(op.as_ref(), &x, &y))
                .map(|(v, _)| v.iter().map(|a| a.as_f64().to_bits()).collect::<Vec<_>>())
        };
        let Ok(one) = run(&pools[0]) else {
            continue; // an example that needs negatives or other input: covered elsewhere
        };
        for (pool, k) in pools.iter().zip([1, 2, 3, 8]).skip(1) {
            let other = run(pool).unwrap();
            let differ = one.iter().zip(&other).filter(|(a, b)| a != b).count();
            if differ > 0 {
                failures.push(format!("{}: {k} threads change {differ} entries", r.name));
            }
        }
    }
    assert!(failures.is_empty(), "{failures:#?}");
}

#[test]
fn every_operator_gives_the_same_field_on_any_number_of_threads_f64() {
    fields::<f64>(300, 420);
}

#[test]
fn every_operator_gives_the_same_field_on_any_number_of_threads_f32() {
    fields::<f32>(300, 420);
}
