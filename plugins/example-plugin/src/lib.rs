//! An example plugin crate for the drift framework, written exactly as a user outside the project
//! would write one: it depends on `drift-api` only, implements a kernel and an operator, and
//! registers both with `typetag` (for RON files) and `drift_api::register!` (for `drift-bench list`),
//! under names prefixed with the crate's namespace, `example.`.
//!
//! A binary that should know these names links the crate: `use drift_example_plugin as _;`.

mod matern;
mod mean_shift;
mod student_t;

pub use matern::Matern32;
pub use mean_shift::MeanShift;
pub use student_t::StudentT;
