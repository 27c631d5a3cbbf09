//! The `drift-bench` command line. `drift-bench` (or `drift-bench demo`) runs the comparative
//! particle-flow demo of the built-in drift operators.

mod demo;

use anyhow::{ensure, Result};
use clap::{Args, Parser, Subcommand};
use demo::{DemoConfig, KernelChoice};

/// Demonstrations and benchmarks of drift operators.
#[derive(Debug, Parser)]
#[command(
    name = "drift-bench",
    version,
    about,
    args_conflicts_with_subcommands = true
)]
struct Cli {
    #[command(subcommand)]
    command: Option<Command>,
    /// Options of the default command (`demo`).
    #[command(flatten)]
    demo: DemoArgs,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Particle flows of every built-in drift on the 8-Gaussians ring, at a low and a high
    /// temperature, from a start that covers only two modes (the default command).
    Demo(DemoArgs),
}

#[derive(Debug, Args)]
struct DemoArgs {
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
    #[arg(long, default_value_t = 0.5)]
    eta: f64,
    /// Sinkhorn iteration cap per coupling solve.
    #[arg(long, default_value_t = 100)]
    sinkhorn_iters: usize,
    /// Sinkhorn tolerance on the L1 marginal error.
    #[arg(long, default_value_t = 1e-3)]
    sinkhorn_tol: f64,
    /// Kernels to run (repeat or comma-separate); default both.
    #[arg(long, value_enum, value_delimiter = ',', default_values_t = [KernelChoice::Gaussian, KernelChoice::Laplace])]
    kernel: Vec<KernelChoice>,
    /// Run the flows in double precision (f32 by default; the metrics are always f64).
    #[arg(long)]
    f64: bool,
}

fn main() -> Result<()> {
    let cli = Cli::parse();
    match cli.command.unwrap_or(Command::Demo(cli.demo)) {
        Command::Demo(a) => {
            ensure!(a.eta > 0.0 && a.eta.is_finite(), "--eta must be positive");
            ensure!(
                a.particles > 1 && a.data > 0,
                "need at least 2 particles and 1 data point"
            );
            let cfg = DemoConfig {
                steps: a.steps,
                eta: a.eta,
                particles: a.particles,
                data: a.data,
                seed: a.seed,
                sinkhorn_iters: a.sinkhorn_iters,
                sinkhorn_tol: a.sinkhorn_tol,
                kernels: a.kernel,
                f32: !a.f64,
            };
            demo::run(&cfg, &mut std::io::stdout().lock())
        }
    }
}
