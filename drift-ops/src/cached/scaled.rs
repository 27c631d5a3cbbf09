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
use crate::matrix_pool::Matrix;
use crate::pair_cache::Budget;
use drift_api::{Precision, Real};

/// The stored matrix and the shifts it was built with.
#[derive(Debug)]
pub(super) struct Scaled<T> {
    /// `e[i * m + j] = E_ij`, with its budget reservation.
    pub e: Matrix<T>,
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
}

impl<T: Real> Scaled<T> {
    /// Space for an `n × m` matrix within `budget`, or `None`.
    pub fn allocate(n: usize, m: usize, budget: Budget) -> Option<Self> {
        let len = n.checked_mul(m).filter(|len| *len > 0)?;
        Some(Scaled {
            e: Matrix::take("scaled pair matrix", len, budget).ok()??,
            tau: None,
            row_shift: vec![T::zero(); n],
            col_shift: vec![T::zero(); m],
            factors: vec![T::zero(); n.max(m)],
            partials: Vec::new(),
        })
    }

    /// The bytes held.
    pub fn bytes(&self) -> usize {
        self.e.bytes()
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

    /// The stored values for a pass, next to the sweep's column sums (borrowed apart).
    pub fn split(&mut self) -> (Entries<'_, T>, &mut [ColumnSums<T>]) {
        let entries = Entries::of(&self.e, &self.row_shift, &self.col_shift, &self.factors);
        (entries, &mut self.partials)
    }

    /// The stored values for a pass.
    pub fn entries(&self) -> Entries<'_, T> {
        Entries::of(&self.e, &self.row_shift, &self.col_shift, &self.factors)
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

/// The stored matrix, its shifts and the current pass's factors, as the passes read them.
#[derive(Clone, Copy, Debug)]
pub(super) struct Entries<'s, T> {
    e: &'s [T],
    row_shift: &'s [T],
    col_shift: &'s [T],
    factors: &'s [T],
    m: usize,
}

impl<'s, T: Real> Entries<'s, T> {
    fn of(e: &'s [T], row_shift: &'s [T], col_shift: &'s [T], factors: &'s [T]) -> Self {
        Entries {
            e,
            row_shift,
            col_shift,
            factors,
            m: col_shift.len(),
        }
    }

    /// Row `i` of the matrix.
    #[inline(always)]
    pub fn row(&self, i: usize) -> &[T] {
        &self.e[i * self.m..(i + 1) * self.m]
    }

    /// The factors of the current pass (the first `len`).
    #[inline(always)]
    pub fn factors(&self, len: usize) -> &[T] {
        &self.factors[..len]
    }

    /// Row `i`'s log-sum-exp in a row pass whose factors are shifted by `shift`, or `None` when its
    /// sum is not one the stored values give exactly.
    #[inline(always)]
    pub fn row_lse(&self, i: usize, shift: T, min_sum: T) -> Option<T> {
        self.row_lse_of(i, dot(self.row(i), self.factors(self.m)), shift, min_sum)
    }

    /// Row `i`'s log-sum-exp from its sum `Σ_j E_ij · factor_j` in a row pass whose factors are
    /// shifted by `shift`, or `None` when the sum is not one the stored values give exactly.
    #[inline(always)]
    pub fn row_lse_of(&self, i: usize, sum: T, shift: T, min_sum: T) -> Option<T> {
        if Bounds::accepts(sum, min_sum) {
            Some(self.row_shift[i] + shift + sum.ln())
        } else {
            None
        }
    }

    /// Column `j`'s log-sum-exp from its sum in a column pass whose factors are shifted by
    /// `shift`, or `None` when the sum is not one the stored values give exactly.
    #[inline(always)]
    fn col_lse(&self, j: usize, sum: T, shift: T, min_sum: T) -> Option<T> {
        if shift.is_finite() && Bounds::accepts(sum, min_sum) {
            Some(shift - self.col_shift[j] + sum.ln())
        } else {
            None
        }
    }

    /// The log-sum-exps of columns `c0..c0 + out.len()` from their sums `Σ_i E_ij · factor_i` in a
    /// column pass shifted by `shift`. A column whose sum is not one the stored values give
    /// exactly is marked in `failed` (its `out` untouched, for the log-weights to fill); returns
    /// whether one of those is a column the matrix should reach, which makes it stale (see
    /// [`Entries::reaches`]).
    #[inline(always)]
    pub fn col_lses(
        &self,
        c0: usize,
        sums: &[T],
        shift: T,
        min_sum: T,
        out: &mut [T],
        failed: &mut [bool],
    ) -> bool {
        let mut stale = false;
        for (k, (l, s)) in out.iter_mut().zip(sums).enumerate() {
            match self.col_lse(c0 + k, *s, shift, min_sum) {
                Some(v) => *l = v,
                None => {
                    failed[k] = true;
                    stale |= self.reaches(c0 + k);
                }
            }
        }
        stale
    }

    /// `h_i`, the shift of row `i`.
    #[inline(always)]
    pub fn row_shift(&self, i: usize) -> T {
        self.row_shift[i]
    }

    /// Whether the matrix has entries in column `j`: a column that was `−∞` at the build (a point
    /// of zero weight) has none, and missing it does not make the matrix stale.
    #[inline(always)]
    pub fn reaches(&self, j: usize) -> bool {
        self.col_shift[j].is_finite()
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
fn dot<T: Real>(a: &[T], b: &[T]) -> T {
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
