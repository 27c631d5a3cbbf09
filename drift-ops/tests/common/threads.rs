//! A group of "processes" that are threads of one test, adding their sums through shared memory:
//! the collective of tests that split work over processes without MPI.

use drift_api::kit::Collective;
use drift_api::Result;
use std::sync::{Arc, Barrier, Mutex};

/// One member of a group of `size` threads.
#[derive(Debug)]
pub struct ThreadGroup {
    barrier: Arc<Barrier>,
    slots: Arc<Mutex<Vec<Vec<f64>>>>,
    /// This member's rank.
    pub rank: usize,
}

impl ThreadGroup {
    /// The `size` members of a new group, rank by rank.
    pub fn members(size: usize) -> Vec<ThreadGroup> {
        let barrier = Arc::new(Barrier::new(size));
        let slots = Arc::new(Mutex::new(vec![Vec::new(); size]));
        (0..size)
            .map(|rank| ThreadGroup {
                barrier: barrier.clone(),
                slots: slots.clone(),
                rank,
            })
            .collect()
    }
}

impl Collective for ThreadGroup {
    fn all_reduce_sum(&self, values: &mut [f64]) -> Result<()> {
        self.slots.lock().unwrap()[self.rank] = values.to_vec();
        self.barrier.wait();
        let slots = self.slots.lock().unwrap().clone();
        self.barrier.wait();
        // Members out of step (calls of different lengths) all fail at once, rather than one
        // reading past another's values and the others waiting for it.
        if let Some(other) = slots.iter().position(|s| s.len() != values.len()) {
            return Err(drift_api::DriftError::invalid(
                "thread group",
                format!(
                    "member {} all-reduced {} values, member {other} {}",
                    self.rank,
                    values.len(),
                    slots[other].len()
                ),
            ));
        }
        for (k, v) in values.iter_mut().enumerate() {
            // In rank order on every member, so that all get the same bits.
            *v = slots.iter().map(|s| s[k]).sum();
        }
        Ok(())
    }
}
