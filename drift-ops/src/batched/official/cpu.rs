//! The CPU stages of the official loss ([`OfficialStages`]): three passes, each parallel over the
//! problems with per-thread scratch (nothing allocated per problem): the distances and the scale's
//! sums (distances kept for the second pass when they fit [`KEPT_DISTANCES_BYTES`]); every
//! temperature's `G_R` from one stacked product `[C_R; …] · t`; the weighted sum. The two dense
//! products per problem (`x tᵀ` for the distances from `D = 16`, `C t`) run on the `gemm` crate.

use super::KEPT_DISTANCES_BYTES;
use crate::batched::buffers;
use crate::batched::lanes::{
    add_gram_block, gram_distances, lane_dot, lane_min, lane_sum, sized, sq_distances, sum_squares,
    with_avx2_copy, GRAM_FROM_DIM,
};
use crate::batched::problem::{centred_targets, targets_mean, Problem};
use crate::dense::{matmul, View};
use drift_api::batch::split_per_problem;
use drift_api::kit::{OfficialConstants, OfficialStages, ProblemBatch, SoftmaxFloors};
use drift_api::{Real, Result};
use rayon::prelude::*;
use std::ops::Range;

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
    /// The problem's targets' mean, where pass 2 recomputes the distances.
    mean: Vec<T>,
    sums: Vec<T>,
    weights: Vec<T>,
}

/// The targets are centred and multiplied a block of coordinates at a time, each block at most
/// this many bytes: it stays in the nearest caches between its centring and its product (at
/// `D = 2048` the whole targets, 1.7 MB, did not).
const BLOCK_BYTES: usize = 256 << 10;

/// The blocks of coordinates of `M` targets in `D` dimensions ([`BLOCK_BYTES`] each, in multiples
/// of 16 coordinates; one block where they all fit).
fn column_blocks<T>(m: usize, dim: usize) -> impl Iterator<Item = Range<usize>> {
    let fit = BLOCK_BYTES / (m.max(1) * std::mem::size_of::<T>()) / 16 * 16;
    let width = if fit >= dim { dim } else { fit.max(64) }.max(1);
    (0..dim)
        .step_by(width)
        .map(move |a| a..(a + width).min(dim))
}

