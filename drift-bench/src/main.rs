//! The `drift-bench` command line. `drift-bench` (or `drift-bench demo`) runs the comparative
//! particle-flow demo of the built-in drift operators; `list` shows every registered kernel,
//! coupling and operator, `validate` checks RON operator files, and `apply` runs an operator from a
//! RON file on point sets read from `.npy` or `.csv` files.

mod apply;
mod console;
mod demo;
mod demo_args;
mod list;
mod validate;

// Linked for its registrations only: typetag and inventory register a type when its crate is linked
// into the binary, and nothing else in this crate refers to the example plugin, so without this line
// `example.student_t` and `example.mean_shift` would be unknown to `list`, `validate` and `apply`.
use drift_example_plugin as _;

use anyhow::{bail, Result};
use apply::ApplyArgs;
use clap::{Parser, Subcommand};
use console::Console;
use demo_args::DemoArgs;
use std::io::Write;
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

/// Runs the command; an error is printed as one line `error: ...` (no backtrace: every message
/// names the argument and file it is about) and exits with status 1.
///
/// The status is decided by the work alone: output that nobody reads any more (a closed pipe) is
/// dropped by [`Console`], never turned into an error or into a success.
fn main() -> ExitCode {
    match run(Cli::parse()) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            // Not `eprintln!`, which panics when standard error is closed.
            let _ = writeln!(Console::new(std::io::stderr().lock()), "error: {e:#}");
            ExitCode::FAILURE
        }
    }
}

fn run(cli: Cli) -> Result<()> {
    let mut out = Console::new(std::io::stdout().lock());
    let mut err = Console::new(std::io::stderr().lock());
    match cli.command.unwrap_or(Command::Demo(cli.demo)) {
        Command::List { examples } => list::run(examples, &mut out),
        Command::Validate { files } => {
            let failed = validate::run(&files, &mut out, &mut err)?;
            if failed > 0 {
                bail!("{failed} of {} files failed validation", files.len());
            }
            Ok(())
        }
        Command::Apply(a) => apply::run(&a, &mut out, &mut err),
        Command::Demo(a) => demo::run(&a.config()?, &mut out),
    }
}
