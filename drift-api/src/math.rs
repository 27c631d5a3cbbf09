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

/// A loop over a slice, written so that [`in_avx2_fma`] compiles all of it with AVX2 and FMA: `run`
/// and everything it calls are `#[inline(always)]`. (A closure or function passed as `impl Fn` is not
/// enough: the compiler may keep its body out of line, in the baseline instruction set.)
trait SliceOp<T> {
    fn run(&self, values: &mut [T]);
}

/// `f` applied to every element (`f` a scalar body marked `#[inline(always)]`).
struct Map<F>(F);

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
struct Ln;

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
fn all_positive_normal<B: Copy + Ord>(
    bits: impl Iterator<Item = B>,
    min_normal: B,
    inf: B,
) -> bool {
    let (lo, hi) = bits.fold((min_normal, min_normal), |(lo, hi), b| {
        (lo.min(b), hi.max(b))
    });
    lo >= min_normal && hi < inf
}

/// Runs `op` on `values` in the widest copy this CPU supports.
#[inline]
fn dispatch<T>(values: &mut [T], op: impl SliceOp<T>) {
    #[cfg(target_arch = "x86_64")]
    if has_avx2_fma() {
        #[allow(unsafe_code)]
        // SAFETY: `in_avx2_fma` only requires the AVX2 and FMA instructions, checked just above.
        unsafe {
            return in_avx2_fma(values, op);
        }
    }
    op.run(values)
}

/// Runs `fused` (written with fused multiply-adds) in the AVX2+FMA copy where the CPU has it,
/// else `plain` in the baseline copy.
#[inline]
fn dispatch_fused<T>(values: &mut [T], plain: impl SliceOp<T>, fused: impl SliceOp<T>) {
    #[cfg(target_arch = "x86_64")]
    if has_avx2_fma() {
        #[allow(unsafe_code)]
        // SAFETY: `in_avx2_fma` only requires the AVX2 and FMA instructions, checked just above.
        unsafe {
            return in_avx2_fma(values, fused);
        }
    }
    #[cfg(not(target_arch = "x86_64"))]
    let _ = fused;
    plain.run(values)
}

/// `op.run(values)` compiled with AVX2 and FMA (eight `f32` or four `f64` lanes).
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,fma")]
fn in_avx2_fma<T>(values: &mut [T], op: impl SliceOp<T>) {
    op.run(values)
}

// The methods are `#[inline]` so that a caller's own AVX2+FMA copy (the CPU backend's block loop)
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

// ln 2 split in a head with trailing zero bits (so n·LN2_HI is exact for |n| < 2^11) and a tail
// (fdlibm's values).
const LN2_HI_64: f64 = f64::from_bits(0x3fe6_2e42_fee0_0000);
const LN2_LO_64: f64 = f64::from_bits(0x3dea_39ef_3579_3c76);

