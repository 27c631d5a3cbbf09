//! What the tests of one problem split over processes share: random inputs, every registered
//! operator, the comparison of fields, and a collective that counts what it moves.

use drift_api::kit::Collective;
use drift_api::registry::{entries, Kind};
use drift_api::{operator_from_str, DriftOperator, PointCloud, Real, Result};
use rand::{Rng, SeedableRng};
use std::sync::atomic::{AtomicUsize, Ordering};

/// `n` points in `d` dimensions uniform in `[−1, 1)` around `offset`, with random weights in
/// `[0.2, 1)` when `weighted`.
pub fn random_cloud<T: Real>(
    seed: u64,
    n: usize,
    d: usize,
    offset: f64,
    weighted: bool,
) -> PointCloud<T> {
    let mut r = rand::rngs::StdRng::seed_from_u64(seed);
    let data = (0..n * d)
        .map(|_| T::of(r.gen_range(-1.0..1.0) + offset))
        .collect();
    let cloud = PointCloud::new("points", data, d).unwrap();
    if weighted {
        let w = (0..n).map(|_| T::of(r.gen_range(0.2..1.0))).collect();
        cloud.with_weights(w).unwrap()
    } else {
        cloud
    }
}

/// Every operator of the registry by its example, and the Sinkhorn drift stopped by a tolerance
/// (named "tolerance stop").
pub fn registry_operators() -> Vec<(String, Box<dyn DriftOperator>)> {
    let mut ops: Vec<_> = entries()
        .into_iter()
        .filter(|e| e.kind == Kind::Operator)
        .map(|e| {
            (
                e.name.to_string(),
                operator_from_str(e.example, e.name).unwrap(),
            )
        })
        .collect();
    ops.push((
        "tolerance stop".into(),
        operator_from_str(TOLERANCE_STOP, "t").unwrap(),
    ));
    ops
}

/// A Sinkhorn drift that stops at its tolerance well before its cap.
pub const TOLERANCE_STOP: &str =
    r#"{"sinkhorn_drift": (temperature: 0.4, sinkhorn: (max_iters: 500, tol: 1e-9))}"#;

/// `Err` with the largest difference unless `got` is within `tolerance` of `want`'s largest
/// value.
pub fn within<T: Real>(got: &[T], want: &[T], tolerance: f64) -> std::result::Result<(), String> {
    let scale = want.iter().fold(0.0f64, |m, v| m.max(v.as_f64().abs()));
    let worst = got
        .iter()
        .zip(want)
        .fold(0.0f64, |m, (a, b)| m.max((a.as_f64() - b.as_f64()).abs()));
    if got.len() == want.len() && worst <= tolerance * scale.max(f64::MIN_POSITIVE) {
        Ok(())
    } else {
        Err(format!("{worst:e} apart (field up to {scale:e})"))
    }
}

/// A collective that counts the values it all-reduces (per member; sums and maxima) around another.
#[derive(Debug)]
pub struct Counting<C> {
    /// The collective doing the work.
    pub inner: C,
    /// Values all-reduced so far.
    pub values: AtomicUsize,
}

impl<C> Counting<C> {
    /// Counting around `inner`, from zero.
    pub fn new(inner: C) -> Self {
        Counting {
            inner,
            values: AtomicUsize::new(0),
        }
    }
    /// Values all-reduced so far.
    pub fn count(&self) -> usize {
        self.values.load(Ordering::Relaxed)
    }
}

impl<C: Collective> Collective for Counting<C> {
    fn all_reduce_sum(&self, values: &mut [f64]) -> Result<()> {
        self.values.fetch_add(values.len(), Ordering::Relaxed);
        self.inner.all_reduce_sum(values)
    }

    fn all_reduce_max(&self, values: &mut [f64]) -> Result<bool> {
        let native = self.inner.all_reduce_max(values)?;
        if native {
            self.values.fetch_add(values.len(), Ordering::Relaxed);
        }
        Ok(native)
    }
}

/// Another collective with its sums only: the default [`Collective::all_reduce_max`], as a
/// collective that cannot take maxima (a Python callable) has.
#[derive(Debug)]
pub struct SumsOnly<'a>(pub &'a dyn Collective);

impl Collective for SumsOnly<'_> {
    fn all_reduce_sum(&self, values: &mut [f64]) -> Result<()> {
        self.0.all_reduce_sum(values)
    }
}
