//! One problem of a fused batched evaluation, prepared in per-thread buffers: its points centred
//! on the data's mean, its column log-weights, its squared distances, and each leaf's scratch.

use super::lanes::{sized, sq_distances, with_avx2_copy, GRAM_FROM_DIM};
use super::plan::{Leaf, Radial};
use super::proxy::ProxyScratch;
use super::sinkhorn::LoopScratch;
use drift_api::batch::support_len;
use drift_api::batch::BatchProblem;
use drift_api::kit::BatchSets;
use drift_api::Real;

/// Normalised log-weights of a side of problem `b` (as [`drift_api::PointCloud::log_weights`]).
fn log_weights_into<T: Real>(sets: &BatchSets<'_, T>, b: usize, out: &mut Vec<T>) {
    out.clear();
    match sets.weights_of(b) {
        None => out.extend(std::iter::repeat_n(
            T::of(-(sets.len(b) as f64).ln()),
            sets.len(b),
        )),
        Some(w) => {
            let total: f64 = w.iter().map(|v| v.as_f64()).sum();
            out.extend(w.iter().map(|v| T::of((v.as_f64() / total).ln())));
        }
    }
}

/// One problem's inputs, centred on the data's mean (the Gram-form distances and the products
/// then lose digits in proportion to the problem's spread, not to its distance from the
/// origin): rows `x`, columns (`[y; negatives]` for the Sinkhorn drift against a second batch,
/// `[y; x; negatives]` for the other leaves), and log-weights.
#[derive(Default)]
pub(super) struct Prepared<T> {
    x: Vec<T>,
    pub(super) columns: Vec<T>,
    pub(super) log_a: Vec<T>,
    pub(super) log_b: Vec<T>,
    pub(super) log_n: Vec<T>,
    /// The column log-weights over `[y; x; negatives]`: `log b` then the repulsion's shares, or
    /// the joint shares (Algorithm 2).
    pub(super) log_w: Vec<T>,
    /// The data's order keys, coordinate after coordinate (scratch of the median).
    keys: Vec<i64>,
    /// The data's bounding box and coordinate sums.
    lo: Vec<T>,
    hi: Vec<T>,
    sum: Vec<f64>,
    /// The median (the exact bound's origin).
    origin: Vec<T>,
    norms: Vec<T>,
    pub(super) sq: Vec<T>,
    /// The first column of the `X` block among the columns, when the leaf has one.
    own_from: Option<usize>,
    /// Distances `d` (the Laplace kernel's), from `sq`.
    pub(super) dist: Vec<T>,
    pub(super) terms: LoopScratch<T>,
    /// Every temperature's coefficients, stacked.
    pub(super) coeff: Vec<T>,
    /// Per temperature and row, the factor of the product's row (the leaves that scale rows).
    pub(super) row_scales: Vec<T>,
    pub(super) proxy: ProxyScratch<T>,
    /// The targets' weights `b_j` in f64 (the scale's sums).
    weights: Vec<f64>,
}

/// The negatives of problem `b`, when it has some of positive total weight.
pub(super) fn negatives_of<'a, T: Real>(
    batch: &'a BatchProblem<'_, T>,
    b: usize,
) -> Option<&'a [T]> {
    let neg = batch.batch.negatives.as_ref()?;
    (support_len(neg, b) > 0).then(|| neg.points(b))
}

/// A total-order key of an f64 (as [`f64::total_cmp`] orders them), so that a selection compares
/// integers instead of re-deriving the order at every comparison.
#[inline(always)]
fn order_key(v: f64) -> i64 {
    let bits = v.to_bits() as i64;
    bits ^ (((bits >> 63) as u64) >> 1) as i64
}

/// The f64 of an [`order_key`].
#[inline(always)]
fn from_order_key(key: i64) -> f64 {
    f64::from_bits((key ^ (((key >> 63) as u64) >> 1) as i64) as u64)
}

