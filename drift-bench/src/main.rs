//! The `drift-bench` command line. `drift-bench` (or `drift-bench demo`) runs the comparative
//! particle-flow demo of the built-in drift operators; `list` shows every registered kernel,
//! coupling and operator, `validate` checks RON operator files, and `apply` runs an operator from a
//! RON file on point sets read from `.npy` or `.csv` files.

mod apply;
mod demo;
mod list;
mod validate;

// Linked for its registrations only: typetag and inventory register a type when its crate is linked
// into the binary, and nothing else in this crate refers to the example plugin, so without this line
// `example.student_t` and `example.mean_shift` would be unknown to `list`, `validate` and `apply`.
use drift_example_plugin as _;

use anyhow::{bail, ensure, Result};
use apply::ApplyArgs;
use clap::{Args, Parser, Subcommand};
use demo::{DemoConfig, KernelChoice};
use std::path::PathBuf;
use std::process::ExitCode;

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
    /// Every registered kernel, coupling and operator (built-ins and linked plugins), with its
    /// one-line summary and parameters.
    List {
        /// Also print a complete example RON value of each.
        #[arg(long)]
        examples: bool,
    },
    /// Parse and validate RON operator files: prints `ok FILE` or `FILE:LINE:COL: message` for each,
    /// and exits with status 1 if any failed.
    Validate {
        /// RON files to check.
        #[arg(required = true, value_name = "FILE")]
        files: Vec<PathBuf>,
    },
    /// Evaluate an operator from a RON file on point sets from `.npy` or `.csv` files, print its
    /// diagnostics, and print or write the field V.
    ///
    /// The computation runs in the precision of X and Y (`.npy` keeps float32 or float64, `.csv` is
    /// f64). If they differ, both are widened to f64 (exact) and a note is printed; `--f32` or
    /// `--f64` choose the precision explicitly. Weights and negatives are converted to it. A `.npy`
    /// output has that precision; a `.csv` output prints each value in its shortest form that reads
    /// back to the same float.
    Apply(ApplyArgs),
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

/// Runs the command; an error is printed as one line `error: ...` (no backtrace: every message
/// names the argument and file it is about) and exits with status 1.
fn main() -> ExitCode {
    match run(Cli::parse()) {
        Ok(()) => ExitCode::SUCCESS,
        // `drift-bench list | head` closes the pipe early: not an error.
        Err(e)
            if e.downcast_ref::<std::io::Error>()
                .is_some_and(|io| io.kind() == std::io::ErrorKind::BrokenPipe) =>
        {
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::FAILURE
        }
    }
}

fn run(cli: Cli) -> Result<()> {
    match cli.command.unwrap_or(Command::Demo(cli.demo)) {
        Command::List { examples } => list::run(examples, &mut std::io::stdout().lock()),
        Command::Validate { files } => {
            let failed = validate::run(
                &files,
                &mut std::io::stdout().lock(),
                &mut std::io::stderr().lock(),
            )?;
            if failed > 0 {
                bail!("{failed} of {} files failed validation", files.len());
            }
            Ok(())
        }
        Command::Apply(a) => apply::run(
            &a,
            &mut std::io::stdout().lock(),
            &mut std::io::stderr().lock(),
        ),
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
