//! The slice functions' loops as work for the one instruction-set dispatch ([`super::isa`]): every
//! loop is compiled for the baseline target and again with AVX2 and FMA, and the wider copy runs
//! where the CPU has both.

use super::isa::{on_isa, IsaWork};
use super::scalar::{ln_f32, ln_f64, ln_normal_f32, ln_normal_f64};

/// A loop over a slice, written so that [`on_isa`] compiles all of it with AVX2 and FMA: `run`
/// and everything it calls are `#[inline(always)]`. (A closure or function passed as `impl Fn` is not
/// enough: the compiler may keep its body out of line, in the baseline instruction set.)
pub(super) trait SliceOp<T> {
    fn run(&self, values: &mut [T]);
}

/// `f` applied to every element (`f` a scalar body marked `#[inline(always)]`).
pub(super) struct Map<F>(pub(super) F);

impl<T: Copy, F: Fn(T) -> T> SliceOp<T> for Map<F> {
    #[inline(always)]
    fn run(&self, values: &mut [T]) {
        for v in values.iter_mut() {
            *v = (self.0)(*v);
        }
    }
}

/// `ln` over a slice. When every value is a positive normal number (a tile of distances, say: the
/// common case), one cheap pass over the bits buys a loop without the subnormal scaling and the
/// special-value selects, about a quarter of its instructions; both loops give the same bits on such
/// values.
pub(super) struct Ln;

impl SliceOp<f64> for Ln {
    #[inline(always)]
    fn run(&self, values: &mut [f64]) {
        let bits = values.iter().map(|v| v.to_bits() as i64);
        if all_positive_normal(bits, 0x0010_0000_0000_0000, 0x7ff0_0000_0000_0000) {
            Map(ln_normal_f64).run(values)
        } else {
            Map(ln_f64).run(values)
        }
    }
}

impl SliceOp<f32> for Ln {
    #[inline(always)]
    fn run(&self, values: &mut [f32]) {
        let bits = values.iter().map(|v| v.to_bits() as i32);
        if all_positive_normal(bits, 0x0080_0000, 0x7f80_0000) {
            Map(ln_normal_f32).run(values)
        } else {
            Map(ln_f32).run(values)
        }
    }
}

/// Whether every value is a positive normal number (no zero, subnormal, negative, infinite or NaN
/// value), given the values' bits as signed integers: negative numbers (NaN included) have negative
/// bits, zeros and subnormals bits below the smallest normal's, infinities and NaNs bits from
/// infinity's up. An integer min and max vectorise without packing comparison masks.
#[inline(always)]
pub(super) fn all_positive_normal<B: Copy + Ord>(
    bits: impl Iterator<Item = B>,
    min_normal: B,
    inf: B,
) -> bool {
    let (lo, hi) = bits.fold((min_normal, min_normal), |(lo, hi), b| {
        (lo.min(b), hi.max(b))
    });
    lo >= min_normal && hi < inf
}

/// `op` over `values`, as work for [`on_isa`].
struct OnSlice<'v, T, Op> {
    values: &'v mut [T],
    op: Op,
}

impl<T, Op: SliceOp<T>> IsaWork for OnSlice<'_, T, Op> {
    type Output = ();
    #[inline(always)]
    fn run<const FMA: bool>(self) {
        self.op.run(self.values)
    }
}

/// `plain` over `values` in the baseline copy, `fused` (written with fused multiply-adds) in the
/// AVX2+FMA copy, as work for [`on_isa`].
struct OnSliceFused<'v, T, Plain, Fused> {
    values: &'v mut [T],
    plain: Plain,
    fused: Fused,
}

impl<T, Plain: SliceOp<T>, Fused: SliceOp<T>> IsaWork for OnSliceFused<'_, T, Plain, Fused> {
    type Output = ();
    #[inline(always)]
    fn run<const FMA: bool>(self) {
        if FMA {
            self.fused.run(self.values)
        } else {
            self.plain.run(self.values)
        }
    }
}

/// Runs `op` on `values` in the widest copy this CPU supports.
#[inline]
pub(super) fn dispatch<T>(values: &mut [T], op: impl SliceOp<T>) {
    on_isa(true, OnSlice { values, op })
}

/// Runs `fused` (written with fused multiply-adds) in the AVX2+FMA copy where the CPU has it,
/// else `plain` in the baseline copy.
#[inline]
pub(super) fn dispatch_fused<T>(values: &mut [T], plain: impl SliceOp<T>, fused: impl SliceOp<T>) {
    on_isa(
        true,
        OnSliceFused {
            values,
            plain,
            fused,
        },
    )
}
// The methods are `#[inline]` so that a caller's own AVX2+FMA copy (the CPU backend's block loop)
