//! A branch-free exponential over slices that the compiler vectorises.
//!
//! `f64::exp` is a libm call per element and does not vectorise; the reduction spends most of its time
//! in exponentials, so this module evaluates them with Cody–Waite range reduction and a Taylor
//! polynomial, written so that every step maps to SIMD lanes. Accuracy: a few ulp for the arguments
//! the reductions produce (`x <= 0` after max-subtraction); results below the smallest normal number
//! are flushed to zero, which is harmless next to the row maximum's term `exp(0) = 1`.

use drift_api::Real;

/// Element-wise `exp` in place, for the float types the backend runs in.
pub trait SliceExp: Real {
    /// Replaces every `v` by `exp(v)`; valid for `v <= 0` (including `-inf`, which gives 0).
    fn exp_in_place(values: &mut [Self]);
}

// ln 2 split in a head with trailing zero bits (so n·LN2_HI is exact) and a tail (fdlibm's values).
const LN2_HI_64: f64 = f64::from_bits(0x3fe6_2e42_fee0_0000);
const LN2_LO_64: f64 = f64::from_bits(0x3dea_39ef_3579_3c76);

#[inline(always)]
fn exp_f64(x: f64) -> f64 {
    // Below this 2^n leaves the normal range; such terms are negligible next to exp(0).
    const LO: f64 = -708.0;
    const MAGIC: f64 = 6_755_399_441_055_744.0; // 1.5 * 2^52: adding it rounds to an integer
    let xc = x.max(LO);
    let t = xc * std::f64::consts::LOG2_E + MAGIC;
    let n = t - MAGIC;
    let k = t.to_bits().wrapping_sub(MAGIC.to_bits()); // n as a two's complement integer
    let r = (xc - n * LN2_HI_64) - n * LN2_LO_64;
    // Taylor polynomial of degree 12 on |r| <= ln2/2: truncation error < 2e-16.
    let mut p = 1.0 / 479_001_600.0;
    p = p * r + 1.0 / 39_916_800.0;
    p = p * r + 1.0 / 3_628_800.0;
    p = p * r + 1.0 / 362_880.0;
    p = p * r + 1.0 / 40_320.0;
    p = p * r + 1.0 / 5_040.0;
    p = p * r + 1.0 / 720.0;
    p = p * r + 1.0 / 120.0;
    p = p * r + 1.0 / 24.0;
    p = p * r + 1.0 / 6.0;
    p = p * r + 0.5;
    p = p * r + 1.0;
    p = p * r + 1.0;
    let scale = f64::from_bits(k.wrapping_add(1023) << 52);
    let v = p * scale;
    if x < LO {
        0.0
    } else {
        v
    }
}

#[inline(always)]
fn exp_f32(x: f32) -> f32 {
    const LO: f32 = -87.0;
    const MAGIC: f32 = 12_582_912.0; // 1.5 * 2^23
    const LN2_HI: f32 = 0.693_145_75;
    const LN2_LO: f32 = 1.428_606_8e-6;
    let xc = x.max(LO);
    let t = xc * std::f32::consts::LOG2_E + MAGIC;
    let n = t - MAGIC;
    let k = t.to_bits().wrapping_sub(MAGIC.to_bits());
    let r = (xc - n * LN2_HI) - n * LN2_LO;
    // Degree 7 on |r| <= ln2/2: truncation error < 6e-9, below f32 rounding.
    let mut p = 1.0 / 5_040.0;
    p = p * r + 1.0 / 720.0;
    p = p * r + 1.0 / 120.0;
    p = p * r + 1.0 / 24.0;
    p = p * r + 1.0 / 6.0;
    p = p * r + 0.5;
    p = p * r + 1.0;
    p = p * r + 1.0;
    let scale = f32::from_bits(k.wrapping_add(127) << 23);
    let v = p * scale;
    if x < LO {
        0.0
    } else {
        v
    }
}

impl SliceExp for f64 {
    fn exp_in_place(values: &mut [Self]) {
        for v in values.iter_mut() {
            *v = exp_f64(*v);
        }
    }
}

impl SliceExp for f32 {
    fn exp_in_place(values: &mut [Self]) {
        for v in values.iter_mut() {
            *v = exp_f32(*v);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn f64_matches_std_exp() {
        let mut worst = 0.0f64;
        for k in 0..200_000 {
            let x = -(k as f64) * 700.0 / 200_000.0;
            let rel = ((exp_f64(x) - x.exp()) / x.exp()).abs();
            worst = worst.max(rel);
        }
        assert!(worst < 1e-14, "worst relative error {worst}");
        assert_eq!(exp_f64(0.0), 1.0);
        assert_eq!(exp_f64(f64::NEG_INFINITY), 0.0);
        assert_eq!(exp_f64(-1e300), 0.0);
    }

    #[test]
    fn f32_matches_std_exp() {
        let mut worst = 0.0f64;
        for k in 0..200_000 {
            let x = -(k as f32) * 86.0 / 200_000.0;
            let exact = (x as f64).exp();
            let rel = ((exp_f32(x) as f64 - exact) / exact).abs();
            worst = worst.max(rel);
        }
        assert!(worst < 1e-6, "worst relative error {worst}");
        assert_eq!(exp_f32(0.0), 1.0);
        assert_eq!(exp_f32(f32::NEG_INFINITY), 0.0);
    }
}
