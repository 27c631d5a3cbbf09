//! The `drift-bench` command line, as a library call, so that any binary can be the whole CLI.
//!
//! `drift-bench` (or `drift-bench compare`) runs the comparison of drift operators across
//! temperatures, data sets and modes, and writes its report folder ([`crate::compare`]);
//! `merge` combines the shard folders of a sweep split with `compare --shard I/N`
//! ([`crate::compare::merge`]); `demo` runs the small particle-flow demonstration of four built-ins; `list` shows every registered kernel, coupling and operator, `validate` checks
//! RON operator files, and `apply` runs an operator from a RON file on point sets read from `.npy`
//! or `.csv` files. Each command is also a function of its own module
//! ([`crate::compare::command::run`], [`crate::demo::run`],
//! [`crate::list::run`], [`crate::validate::run`], [`crate::apply::run`]).
//!
//! Kernels, couplings and operators are known by the crates linked into the binary (typetag and
//! inventory register a type only where its crate is linked). The `drift-bench` binary links the
//! built-ins; a crate of your own operators gets a `drift-bench` that also knows its names with a
//! binary of three lines:
//!
//! ```no_run
//! // With your crate's name: it links the crate, so that its registrations exist.
//! use drift_ops as _;
//! fn main() -> std::process::ExitCode { drift_bench::cli::main() }
//! ```

use crate::apply::{self, ApplyArgs};
use crate::compare::command::{self as compare, CompareArgs};
use crate::compare::merge::{self, MergeArgs};
use crate::console::Console;
use crate::demo;
use crate::demo_args::DemoArgs;
use crate::list;
use crate::validate;
use anyhow::{bail, Result};
use clap::{Parser, Subcommand};
use std::ffi::OsString;
use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;

/// Demonstrations and benchmarks of drift operators.
///
/// Without a command, runs `compare` with the default comparison (the `default` preset).
#[derive(Debug, Parser)]
#[command(name = "drift-bench", version, about)]
struct Cli {
    #[command(subcommand)]
    command: Option<Command>,
    /// Memory the CPU backend may use to keep the pairwise distances of Sinkhorn solves (MiB;
    /// 0 = always recompute them, memory linear in N + M). Default: the `DRIFT_PAIR_CACHE_MB`
    /// environment variable, else 1024.
    #[arg(long, global = true, value_name = "MB", value_parser = parse_cache_mb)]
    pair_cache_mb: Option<f64>,
}

/// A budget in MiB: a finite number `>= 0`.
fn parse_cache_mb(s: &str) -> std::result::Result<f64, String> {
    match s.trim().parse::<f64>() {
        Ok(mb) if mb.is_finite() && mb >= 0.0 => Ok(mb),
        _ => Err(format!("expected a number of MiB >= 0, got {s:?}")),
    }
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Compare operators across temperatures, data sets, seeds and modes (particle flow, one-step
    /// generator): prints a Markdown summary and writes a report folder with results.csv,
    /// results.json, figures (PNG and SVG) and report.md (the default command).
    ///
    /// The sweep comes from a RON file, a preset (`--preset default|quick`) or the options
    /// (`-o` operators, `-d` data sets, `-t` temperatures, ...). Temperatures are relative to the
    /// data's scale (the mean distance between two data points); operators given by name run at
    /// temperature 1 times the sweep's temperature. `--shard I/N` (or a Slurm job array) runs a
    /// part of the sweep for `merge`. Built with the `mpi` feature and started by `mpirun -np K`,
    /// rank r runs shard r/K and rank 0 writes the one report.
    Compare(CompareArgs),
    /// Combine the shard folders of one sweep (`compare --shard I/N`, e.g. the tasks of a Slurm
    /// job array) into the report that `compare` writes for the whole sweep.
    ///
    /// Every shard 0/N to N-1/N must be given once, all of one sweep (the same fingerprint: the
    /// same settings, operators, data and drift-bench version); otherwise nothing is written and
    /// the error names the folder or the missing shards. The report equals the unsharded one but
    /// for timings and the command block, which shows the shards' commands and the merge's.
    ///
    /// For example, `drift-bench compare sweep.ron --shard I/4 --out shards/I` for I = 0 to 3 (in
    /// a Slurm job array `--array=0-3`, `--shard` may be left out), then `drift-bench merge
    /// shards/* --out report`.
    Merge(MergeArgs),
    /// Particle flows of four built-in drifts on the 8-Gaussians ring, at a low and a high
    /// temperature, from a start that covers only two modes: a table in seconds.
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
    ///
    /// A batch of problems is given as three-dimensional `.npy` files ((B, N, D) points, (B, n)
    /// weights) or, for problems of different sizes, as a ragged batch: (total, D) points with
    /// per-side offsets (`--x-offsets`, `--y-offsets`, `--negative-offsets`) and (total,) weights.
    /// Either runs as one call, its batch-wide statistics over every problem.
    ///
    /// Built with the `mpi` feature and started by `mpirun -np K`, a batch (dense or ragged) is
    /// split into K ranges of problems whose batch-wide statistics are completed over the ranks,
    /// and rank 0 writes the whole field; a single problem is split by rows (`--split rows`, the
    /// default) or by columns (`--split columns`: each rank reads only its range of Y).
    Apply(ApplyArgs),
}

/// Runs the command line of this process ([`std::env::args_os`]); the body of a binary's `main`.
pub fn main() -> ExitCode {
    pin_thread_count();
    run_with_args(std::env::args_os())
}

/// Sets `RAYON_NUM_THREADS` to the number of CPUs this process may use when it is not set, once,
/// before any thread starts. candle asks for its thread count at every convolution and matrix
/// product, and without the variable it counts physical cores by reading `/proc/cpuinfo` each time
/// (thousands of reads per training step of a generator with an encoder, more system time than
/// the training itself); rayon takes the same count by default, so nothing else changes.
fn pin_thread_count() {
    if std::env::var_os("RAYON_NUM_THREADS").is_none() {
        if let Ok(n) = std::thread::available_parallelism() {
            std::env::set_var("RAYON_NUM_THREADS", n.to_string());
        }
    }
}

/// Runs the command line `args`, the program's name first (as [`std::env::args_os`] gives them),
/// printing to this process's standard output and error, and returns the status to exit with.
///
/// Nothing exits the process: `--help` and `--version` print and return success; a command line
/// that does not parse prints clap's message and returns status 2; a command that fails prints one
/// line `error: ...` (no backtrace: every message names the argument and file it is about) and
/// returns status 1.
///
/// The status is decided by the work alone: output that nobody reads any more (a closed pipe) is
/// dropped by [`Console`], never turned into an error or into a success.
pub fn run_with_args<I, S>(args: I) -> ExitCode
where
    I: IntoIterator<Item = S>,
    S: Into<OsString> + Clone,
{
    let args: Vec<OsString> = args.into_iter().map(Into::into).collect();
    // The command line as the report shows it, the program named as users call it, each
    // argument quoted where a shell would split or expand it: pasted into a shell, it runs again.
    let command = std::iter::once("drift-bench".to_string())
        .chain(
            args.iter()
                .skip(1)
                .map(|a| shell_quote(&a.to_string_lossy())),
        )
        .collect::<Vec<_>>()
        .join(" ");
    let cli = match Cli::try_parse_from(args) {
        Ok(cli) => cli,
        Err(e) => {
            // What clap's own exit would print (help to standard output, errors to standard
            // error), without leaving the process.
            let _ = e.print();
            return u8::try_from(e.exit_code()).map_or(ExitCode::FAILURE, ExitCode::from);
        }
    };
    match run(cli, &command) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            // Not `eprintln!`, which panics when standard error is closed.
            let _ = writeln!(Console::new(std::io::stderr().lock()), "error: {e:#}");
            ExitCode::FAILURE
        }
    }
}

