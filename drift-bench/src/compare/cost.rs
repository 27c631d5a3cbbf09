//! The expected cost of a run's steps, so that the progress bar's percentage and its ETA move
//! with the work done rather than with the steps counted: a training step of a class-conditional
//! generator or a Sinkhorn step at a low temperature costs many flow steps of a kernel drift, and
//! those runs come last in the grid, so counting steps alone made the ETA run low by about 2x.
//!
//! The model counts multiply-adds of the passes over point pairs (and of the generator's network),
//! times the expected Sinkhorn iterations. It only ranks and scales the runs; it is no timing.

use crate::compare::prepared::PreparedData;
use crate::compare::record::Mode;
use crate::compare::sweep::Study;
use crate::generator::Features;

/// What a run's step cost depends on beyond its study.
#[derive(Clone, Copy, Debug)]
pub struct RunShape<'a> {
    /// The operator's RON with every default (its Sinkhorn settings are read from it).
    pub operator_ron: &'a str,
    /// The sweep's temperature of the run.
    pub temperature: f64,
    /// Points of the data set's seen part.
    pub data_points: usize,
    /// The flow's particles (the held-out size when the study asks for 0).
    pub particles: usize,
    /// The data's dimension.
    pub dim: usize,
    /// Classes a class-conditional generator draws a batch for (1 for unlabelled data).
    pub classes: usize,
}

impl<'a> RunShape<'a> {
    /// The shape of a run of `operator_ron` at `temperature` in `study` on `data`.
    pub fn of(operator_ron: &'a str, temperature: f64, study: &Study, data: &PreparedData) -> Self {
        RunShape {
            operator_ron,
            temperature,
            data_points: data.train.len() / data.dim.max(1),
            particles: match study.flow.particles {
                0 => data.test_len(),
                n => n,
            },
            dim: data.dim,
            classes: data.classes.unwrap_or(1),
        }
    }
}

/// Per-sample targets a generator's step drifts toward at most (the generator's `max_targets`).
const MAX_TARGETS: usize = 1024;

/// Relative cost of a training step with the encoder's feature keys against one on the raw sample
/// alone (one problem per class and location of each key's map, and the encoder's own passes):
/// about 4 to 5 on the digits.
const ENCODER_FACTOR: f64 = 4.5;

/// What one Sinkhorn iteration costs per point pair, in the units of a multiply-add: a
/// log-sum-exp over distances the solver keeps, whatever the dimension (measured: a Sinkhorn step
/// at its cap costs about 10 kernel steps in 2-D, about 3 in 64-D).
const ITERATION_COST: f64 = 2.0;

/// A step's fixed cost (allocations, thread dispatch) in the units of [`step_cost`] (about a
/// multiply-add each, some 3e9 a second measured): about 0.3 ms a step.
pub const STEP_OVERHEAD: f64 = 1e6;

/// A run's fixed cost, its metrics (an exact assignment of up to 1000 points, the classifier):
/// measured at about 0.06 s, spread over the run's steps.
pub const RUN_OVERHEAD: f64 = 2e8;

/// The expected cost of one step of a run of `study` in `mode` with `steps` steps, in about
/// multiply-adds ([`STEP_OVERHEAD`] and a share of [`RUN_OVERHEAD`] included).
pub fn step_cost(study: &Study, mode: Mode, steps: usize, shape: &RunShape) -> f64 {
    let d = shape.dim.max(1) as f64;
    // Per pair: its distance and kernel, and the solver's iterations over it.
    let per_pair =
        d + 8.0 + ITERATION_COST * expected_iterations(shape.operator_ron, shape.temperature);
    let fixed = STEP_OVERHEAD + RUN_OVERHEAD / steps.max(1) as f64;
    match mode {
        Mode::Flow => {
            // Attraction to the data and repulsion among the particles.
            let n = shape.particles.max(1) as f64;
            let m = shape.data_points.max(1) as f64;
            fixed + n * (m + n) * per_pair
        }
        Mode::Train => {
            let t = &study.train;
            let classes = shape.classes.max(1) as f64;
            let b = t.batch.max(1) as f64;
            let targets = (shape.data_points / shape.classes.max(1)).clamp(1, MAX_TARGETS) as f64;
            let features = match t.features {
                Features::Raw => 1.0,
                Features::Encoder => ENCODER_FACTOR,
            };
            let drift = classes * b * (targets + b) * per_pair;
            // The network, forward and backward (about three times the forward's work).
            let h = t.hidden.max(1) as f64;
            let width = t.latent as f64 + classes + h * t.layers.max(1) as f64 + d;
            let network = 3.0 * classes * b * h * width;
            fixed + (drift + network) * features
        }
    }
}

/// The Sinkhorn iterations a step of the operator written as `ron` is expected to take at
/// `temperature`: 0 for a kernel drift. A solver without ε-scaling needs more the lower the
/// temperature (its cap below about 0.1, a few at 1); one with ε-scaling runs its schedule at
/// every temperature (about half its cap).
pub fn expected_iterations(ron: &str, temperature: f64) -> f64 {
    let Some(max_iters) = number_after(ron, "max_iters:") else {
        return 0.0;
    };
    let scaling = ron.contains("epsilon_scaling: Some") || ron.contains("epsilon_scaling:Some");
    if scaling {
        max_iters / 2.0
    } else {
        let t = if temperature > 0.0 { temperature } else { 1e-3 };
        (10.0 / t).clamp(3.0, max_iters.max(3.0))
    }
}

/// The first number after the first `key` in `text` (the most an operator's solvers allow when
/// it has several: they share the setting in the operators shipped).
fn number_after(text: &str, key: &str) -> Option<f64> {
    let rest = &text[text.find(key)? + key.len()..];
    let rest = rest.trim_start();
    let end = rest
        .find(|c: char| !(c.is_ascii_digit() || c == '.' || c == 'e' || c == '+' || c == '-'))
        .unwrap_or(rest.len());
    rest[..end].parse().ok().filter(|v: &f64| v.is_finite())
}

/// The progress units one step of each run counts, for runs of `(cost per step, steps)`: scaled so
/// that the whole sweep counts about [`TOTAL_UNITS`] (no overflow whatever the costs), every step at
/// least one unit, and a cost that is not finite and positive taken as the cheapest run's.
pub fn step_units(runs: &[(f64, usize)]) -> Vec<u64> {
    let cheapest = runs
        .iter()
        .map(|r| r.0)
        .filter(|c| c.is_finite() && *c > 0.0)
        .fold(f64::INFINITY, f64::min);
    let cheapest = if cheapest.is_finite() { cheapest } else { 1.0 };
    // Relative to the cheapest first, so that huge costs cannot overflow the sum.
    let relative: Vec<f64> = runs
        .iter()
        .map(|&(c, _)| {
            if c.is_finite() && c > 0.0 {
                (c / cheapest).min(MAX_RATIO)
            } else {
                1.0
            }
        })
        .collect();
    let total: f64 = relative
        .iter()
        .zip(runs)
        .map(|(r, &(_, steps))| r * steps as f64)
        .sum();
    let scale = if total.is_finite() && total > 0.0 {
        TOTAL_UNITS / total
    } else {
        1.0
    };
    relative
        .iter()
        .map(|r| (r * scale).round().clamp(1.0, TOTAL_UNITS) as u64)
        .collect()
}

/// The most one run's step may count against the cheapest's (beyond it a bar shows nothing more).
const MAX_RATIO: f64 = 1e12;

/// About how many progress units a whole sweep counts.
pub const TOTAL_UNITS: f64 = 1e9;
