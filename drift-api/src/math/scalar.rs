//! The scalar bodies of the vectorised functions: branch-free `exp` (Cody–Waite reduction and a
//! Taylor polynomial) and `ln` (fdlibm), each written so that a loop over a slice vectorises.

// ln 2 split in a head with trailing zero bits (so n·LN2_HI is exact for |n| < 2^11) and a tail
// (fdlibm's values).
pub(super) const LN2_HI_64: f64 = f64::from_bits(0x3fe6_2e42_fee0_0000);
pub(super) const LN2_LO_64: f64 = f64::from_bits(0x3dea_39ef_3579_3c76);

/// `11!, 10!, …, 1!, 0!`: the Horner steps of the degree-12 Taylor polynomial of `exp` on the
/// reduced argument, after the leading `1/12!`.
pub(super) const EXP_TAYLOR_FACTORIALS_64: [f64; 12] = [
    39_916_800.0,
    3_628_800.0,
    362_880.0,
    40_320.0,
    5_040.0,
    720.0,
    120.0,
    24.0,
    6.0,
    2.0,
    1.0,
    1.0,
];

/// The range reduction and polynomial both exponentials share: `exp(x) = p · 2^n` with
/// `x = n ln2 + r`, `|r| ≤ ln2/2` and `p` a Taylor polynomial of `exp(r)`; returns `p` and `n` (as
/// two's complement bits). Valid for `|x| < 2^51 ln2`; the callers clamp first.
#[inline(always)]
pub(super) fn exp_reduced_f64<const FMA: bool>(x: f64) -> (f64, u64) {
    const MAGIC: f64 = 6_755_399_441_055_744.0; // 1.5 * 2^52: adding it rounds to an integer
    let t = madd64::<FMA>(x, std::f64::consts::LOG2_E, MAGIC);
    let n = t - MAGIC;
    // n as a two's complement integer
    let k = t.to_bits().wrapping_sub(MAGIC.to_bits());
    // n · LN2_HI is exact (|n| < 2^11), so fusing the first step changes nothing there.
    let r = madd64::<FMA>(-n, LN2_LO_64, madd64::<FMA>(-n, LN2_HI_64, x));
    // Taylor polynomial of degree 12 on |r| <= ln2/2: truncation error < 2e-16.
    let mut p = 1.0 / 479_001_600.0;
    for c in EXP_TAYLOR_FACTORIALS_64 {
        p = madd64::<FMA>(p, r, 1.0 / c);
    }
    (p, k)
}

/// `a · b + c`: fused (one rounding) in the AVX2+FMA copy, where it is one instruction; a multiply
/// and an add in the baseline copy, where a fused one would be a library call.
#[inline(always)]
pub(super) fn madd64<const FMA: bool>(a: f64, b: f64, c: f64) -> f64 {
    if FMA {
        a.mul_add(b, c)
    } else {
        a * b + c
    }
}

/// As [`madd64`], for `f32`.
#[inline(always)]
pub(super) fn madd32<const FMA: bool>(a: f32, b: f32, c: f32) -> f32 {
    if FMA {
        a.mul_add(b, c)
    } else {
        a * b + c
    }
}

/// `exp(x)` for one `f64`, any `x`, branch-free (the `if`s and `clamp` are selects).
///
/// The scaling by `2^n` is done as two multiplications by halves `2^a · 2^b`, `a = ⌊n/2⌋`, both normal
/// numbers over the whole range: results below `f64::MIN_POSITIVE` round once, gradually, into the
/// subnormals, and results above `f64::MAX` overflow to `+inf`. Where the result is normal,
/// `(p·2^a)·2^b` is exactly `p·2^n` rounded once, the same bits as [`exp_nonpositive_f64`].
#[inline(always)]
pub(super) fn exp_f64<const FMA: bool>(x: f64) -> f64 {
    // exp(-746) < half the smallest subnormal and exp(710) > f64::MAX: clamping there changes no
    // result and keeps n (and 2^a, 2^b) in range. `clamp` lets NaN through (unlike `max`).
    let (p, k) = exp_reduced_f64::<FMA>(x.clamp(-746.0, 710.0));
    // a comes from h = (n + 2048) / 2 = a + 1024 by a logical shift (AVX2 has no 64-bit
    // arithmetic shift); |n| <= 1077 keeps both exponents in range.
    let h = k.wrapping_add(2048) >> 1;
    let scale_a = f64::from_bits(h.wrapping_sub(1) << 52); // a + 1023, biased
    let scale_b = f64::from_bits(k.wrapping_sub(h).wrapping_add(2047) << 52); // b + 1023
    p * scale_a * scale_b
}

