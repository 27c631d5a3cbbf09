//! The CPU stages of the official loss ([`OfficialStages`]): three passes, each parallel over the
//! problems with per-thread scratch (nothing allocated per problem): the distances and the scale's
//! sums (distances kept for the second pass when they fit [`KEPT_DISTANCES_BYTES`]); every
//! temperature's `G_R` from one stacked product `[C_R; …] · t`; the weighted sum. The two dense
//! products per problem (`x tᵀ` for the distances from `D = 16`, `C t`) run on the `gemm` crate.

use super::KEPT_DISTANCES_BYTES;
use crate::batched::buffers;
use crate::batched::lanes::{
    lane_dot, lane_min, lane_sum, sized, sq_distances, sum_squares, with_avx2_copy,
};
use crate::batched::problem::{centred_targets, targets_mean, Problem};
use crate::dense::{matmul, View};
use drift_api::batch::split_per_problem;
use drift_api::kit::{OfficialConstants, OfficialStages, ProblemBatch, SoftmaxFloors};
use drift_api::{Real, Result};
use rayon::prelude::*;

/// Per-thread buffers, grown to the largest problem and reused.
#[derive(Default)]
struct Scratch<T> {
    /// The targets `[x; negatives; positives]` centred on their mean (`M × D`).
    targets: Vec<T>,
    dist: Vec<T>,
    norms: Vec<T>,
    logits: Vec<T>,
    row: Vec<T>,
    /// `1 / ‖row‖` of each generated sample's half-logit exponentials.
    row_scale: Vec<T>,
    /// Each generated sample's smallest logit.
    row_top: Vec<T>,
    col: Vec<T>,
    coeff: Vec<T>,
    sums: Vec<T>,
    weights: Vec<T>,
}

/// `d_ij = sqrt(max(‖x_i − t_j‖², floor))` into `dist` (`N × M`) from the centred targets (whose
/// first `N` rows are the generated samples); the diagonal of the generated block is exactly the
/// floor's root.
#[inline(always)]
fn distances_body<T: Real>(
    n: usize,
    dim: usize,
    targets: &[T],
    floor: T,
    dist: &mut [T],
    norms: &mut Vec<T>,
) {
    let m = targets.len() / dim;
    sq_distances(&targets[..n * dim], dim, targets, dist, norms);
    for i in 0..n {
        dist[i * m + i] = T::zero();
    }
    for v in dist.iter_mut() {
        *v = v.max(floor);
    }
    T::sqrt_in_place(dist);
}

/// `(Σ_ij w_j d_ij, N Σ_j w_j)`: the scale's sums for one problem.
fn scale_sums<T: Real>(dist: &[T], w: &[T], n: usize) -> (f64, f64) {
    let m = w.len();
    let mut num = 0.0f64;
    for i in 0..n {
        num += lane_dot(&dist[i * m..(i + 1) * m], w).as_f64();
    }
    let den = n as f64 * w.iter().map(|v| v.as_f64()).sum::<f64>();
    (num, den)
}

