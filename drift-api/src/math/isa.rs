//! The one run-time instruction-set dispatch of the workspace: the slice functions of this module,
//! the CPU backend's fused pass and its pair cache all run their hot loops through [`on_isa`].
//!
//! Work is a value implementing [`IsaWork`] whose `run` and everything it calls are
//! `#[inline(always)]`; [`on_isa`] calls it from a function compiled with AVX2 and FMA where the
//! CPU has them, else from the baseline copy, so the whole loop is generated inside the chosen
//! copy. (A closure is not enough: the compiler may keep its body out of line, in the baseline
//! instruction set, where `mul_add` becomes a library call.)
//!
//! AVX-512 is reached only by work that asks for it ([`IsaWork::wide`]), on measurement: a copy
//! compiled with `avx512f,avx512bw,avx512dq,avx512vl` (the same bits, as the arithmetic is written
//! out) made the CPU backend's fused row pass slower in `f32`, its main precision, and faster in
//! `f64` at high dimension. `cargo bench -p drift-ops --bench pair_paths -- --measurement-time 3
//! 'pair_pass/fused/row/f(32|64)/n1024'`, medians of two runs each, AMD EPYC with AVX-512, 2 shared
//! cores (AVX2 copy against AVX-512 copy): f32 `D = 2` 1.64/1.79 ms against 1.96/1.83 ms, f32
//! `D = 64` 3.18/4.03 ms against 4.62/4.73 ms, f64 `D = 2` 4.86/2.88 ms against 3.95/3.84 ms, f64
//! `D = 64` 15.4/13.9 ms against 7.7/8.0 ms. The loops are written for eight `f32` lanes (tiles,
//! lane sums, the Gram path's register blocks), so `f32` work stays on AVX2; the fused pass's
//! `f64` blocks from `D = 16` (the Gram path) ask for the wide copy: 12.0/12.6 ms against
//! 7.9/7.6 ms at `D = 64` with it, while at `D = 2` it measured about 20 % slower.
//!
//! ## Architectures
//!
//! - x86-64: the baseline copy is SSE2 (four `f32` lanes, no fused multiply-add); the AVX2+FMA
//!   copy where the CPU has both; the AVX-512 copy for work that asks for it.
//! - aarch64: NEON is part of the baseline target, so the baseline copy, the only one compiled
//!   there, runs in NEON registers (four `f32` or two `f64` lanes), with separate multiplies and
//!   adds (`FMA` is false: [`super::has_avx2_fma`] is false off x86-64, and Rust does not contract
//!   a multiply and an add on its own). Checked by `cargo check --release --target
//!   aarch64-unknown-linux-gnu -p drift-api -p drift-ops -p drift-bench` and by the assembly of
//!   drift-ops (`cargo rustc --release --target aarch64-unknown-linux-gnu -p drift-ops --lib --
//!   --emit asm`): the fused row pass's block loop (Gram tiles, kernel map, `exp`) is `fmul`,
//!   `fadd`, `fsub` and `fmaxnm` on `v*.4s` (`f32`) and `v*.2d` (`f64`); `fmla` appears only in
//!   `faer`'s kernels. Fused multiply-adds are baseline on aarch64 too: reaching them means
//!   running `run::<true>()` there, which needs `has_avx2_fma` to become "the fused copy runs"
//!   (callers pick their norms' and tiles' copy with it, and must keep agreeing).
//! - Elsewhere: the baseline copy, whatever the target's vectors are.

#[cfg(target_arch = "x86_64")]
use super::has_avx2_fma;
#[cfg(target_arch = "x86_64")]
use std::sync::OnceLock;

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
    /// Whether this work runs faster in the AVX-512 copy where the CPU has it (measured per work
    /// type; the copy computes the same bits as the AVX2+FMA one, `FMA` set in both).
    #[inline(always)]
    fn wide(&self) -> bool {
        false
    }
}

/// Runs `work` in the AVX2+FMA copy when `avx2_fma` is asked for and the CPU has both (checked
/// here, so asking is always safe), else in the baseline copy. Passing `false` forces the
/// baseline copy (tests compare the two).
#[inline(always)]
pub fn on_isa<W: IsaWork>(avx2_fma: bool, work: W) -> W::Output {
    #[cfg(target_arch = "x86_64")]
    if avx2_fma && work.wide() && has_avx512() {
        #[allow(unsafe_code)]
        // SAFETY: `run_avx512` requires AVX-512 F/BW/DQ/VL, AVX2 and FMA, checked just above.
        unsafe {
            return run_avx512(work);
        }
    }
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

/// Whether the CPU has the AVX-512 subsets the wide copy is compiled for (and AVX2 and FMA).
#[cfg(target_arch = "x86_64")]
fn has_avx512() -> bool {
    static HAS: OnceLock<bool> = OnceLock::new();
    *HAS.get_or_init(|| {
        has_avx2_fma()
            && std::arch::is_x86_feature_detected!("avx512f")
            && std::arch::is_x86_feature_detected!("avx512bw")
            && std::arch::is_x86_feature_detected!("avx512dq")
            && std::arch::is_x86_feature_detected!("avx512vl")
    })
}

/// `work.run()` compiled with AVX-512 (sixteen `f32` or eight `f64` lanes) besides AVX2 and FMA.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,fma,avx512f,avx512bw,avx512dq,avx512vl")]
fn run_avx512<W: IsaWork>(work: W) -> W::Output {
    work.run::<true>()
}
