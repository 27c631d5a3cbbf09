//! Numbers in messages, printed short: Rust's `{}` writes `1e308` as 309 digits and `5e-324` as 324
//! zeros, so magnitudes outside `[1e-5, 1e16)` are written in scientific notation. Both forms use
//! the shortest digits that read back to the same value.
//!
//! ```
//! use drift_bench::numbers::short;
//! assert_eq!(short(-1e308), "-1e308");
//! assert_eq!(short(5e-324), "5e-324");
//! assert_eq!(short(0.25), "0.25");
//! assert_eq!(short(-1.0), "-1");
//! assert_eq!(short(f64::NAN), "NaN");
//! assert_eq!(short(f64::NEG_INFINITY), "-inf");
//! ```

/// `x` in its shortest round-trip form, in scientific notation when it is very large or small.
pub fn short(x: f64) -> String {
    let m = x.abs();
    if m == 0.0 || !m.is_finite() || (1e-5..1e16).contains(&m) {
        format!("{x}")
    } else {
        format!("{x:e}")
    }
}
