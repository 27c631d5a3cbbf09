//! The vectorised exponential the reduction uses, under its former name.
//!
//! It lives in [`drift_api::math`] now, next to `ln`, `sqrt` and `powf`, so that kernels in any crate
//! can use it, and [`drift_api::Real`] requires it. This alias keeps `drift_ops::exp::SliceExp` working.

pub use drift_api::math::VectorMath as SliceExp;