/// `exp(x)` for one `f64`, `x ≤ 0`: one scaling by `2^n`, which is a normal number down to
/// `x = -708`; below that the result is flushed to zero. (Up to `x ≈ 709.1` the result is still
/// right; beyond, `2^n` overflows its exponent field.) This is the exponential the CPU backend has always used,
/// operation for operation: with the second scaling of [`exp_f64`] instead, its f32 `row_reduction`
/// benchmark at `D = 2` ran about 13 % slower.
#[inline(always)]
pub(super) fn exp_nonpositive_f64<const FMA: bool>(x: f64) -> f64 {
    const LO: f64 = -708.0;
    // One compare-and-select, a single `maxps` that (unlike `f64::max`) lets NaN through. No upper
    // clamp: that one more instruction measurably slowed down the backend's hottest loop.
    let (p, k) = exp_reduced_f64::<FMA>(if x < LO { LO } else { x });
    let v = p * f64::from_bits(k.wrapping_add(1023) << 52);
    if x < LO {
        0.0
    } else {
        v
    }
}

/// As [`exp_reduced_f64`], for `f32`, with a degree-7 polynomial.
#[inline(always)]
pub(super) fn exp_reduced_f32<const FMA: bool>(x: f32) -> (f32, u32) {
    const MAGIC: f32 = 12_582_912.0; // 1.5 * 2^23
    const LN2_HI: f32 = 0.693_145_75;
    const LN2_LO: f32 = 1.428_606_8e-6;
    let t = madd32::<FMA>(x, std::f32::consts::LOG2_E, MAGIC);
    let n = t - MAGIC;
    let k = t.to_bits().wrapping_sub(MAGIC.to_bits());
    let r = madd32::<FMA>(-n, LN2_LO, madd32::<FMA>(-n, LN2_HI, x));
    // Degree 7 on |r| <= ln2/2: truncation error < 6e-9, below f32 rounding.
    let mut p = 1.0 / 5_040.0;
    for c in [720.0, 120.0, 24.0, 6.0, 2.0, 1.0, 1.0] {
        p = madd32::<FMA>(p, r, 1.0 / c);
    }
    (p, k)
}

/// As [`exp_f64`], for `f32`.
#[inline(always)]
pub(super) fn exp_f32<const FMA: bool>(x: f32) -> f32 {
    let (p, k) = exp_reduced_f32::<FMA>(x.clamp(-104.0, 89.0));
    let h = k.wrapping_add(256) >> 1; // a + 128 (|n| <= 151)
    let scale_a = f32::from_bits(h.wrapping_sub(1) << 23);
    let scale_b = f32::from_bits(k.wrapping_sub(h).wrapping_add(255) << 23);
    p * scale_a * scale_b
}

/// As [`exp_nonpositive_f64`], for `f32` (flushed to zero below `x = -87`).
#[inline(always)]
pub(super) fn exp_nonpositive_f32<const FMA: bool>(x: f32) -> f32 {
    const LO: f32 = -87.0;
    let (p, k) = exp_reduced_f32::<FMA>(if x < LO { LO } else { x });
    let v = p * f32::from_bits(k.wrapping_add(127) << 23);
    if x < LO {
        0.0
    } else {
        v
    }
}

// fdlibm's (musl's) log: x = 2^e m with m in [√½, √2), f = m - 1, s = f / (2 + f), and
// ln m = f - f²/2 + s (f²/2 + R(s²)) with R a minimax polynomial; error below 1 ulp.
pub(super) const LG1: f64 = f64::from_bits(0x3fe5_5555_5555_5593); // 6.666666666666735130e-01
pub(super) const LG2: f64 = f64::from_bits(0x3fd9_9999_9997_fa04); // 3.999999999940941908e-01
pub(super) const LG3: f64 = f64::from_bits(0x3fd2_4924_9422_9359); // 2.857142874366239149e-01
pub(super) const LG4: f64 = f64::from_bits(0x3fcc_71c5_1d8e_78af); // 2.222219843214978396e-01
pub(super) const LG5: f64 = f64::from_bits(0x3fc7_4664_96cb_03de); // 1.818357216161805012e-01
pub(super) const LG6: f64 = f64::from_bits(0x3fc3_9a09_d078_c69f); // 1.531383769920937332e-01
pub(super) const LG7: f64 = f64::from_bits(0x3fc2_f112_df3e_5244); // 1.479819860511658591e-01

