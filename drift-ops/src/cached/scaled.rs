//! The scaled matrix of a cached pair set: `E_ij = exp(ℓ_τ(d_ij) + β_j − h_i)` stored once, so that
//! the later passes of a Sinkhorn solve at the same temperature are matrix-vector products with no
//! exponential per pair (Sinkhorn's scaling form, with the potentials of the build absorbed into the
//! matrix, as in the stabilised scaling algorithm of Schmitzer 2019).
//!
//! With any reference shifts `h` (rows) and `β` (columns),
//!
//! ```text
//! log Σ_j exp(ℓ_ij + g_j) = h_i + t + log Σ_j E_ij exp(g_j − β_j − t),   t = max_j (g_j − β_j)
//! log Σ_i exp(ℓ_ij + f_i) = −β_j + s + log Σ_i E_ij exp(f_i + h_i − s),  s = max_i (f_i + h_i)
//! ```
//!
//! hold exactly; the shifts only decide the range of the stored values. The matrix is built by a row
//! pass that takes the exact two-step log-sum-exp (each row's maximum `h_i` of `ℓ_ij + g_j`, then
//! the exponentials shifted by it, which are the entries, with the pass's `g` as `β`: every entry is
//! at most 1 and every row sums to between 1 and `M`), and every later pass checks
//! that its sum is one the stored values give to full precision ([`Bounds::accepts`]); a row or
//! stripe that fails runs on the stored log-weights instead, and the matrix is rebuilt at the next
//! shifted row pass.

use super::sweep::ColumnSums;
use crate::pair_cache::Reservation;
use drift_api::{Precision, Real};

/// The stored matrix and the shifts it was built with.
#[derive(Debug)]
pub(super) struct Scaled<T> {
    /// `e[i * m + j] = E_ij`.
    pub e: Vec<T>,
    /// The temperature the matrix holds; `None` while it must be (re)built.
    pub tau: Option<T>,
    /// `h_i`, subtracted from row `i`.
    pub row_shift: Vec<T>,
    /// `β_j`, added to column `j`.
    pub col_shift: Vec<T>,
    /// The factors `exp(g_j − β_j − t)` or `exp(f_i + h_i − s)` of the current pass.
    pub factors: Vec<T>,
    /// The column sums of each task of a sweep ([`super::sweep`]), kept between sweeps.
    pub partials: Vec<ColumnSums<T>>,
    reservation: Reservation,
}

impl<T: Real> Scaled<T> {
    /// Space for an `n × m` matrix within what `reserve` grants, or `None`.
    pub fn allocate(
        n: usize,
        m: usize,
        reserve: impl FnOnce(usize) -> Option<Reservation>,
    ) -> Option<Self> {
        let len = n.checked_mul(m).filter(|len| *len > 0)?;
        let reservation = reserve(len.checked_mul(std::mem::size_of::<T>())?)?;
        Some(Scaled {
            e: drift_api::try_vec("scaled pair matrix", len, T::zero()).ok()?,
            tau: None,
            row_shift: vec![T::zero(); n],
            col_shift: vec![T::zero(); m],
            factors: vec![T::zero(); n.max(m)],
            partials: Vec::new(),
            reservation,
        })
    }

    /// The bytes held.
    pub fn bytes(&self) -> usize {
        self.reservation.bytes()
    }

    /// The matrix if it holds temperature `tau`.
    pub fn at(&self, tau: T) -> Option<&Self> {
        (self.tau == Some(tau)).then_some(self)
    }

    /// Records a finished build: the matrix now holds `tau`, with the row shifts the build wrote
    /// and the column potential `g` (zero when absent) as `β`.
    pub fn built(&mut self, tau: T, g: Option<&[T]>) {
        match g {
            Some(g) => self.col_shift.copy_from_slice(g),
            None => self.col_shift.iter_mut().for_each(|b| *b = T::zero()),
        }
        self.tau = Some(tau);
    }

