//! The options of `drift-bench demo`.

use crate::demo::{DemoConfig, KernelChoice};
use clap::Args;

/// Options of `drift-bench demo` (and of `drift-bench` without a command).
#[derive(Debug, Args)]
// Negative numbers are parsed as values so that the range checks name them.
pub struct DemoArgs {
    /// Flow steps per run.
    #[arg(long, default_value_t = 200)]
    steps: usize,
    /// Number of particles N.
    #[arg(long, default_value_t = 512)]
    particles: usize,
    /// Number of data points M.
    #[arg(long, default_value_t = 512)]
    data: usize,
    /// Seed of the data, the initial particles and the metric.
    #[arg(long, default_value_t = 0)]
    seed: u64,
    /// Step size eta of x += eta V(x) (the drifts are displacements: keep it below 1).
    #[arg(long, default_value_t = 0.5, allow_hyphen_values = true)]
    eta: f64,
    /// Sinkhorn iteration cap per coupling solve.
    #[arg(long, default_value_t = 100)]
    sinkhorn_iters: usize,
    /// Sinkhorn tolerance on the L1 marginal error.
    #[arg(long, default_value_t = 1e-3, allow_hyphen_values = true)]
    sinkhorn_tol: f64,
    /// Kernels to run (repeat or comma-separate); default both.
    #[arg(long, value_enum, value_delimiter = ',', default_values_t = [KernelChoice::Gaussian, KernelChoice::Laplace])]
    kernel: Vec<KernelChoice>,
    /// Run the flows in double precision (f32 by default; the metrics are always f64).
    #[arg(long)]
    f64: bool,
}

impl DemoArgs {
    /// The demo's settings ([`crate::demo::run`] checks them as a whole before the first flow).
    pub fn config(self) -> DemoConfig {
        DemoConfig {
            steps: self.steps,
            eta: self.eta,
            particles: self.particles,
            data: self.data,
            seed: self.seed,
            sinkhorn_iters: self.sinkhorn_iters,
            sinkhorn_tol: self.sinkhorn_tol,
            kernels: self.kernel,
            f32: !self.f64,
        }
    }
}