/// `d_ij = sqrt(max(‖x_i − t_j‖², floor))` into `dist` (`N × M`) from the targets centred on
/// `mean` (taken here when `fresh_mean`, block by block), whose first `N` rows are the generated
/// samples; the diagonal of the generated block is exactly the floor's root.
#[inline(always)]
fn distances_body<T: Real>(
    p: &Problem<'_, T>,
    mean: &mut [T],
    fresh_mean: bool,
    floor: T,
    s: &mut Scratch<T>,
    dist: &mut [T],
) {
    let (n, m, dim) = (p.n, p.m(), p.dim);
    if dim < GRAM_FROM_DIM {
        if fresh_mean {
            targets_mean(p, 0..dim, mean);
        }
        centred_targets(p, 0..dim, mean, &mut s.targets);
        sq_distances(&s.targets[..n * dim], dim, &s.targets, dist, &mut s.norms);
    } else {
        for cols in column_blocks::<T>(m, dim) {
            let (first, width) = (cols.start == 0, cols.len());
            let mean = &mut mean[cols.clone()];
            if fresh_mean {
                targets_mean(p, cols.clone(), mean);
            }
            centred_targets(p, cols, mean, &mut s.targets);
            let t = &s.targets;
            add_gram_block(&t[..n * width], t, width, first, &mut s.norms);
        }
        gram_distances(n, m, &mut s.norms, dist);
    }
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

/// How far (in units of the exponent of half a logit) every row's and column's smallest logit
/// may lie from the problem's smallest for the softmaxes to take one shift.
///
/// A softmax does not depend on its shift, so shifting every logit by the problem's smallest,
/// `g`, gives both softmaxes from one exponential per entry (each row and each column then
/// normalised by its own norm), where a shift per row and one per column take two exponentials.
/// Within this span every exponential that matters (a softmax factor above the affinity floor's
/// root, or a norm's term above 1e-9 of its largest) is a normal number far above the exponent
/// floor (`f32`'s: the clamped ones stay below the floor's root once normalised, and their
/// squares below 1e-9 of a norm), so one shift gives the results of separate shifts up to
/// rounding (the exponents grow by at most the span, so their rounding by up to 1e-6 of an
/// entry); beyond it (a generated sample or a target far from all the others, at a low
/// temperature) the passes take separate shifts.
const ONE_SHIFT_SPAN: f64 = 20.0;

/// The span within which the softmaxes take one shift: [`ONE_SHIFT_SPAN`], less where an
/// exponential clamped at the exponent floor, normalised, could exceed the softmax factors'
/// floor (`f32` without an affinity floor: 12.9).
fn one_shift_limit<T: Real>(k: &OfficialConstants) -> f64 {
    let f = k.softmax_floors::<T>();
    ONE_SHIFT_SPAN.min((f.root_tiny.ln() - f.lowest_half).as_f64() - 1.0)
}

/// The coefficients `C_R` (`N × M`) of one problem for every temperature, into `s.coeff`
/// (`R·N × M`, temperature after temperature), from its distances; one shift per softmax pass
/// where the logits' minima span at most `one_shift_span` ([`ONE_SHIFT_SPAN`]).
#[inline(always)]
#[allow(clippy::too_many_arguments)]
fn forces_body<T: Real>(
    p: &Problem<'_, T>,
    dist: &[T],
    inv_scale: T,
    temperatures: &[T],
    k: &OfficialConstants,
    one_shift_span: f64,
    s: &mut Scratch<T>,
) {
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
    // One shift for the whole problem where it is safe ([`one_shift_limit`]).
    let lowest = row_top.iter().fold(T::infinity(), |a, v| a.min(*v));
    let highest = row_top
        .iter()
        .chain(col_top.iter())
        .fold(T::neg_infinity(), |a, v| a.max(*v));
    let span = (highest - lowest).as_f64();
    for (r, &tau) in temperatures.iter().enumerate() {
        let half = -T::of(0.5) / tau;
        let one_shift = span * 0.5 / tau.as_f64() <= one_shift_span;
        // One sweep over the generated samples, each row read while it is in the nearest cache:
        // the row softmax (over the targets of each generated sample) and its norm, the column
        // softmax's exponentials (over the generated samples of each target; the same ones with
        // one shift) and their squares' sums. The exponents lie in [lowest_half, 0].
        let row_scale = sized(&mut s.row_scale, n);
        let col_sum = &mut s.sums;
        col_sum.clear();
        col_sum.resize(m, T::zero());
        for i in 0..n {
            let range = i * m..(i + 1) * m;
            let (src, dst) = (&logits[range.clone()], &mut row[range.clone()]);
            let top = if one_shift { lowest } else { row_top[i] };
            for (o, v) in dst.iter_mut().zip(src) {
                *o = ((*v - top) * half).max(lowest_half);
            }
            T::exp_nonpositive_in_place(dst);
            row_scale[i] = T::one() / lane_dot(dst, dst).sqrt();
            let dst = if one_shift {
                &*dst
            } else {
                let dst = &mut col[range];
                for ((o, v), t) in dst.iter_mut().zip(src).zip(col_top.iter()) {
                    *o = ((*v - *t) * half).max(lowest_half);
                }
                T::exp_nonpositive_in_place(dst);
                &*dst
            };
            for (t, v) in col_sum.iter_mut().zip(dst.iter()) {
                *t += *v * *v;
            }
        }
        col_sum.iter_mut().for_each(|v| *v = T::one() / v.sqrt());
        // A times the target weights (the row and column normalisations applied on the way),
        // then the coefficients.
        let c = &mut coeff[r * nm..(r + 1) * nm];
        let columns: &[T] = if one_shift { row } else { col };
        for (i, inv) in row_scale.iter().enumerate() {
            let range = i * m..(i + 1) * m;
            let (a_row, a_col) = (&row[range.clone()], &columns[range.clone()]);
            let out = &mut c[range];
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
}

/// `G_R = C_R t − (Σ_j C_ij) x_i` of every temperature into `field` (`R·N × D`): one stacked
/// product `[C_R; …] · t` per block of coordinates ([`column_blocks`]), each block of the targets
/// centred on `mean` just before; returns `Σ G_R²` per temperature.
#[inline(always)]
fn products_body<T: Real>(
    p: &Problem<'_, T>,
    mean: &[T],
    temperatures: usize,
    s: &mut Scratch<T>,
    field: &mut [T],
) -> Vec<f64> {
    let (n, m, dim) = (p.n, p.m(), p.dim);
    let rows = temperatures * n;
    // − (Σ_j C_ij) x_i folded into the coefficients: x_i is target i, so C_ii takes it and the
    // product gives G_R directly (no sweep over the field to correct it).
    let coeff = &mut s.coeff[..rows * m];
    for (row, c) in coeff.chunks_exact_mut(m).enumerate() {
        let total = lane_sum(c);
        c[row % n] -= total;
    }
    let coeff = &s.coeff[..rows * m];
    let mut squares = vec![0.0f64; temperatures];
    for cols in column_blocks::<T>(m, dim) {
        let width = cols.len();
        centred_targets(p, cols.clone(), &mean[cols.clone()], &mut s.targets);
        matmul(
            &mut field[cols.start..],
            dim,
            false,
            View::new(coeff, rows, m),
            View::new(&s.targets, m, width),
            false,
            T::one(),
        );
        for (row, out) in field.chunks_exact(dim).enumerate() {
            squares[row / n] += sum_squares(&out[cols.clone()]);
        }
    }
    squares
}

/// Pass 1 of one problem: the targets' mean into `mean`, the distances into `dist` (the targets
/// centred block by block), and the scale's sums.
#[inline(always)]
fn first_pass_body<T: Real>(
    p: &Problem<'_, T>,
    floor: T,
    mean: &mut [T],
    s: &mut Scratch<T>,
    dist: &mut [T],
) -> (f64, f64) {
    distances_body(p, mean, true, floor, s, dist);
    p.weights_into(&mut s.weights);
    scale_sums(dist, &s.weights, p.n)
}

/// Pass 2 of one problem: the distances where pass 1 could not keep them, the coefficients
/// ([`forces_body`]), then the products ([`products_body`]) with the targets centred on pass 1's
/// `mean`.
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
    let mut own = std::mem::take(&mut s.dist);
    let dist: &[T] = match kept {
        Some(d) => d,
        None => {
            let d = sized(&mut own, p.n * p.m());
            let mut known = std::mem::take(&mut s.mean);
            known.clear();
            known.extend_from_slice(mean);
            let floor = T::of(k.distance_floor);
            distances_body(p, &mut known, false, floor, s, d);
            s.mean = known;
            d
        }
    };
    let one_shift_span = one_shift_limit::<T>(k);
    forces_body(p, dist, inv_scale, temperatures, k, one_shift_span, s);
    s.dist = own;
    products_body(p, mean, temperatures.len(), s, field)
}

/// Pass 3 of one problem: `v = Σ_R weights[R] G_R` (`field` holds the `G_R` one after the
/// other), `out += out_scale · v`; returns `(Σ v², len)`. `v` is formed a chunk at a time in `v`,
/// so that it never leaves the nearest cache.
#[inline(always)]
fn combine_body<T: Real>(
    field: &[T],
    weights: &[f64],
    out: &mut [T],
    out_scale: T,
    v: &mut Vec<T>,
) -> (f64, f64) {
    const CHUNK: usize = 512;
    let len = out.len();
    let w: Vec<T> = weights.iter().map(|w| T::of(*w)).collect();
    let mut squares = 0.0f64;
    for (c, o) in out.chunks_mut(CHUNK).enumerate() {
        let at = c * CHUNK;
        let v = sized(v, o.len());
        let g0 = &field[at..at + o.len()];
        v.iter_mut().zip(g0).for_each(|(v, g)| *v = *g * w[0]);
        for (r, w) in w.iter().enumerate().skip(1) {
            let g = &field[r * len + at..r * len + at + o.len()];
            v.iter_mut().zip(g).for_each(|(v, g)| *v += *g * *w);
        }
        o.iter_mut()
            .zip(v.iter())
            .for_each(|(o, v)| *o += out_scale * *v);
        squares += sum_squares(v);
    }
    (squares, len as f64)
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
            .map_init(buffers::pooled::<Scratch<T>>, |s, (b, (kept, mean))| {
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
            .map_init(buffers::pooled::<Scratch<T>>, |s, (b, field)| {
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
            .map_init(buffers::pooled::<Vec<T>>, |v, (b, o)| {
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

#[cfg(test)]
mod tests {
    use super::*;
    use drift_api::kit::BatchSets;

    /// The three passes on `batch`, with pass 1's distances kept or recomputed in pass 2.
    fn field<T: Real>(batch: &ProblemBatch<'_, T>, keep: bool) -> Vec<T> {
        let mut stages = CpuStages::new(batch, &[0.02, 0.05, 0.2], CONSTANTS).unwrap();
        if !keep {
            stages.kept = None;
        }
        let scales: Vec<f64> = stages
            .scale_sums()
            .unwrap()
            .iter()
            .map(|(num, den)| num / den)
            .collect();
        let squares = stages.forces(&scales).unwrap();
        let weights: Vec<Vec<f64>> = squares
            .iter()
            .map(|s| s.iter().map(|v| 1.0 / (1.0 + v)).collect())
            .collect();
        let mut out = vec![T::zero(); batch.field_len()];
        stages.combine(&weights, &mut out, T::one()).unwrap();
        out
    }

    fn points(count: usize, seed: u64) -> Vec<f32> {
        (0..count)
            .map(|i| ((i as u64 * 2654435761 + seed) % 1000) as f32 / 250.0 - 2.0)
            .collect()
    }

    /// Pass 2 recomputes the distances where pass 1 could not keep them (batches beyond
    /// `KEPT_DISTANCES_BYTES`): from the same mean, so the fields are equal bit for bit, for
    /// differences' squares (`D = 8`), one block of coordinates (`D = 24`, `3000`) and several
    /// (`D = 8000`: 18 targets of f32 fill a block at 3632 coordinates).
    #[test]
    fn recomputed_distances_equal_the_kept_ones() {
        for dim in [8, 24, 3000, 8000] {
            let (b, n, neg, pos) = (3, 5, 3, 10);
            let (x, yn, yp) = (
                points(b * n * dim, 1),
                points(b * neg * dim, 2),
                points(b * pos * dim, 3),
            );
            let sets = |d, c| BatchSets::dense("s", d, b, c, dim).unwrap();
            let batch = ProblemBatch::new(sets(&x, n), sets(&yp, pos))
                .unwrap()
                .with_negatives(sets(&yn, neg))
                .unwrap();
            let (kept, again) = (field(&batch, true), field(&batch, false));
            assert!(kept.iter().all(|v| v.is_finite()) && kept.iter().any(|v| *v != 0.0));
            assert_eq!(kept, again, "D = {dim}");
        }
    }

    /// The coefficients of the first problem of `batch` with softmax shifts chosen by `span`
    /// (`-1`: separate shifts; infinite: one shift whatever the logits).
    fn coefficients<T: Real>(batch: &ProblemBatch<'_, T>, span: f64) -> Vec<T> {
        let k = CONSTANTS;
        let p = Problem::of(batch, 0);
        let mut s = Scratch::default();
        let mut dist = vec![T::zero(); p.n * p.m()];
        let mut mean = vec![T::zero(); p.dim];
        distances_body(
            &p,
            &mut mean,
            true,
            T::of(k.distance_floor),
            &mut s,
            &mut dist,
        );
        let scale = dist.iter().map(|d| d.as_f64()).sum::<f64>() / dist.len() as f64;
        let taus = [0.02, 0.05, 0.2].map(T::of);
        forces_body(&p, &dist, T::of(1.0 / scale), &taus, &k, span, &mut s);
        s.coeff[..taus.len() * p.n * p.m()].to_vec()
    }

    const CONSTANTS: OfficialConstants = OfficialConstants {
        distance_floor: 1e-8,
        scale_floor: 1e-3,
        self_mask: 100.0,
        affinity_floor: 1e-6,
        norm_floor: 1e-8,
    };

    /// Within the limit, an exponential clamped at the exponent floor, normalised by the largest
    /// norm the span allows, stays below the softmax factors' floor: the same factor as with
    /// separate shifts.
    #[test]
    fn one_shift_keeps_clamped_exponentials_under_the_factor_floor() {
        fn check<T: Real>(k: &OfficialConstants) {
            let (limit, f) = (one_shift_limit::<T>(k), k.softmax_floors::<T>());
            assert!(limit <= ONE_SHIFT_SPAN);
            assert!((f.lowest_half.as_f64() + limit).exp() < f.root_tiny.as_f64());
        }
        let none = OfficialConstants {
            affinity_floor: 0.0,
            ..CONSTANTS
        };
        for k in [CONSTANTS, none] {
            check::<f32>(&k);
            check::<f64>(&k);
        }
        assert_eq!(one_shift_limit::<f32>(&CONSTANTS), ONE_SHIFT_SPAN);
    }

    /// `max |a − b| / max |b|`.
    fn apart<T: Real>(a: &[T], b: &[T]) -> f64 {
        let top = b.iter().fold(0.0f64, |m, v| m.max(v.as_f64().abs()));
        let gap = a
            .iter()
            .zip(b)
            .fold(0.0f64, |m, (x, y)| m.max((x.as_f64() - y.as_f64()).abs()));
        gap / top
    }

    /// One shift gives the separate shifts' coefficients up to rounding where the logits' minima
    /// lie close (here the passes take it at every temperature), and the passes keep separate
    /// shifts at a temperature where one generated sample lies too far from everything (one
    /// shift would flatten its softmax).
    #[test]
    fn one_shift_equals_separate_shifts_within_its_span_and_is_left_beyond() {
        let (n, neg, pos, dim) = (6, 3, 12, 64);
        // Independent uniform coordinates (`points` repeats itself across its seeds).
        let mut state = 0x9e37_79b9_7f4a_7c15u64;
        let mut uniform = |count: usize| -> Vec<f32> {
            (0..count)
                .map(|_| {
                    state ^= state << 13;
                    state ^= state >> 7;
                    state ^= state << 17;
                    (state >> 40) as f32 / (1u64 << 24) as f32 * 4.0 - 2.0
                })
                .collect()
        };
        let (mut x, yn, yp) = (uniform(n * dim), uniform(neg * dim), uniform(pos * dim));
        let check = |x: &[f32], far: bool| {
            let sets = |d, c| BatchSets::dense("s", d, 1, c, dim).unwrap();
            let to64 = |v: &[f32]| v.iter().map(|v| *v as f64).collect::<Vec<f64>>();
            let (x64, yn64, yp64) = (to64(x), to64(&yn), to64(&yp));
            let sets64 = |d, c| BatchSets::dense("s", d, 1, c, dim).unwrap();
            let b32 = ProblemBatch::new(sets(x, n), sets(&yp, pos))
                .unwrap()
                .with_negatives(sets(&yn, neg))
                .unwrap();
            let b64 = ProblemBatch::new(sets64(&x64, n), sets64(&yp64, pos))
                .unwrap()
                .with_negatives(sets64(&yn64, neg))
                .unwrap();
            let (separate, one) = (coefficients(&b32, -1.0), coefficients(&b32, f64::INFINITY));
            let chosen = coefficients(&b32, one_shift_limit::<f32>(&CONSTANTS));
            let (separate64, one64) = (coefficients(&b64, -1.0), coefficients(&b64, f64::INFINITY));
            if far {
                // One shift would flatten the far sample's softmax at τ = 0.02 (beyond the span:
                // separate shifts); at τ = 0.2 it stays within the span.
                let (first, last) = (0..n * (n + neg + pos), 2 * n * (n + neg + pos)..);
                assert_eq!(chosen[first.clone()], separate[first.clone()]);
                let gap = apart(&one[first.clone()], &separate[first]);
                assert!(gap > 1e-4, "{gap}");
                assert_eq!(chosen[last.clone()], one[last]);
            } else {
                assert_eq!(chosen, one);
                assert!(apart(&one, &separate) < 1e-6, "{}", apart(&one, &separate));
                assert!(apart(&one64, &separate64) < 1e-13);
            }
        };
        check(&x, false);
        // The first generated sample far from every target.
        x[..dim].iter_mut().for_each(|v| *v += 6.0);
        check(&x, true);
    }
}
