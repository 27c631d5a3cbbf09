//! `example-drift`: the drift-bench command line with this crate's kernel and operator next to the
//! built-ins (`example-drift list`, `example-drift validate mean_shift.ron`, ...).

use drift_example_plugin as _; // links the crate, so that its registrations exist
fn main() -> std::process::ExitCode {
    drift_bench::cli::main()
}