/// `G_R` of one problem for every temperature, into `field` (`R × N × D`, temperature after
/// temperature); returns
/// `Σ G_R²` per temperature.
#[inline(always)]
fn forces_body<T: Real>(
    p: &Problem<'_, T>,
    dim: usize,
    dist: &[T],
    inv_scale: T,
    temperatures: &[T],
    k: &OfficialConstants,
    s: &mut Scratch<T>,
    field: &mut [T],
) -> Vec<f64> {
    let (n, m) = (p.n, p.m());
    let nm = n * m;
    p.weights_into(&mut s.weights);
    let w = &s.weights;
    // Normalised distances d̂ (the logits are −d̂/R).
    let logits = sized(&mut s.logits, nm);
    for (l, d) in logits.iter_mut().zip(dist) {
        *l = *d * inv_scale;
    }
    let mask = T::of(k.self_mask);
    for i in 0..n {
        logits[i * m + i] += mask;
    }
    let split = p.n + p.n_neg;
    let SoftmaxFloors {
        lowest_half,
        root_tiny,
        root_floor,
    } = k.softmax_floors::<T>();
    let coeff = sized(&mut s.coeff, temperatures.len() * nm);
    let row = sized(&mut s.row, nm);
    let col = sized(&mut s.col, nm);
    // A = sqrt(max(p_row p_col, floor)) = max(sqrt(p_row) sqrt(p_col), sqrt(floor)): the passes
    // take the exponentials of half the logits, whose squares sum to the softmaxes' normalisers,
    // so that no entry needs a square root.
    // The smallest logit of every row and column: the softmaxes' shifts, the same for every
    // temperature.
    let row_top = sized(&mut s.row_top, n);
    for (i, t) in row_top.iter_mut().enumerate() {
        *t = lane_min(&logits[i * m..(i + 1) * m]);
    }
    let col_top = &mut s.norms;
    col_top.clear();
    col_top.resize(m, T::infinity());
    for i in 0..n {
        for (t, v) in col_top.iter_mut().zip(&logits[i * m..(i + 1) * m]) {
            *t = t.min(*v);
        }
    }
    for (r, &tau) in temperatures.iter().enumerate() {
        let half = -T::of(0.5) / tau;
        // One sweep over the generated samples, each row read while it is in the nearest cache:
        // the row softmax (over the targets of each generated sample) and its norm, the column
        // softmax's exponentials (over the generated samples of each target) and their squares'
        // sums. The exponents lie in [lowest_half, 0].
        let row_scale = sized(&mut s.row_scale, n);
        let col_sum = &mut s.sums;
        col_sum.clear();
        col_sum.resize(m, T::zero());
        for i in 0..n {
            let range = i * m..(i + 1) * m;
            let (src, dst) = (&logits[range.clone()], &mut row[range.clone()]);
            let top = row_top[i];
            for (o, v) in dst.iter_mut().zip(src) {
                *o = ((*v - top) * half).max(lowest_half);
            }
            T::exp_nonpositive_in_place(dst);
            row_scale[i] = T::one() / lane_dot(dst, dst).sqrt();
            let dst = &mut col[range];
            for ((o, v), t) in dst.iter_mut().zip(src).zip(col_top.iter()) {
                *o = ((*v - *t) * half).max(lowest_half);
            }
            T::exp_nonpositive_in_place(dst);
            for (t, v) in col_sum.iter_mut().zip(dst.iter()) {
                *t += *v * *v;
            }
        }
        col_sum.iter_mut().for_each(|v| *v = T::one() / v.sqrt());
        // A times the target weights (the row and column normalisations applied on the way),
        // then the coefficients.
        let c = &mut coeff[r * nm..(r + 1) * nm];
        for (i, inv) in row_scale.iter().enumerate() {
            let range = i * m..(i + 1) * m;
            let (a_row, a_col, out) = (&row[range.clone()], &col[range.clone()], &mut c[range]);
            let scales = col_sum.iter().zip(w.iter());
            for (((o, pr), pc), (cs, wj)) in out.iter_mut().zip(a_row).zip(a_col).zip(scales) {
                let pr = (*pr * *inv).max(root_tiny);
                *o = (pr * (*pc * *cs).max(root_tiny)).max(root_floor) * *wj;
            }
            let neg_sum = lane_sum(&out[..split]);
            let pos_sum = lane_sum(&out[split..]);
            out[..split].iter_mut().for_each(|a| *a = -*a * pos_sum);
            out[split..].iter_mut().for_each(|a| *a *= neg_sum);
        }
    }
    // One stacked product for every temperature, [C_R; …] (R·N × M) times the targets (M × D),
    // straight into the field.
    let rows = temperatures.len() * n;
    let targets = &s.targets;
    matmul(
        field,
        dim,
        false,
        View::new(coeff, rows, m),
        View::new(targets, m, dim),
        false,
        T::one(),
    );
    let mut squares = vec![0.0f64; temperatures.len()];
    for (row, out) in field.chunks_exact_mut(dim).enumerate() {
        let total = lane_sum(&coeff[row * m..(row + 1) * m]);
        let xi = &targets[(row % n) * dim..(row % n + 1) * dim];
        for (o, x) in out.iter_mut().zip(xi) {
            *o -= total * *x;
        }
        squares[row / n] += sum_squares(out);
    }
    squares
}

/// Pass 1 of one problem: the targets' mean into `mean`, the centred targets, the distances
/// into `dist`, and the scale's sums.
#[inline(always)]
fn first_pass_body<T: Real>(
    p: &Problem<'_, T>,
    floor: T,
    mean: &mut [T],
    s: &mut Scratch<T>,
    dist: &mut [T],
) -> (f64, f64) {
    targets_mean(p, mean);
    centred_targets(p, mean, &mut s.targets);
    distances_body(p.n, p.dim, &s.targets, floor, dist, &mut s.norms);
    p.weights_into(&mut s.weights);
    scale_sums(dist, &s.weights, p.n)
}

