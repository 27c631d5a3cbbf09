//! The one run-time instruction-set dispatch of the workspace: the slice functions of this module,
//! the CPU backend's fused pass and its pair cache all run their hot loops through [`on_isa`].
//!
//! Work is a value implementing [`IsaWork`] whose `run` and everything it calls are
//! `#[inline(always)]`; [`on_isa`] calls it from a function compiled with AVX2 and FMA where the
//! CPU has them, else from the baseline copy, so the whole loop is generated inside the chosen
//! copy. (A closure is not enough: the compiler may keep its body out of line, in the baseline
//! instruction set, where `mul_add` becomes a library call.)
//!
//! AVX-512 is not reached on purpose: the loops are written for eight `f32` lanes, and a copy
//! compiled with `avx512f` as well would only change the width the compiler may pick; the CPU
//! backend's measurements of such a copy are in `docs/PERFORMANCE.md`.

use super::has_avx2_fma;

/// Work compiled once per instruction set and run in the copy [`on_isa`] picks.
///
/// ```
/// use drift_api::math::{on_isa, IsaWork};
/// struct Double<'a>(&'a mut [f32]);
/// impl IsaWork for Double<'_> {
///     type Output = ();
///     #[inline(always)]
///     fn run<const FMA: bool>(self) {
///         self.0.iter_mut().for_each(|v| *v *= 2.0);
///     }
/// }
/// let mut v = [1.0f32, 2.0];
/// on_isa(true, Double(&mut v));
/// assert_eq!(v, [2.0, 4.0]);
/// ```
pub trait IsaWork {
    /// What the work returns.
    type Output;
    /// Does the work. `FMA` is whether this is the AVX2+FMA copy, where fused multiply-adds are
    /// instructions (work that rounds differently with them, such as the Gram path's dot
    /// products, uses them only there). Implementations should be `#[inline(always)]`.
    fn run<const FMA: bool>(self) -> Self::Output;
}

/// Runs `work` in the AVX2+FMA copy when `avx2_fma` is asked for and the CPU has both (checked
/// here, so asking is always safe), else in the baseline copy. Passing `false` forces the
/// baseline copy (tests compare the two).
#[inline(always)]
pub fn on_isa<W: IsaWork>(avx2_fma: bool, work: W) -> W::Output {
    #[cfg(target_arch = "x86_64")]
    if avx2_fma && has_avx2_fma() {
        #[allow(unsafe_code)]
        // SAFETY: `run_avx2_fma` only requires the AVX2 and FMA instructions, checked just above.
        unsafe {
            return run_avx2_fma(work);
        }
    }
    #[cfg(not(target_arch = "x86_64"))]
    let _ = avx2_fma;
    work.run::<false>()
}

/// [`on_isa`] with the widest copy this CPU supports.
#[inline(always)]
pub fn on_best_isa<W: IsaWork>(work: W) -> W::Output {
    on_isa(true, work)
}

/// `work.run()` compiled with AVX2 and FMA (eight `f32` or four `f64` lanes).
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,fma")]
fn run_avx2_fma<W: IsaWork>(work: W) -> W::Output {
    work.run::<true>()
}
