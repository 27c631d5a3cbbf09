//! Vectorised element-wise `exp`, `ln`, `sqrt` and `powf` over slices, for kernel authors (and
//! `exp_nonpositive`, for log-sum-exp).
//!
//! `f64::exp` and `f64::ln` are libm calls per element and do not vectorise; a kernel's log-weight and
//! the backend's reduction evaluate them for every pair of points, so this module gives branch-free
//! versions that the compiler maps to SIMD lanes: Cody–Waite range reduction with a polynomial for
//! `exp`, fdlibm's exponent extraction and rational approximation for `ln`. Every function works in
//! place on a slice and is written once over the precision through [`VectorMath`], so a kernel is
//! too:
//!
//! ```
//! use drift_api::{math, Real};
//!
//! /// `log(1 + √d²/τ)`, for either precision.
//! fn log_one_plus_distance<T: Real>(d2: &mut [T], tau: T) {
//!     math::sqrt(d2);
//!     d2.iter_mut().for_each(|v| *v = T::one() + *v / tau);
//!     math::ln(d2);
//! }
//!
//! let mut d2 = [0.0f32, 4.0];
//! log_one_plus_distance(&mut d2, 2.0);
//! assert_eq!(d2[0], 0.0);
//! assert!((d2[1] - 2f32.ln()).abs() < 1e-6);
//! ```
//!
//! ## Instruction sets
//!
//! Speed must not depend on the flags a user's crate is built with (without `-C target-cpu=native`
//! the compiler may only assume SSE2 on x86-64). Every slice function therefore exists twice: once
//! for the baseline target and once compiled with AVX2 and FMA enabled, and picks the second at run
//! time when the CPU has both ([`vector_isa`] says which). `ln`, `sqrt` and `powf` give the same
//! bits either way: the arithmetic is written out operation by operation and Rust never contracts a
//! multiply and an add into an FMA on its own, so the wider instructions only change how many lanes
//! run at once. `exp` and `exp_nonpositive` fuse the multiply-adds of their range reduction and
//! polynomial in the AVX2+FMA copy (one rounding instead of two, and about 10 % off the reductions'
//! time): their results may differ from the baseline copy's in the last bit, both copies within the
//! bounds below.
//!
//! ## Accuracy
//!
//! Bounds checked by this module's tests on wide random samples and at the special values, in ulp
//! of the result, against `f64::exp`/`ln`/`sqrt`/`powf` (which are themselves within one ulp) for
//! `f64`, and against the `f64` result rounded to `f32` for `f32`:
//!
//! | function | domain | error |
//! |---|---|---|
//! | `exp` | all `x`; overflow gives `+inf`, `-inf` gives 0, NaN stays NaN | `f64` ≤ 2, `f32` ≤ 1, subnormal results included |
//! | `exp_nonpositive` | `x ≤ 0` (unspecified above); results below `e^-708` (`f64`) or `e^-87` (`f32`) flush to 0 | as `exp`, bit for bit, above that |
//! | `ln` | `x > 0`; `ln 0 = -inf`, `ln x = NaN` for `x < 0`, `ln +inf = +inf` | ≤ 1, subnormal `x` included |
//! | `sqrt` | as `f64::sqrt` | 0 (correctly rounded) |
//! | `powf` | `x ≥ 0` (NaN for `x < 0`) | `f32` ≤ 1; `f64` ≤ 2 + 2·\|p ln x\| (`exp(p ln x)` amplifies the rounding of `ln x`) |
//!
//! `powf` follows `f64::powf` at its special values for `x ≥ 0`: `p = 0` or `x = 1` give 1,
//! `powf(0, p > 0) = 0`, `powf(0, p < 0) = +inf`; `-0` counts as `+0`.