/// Pass 2 of one problem: the centred targets again (from pass 1's `mean`), the distances where
/// pass 1 could not keep them, then [`forces_body`].
#[inline(always)]
fn second_pass_body<T: Real>(
    p: &Problem<'_, T>,
    mean: &[T],
    kept: Option<&[T]>,
    inv_scale: T,
    temperatures: &[T],
    k: &OfficialConstants,
    s: &mut Scratch<T>,
    field: &mut [T],
) -> Vec<f64> {
    centred_targets(p, mean, &mut s.targets);
    let mut own = std::mem::take(&mut s.dist);
    let dist: &[T] = match kept {
        Some(d) => d,
        None => {
            let d = sized(&mut own, p.n * p.m());
            let floor = T::of(k.distance_floor);
            distances_body(p.n, p.dim, &s.targets, floor, d, &mut s.norms);
            d
        }
    };
    let squares = forces_body(p, p.dim, dist, inv_scale, temperatures, k, s, field);
    s.dist = own;
    squares
}

/// Pass 3 of one problem: `v = Σ_R weights[R] G_R` (`field` holds the `G_R` one after the
/// other), `out += out_scale · v`; returns `(Σ v², len)`.
#[inline(always)]
fn combine_body<T: Real>(
    field: &[T],
    weights: &[f64],
    out: &mut [T],
    out_scale: T,
    v: &mut Vec<T>,
) -> (f64, f64) {
    let len = out.len();
    v.clear();
    let w0 = T::of(weights[0]);
    v.extend(field[..len].iter().map(|g| *g * w0));
    for (r, w) in weights.iter().enumerate().skip(1) {
        let w = T::of(*w);
        let g = &field[r * len..(r + 1) * len];
        v.iter_mut().zip(g).for_each(|(v, g)| *v += *g * w);
    }
    out.iter_mut()
        .zip(v.iter())
        .for_each(|(o, v)| *o += out_scale * *v);
    (sum_squares(v), len as f64)
}

with_avx2_copy!(
    /// [`first_pass_body`], in the AVX2+FMA copy where the CPU has it.
    fn first_pass / first_pass_avx2_fma = first_pass_body(
        p: &Problem<'_, T>,
        floor: T,
        mean: &mut [T],
        s: &mut Scratch<T>,
        dist: &mut [T]
    ) -> (f64, f64)
);

with_avx2_copy!(
    /// [`second_pass_body`], in the AVX2+FMA copy where the CPU has it.
    fn second_pass / second_pass_avx2_fma = second_pass_body(
        p: &Problem<'_, T>,
        mean: &[T],
        kept: Option<&[T]>,
        inv_scale: T,
        temperatures: &[T],
        k: &OfficialConstants,
        s: &mut Scratch<T>,
        field: &mut [T]
    ) -> Vec<f64>
);

with_avx2_copy!(
    /// [`combine_body`], in the AVX2+FMA copy where the CPU has it.
    fn combine_one / combine_avx2_fma = combine_body(
        field: &[T],
        weights: &[f64],
        out: &mut [T],
        out_scale: T,
        v: &mut Vec<T>
    ) -> (f64, f64)
);

/// The official loss's passes on the host (the stages every backend that declines the job gets).
pub(super) struct CpuStages<'a, T: Real> {
    batch: &'a ProblemBatch<'a, T>,
    taus: Vec<T>,
    k: OfficialConstants,
    /// Each problem's first entry among the kept distances (`B + 1` offsets).
    dist_offsets: Vec<usize>,
    /// The distances of pass 1, when they fit [`KEPT_DISTANCES_BYTES`] (empty otherwise).
    kept: Option<Vec<T>>,
    /// Each problem's targets' mean (`B × D`), taken in pass 1 and reused in pass 2.
    means: Vec<T>,
    /// Every temperature's `G_R`, problem after problem (`R × N_b × D` each).
    fields: Vec<T>,
    /// Each problem's first row among `fields` (the generated samples' offsets times `R`).
    stacked: Vec<usize>,
}

