//! What a generator's training produced: its samples and the diagnostics of the run.

/// The result of [`train_generator`](super::train_generator).
#[derive(Clone, Debug, PartialEq)]
pub struct GeneratorOutcome {
    /// Samples generated after training, row-major, the data's dimension, in the data's
    /// (normalised) coordinates. Empty when the run diverged.
    pub samples: Vec<f64>,
    /// For a class-conditional generator, the class each sample was generated for (in blocks,
    /// `n_samples / classes` each, the first `n_samples % classes` classes one more).
    pub sample_classes: Option<Vec<usize>>,
    /// Mean wall time of one training step (network and drift), in milliseconds.
    pub ms_per_step: f64,
    /// The part of [`ms_per_step`](Self::ms_per_step) spent in the network: building the inputs,
    /// the forward pass, the backward pass and the optimiser update.
    pub network_ms_per_step: f64,
    /// The part of [`ms_per_step`](Self::ms_per_step) spent computing drifts.
    pub drift_ms_per_step: f64,
    /// The raw drift norm `λ = sqrt(mean ‖V‖² / D)` of the last step, pooled over the classes
    /// (`sqrt` of the mean of the classes' `λ²`, which is the `λ` of all samples together since the
    /// classes have equal batches). Zero when no step ran.
    pub last_drift_norm: f64,
    /// Mean Sinkhorn iterations per coupling solve over all steps and classes, where the operator
    /// solves Sinkhorn couplings.
    pub sinkhorn_iters: Option<f64>,
    /// The largest Sinkhorn marginal error over the classes at the last step.
    pub sinkhorn_error: Option<f64>,
    /// Couplings of the last step (over every class and feature key) that stopped at their
    /// iteration cap unconverged.
    pub sinkhorn_unconverged: usize,
    /// The first step at which the generated samples, the drift or the loss was not finite;
    /// training stopped there. `Some(steps)` when only the final samples were not finite.
    pub diverged_at: Option<usize>,
    /// The loss of every step that ran: the mean of `V²` over every generated sample and
    /// coordinate (the drifting loss's value, per class).
    pub losses: Vec<f64>,
}