/// `arg` as a POSIX shell reads it back as one word: as is when it holds only characters no shell
/// treats specially, else in single quotes (a quote inside written `'\''`).
///
/// ```
/// use drift_bench::cli::shell_quote;
/// assert_eq!(shell_quote("--out"), "--out");
/// assert_eq!(shell_quote("file:a b.csv"), "'file:a b.csv'");
/// assert_eq!(shell_quote(r#"x={"mmd": ()}"#), r#"'x={"mmd": ()}'"#);
/// assert_eq!(shell_quote("it's"), r"'it'\''s'");
/// assert_eq!(shell_quote(""), "''");
/// ```
pub fn shell_quote(arg: &str) -> String {
    let plain = !arg.is_empty()
        && arg
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "-_./:,=+@%".contains(c));
    if plain {
        arg.to_string()
    } else {
        format!("'{}'", arg.replace('\'', r"'\''"))
    }
}

/// Runs one parsed command line.
fn run(cli: Cli, command: &str) -> Result<()> {
    let mut out = Console::new(std::io::stdout().lock());
    let mut err = Console::new(std::io::stderr().lock());
    if let Some(mb) = cli.pair_cache_mb {
        drift_ops::pair_cache::set_pair_cache_budget((mb * 1024.0 * 1024.0) as usize);
    } else if !matches!(
        cli.command,
        Some(Command::List { .. } | Command::Validate { .. } | Command::Merge(_))
    ) {
        // A budget the environment asks for but that does not parse is refused before any work,
        // not silently replaced by the default.
        if let Err(message) = drift_ops::pair_cache::env_budget() {
            bail!("{message} (give a number of MiB, 0 to turn the cache off, or unset it)");
        }
    }
    let command_line = cli
        .command
        .unwrap_or_else(|| Command::Compare(CompareArgs::default_command()));
    // Under an MPI launcher with several ranks, `apply` and `compare` split their work over them.
    #[cfg(feature = "mpi")]
    if let Command::Apply(_) | Command::Compare(_) = &command_line {
        if let Some(world) = crate::mpi::World::join()?.filter(|w| w.size() > 1) {
            match &command_line {
                Command::Apply(a) => return crate::mpi::apply::run(&world, a, &mut out, &mut err),
                Command::Compare(a) => {
                    return crate::mpi::compare::run(&world, a, command, &mut out)
                }
                _ => {}
            }
        }
    }
    match command_line {
        Command::Compare(a) => compare::run(&a, command, &mut out),
        Command::Merge(a) => merge::run(&a, command, &mut out),
        Command::List { examples } => list::run(examples, &mut out),
        Command::Validate { files } => {
            let failed = validate::run(&files, &mut out, &mut err)?;
            if failed > 0 {
                bail!("{failed} of {} files failed validation", files.len());
            }
            Ok(())
        }
        Command::Apply(a) => apply::run(&a, &mut out, &mut err),
        Command::Demo(a) => demo::run(&a.config(), &mut out),
    }
}
