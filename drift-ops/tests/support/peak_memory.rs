//! A counting global allocator and the peak extra memory of one drift evaluation, for the tests that
//! bound memory. Include it with `#[path = "support/peak_memory.rs"] mod peak_memory;`.
#![allow(unsafe_code)]

use drift_api::{DriftOperator, PointCloud};
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

/// Extra bytes live at the peak of one drift evaluation, on one thread so that thread-local pools
/// do not blur the count.
pub fn peak_extra(op: &dyn DriftOperator, x: &PointCloud<f64>, y: &PointCloud<f64>) -> usize {
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