/// `11!, 10!, …, 1!, 0!`: the Horner steps of the degree-12 Taylor polynomial of `exp` on the
/// reduced argument, after the leading `1/12!`.
const EXP_TAYLOR_FACTORIALS_64: [f64; 12] = [
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
fn exp_reduced_f64<const FMA: bool>(x: f64) -> (f64, u64) {
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
fn madd64<const FMA: bool>(a: f64, b: f64, c: f64) -> f64 {
    if FMA {
        a.mul_add(b, c)
    } else {
        a * b + c
    }
}

/// As [`madd64`], for `f32`.
#[inline(always)]
fn madd32<const FMA: bool>(a: f32, b: f32, c: f32) -> f32 {
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
fn exp_f64<const FMA: bool>(x: f64) -> f64 {
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
fn exp_nonpositive_f64<const FMA: bool>(x: f64) -> f64 {
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
fn exp_reduced_f32<const FMA: bool>(x: f32) -> (f32, u32) {
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
fn exp_f32<const FMA: bool>(x: f32) -> f32 {
    let (p, k) = exp_reduced_f32::<FMA>(x.clamp(-104.0, 89.0));
    let h = k.wrapping_add(256) >> 1; // a + 128 (|n| <= 151)
    let scale_a = f32::from_bits(h.wrapping_sub(1) << 23);
    let scale_b = f32::from_bits(k.wrapping_sub(h).wrapping_add(255) << 23);
    p * scale_a * scale_b
}

/// As [`exp_nonpositive_f64`], for `f32` (flushed to zero below `x = -87`).
#[inline(always)]
fn exp_nonpositive_f32<const FMA: bool>(x: f32) -> f32 {
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
const LG1: f64 = f64::from_bits(0x3fe5_5555_5555_5593); // 6.666666666666735130e-01
const LG2: f64 = f64::from_bits(0x3fd9_9999_9997_fa04); // 3.999999999940941908e-01
const LG3: f64 = f64::from_bits(0x3fd2_4924_9422_9359); // 2.857142874366239149e-01
const LG4: f64 = f64::from_bits(0x3fcc_71c5_1d8e_78af); // 2.222219843214978396e-01
const LG5: f64 = f64::from_bits(0x3fc7_4664_96cb_03de); // 1.818357216161805012e-01
const LG6: f64 = f64::from_bits(0x3fc3_9a09_d078_c69f); // 1.531383769920937332e-01
const LG7: f64 = f64::from_bits(0x3fc2_f112_df3e_5244); // 1.479819860511658591e-01

/// `ln(x)` for a positive normal `f64` whose exponent field is biased by `bias` (1023, or 1023 + 54
/// for a subnormal scaled by `2^54`).
#[inline(always)]
fn ln_biased_f64(x: f64, bias: f64) -> f64 {
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
fn ln_normal_f64(x: f64) -> f64 {
    ln_biased_f64(x, 1023.0)
}

/// `ln(x)` for one `f64`, any `x`, branch-free (the `if`s are selects).
#[inline(always)]
fn ln_f64(x: f64) -> f64 {
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
fn ln_biased_f32(x: f32, bias: f32) -> f32 {
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
fn ln_normal_f32(x: f32) -> f32 {
    ln_biased_f32(x, 127.0)
}

/// As [`ln_f64`], for `f32`.
#[inline(always)]
fn ln_f32(x: f32) -> f32 {
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

#[cfg(test)]
mod tests {
    use super::*;

    /// Distance in units in the last place between two finite floats of the same sign (or both zero).
    fn ulps64(a: f64, b: f64) -> u64 {
        if a == b {
            return 0; // also +0 == -0
        }
        assert!(
            a.is_finite() && b.is_finite() && (a > 0.0) == (b > 0.0),
            "{a} vs {b}"
        );
        (a.to_bits() as i64 - b.to_bits() as i64).unsigned_abs()
    }

    fn ulps32(a: f32, b: f32) -> u64 {
        if a == b {
            return 0;
        }
        assert!(
            a.is_finite() && b.is_finite() && (a > 0.0) == (b > 0.0),
            "{a} vs {b}"
        );
        (a.to_bits() as i64 - b.to_bits() as i64).unsigned_abs()
    }

    /// Same value, or both NaN.
    fn same<T: PartialEq + Copy>(a: T, b: T, nan: fn(T) -> bool) -> bool {
        a == b || (nan(a) && nan(b))
    }

    /// A deterministic stream of uniform numbers in [0, 1) (xorshift; no dev-dependency needed).
    /// Shared by reference (a `Cell`) so that several lazy iterators can draw from one stream.
    struct Uniform(std::cell::Cell<u64>);
    impl Uniform {
        fn new(seed: u64) -> Self {
            Uniform(std::cell::Cell::new(seed))
        }
        fn next(&self) -> f64 {
            let mut s = self.0.get();
            s ^= s << 13;
            s ^= s >> 7;
            s ^= s << 17;
            self.0.set(s);
            (s >> 11) as f64 / (1u64 << 53) as f64
        }
        fn range(&self, lo: f64, hi: f64) -> f64 {
            lo + (hi - lo) * self.next()
        }
    }

    const SAMPLES: usize = 400_000;

    /// A slice function and a scalar function it is compared with.
    type Pair<T> = (fn(&mut [T]), fn(T) -> T);

    /// Worst ulp error of `ours` (in place on a slice) against `reference` over `xs`, f64.
    fn worst64(xs: &[f64], ours: fn(&mut [f64]), reference: impl Fn(f64) -> f64) -> (u64, f64) {
        let mut v = xs.to_vec();
        ours(&mut v);
        let mut worst = (0, 0.0);
        for (x, got) in xs.iter().zip(&v) {
            let e = ulps64(*got, reference(*x));
            if e > worst.0 {
                worst = (e, *x);
            }
        }
        worst
    }

    fn worst32(xs: &[f32], ours: fn(&mut [f32]), reference: impl Fn(f64) -> f64) -> (u64, f32) {
        let mut v = xs.to_vec();
        ours(&mut v);
        let mut worst = (0, 0.0);
        for (x, got) in xs.iter().zip(&v) {
            let e = ulps32(*got, reference(*x as f64) as f32);
            if e > worst.0 {
                worst = (e, *x);
            }
        }
        worst
    }

    #[test]
    fn exp_f64_is_within_two_ulp_of_std_everywhere() {
        let u = Uniform::new(1);
        let mut xs: Vec<f64> = (0..SAMPLES).map(|_| u.range(-745.0, 709.78)).collect();
        xs.extend((0..SAMPLES).map(|_| u.range(-2.0, 2.0)));
        xs.extend((0..SAMPLES / 4).map(|_| u.range(-745.13, -708.0))); // subnormal results
        xs.extend((0..SAMPLES / 4).map(|_| u.range(709.0, 709.78))); // near overflow
                                                                     // The dispatched copy, and the plain one (the baseline copy's arithmetic) wherever the
                                                                     // dispatch picks the fused one.
        let plain: fn(&mut [f64]) = |v| Map(exp_f64::<false>).run(v);
        for ours in [exp, plain] {
            let (e, at) = worst64(&xs, ours, f64::exp);
            assert!(e <= 2, "{e} ulp at {at}");
        }
    }

    #[test]
    fn exp_f32_is_within_one_ulp_of_the_rounded_exact_value() {
        let u = Uniform::new(2);
        let mut xs: Vec<f32> = (0..SAMPLES)
            .map(|_| u.range(-103.9, 88.72) as f32)
            .collect();
        xs.extend((0..SAMPLES).map(|_| u.range(-2.0, 2.0) as f32));
        xs.extend((0..SAMPLES / 4).map(|_| u.range(-103.9, -87.0) as f32));
        xs.extend((0..SAMPLES / 4).map(|_| u.range(88.0, 88.72) as f32));
        let plain: fn(&mut [f32]) = |v| Map(exp_f32::<false>).run(v);
        for ours in [exp, plain] {
            let (e, at) = worst32(&xs, ours, f64::exp);
            assert!(e <= 1, "{e} ulp at {at}");
        }
    }

    #[test]
    fn exp_nonpositive_is_exp_on_its_range_and_flushes_below() {
        let u = Uniform::new(8);
        let xs: Vec<f64> = (0..SAMPLES)
            .map(|_| u.range(-708.0, 0.0))
            .chain([0.0, -0.0, -708.0, f64::NAN])
            .collect();
        let (mut a, mut b) = (xs.clone(), xs.clone());
        exp(&mut a);
        exp_nonpositive(&mut b);
        for ((x, a), b) in xs.iter().zip(a).zip(b) {
            assert!(
                a.to_bits() == b.to_bits() || (a.is_nan() && b.is_nan()),
                "at {x}"
            );
        }
        let xs: Vec<f32> = (0..SAMPLES).map(|_| u.range(-87.0, 0.0) as f32).collect();
        let (mut a, mut b) = (xs.clone(), xs.clone());
        exp(&mut a);
        exp_nonpositive(&mut b);
        assert!(a.iter().zip(&b).all(|(a, b)| a.to_bits() == b.to_bits()));
        // Below the range: zero, within 3.3e-308 and 1.7e-38 of the truth.
        let mut v = [-708.5f64, -1e300, f64::NEG_INFINITY];
        exp_nonpositive(&mut v);
        assert_eq!(v, [0.0; 3]);
        let mut v = [-87.5f32, -1e30, f32::NEG_INFINITY];
        exp_nonpositive(&mut v);
        assert_eq!(v, [0.0; 3]);
    }

    #[test]
    fn ln_is_within_one_ulp_of_std_from_subnormals_to_max() {
        let u = Uniform::new(3);
        // Log-uniform over the whole positive range (subnormals included), and uniform near 1 where
        // ln crosses zero.
        let xs: Vec<f64> = (0..SAMPLES)
            .map(|_| 2f64.powf(u.range(-1074.0, 1024.0)).min(f64::MAX))
            .chain((0..SAMPLES).map(|_| u.range(0.5, 2.0)))
            .collect();
        let (e, at) = worst64(&xs, ln, f64::ln);
        assert!(e <= 1, "{e} ulp at {at}");
        let xs: Vec<f32> = (0..SAMPLES)
            .map(|_| 2f64.powf(u.range(-149.0, 128.0)) as f32)
            .filter(|x| *x > 0.0 && x.is_finite())
            .chain((0..SAMPLES).map(|_| u.range(0.5, 2.0) as f32))
            .collect();
        let (e, at) = worst32(&xs, ln, f64::ln);
        assert!(e <= 1, "{e} ulp at {at}");
    }

    #[test]
    fn sqrt_is_exact() {
        let u = Uniform::new(4);
        let xs: Vec<f64> = (0..SAMPLES)
            .map(|_| 2f64.powf(u.range(-1074.0, 1024.0)).min(f64::MAX))
            .collect();
        assert_eq!(worst64(&xs, sqrt, f64::sqrt).0, 0);
        let xs: Vec<f32> = xs.iter().map(|x| *x as f32).collect();
        assert_eq!(worst32(&xs, sqrt, f64::sqrt).0, 0);
    }

    #[test]
    fn powf_error_is_bounded_by_the_size_of_p_ln_x() {
        let u = Uniform::new(5);
        for _ in 0..200 {
            let p = u.range(-8.0, 8.0);
            let xs: Vec<f64> = (0..2_000)
                .map(|_| 2f64.powf(u.range(-80.0, 80.0)))
                .collect();
            let mut v = xs.clone();
            powf(&mut v, p);
            for (x, got) in xs.iter().zip(&v) {
                let y = (p * x.ln()).abs();
                let bound = 2 + (2.0 * y).ceil() as u64;
                let e = ulps64(*got, x.powf(p));
                assert!(e <= bound, "{x}^{p}: {e} ulp > {bound}");
            }
            let xs: Vec<f32> = xs.iter().map(|x| *x as f32).collect();
            let mut v = xs.clone();
            powf(&mut v, p as f32);
            for (x, got) in xs.iter().zip(&v) {
                let want = (*x as f64).powf(p as f32 as f64) as f32;
                if want.is_finite() && *got != want {
                    assert!(ulps32(*got, want) <= 1, "{x}^{p}: {got} vs {want}");
                }
            }
        }
    }

    #[test]
    fn special_values_follow_std() {
        let specials64 = [
            0.0,
            -0.0,
            f64::MIN_POSITIVE,
            f64::MIN_POSITIVE / 3.0,
            5e-324,
            1.0,
            -1.0,
            -5e-324,
            f64::MAX,
            f64::INFINITY,
            f64::NEG_INFINITY,
            f64::NAN,
            709.78,
            709.8,
            -745.2,
            -1e300,
            1e300,
        ];
        let ops: [Pair<f64>; 3] = [(exp, f64::exp), (ln, f64::ln), (sqrt, f64::sqrt)];
        for (ours, std) in ops {
            let mut v = specials64;
            ours(&mut v);
            for (x, got) in specials64.iter().zip(v) {
                let want = std(*x);
                assert!(
                    same(got, want, f64::is_nan) || ulps64(got, want) <= 1,
                    "{x}: {got} vs {want}"
                );
            }
        }
        let specials32 = specials64.map(|x| x as f32);
        let ops: [Pair<f32>; 3] = [(exp, f32::exp), (ln, f32::ln), (sqrt, f32::sqrt)];
        for (ours, std) in ops {
            let mut v = specials32;
            ours(&mut v);
            for (x, got) in specials32.iter().zip(v) {
                let want = std(*x);
                assert!(
                    same(got, want, f32::is_nan) || ulps32(got, want) <= 1,
                    "{x}: {got} vs {want}"
                );
            }
        }
        // powf on x >= 0 (and NaN) at the exponents with special rules.
        let nonnegative = specials64.iter().filter(|x| x.is_nan() || **x >= 0.0);
        for p in [
            0.0,
            -0.0,
            1.0,
            2.5,
            -3.0,
            0.5,
            f64::INFINITY,
            f64::NEG_INFINITY,
        ] {
            for x in nonnegative.clone() {
                let mut v = [*x];
                powf(&mut v, p);
                let want = x.abs().powf(p);
                // Saturating: an infinite p·ln x casts to u64::MAX (any answer then passes the ulp check).
                let bound = ((2.0 * (p * x.ln()).abs()).ceil() as u64).saturating_add(2);
                assert!(
                    same(v[0], want, f64::is_nan) || ulps64(v[0], want) <= bound,
                    "{x}^{p}: {} vs {want}",
                    v[0]
                );
                let mut w = [*x as f32];
                powf(&mut w, p as f32);
                let want = (*x as f32).abs().powf(p as f32);
                assert!(
                    same(w[0], want, f32::is_nan) || ulps32(w[0], want) <= 1,
                    "{x}^{p} (f32): {} vs {want}",
                    w[0]
                );
            }
        }
        let mut neg = [-2.0f64, -0.5];
        powf(&mut neg, 2.0);
        assert!(
            neg.iter().all(|v| v.is_nan()),
            "negative bases are outside the domain"
        );
    }

    /// The dispatched functions compute the bits of their scalar bodies: `ln` and `powf` the same
    /// in the AVX2+FMA copy and the baseline copy, `exp` with fused multiply-adds where the CPU
    /// has them (a library `fma` outside that copy rounds the same).
    #[test]
    fn dispatched_and_plain_paths_agree_bit_for_bit() {
        let fused = has_avx2_fma();
        let exp64: fn(f64) -> f64 = if fused {
            exp_f64::<true>
        } else {
            exp_f64::<false>
        };
        let exp_np64: fn(f64) -> f64 = if fused {
            exp_nonpositive_f64::<true>
        } else {
            exp_nonpositive_f64::<false>
        };
        let exp32: fn(f32) -> f32 = if fused {
            exp_f32::<true>
        } else {
            exp_f32::<false>
        };
        let exp_np32: fn(f32) -> f32 = if fused {
            exp_nonpositive_f32::<true>
        } else {
            exp_nonpositive_f32::<false>
        };
        let u = Uniform::new(6);
        let xs: Vec<f64> = (0..SAMPLES)
            .map(|_| u.range(-800.0, 800.0))
            .chain((0..SAMPLES).map(|_| 2f64.powf(u.range(-1074.0, 1024.0))))
            .collect();
        let bits64 = |v: &[f64]| v.iter().map(|x| x.to_bits()).collect::<Vec<_>>();
        let bits32 = |v: &[f32]| v.iter().map(|x| x.to_bits()).collect::<Vec<_>>();
        let xs32: Vec<f32> = xs.iter().map(|x| *x as f32).collect();
        let cases64: [Pair<f64>; 4] = [
            (exp, exp64),
            (exp_nonpositive, exp_np64),
            (ln, ln_f64),
            (|v| powf(v, 1.7), |x| exp_f64::<false>(1.7 * ln_f64(x))),
        ];
        for (dispatched, plain) in cases64 {
            let (mut a, mut b) = (xs.clone(), xs.clone());
            dispatched(&mut a);
            Map(plain).run(&mut b);
            assert_eq!(bits64(&a), bits64(&b));
        }
        let cases32: [Pair<f32>; 3] = [(exp, exp32), (exp_nonpositive, exp_np32), (ln, ln_f32)];
        for (dispatched, plain) in cases32 {
            let (mut a, mut b) = (xs32.clone(), xs32.clone());
            dispatched(&mut a);
            Map(plain).run(&mut b);
            assert_eq!(bits32(&a), bits32(&b));
        }
        // ln's fast loop (taken when every value is a positive normal number) against the full one.
        let normal: Vec<f64> = xs.iter().map(|x| x.abs().max(f64::MIN_POSITIVE)).collect();
        let normal: Vec<f64> = normal.into_iter().filter(|x| x.is_finite()).collect();
        let (mut a, mut b) = (normal.clone(), normal.clone());
        ln(&mut a);
        Map(ln_f64).run(&mut b);
        assert_eq!(bits64(&a), bits64(&b));
        let normal32: Vec<f32> = normal
            .iter()
            .map(|x| (*x as f32).max(f32::MIN_POSITIVE))
            .filter(|x| x.is_finite())
            .collect();
        let (mut a, mut b) = (normal32.clone(), normal32.clone());
        ln(&mut a);
        Map(ln_f32).run(&mut b);
        assert_eq!(bits32(&a), bits32(&b));
        println!("dispatch picked {}", vector_isa());
    }

    /// The reduction's arguments (`x <= 0`) give, in the baseline copy, the same bits as the
    /// exponential it used before this module existed (drift-ops' `exp.rs`: one scaling by `2^n`,
    /// flushed to zero below -708 / -87); the AVX2+FMA copy fuses its multiply-adds since.
    #[test]
    fn exp_nonpositive_is_the_former_reduction_exp_bit_for_bit() {
        fn former(x: f64) -> f64 {
            const MAGIC: f64 = 6_755_399_441_055_744.0;
            let xc = x.max(-708.0);
            let t = xc * std::f64::consts::LOG2_E + MAGIC;
            let n = t - MAGIC;
            let k = t.to_bits().wrapping_sub(MAGIC.to_bits());
            let r = (xc - n * LN2_HI_64) - n * LN2_LO_64;
            let mut p = 1.0 / 479_001_600.0;
            for c in EXP_TAYLOR_FACTORIALS_64 {
                p = p * r + 1.0 / c;
            }
            let v = p * f64::from_bits(k.wrapping_add(1023) << 52);
            if x < -708.0 {
                0.0
            } else {
                v
            }
        }
        let u = Uniform::new(7);
        let xs: Vec<f64> = (0..SAMPLES)
            .map(|_| u.range(-720.0, 0.0))
            .chain((0..SAMPLES).map(|_| -u.next() * 3.0))
            .chain([0.0, -0.0, -708.0, -1e300, f64::NEG_INFINITY])
            .collect();
        let mut v = xs.clone();
        Map(exp_nonpositive_f64::<false>).run(&mut v);
        for (x, got) in xs.iter().zip(v) {
            assert_eq!(got.to_bits(), former(*x).to_bits(), "at {x}");
        }
        // f32, likewise, on its former range [-87, 0].
        fn former32(x: f32) -> f32 {
            const MAGIC: f32 = 12_582_912.0;
            let xc = x.max(-87.0);
            let t = xc * std::f32::consts::LOG2_E + MAGIC;
            let n = t - MAGIC;
            let k = t.to_bits().wrapping_sub(MAGIC.to_bits());
            let r = (xc - n * 0.693_145_75) - n * 1.428_606_8e-6;
            let mut p = 1.0 / 5_040.0;
            for c in [720.0, 120.0, 24.0, 6.0, 2.0, 1.0, 1.0] {
                p = p * r + 1.0 / c;
            }
            let v = p * f32::from_bits(k.wrapping_add(127) << 23);
            if x < -87.0 {
                0.0
            } else {
                v
            }
        }
        let xs: Vec<f32> = (0..SAMPLES)
            .map(|_| u.range(-95.0, 0.0) as f32)
            .chain([0.0, -0.0, -87.0, f32::NEG_INFINITY])
            .collect();
        let mut v = xs.clone();
        Map(exp_nonpositive_f32::<false>).run(&mut v);
        for (x, got) in xs.iter().zip(v) {
            assert_eq!(got.to_bits(), former32(*x).to_bits(), "at {x}");
        }
    }
}
