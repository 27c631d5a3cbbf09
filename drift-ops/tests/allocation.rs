//! A sum of K operators accumulates into one buffer: its peak memory does not grow with K.

#[path = "support/peak_memory.rs"]
mod peak_memory;

use drift_api::{DriftOperator, PointCloud};
use drift_ops::{OneSided, Sum};
use peak_memory::peak_extra;

#[test]
fn peak_memory_of_a_sum_does_not_grow_with_the_number_of_terms() {
    let n = 4000;
    let x = PointCloud::new(
        "x",
        (0..2 * n).map(|k| (k as f64 * 0.37).sin()).collect(),
        2,
    )
    .unwrap();
    let y = PointCloud::new(
        "y",
        (0..2 * n).map(|k| (k as f64 * 0.11).cos()).collect(),
        2,
    )
    .unwrap();
    let sum = |k: usize| Sum {
        operators: (0..k)
            .map(|i| Box::new(OneSided::new(0.1 + i as f64 * 0.01)) as Box<dyn DriftOperator>)
            .collect(),
    };
    let field_bytes = n * 2 * 8;
    let two = peak_extra(&sum(2), &x, &y);
    let sixteen = peak_extra(&sum(16), &x, &y);
    assert!(
        sixteen < two + field_bytes,
        "16 terms peak at {sixteen} bytes, 2 terms at {two}: more than one extra field ({field_bytes})"
    );
}
