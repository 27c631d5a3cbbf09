//! The template of a drift plugin crate, written as a user outside the project writes one: copy
//! this folder, rename the crate and the `example.` prefix of its names, and keep what you need.
//!
//! | piece | file | RON name |
//! |---|---|---|
//! | a kernel | `student_t.rs` | `example.student_t` |
//! | a kernel written once over the precision with the vectorised math | `matern.rs` | `example.matern32` |
//! | a new row weighting | `density_gate.rs` | `example.density_gate` |
//! | a new cross-minus-self operator, on the engine | `gated_repulsion.rs` | `example.gated_repulsion` |
//! | an operator of a new family, on the row reduction | `mean_shift.rs` | `example.mean_shift` |
//! | a composition | `warmup.rs` | `example.warmup` |
//! | the drift-bench command line knowing all of them | `main.rs` | |
//! | one operator using every piece | `template.ron` | |
//!
//! Each type is registered twice: with `typetag` (so RON files can name it) and with
//! [`drift_api::register!`] (so `list` shows it and unknown-name errors suggest it). Names carry
//! the crate's prefix so that they never collide with the built-ins or with other plugins. A binary
//! knows these names only if it links the crate: `use drift_example_plugin as _;` (see `main.rs`).
//!
//! The crate depends on `drift-api` (the traits) and `drift-ops` (the engine, `drift_ops::engine`,
//! and the built-in kernels and couplings its operators are made of).

mod density_gate;
mod gated_repulsion;
mod matern;
mod mean_shift;
mod student_t;
mod warmup;

pub use density_gate::DensityGate;
pub use gated_repulsion::GatedRepulsion;
pub use matern::Matern32;
pub use mean_shift::MeanShift;
pub use student_t::StudentT;
pub use warmup::Warmup;
