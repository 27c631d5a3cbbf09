//! Accuracy and special values of the vectorised functions against the standard library's.

use super::dispatch::*;
use super::scalar::*;
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