impl<'a, T: Real> CpuStages<'a, T> {
    pub(super) fn new(
        batch: &'a ProblemBatch<'a, T>,
        temperatures: &[f64],
        k: OfficialConstants,
    ) -> Result<Self> {
        let (dist_offsets, kept) = buffers::kept_blocks(
            "deng_official distances",
            batch.problems(),
            |b| Self::dist_len(batch, b),
            KEPT_DISTANCES_BYTES,
        )?;
        Ok(CpuStages {
            batch,
            taus: temperatures.iter().map(|t| T::of(*t)).collect(),
            k,
            dist_offsets,
            kept,
            // One entry per problem even at `D = 0`, so that pass 1 can zip them with the problems.
            means: vec![T::zero(); batch.problems() * batch.dim().max(1)],
            fields: Vec::new(),
            stacked: Vec::new(),
        })
    }

    fn dist_len(batch: &ProblemBatch<'_, T>, b: usize) -> usize {
        batch.x.len(b) * Problem::of(batch, b).m()
    }
}

impl<T: Real> OfficialStages<T> for CpuStages<'_, T> {
    fn scale_sums(&mut self) -> Result<Vec<(f64, f64)>> {
        let (batch, dim) = (self.batch, self.batch.dim());
        let problems = batch.problems();
        let floor = T::of(self.k.distance_floor);
        let kept_parts: Vec<Option<&mut [T]>> = match &mut self.kept {
            Some(kept) => split_per_problem(kept, &self.dist_offsets, 1)
                .into_iter()
                .map(Some)
                .collect(),
            None => (0..problems).map(|_| None).collect(),
        };
        let means: Vec<&mut [T]> = self.means.chunks_mut(dim.max(1)).collect();
        Ok(kept_parts
            .into_par_iter()
            .zip(means)
            .enumerate()
            .map_init(Scratch::<T>::default, |s, (b, (kept, mean))| {
                let p = Problem::of(batch, b);
                let mut own = std::mem::take(&mut s.dist);
                let dist = match kept {
                    Some(d) => d,
                    None => sized(&mut own, Self::dist_len(batch, b)),
                };
                let sums = first_pass(&p, floor, mean, s, dist);
                s.dist = own;
                sums
            })
            .collect())
    }

    fn forces(&mut self, scales: &[f64]) -> Result<Vec<Vec<f64>>> {
        let (batch, dim) = (self.batch, self.batch.dim());
        let n_t = self.taus.len();
        self.fields = buffers::take::<T>("deng_official fields", n_t * batch.field_len())?;
        self.stacked = batch.x.offsets().iter().map(|o| o * n_t).collect();
        let per_problem = split_per_problem(&mut self.fields, &self.stacked, dim);
        let (kept, offsets, taus, k) = (&self.kept, &self.dist_offsets, &self.taus, &self.k);
        let means = &self.means;
        Ok(per_problem
            .into_par_iter()
            .enumerate()
            .map_init(Scratch::<T>::default, |s, (b, field)| {
                let p = Problem::of(batch, b);
                let kept = kept.as_ref().map(|d| &d[offsets[b]..offsets[b + 1]]);
                let mean = &means[b * dim..(b + 1) * dim];
                let inv = T::of(1.0 / scales[b].max(k.scale_floor));
                second_pass(&p, mean, kept, inv, taus, k, s, field)
            })
            .collect())
    }

    fn combine(
        &mut self,
        weights: &[Vec<f64>],
        out: &mut [T],
        out_scale: T,
    ) -> Result<Vec<(f64, f64)>> {
        let dim = self.batch.dim();
        let outs = split_per_problem(out, self.batch.x.offsets(), dim);
        let (fields, stacked) = (&self.fields, &self.stacked);
        Ok(outs
            .into_par_iter()
            .enumerate()
            .map_init(Vec::<T>::new, |v, (b, o)| {
                // V = Σ_R weight_R G_R.
                let field = &fields[stacked[b] * dim..stacked[b + 1] * dim];
                combine_one(field, &weights[b], o, out_scale, v)
            })
            .collect())
    }
}

impl<T: Real> Drop for CpuStages<'_, T> {
    fn drop(&mut self) {
        buffers::give_back(std::mem::take(&mut self.fields));
        if let Some(kept) = self.kept.take() {
            buffers::give_back(kept);
        }
    }
}