/// Element-wise vectorised math in place, implemented for `f32` and `f64`.
///
/// [`crate::Real`] has this trait as a supertrait, so generic code over `T: Real` can call the free
/// functions [`exp`], [`ln`], [`sqrt`] and [`powf`] (or `T::exp_in_place` and so on) directly.
///
/// ```
/// use drift_api::math::VectorMath;
/// let mut v = [0.0f64, 1.0, -1.0];
/// f64::exp_in_place(&mut v);
/// assert_eq!(v[0], 1.0);
/// assert!((v[1] - std::f64::consts::E).abs() < 1e-15);
/// f64::ln_in_place(&mut v);
/// assert!((v[2] + 1.0).abs() < 1e-15);
///
/// let mut w = [4.0f32, 9.0];
/// f32::powf_in_place(&mut w, 1.5);
/// assert_eq!(w, [8.0, 27.0]);
/// ```
pub trait VectorMath: Copy {
    /// Replaces every `v` by `exp(v)`.
    fn exp_in_place(values: &mut [Self]);
    /// Replaces every `v ≤ 0` by `exp(v)`: the exponential of log-domain weights after their maximum
    /// was subtracted (log-sum-exp, softmax). It skips the overflow and underflow handling of
    /// [`VectorMath::exp_in_place`], which makes it faster, and equals it bit for bit except that
    /// results below `e^-708` (`f64`) or `e^-87` (`f32`) are flushed to zero (no subnormal results,
    /// which cost x86 CPUs a slow microcode path in every operation that touches them). `-inf` gives
    /// 0, NaN stays NaN. Positive `v` up to `709` (`f64`) or `88` (`f32`) give `exp(v)` too; larger
    /// ones give unspecified values.
    fn exp_nonpositive_in_place(values: &mut [Self]);
    /// Replaces every `v` by the natural logarithm `ln(v)`.
    fn ln_in_place(values: &mut [Self]);
    /// Replaces every `v` by `sqrt(v)` (exact: correctly rounded).
    fn sqrt_in_place(values: &mut [Self]);
    /// Replaces every `v` by `v^p`, computed as `exp(p ln v)` for `v ≥ 0`.
    fn powf_in_place(values: &mut [Self], p: Self);
}

/// `v = exp(v)` for every element; see [`VectorMath::exp_in_place`].
#[inline]
pub fn exp<T: VectorMath>(values: &mut [T]) {
    T::exp_in_place(values)
}

/// `v = exp(v)` for every element `v ≤ 0`; see [`VectorMath::exp_nonpositive_in_place`].
///
/// ```
/// let mut log_w = [-1.0f32, 0.0, -200.0]; // log-weights minus their maximum
/// drift_api::math::exp_nonpositive(&mut log_w);
/// assert_eq!(log_w[1..], [1.0, 0.0]);
/// assert!((log_w[0] - (-1f32).exp()).abs() < 1e-7);
/// ```
#[inline]
pub fn exp_nonpositive<T: VectorMath>(values: &mut [T]) {
    T::exp_nonpositive_in_place(values)
}

/// `v = ln(v)` for every element; see [`VectorMath::ln_in_place`].
#[inline]
pub fn ln<T: VectorMath>(values: &mut [T]) {
    T::ln_in_place(values)
}

/// `v = sqrt(v)` for every element; see [`VectorMath::sqrt_in_place`].
#[inline]
pub fn sqrt<T: VectorMath>(values: &mut [T]) {
    T::sqrt_in_place(values)
}

/// `v = v^p` for every element; see [`VectorMath::powf_in_place`].
///
/// ```
/// let mut v = [0.0f64, 2.0, 16.0];
/// drift_api::math::powf(&mut v, 0.25);
/// assert_eq!(v[0], 0.0);
/// assert!((v[2] - 2.0).abs() < 1e-15);
/// ```
#[inline]
pub fn powf<T: VectorMath>(values: &mut [T], p: T) {
    T::powf_in_place(values, p)
}

