//! A group of "processes" that are threads of one test, adding their sums through shared memory:
//! the collective of tests that split work over processes without MPI.

use drift_api::kit::Collective;
use drift_api::{DriftError, Result};
use std::sync::{Arc, Condvar, Mutex};
use std::time::Duration;

/// How long a member waits for the others in one call before the call fails: members out of
/// step (one done, another still calling) fail the test instead of hanging it.
const PATIENCE: Duration = Duration::from_secs(20);

/// One member of a group of `size` threads.
#[derive(Debug)]
pub struct ThreadGroup {
    gate: Arc<Gate>,
    slots: Arc<Mutex<Vec<Vec<f64>>>>,
    /// This member's rank.
    pub rank: usize,
}

/// A barrier whose wait gives up after [`PATIENCE`].
#[derive(Debug)]
struct Gate {
    size: usize,
    /// Members arrived at the current crossing, and the crossings completed.
    state: Mutex<(usize, usize)>,
    crossed: Condvar,
}

impl Gate {
    fn wait(&self, rank: usize) -> Result<()> {
        let mut state = self.state.lock().unwrap();
        let crossing = state.1;
        state.0 += 1;
        if state.0 == self.size {
            *state = (0, crossing + 1);
            self.crossed.notify_all();
            return Ok(());
        }
        let (_state, waited) = self
            .crossed
            .wait_timeout_while(state, PATIENCE, |s| s.1 == crossing)
            .unwrap();
        if waited.timed_out() {
            return Err(DriftError::invalid(
                "thread group",
                format!("member {rank} waited {PATIENCE:?} for the others in a collective call"),
            ));
        }
        Ok(())
    }
}

impl ThreadGroup {
    /// The `size` members of a new group, rank by rank.
    pub fn members(size: usize) -> Vec<ThreadGroup> {
        let gate = Arc::new(Gate {
            size,
            state: Mutex::new((0, 0)),
            crossed: Condvar::new(),
        });
        let slots = Arc::new(Mutex::new(vec![Vec::new(); size]));
        (0..size)
            .map(|rank| ThreadGroup {
                gate: gate.clone(),
                slots: slots.clone(),
                rank,
            })
            .collect()
    }
}

impl ThreadGroup {
    /// `values` replaced, element by element, by `fold` over every member's (in rank order on
    /// every member, so that all get the same bits).
    fn all_reduce(&self, values: &mut [f64], fold: fn(f64, f64) -> f64, start: f64) -> Result<()> {
        self.slots.lock().unwrap()[self.rank] = values.to_vec();
        self.gate.wait(self.rank)?;
        let slots = self.slots.lock().unwrap().clone();
        self.gate.wait(self.rank)?;
        // Members out of step (calls of different lengths) all fail at once, rather than one
        // reading past another's values and the others waiting for it.
        if let Some(other) = slots.iter().position(|s| s.len() != values.len()) {
            return Err(DriftError::invalid(
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
            *v = slots.iter().map(|s| s[k]).fold(start, fold);
        }
        Ok(())
    }
}

impl Collective for ThreadGroup {
    fn all_reduce_sum(&self, values: &mut [f64]) -> Result<()> {
        // From -0.0, the identity of addition (0.0 + -0.0 would turn a lone -0.0 positive).
        self.all_reduce(values, |a, b| a + b, -0.0)
    }

    fn all_reduce_max(&self, values: &mut [f64]) -> Result<bool> {
        self.all_reduce(values, f64::max, f64::NEG_INFINITY)?;
        Ok(true)
    }
}