impl<T: Real> Prepared<T> {
    /// The coordinate-wise median of the data `y` (`M × D`) into `origin` (`D`), as the general
    /// path's origin (`data_origin`): per coordinate the element of rank `M/2` in f64's total
    /// order, which is one of the data's values and so exact in `T`. The data are transposed once
    /// into order keys (rows eight at a time, so each write fills a cache line) and each
    /// coordinate selected from its contiguous keys.
    fn median_into(&mut self, y: &[T], dim: usize, origin: &mut [T]) {
        let m = y.len() / dim;
        if self.keys.len() < m * dim {
            self.keys.resize(m * dim, 0);
        }
        let keys = &mut self.keys[..m * dim];
        let mut rows = y.chunks_exact(dim * 8);
        let mut first = 0;
        for block in rows.by_ref() {
            for k in 0..dim {
                let dst = &mut keys[k * m + first..k * m + first + 8];
                for (r, o) in dst.iter_mut().enumerate() {
                    *o = order_key(block[r * dim + k].as_f64());
                }
            }
            first += 8;
        }
        for (r, row) in rows.remainder().chunks_exact(dim).enumerate() {
            for (k, v) in row.iter().enumerate() {
                keys[k * m + first + r] = order_key(v.as_f64());
            }
        }
        let mid = m / 2;
        for (k, o) in origin.iter_mut().enumerate() {
            let column = &mut keys[k * m..(k + 1) * m];
            *o = T::of(from_order_key(*column.select_nth_unstable(mid).1));
        }
    }

    /// The origin the problem is centred on (the mean of its data `y`, `M × D`, into `origin`)
    /// and a bound on the largest squared distance of any of its points to the data's
    /// coordinate-wise median (the general path's [`Prepared::radius_sq`]) that needs no
    /// median: the median lies in the data's bounding box, so per coordinate
    /// `(p − med)² ≤ max((p − lo)², (p − hi)²)`; summed in lanes, then raised by far more than
    /// any order of summation can change a sum of `D` non-negative terms, so that a bound that
    /// fits assures that the exact one does.
    #[inline(always)]
    pub(super) fn origin_and_bound(
        &mut self,
        p: &BatchProblem<'_, T>,
        b: usize,
        origin: &mut [T],
    ) -> f64 {
        let batch = p.batch;
        let (dim, y) = (batch.dim(), batch.y.points(b));
        let m = y.len() / dim;
        self.lo.clear();
        self.lo.extend_from_slice(&y[..dim]);
        self.hi.clear();
        self.hi.extend_from_slice(&y[..dim]);
        self.sum.clear();
        self.sum.resize(dim, 0.0);
        for row in y.chunks_exact(dim) {
            for (((l, h), s), v) in self
                .lo
                .iter_mut()
                .zip(&mut self.hi)
                .zip(&mut self.sum)
                .zip(row)
            {
                *l = l.min(*v);
                *h = h.max(*v);
                *s += v.as_f64();
            }
        }
        for (o, s) in origin.iter_mut().zip(&self.sum) {
            *o = T::of(s / m as f64);
        }
        let (lo, hi) = (&self.lo, &self.hi);
        let neg = negatives_of(p, b).unwrap_or(&[]);
        let largest = [batch.x.points(b), y, neg]
            .into_iter()
            .flat_map(|s| s.chunks_exact(dim))
            .map(|v| {
                let far = |(c, (l, h)): (&T, (&T, &T))| {
                    let c = c.as_f64();
                    let (a, z) = (c - l.as_f64(), c - h.as_f64());
                    (a * a).max(z * z)
                };
                let mut lanes = [0.0f64; 4];
                let (vs, ls, hs) = (v.chunks_exact(4), lo.chunks_exact(4), hi.chunks_exact(4));
                let tail: f64 = (vs.remainder().iter())
                    .zip(ls.remainder().iter().zip(hs.remainder()))
                    .map(far)
                    .sum();
                for (v, (l, h)) in vs.zip(ls.zip(hs)) {
                    for (k, lane) in lanes.iter_mut().enumerate() {
                        *lane += far((&v[k], (&l[k], &h[k])));
                    }
                }
                lanes.iter().sum::<f64>() + tail
            })
            .fold(0.0f64, f64::max);
        largest * (1.0 + 4.0 * (dim + 4) as f64 * f64::EPSILON)
    }