/// Whether this CPU runs the AVX2+FMA copies of the vectorised code (always `false` off x86-64).
///
/// The standard library caches the CPU query, so this is a load and a compare. Crates that compile
/// their own hot loops twice (the CPU backend does) use it so that everything picks the same path.
#[inline]
pub fn has_avx2_fma() -> bool {
    #[cfg(target_arch = "x86_64")]
    {
        std::arch::is_x86_feature_detected!("avx2") && std::arch::is_x86_feature_detected!("fma")
    }
    #[cfg(not(target_arch = "x86_64"))]
    {
        false
    }
}

/// The instruction set the run-time dispatch picked on this CPU: `"avx2+fma"`, or `"baseline"` for
/// the target the crate was compiled for (SSE2 on a default x86-64 build, or whatever
/// `-C target-cpu` allowed).
///
/// ```
/// let isa = drift_api::math::vector_isa();
/// assert!(isa == "avx2+fma" || isa == "baseline");
/// ```
pub fn vector_isa() -> &'static str {
    if has_avx2_fma() {
        "avx2+fma"
    } else {
        "baseline"
    }
}

mod dispatch;
mod isa;
mod scalar;
#[cfg(test)]
mod tests;

pub use isa::{on_best_isa, on_isa, IsaWork};

use dispatch::{dispatch, dispatch_fused, Ln, Map};
use scalar::{exp_f32, exp_f64, exp_nonpositive_f32, exp_nonpositive_f64, ln_f64};

// absorbs the loop rather than calling across crates once per tile of 256 values.
impl VectorMath for f64 {
    #[inline]
    fn exp_in_place(values: &mut [Self]) {
        dispatch_fused(values, Map(exp_f64::<false>), Map(exp_f64::<true>))
    }
    #[inline]
    fn exp_nonpositive_in_place(values: &mut [Self]) {
        dispatch_fused(
            values,
            Map(exp_nonpositive_f64::<false>),
            Map(exp_nonpositive_f64::<true>),
        )
    }
    #[inline]
    fn ln_in_place(values: &mut [Self]) {
        dispatch(values, Ln)
    }
    #[inline]
    fn sqrt_in_place(values: &mut [Self]) {
        dispatch(values, Map(f64::sqrt))
    }
    #[inline]
    fn powf_in_place(values: &mut [Self], p: Self) {
        if p == 0.0 {
            // x^0 = 1 for every x, NaN included (as `f64::powf`); 0 · ln x would give NaN at 0 and inf.
            values.fill(1.0);
        } else {
            dispatch(
                values,
                Map(|x| {
                    if x == 1.0 {
                        1.0
                    } else {
                        exp_f64::<false>(p * ln_f64(x))
                    }
                }),
            )
        }
    }
}

impl VectorMath for f32 {
    #[inline]
    fn exp_in_place(values: &mut [Self]) {
        dispatch_fused(values, Map(exp_f32::<false>), Map(exp_f32::<true>))
    }
    #[inline]
    fn exp_nonpositive_in_place(values: &mut [Self]) {
        dispatch_fused(
            values,
            Map(exp_nonpositive_f32::<false>),
            Map(exp_nonpositive_f32::<true>),
        )
    }
    #[inline]
    fn ln_in_place(values: &mut [Self]) {
        dispatch(values, Ln)
    }
    #[inline]
    fn sqrt_in_place(values: &mut [Self]) {
        dispatch(values, Map(f32::sqrt))
    }
    #[inline]
    fn powf_in_place(values: &mut [Self], p: Self) {
        if p == 0.0 {
            values.fill(1.0);
        } else {
            // Through f64: exp(p ln x) multiplies the rounding error of ln x by |p ln x| (up to ~100
            // for finite f32 results), which f64's 29 extra bits absorb, so the result rounds to within
            // one f32 ulp; it also covers subnormal f32 results.
            let p = p as f64;
            dispatch(
                values,
                Map(|x| {
                    if x == 1.0 {
                        1.0
                    } else {
                        exp_f64::<false>(p * ln_f64(x as f64)) as f32
                    }
                }),
            )
        }
    }
}
