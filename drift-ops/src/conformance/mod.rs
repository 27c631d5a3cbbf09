//! The backend conformance suite (cargo feature `conformance`): every row-reduction variant and
//! the sliced-Wasserstein stages of a [`Backend`] against dense f64 references written here, in
//! both precisions (f32 within 1e-4 relative, f64 within 1e-10), plus the errors every backend
//! must return.
//!
//! A third-party backend runs it from its own tests, with
//! `drift-ops = { version = "…", features = ["conformance"] }` as a dev-dependency:
//!
//! ```
//! use drift_ops::conformance::{run_sliced_suite, run_suite};
//! let backend = drift_ops::CpuBackend; // your backend here
//! let failures = run_suite(&backend);
//! assert!(failures.is_empty(), "{}", failures.join("\n"));
//! assert!(run_sliced_suite(&backend).is_empty());
//! ```
//!
//! The cases span several row blocks and column tiles, `N ≠ M` both ways, `D` = 1, 2, 3 and 64,
//! every displacement, potentials, the self mask, `τ = 1e-4`, a user kernel with a CUDA
//! expression ([`Cauchy`]) and passes large enough for the CPU backend to skip tiles. Each check
//! returns `Err(message)` naming the case, the backend and the precision, so one run lists every
//! failure instead of stopping at the first.

mod cases;
mod checks;
mod official;
mod reference;
mod sliced;

pub use cases::{cases, Case, Cauchy, CpuOnly};
pub use checks::{check_case, check_errors, check_prepared};
pub use official::run_official_suite;
pub use reference::{compare_field, compare_lse, reference, tolerance, uniform};
pub use sliced::{
    check_sliced, check_sliced_transport, run_sliced_suite, sliced_cases, SlicedCase,
};

use drift_api::kit::{Backend, Displacement};

/// Runs every case in both precisions and every prepared-pairs case; returns the failures.
pub fn run_suite(backend: &dyn Backend) -> Vec<String> {
    let mut failures = Vec::new();
    let mut ran = 0;
    for (k, c) in cases().iter().enumerate() {
        let seed = 1000 + 10 * k as u64;
        for r in [
            check_case::<f32>(backend, c, seed),
            check_case::<f64>(backend, c, seed),
        ] {
            ran += 1;
            if let Err(e) = r {
                failures.push(e);
            }
        }
        if c.displacement == Displacement::None || c.mask || c.potentials {
            for r in [
                check_prepared::<f32>(backend, c, seed),
                check_prepared::<f64>(backend, c, seed),
            ] {
                ran += 1;
                if let Err(e) = r {
                    failures.push(e);
                }
            }
        }
    }
    if let Err(e) = check_errors(backend) {
        failures.push(e);
    }
    eprintln!(
        "conformance on {}: {ran} checks, {} failed",
        backend.name(),
        failures.len()
    );
    failures
}
