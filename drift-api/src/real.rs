//! The floating-point types the framework computes in, chosen at run time from the data, and the
//! one precision tag that carries any typed value through an object-safe trait.

use std::fmt::{Debug, Display};
use std::iter::Sum;
use std::ops::{AddAssign, DivAssign, MulAssign, SubAssign};

/// Which floating-point precision a computation runs in.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Precision {
    /// Single precision.
    F32,
    /// Double precision.
    F64,
}

/// A floating-point scalar the framework computes in: `f32` or `f64`.
///
/// Generic code is written once over `T: Real`. The object-safe traits ([`crate::Kernel`],
/// [`crate::kit::Backend`], [`crate::Coupling`], [`crate::Weighting`], [`crate::DriftOperator`])
/// take precision-tagged values ([`ByPrecision`]); [`Real::tag`] turns any typed value that names its
/// kind ([`Tagged`]) into one, and [`Real::untag`] takes a tagged answer back to `T`. Those two are
/// the only dispatch a number type carries: every job kind shares them.
///
/// ```
/// use drift_api::kit::{ByPrecision, PerPrecision, Tagged};
/// use drift_api::Real;
///
/// // A kind of value: a slice of numbers, in either precision.
/// struct Slices<'a>(std::marker::PhantomData<&'a ()>);
/// impl<'a> PerPrecision for Slices<'a> {
///     type Of<T: Real> = &'a [T];
/// }
/// fn bits<T: Real>(v: &[T]) -> u32 {
///     match T::tag::<Slices<'_>>(v) {
///         ByPrecision::F32(_) => 32,
///         ByPrecision::F64(_) => 64,
///     }
/// }
/// assert_eq!((bits(&[1.0f32]), bits(&[1.0f64])), (32, 64));
/// ```
pub trait Real:
    num_traits::Float
    + num_traits::FloatConst
    + Default
    + Debug
    + Display
    + Send
    + Sync
    + Sum
    + AddAssign
    + SubAssign
    + MulAssign
    + DivAssign
    + crate::math::VectorMath
    + 'static
{
    /// The precision tag of this type.
    const PRECISION: Precision;
    /// Converts from `f64` (rounding for `f32`).
    fn of(v: f64) -> Self;
    /// Converts to `f64` (exact).
    fn as_f64(self) -> f64;
    /// Tags a value of kind `K` in this precision.
    fn tag<K: PerPrecision>(value: K::Of<Self>) -> ByPrecision<K>;
    /// The value of a tagged one if it is in this precision (the way back from an object-safe
    /// call's answer to generic code).
    fn untag<K: PerPrecision>(tagged: ByPrecision<K>) -> Option<K::Of<Self>>;
}

/// A kind of value that exists in both precisions: `Of<f32>` and `Of<f64>` (a problem, a job, a
/// point set). Implemented by a marker type per kind.
pub trait PerPrecision {
    /// The value in precision `T`.
    type Of<T: Real>;
}

/// A value of kind `K` in the precision chosen at run time: what object-safe traits take.
pub enum ByPrecision<K: PerPrecision> {
    /// Single precision.
    F32(K::Of<f32>),
    /// Double precision.
    F64(K::Of<f64>),
}

impl<K: PerPrecision> ByPrecision<K> {
    /// The precision of the value.
    pub fn precision(&self) -> Precision {
        match self {
            ByPrecision::F32(_) => Precision::F32,
            ByPrecision::F64(_) => Precision::F64,
        }
    }
}

impl<K: PerPrecision> Debug for ByPrecision<K>
where
    K::Of<f32>: Debug,
    K::Of<f64>: Debug,
{
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ByPrecision::F32(v) => f.debug_tuple("F32").field(v).finish(),
            ByPrecision::F64(v) => f.debug_tuple("F64").field(v).finish(),
        }
    }
}

impl<K: PerPrecision> Clone for ByPrecision<K>
where
    K::Of<f32>: Clone,
    K::Of<f64>: Clone,
{
    fn clone(&self) -> Self {
        match self {
            ByPrecision::F32(v) => ByPrecision::F32(v.clone()),
            ByPrecision::F64(v) => ByPrecision::F64(v.clone()),
        }
    }
}

