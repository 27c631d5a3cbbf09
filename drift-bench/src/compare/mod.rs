//! `drift-bench compare`: sweeps of operators × temperatures × data sets × seeds × modes.

pub mod record;