    /// Fills the factors of a row pass with column potential `g`, `exp(g_j − β_j − t)`, and
    /// returns `t`; `None` if `t` is not finite (every potential `−∞`, or an infinite or NaN one),
    /// which the exact path handles.
    ///
    /// A column whose `β` is `−∞` (a zero-weight point when the matrix was built) has no entries,
    /// so it must still have potential `−∞` (factor 0); if it has gained a finite one, `None`.
    pub fn row_factors(&mut self, g: Option<&[T]>) -> Option<T> {
        let m = self.col_shift.len();
        let factors = &mut self.factors[..m];
        for (j, v) in factors.iter_mut().enumerate() {
            let (gj, bj) = (g.map_or(T::zero(), |g| g[j]), self.col_shift[j]);
            *v = if bj == T::neg_infinity() {
                if gj != T::neg_infinity() {
                    return None;
                }
                T::neg_infinity()
            } else {
                gj - bj
            };
        }
        shift_and_exp(factors)
    }

    /// Fills the factors of a column pass with row potential `f`, `exp(f_i + h_i − s)`, and returns
    /// `s` (as [`Scaled::row_factors`]).
    pub fn col_factors(&mut self, f: Option<&[T]>) -> Option<T> {
        let n = self.row_shift.len();
        let factors = &mut self.factors[..n];
        for (i, u) in factors.iter_mut().enumerate() {
            *u = f.map_or(T::zero(), |f| f[i]) + self.row_shift[i];
        }
        shift_and_exp(factors)
    }
}

/// `v ← exp(v − max v)`, returning the maximum, if it and every value are below `+∞` and the
/// maximum is finite.
fn shift_and_exp<T: Real>(values: &mut [T]) -> Option<T> {
    let mut max = T::neg_infinity();
    for v in values.iter() {
        if v.is_nan() || *v == T::infinity() {
            return None;
        }
        max = max.max(*v);
    }
    if !max.is_finite() {
        return None;
    }
    values.iter_mut().for_each(|v| *v -= max);
    T::exp_nonpositive_in_place(values);
    Some(max)
}

/// What the stored values can give to full precision.
///
/// A build keeps the matrix only if every row sum is at most `e^CAP` (it is at most `M`), so every
/// `E_ij ≤ e^CAP`;
/// entries below the flush point `e^FLUSH` of [`drift_api::math::exp_nonpositive`] are stored as
/// zero, and so are factors below it. Each term a pass loses is therefore below `e^(CAP + FLUSH)`,
/// and a sum of `count` terms is accepted when it is at least `10^8` times `count` such losses (so
/// the result is exact to `1e-8` relative) and far from overflow.
pub(super) struct Bounds;

impl Bounds {
    /// The natural log of the largest row sum a build may have.
    pub fn cap<T: Real>() -> T {
        T::of(if T::PRECISION == Precision::F32 {
            20.0
        } else {
            200.0
        })
    }

    /// The smallest sum of `count` stored terms whose logarithm is exact to full precision.
    pub fn min_sum<T: Real>(count: usize) -> T {
        let flush = if T::PRECISION == Precision::F32 {
            -87.0
        } else {
            -708.0
        };
        let lost = (count as f64) * (Self::cap::<T>().as_f64() + flush).exp();
        T::of(1e8 * lost)
    }

    /// Whether a sum is at least `min_sum` and far from overflow.
    #[inline(always)]
    pub fn accepts<T: Real>(sum: T, min_sum: T) -> bool {
        let hi = if T::PRECISION == Precision::F32 {
            1e30
        } else {
            1e290
        };
        sum >= min_sum && sum < T::of(hi)
    }
}

/// `Σ_j a_j b_j` in sixteen independent lanes (the loop vectorises; no reassociation needed).
#[inline(always)]
pub(super) fn dot<T: Real>(a: &[T], b: &[T]) -> T {
    let mut lanes = [T::zero(); 16];
    let chunks = a.chunks_exact(16).zip(b.chunks_exact(16));
    let tail = a.len() / 16 * 16;
    for (x, y) in chunks {
        for k in 0..16 {
            lanes[k] += x[k] * y[k];
        }
    }
    let mut total = a[tail..]
        .iter()
        .zip(&b[tail..])
        .fold(T::zero(), |s, (x, y)| s + *x * *y);
    for l in lanes {
        total += l;
    }
    total
}