impl<K: PerPrecision> Copy for ByPrecision<K>
where
    K::Of<f32>: Copy,
    K::Of<f64>: Copy,
{
}

impl<K: PerPrecision> PartialEq for ByPrecision<K>
where
    K::Of<f32>: PartialEq,
    K::Of<f64>: PartialEq,
{
    fn eq(&self, other: &Self) -> bool {
        match (self, other) {
            (ByPrecision::F32(a), ByPrecision::F32(b)) => a == b,
            (ByPrecision::F64(a), ByPrecision::F64(b)) => a == b,
            _ => false,
        }
    }
}

/// The answer of an object-safe call made with a value tagged by `T` ([`Real::tag`]), back in `T`:
/// the callee answers in the precision it was given, so the way back always exists.
pub(crate) fn answer_in<T: Real, K: PerPrecision>(answer: ByPrecision<K>) -> K::Of<T> {
    match T::untag(answer) {
        Some(v) => v,
        None => unreachable!("an answer in the precision of its question"),
    }
}

/// A typed value that names its kind, so that [`Tagged::tagged`] needs no annotation.
pub trait Tagged<T: Real>: Sized {
    /// The kind this value is the `T` form of.
    type Kind: PerPrecision<Of<T> = Self>;
    /// This value, tagged with its precision.
    #[inline(always)]
    fn tagged(self) -> ByPrecision<Self::Kind> {
        T::tag::<Self::Kind>(self)
    }
}

/// Declares the marker type of a kind of value with one lifetime and makes the typed value
/// [`Tagged`]: `per_precision!(pub Marker = Value)` for `Value<'a, T>`.
#[macro_export]
#[doc(hidden)]
macro_rules! per_precision {
    ($(#[$doc:meta])* $vis:vis $marker:ident = $value:ident) => {
        $(#[$doc])*
        #[derive(Debug)]
        $vis struct $marker<'a>(std::marker::PhantomData<&'a ()>);
        impl<'a> $crate::real::PerPrecision for $marker<'a> {
            type Of<T: $crate::Real> = $value<'a, T>;
        }
        impl<'a, T: $crate::Real> $crate::real::Tagged<T> for $value<'a, T> {
            type Kind = $marker<'a>;
        }
    };
}

impl Real for f32 {
    const PRECISION: Precision = Precision::F32;
    fn of(v: f64) -> Self {
        v as f32
    }
    fn as_f64(self) -> f64 {
        self as f64
    }
    #[inline(always)]
    fn tag<K: PerPrecision>(value: K::Of<Self>) -> ByPrecision<K> {
        ByPrecision::F32(value)
    }
    #[inline(always)]
    fn untag<K: PerPrecision>(tagged: ByPrecision<K>) -> Option<K::Of<Self>> {
        match tagged {
            ByPrecision::F32(v) => Some(v),
            ByPrecision::F64(_) => None,
        }
    }
}

impl Real for f64 {
    const PRECISION: Precision = Precision::F64;
    fn of(v: f64) -> Self {
        v
    }
    fn as_f64(self) -> f64 {
        self
    }
    #[inline(always)]
    fn tag<K: PerPrecision>(value: K::Of<Self>) -> ByPrecision<K> {
        ByPrecision::F64(value)
    }
    #[inline(always)]
    fn untag<K: PerPrecision>(tagged: ByPrecision<K>) -> Option<K::Of<Self>> {
        match tagged {
            ByPrecision::F64(v) => Some(v),
            ByPrecision::F32(_) => None,
        }
    }
}

/// `log(exp(a) + exp(b))` without overflow; `-inf` stays neutral.
///
/// ```
/// use drift_api::kit::log_add_exp;
/// assert!((log_add_exp(0.0f64, 0.0) - 2f64.ln()).abs() < 1e-15);
/// assert_eq!(log_add_exp(f64::NEG_INFINITY, 1.5), 1.5);
/// ```
pub fn log_add_exp<T: Real>(a: T, b: T) -> T {
    let m = a.max(b);
    if m == T::neg_infinity() {
        return m;
    }
    m + ((a - m).exp() + (b - m).exp()).ln()
}