/// `ln(x)` for a positive normal `f64` whose exponent field is biased by `bias` (1023, or 1023 + 54
/// for a subnormal scaled by `2^54`).
#[inline(always)]
pub(super) fn ln_biased_f64(x: f64, bias: f64) -> f64 {
    const SQRT_HALF_BITS: u64 = 0x3fe6_a09e_667f_3bcd;
    const TWO52: f64 = 4_503_599_627_370_496.0;
    // Shifting the bits by 1 - √½ moves the exponent boundary to √½, so m lands in [√½, √2).
    let bits = x
        .to_bits()
        .wrapping_add(0x3ff0_0000_0000_0000 - SQRT_HALF_BITS);
    let m = f64::from_bits((bits & 0x000f_ffff_ffff_ffff) + SQRT_HALF_BITS);
    // The biased exponent as a float without an integer conversion (AVX2 has none for 64-bit
    // integers): 2^52 + e is a double whose low mantissa bits are e.
    let e = (f64::from_bits(0x4330_0000_0000_0000 | (bits >> 52)) - TWO52) - bias;
    let f = m - 1.0;
    let hfsq = 0.5 * f * f;
    let s = f / (2.0 + f);
    let z = s * s;
    let w = z * z;
    let t1 = w * (LG2 + w * (LG4 + w * LG6));
    let t2 = z * (LG1 + w * (LG3 + w * (LG5 + w * LG7)));
    let r = t2 + t1;
    s * (hfsq + r) + e * LN2_LO_64 - hfsq + f + e * LN2_HI_64
}

/// `ln(x)` for a positive normal `f64` (not checked).
#[inline(always)]
pub(super) fn ln_normal_f64(x: f64) -> f64 {
    ln_biased_f64(x, 1023.0)
}

/// `ln(x)` for one `f64`, any `x`, branch-free (the `if`s are selects).
#[inline(always)]
pub(super) fn ln_f64(x: f64) -> f64 {
    // Subnormal inputs are scaled into the normal range first, and the exponent corrected.
    let (xn, bias) = if x < f64::MIN_POSITIVE {
        (x * 18_014_398_509_481_984.0, 1023.0 + 54.0) // 2^54
    } else {
        (x, 1023.0)
    };
    let v = ln_biased_f64(xn, bias);
    // Special inputs: ln(+inf) = +inf, ln(±0) = -inf, NaN for x < 0 and for NaN.
    let v = if x == f64::INFINITY { x } else { v };
    if x > 0.0 {
        v
    } else if x == 0.0 {
        f64::NEG_INFINITY
    } else {
        f64::NAN
    }
}

/// As [`ln_biased_f64`] for `f32`, with musl's `logf` polynomial.
#[inline(always)]
pub(super) fn ln_biased_f32(x: f32, bias: f32) -> f32 {
    const SQRT_HALF_BITS: u32 = 0x3f35_04f3;
    const LN2_HI: f32 = f32::from_bits(0x3f31_7180); // 6.9313812256e-01, trailing zero bits
    const LN2_LO: f32 = f32::from_bits(0x3717_f7d1); // 9.0580006145e-06
    const L1: f32 = f32::from_bits(0x3f2a_aaaa); // 0.66666662693
    const L2: f32 = f32::from_bits(0x3ecc_ce13); // 0.40000972152
    const L3: f32 = f32::from_bits(0x3e91_e9ee); // 0.28498786688
    const L4: f32 = f32::from_bits(0x3e78_9e26); // 0.24279078841
    let bits = x.to_bits().wrapping_add(0x3f80_0000 - SQRT_HALF_BITS);
    let m = f32::from_bits((bits & 0x007f_ffff) + SQRT_HALF_BITS);
    // 32-bit integers convert to floats in one vector instruction.
    let e = (bits >> 23) as i32 as f32 - bias;
    let f = m - 1.0;
    let hfsq = 0.5 * f * f;
    let s = f / (2.0 + f);
    let z = s * s;
    let w = z * z;
    let t1 = w * (L2 + w * L4);
    let t2 = z * (L1 + w * L3);
    let r = t2 + t1;
    s * (hfsq + r) + e * LN2_LO - hfsq + f + e * LN2_HI
}

/// `ln(x)` for a positive normal `f32` (not checked).
#[inline(always)]
pub(super) fn ln_normal_f32(x: f32) -> f32 {
    ln_biased_f32(x, 127.0)
}

/// As [`ln_f64`], for `f32`.
#[inline(always)]
pub(super) fn ln_f32(x: f32) -> f32 {
    let (xn, bias) = if x < f32::MIN_POSITIVE {
        (x * 33_554_432.0, 127.0 + 25.0) // 2^25
    } else {
        (x, 127.0)
    };
    let v = ln_biased_f32(xn, bias);
    let v = if x == f32::INFINITY { x } else { v };
    if x > 0.0 {
        v
    } else if x == 0.0 {
        f32::NEG_INFINITY
    } else {
        f32::NAN
    }
}
