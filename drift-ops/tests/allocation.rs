//! A sum of K operators accumulates into one buffer: its peak memory does not grow with K.
#![allow(unsafe_code)]

use drift_api::{DriftOperator, PointCloud};
use drift_ops::{OneSided, Sum};
use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicUsize, Ordering};

struct Counting;
static LIVE: AtomicUsize = AtomicUsize::new(0);
static PEAK: AtomicUsize = AtomicUsize::new(0);

// SAFETY: forwards to the system allocator and only counts bytes.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        let now = LIVE.fetch_add(layout.size(), Ordering::SeqCst) + layout.size();
        PEAK.fetch_max(now, Ordering::SeqCst);
        unsafe { System.alloc(layout) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        LIVE.fetch_sub(layout.size(), Ordering::SeqCst);
        unsafe { System.dealloc(ptr, layout) }
    }
}

#[global_allocator]
static ALLOCATOR: Counting = Counting;

fn peak_extra(op: &dyn DriftOperator, x: &PointCloud<f64>, y: &PointCloud<f64>) -> usize {
    // Single-threaded so that thread-local pools do not blur the count.
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(1)
        .build()
        .unwrap();
    pool.install(|| {
        let base = LIVE.load(Ordering::SeqCst);
        PEAK.store(base, Ordering::SeqCst);
        let _ = drift_ops::drift(op, x, y).unwrap();
        PEAK.load(Ordering::SeqCst) - base
    })
}

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