    /// Fills the buffers for problem `b`, centred on `origin` (its
    /// [`Prepared::origin_and_bound`]).
    #[inline(always)]
    pub(super) fn of(&mut self, p: &BatchProblem<'_, T>, b: usize, leaf: Leaf, origin: &[T]) {
        let batch = p.batch;
        let (dim, y) = (batch.dim(), batch.y.points(b));
        let neg = negatives_of(p, b).unwrap_or(&[]);
        let centre = |points: &[T], into: &mut Vec<T>| {
            let start = into.len();
            into.extend_from_slice(points);
            for v in into[start..].chunks_exact_mut(dim) {
                v.iter_mut().zip(origin).for_each(|(c, o)| *c -= *o);
            }
        };
        self.x.clear();
        self.columns.clear();
        centre(batch.x.points(b), &mut self.x);
        centre(y, &mut self.columns);
        self.own_from = leaf.has_own_columns().then_some(batch.y.len(b));
        if leaf.has_own_columns() {
            self.columns.extend_from_slice(&self.x);
        }
        centre(neg, &mut self.columns);
        log_weights_into(&batch.x, b, &mut self.log_a);
        log_weights_into(&batch.y, b, &mut self.log_b);
        self.log_n.clear();
        if let Some(sets) = batch.negatives.as_ref().filter(|_| !neg.is_empty()) {
            log_weights_into(sets, b, &mut self.log_n);
        }
        match leaf {
            Leaf::Joint { .. } => self.shared_weights(p, b, true),
            _ if leaf.has_own_columns() => self.shared_weights(p, b, false),
            _ => {}
        }
    }

    /// The largest squared distance of a point of problem `b` (`x`, `y`, negatives) to the
    /// data's coordinate-wise median, in f64 from the inputs as the general path's precision
    /// bound measures it (four times this is its squared diameter), so that both paths take the
    /// same decision.
    pub(super) fn radius_sq(&mut self, p: &BatchProblem<'_, T>, b: usize) -> f64 {
        let batch = p.batch;
        let mut origin = std::mem::take(&mut self.origin);
        origin.resize(batch.dim(), T::zero());
        self.median_into(batch.y.points(b), batch.dim(), &mut origin);
        let neg = negatives_of(p, b).unwrap_or(&[]);
        let radius = [batch.x.points(b), batch.y.points(b), neg]
            .into_iter()
            .flat_map(|s| s.chunks_exact(batch.dim()))
            .map(|v| {
                v.iter()
                    .zip(&origin)
                    .map(|(c, o)| (c.as_f64() - o.as_f64()).powi(2))
                    .sum::<f64>()
            })
            .fold(0.0f64, f64::max);
        self.origin = origin;
        radius
    }

    /// The column log-weights over `[y; x; negatives]` (the general path's `NegativeColumns`):
    /// the blocks have masses `n : Σ w` (points of positive weight, each negative its own
    /// weight), `m : n : Σ w` when `joint` (`y` then shares the total), each block's mass spread
    /// by its own weights; without `joint`, `y` keeps `log b`.
    fn shared_weights(&mut self, p: &BatchProblem<'_, T>, b: usize, joint: bool) {
        let batch = p.batch;
        let n = support_len(&batch.x, b) as f64;
        let m = if joint {
            support_len(&batch.y, b) as f64
        } else {
            0.0
        };
        let extra = match (&batch.negatives, self.log_n.is_empty()) {
            (Some(sets), false) => match sets.weights_of(b) {
                Some(w) => w.iter().map(|v| v.as_f64()).sum(),
                None => sets.len(b) as f64,
            },
            _ => 0.0,
        };
        let total = m + n + extra;
        let (own, other) = (T::of((n / total).ln()), T::of((extra / total).ln()));
        let data = if joint {
            T::of((m / total).ln())
        } else {
            T::zero()
        };
        self.log_w.clear();
        self.log_w.extend(self.log_b.iter().map(|l| *l + data));
        self.log_w.extend(self.log_a.iter().map(|l| *l + own));
        self.log_w.extend(self.log_n.iter().map(|l| *l + other));
    }

