//! The `drift-bench` command line (see `drift_bench::cli`), with the built-in operators.

fn main() -> std::process::ExitCode {
    drift_bench::cli::main()
}