    /// `Σ_i a_i Σ_j b_j ‖x_i − y_j‖` over the first `ny` columns of the squared distances `sq`
    /// (rows `stride` apart): the problem's weighted mean distance to the data (`a`, `b`
    /// normalised), each weight exponentiated once rather than once per pair.
    #[inline(always)]
    pub(super) fn mean_distance(&mut self, sq: &[T], stride: usize, ny: usize) -> f64 {
        self.weights.clear();
        self.weights
            .extend(self.log_b.iter().map(|lb| lb.exp().as_f64()));
        let mut mean = 0.0f64;
        for (i, la) in self.log_a.iter().enumerate() {
            let row = &sq[i * stride..i * stride + ny];
            // Four independent partial sums, so that the square roots and products vectorise.
            let mut lanes = [0.0f64; 4];
            let (ds, ws) = (row.chunks_exact(4), self.weights.chunks_exact(4));
            let tail: f64 = (ds.remainder().iter())
                .zip(ws.remainder())
                .map(|(d, w)| w * d.as_f64().sqrt())
                .sum();
            for (d, w) in ds.zip(ws) {
                for k in 0..4 {
                    lanes[k] += w[k] * d[k].as_f64().sqrt();
                }
            }
            let inner = (lanes[0] + lanes[2]) + (lanes[1] + lanes[3]) + tail;
            mean += la.exp().as_f64() * inner;
        }
        mean
    }

    /// `‖x_i − t_j‖²` for the columns (`[y; x; negatives]` or `[y; negatives]`) into `sq`: none
    /// below zero (the Gram form's rounding), each particle's distance to itself exactly zero.
    #[inline(always)]
    pub(super) fn distances(&mut self, dim: usize, sq: &mut [T]) {
        sq_distances(&self.x, dim, &self.columns, sq, &mut self.norms);
        if dim >= GRAM_FROM_DIM {
            sq.iter_mut().for_each(|v| *v = v.max(T::zero()));
        }
        if let Some(first) = self.own_from {
            let cols = self.columns.len() / dim;
            for i in 0..self.x.len() / dim {
                sq[i * cols + first + i] = T::zero();
            }
        }
    }
}

/// Pass A of one problem: its origin into `origin`, its buffers, its squared distances into `sq`
/// (`N × stride`); returns its weighted mean distance to the data (the first `ny` columns) and
/// [`Prepared::origin_and_bound`]'s bound.
#[inline(always)]
fn first_pass_body<T: Real>(
    s: &mut Prepared<T>,
    p: &BatchProblem<'_, T>,
    b: usize,
    leaf: Leaf,
    origin: &mut [T],
    sq: &mut [T],
) -> (f64, f64) {
    let (dim, ny) = (p.batch.dim(), p.batch.y.len(b));
    let radius = s.origin_and_bound(p, b, origin);
    s.of(p, b, leaf, origin);
    s.distances(dim, sq);
    let stride = sq.len() / p.batch.x.len(b);
    (s.mean_distance(sq, stride, ny), radius)
}

with_avx2_copy! {
    /// [`first_pass_body`], in its AVX2+FMA copy where the CPU has it (the bounding box, the
    /// bound and the mean distance are elementwise passes, partly in f64).
    pub(super) fn first_pass / first_pass_avx2_fma = first_pass_body(
        s: &mut Prepared<T>,
        p: &BatchProblem<'_, T>,
        b: usize,
        leaf: Leaf,
        origin: &mut [T],
        sq: &mut [T]
    ) -> (f64, f64)
}

/// The kernel's distances from `sq`: `sq` itself (Gaussian) or its square roots in `dist`.
pub(super) fn kernel_distances<'s, T: Real>(
    kernel: Radial,
    sq: &'s [T],
    dist: &'s mut Vec<T>,
) -> &'s [T] {
    match kernel {
        Radial::Gaussian => sq,
        Radial::Laplace => {
            let d = sized(dist, sq.len());
            d.copy_from_slice(sq);
            T::sqrt_in_place(d);
            d
        }
    }
}
