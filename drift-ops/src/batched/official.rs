//! The official drifting loss's field on a batch of problems: the fast path behind
//! [`crate::DengOfficial`].
//!
//! Per problem `b` (targets `t = [x; negatives; positives]`, target weights `w`, `MATH.md`):
//!
//! ```text
//! d_ij  = sqrt(max(‖x_i − t_j‖², 1e-8))
//! s     = Σ_{b,i,j} w_j d_ij / Σ_b N_b Σ_j w_j          (over the batch, or per problem)
//! c     = max(s/√D, 1e-3),  d̂ = d / max(s, 1e-3) + 100·[j = i]
//! per R: ℓ = −d̂/R,  A = sqrt(max(softmax_j ℓ ⊙ softmax_i ℓ, floor)) · w_j
//!        C_ij = −A_ij ΣA⁺_i (j in [x; negatives]),  A_ij ΣA⁻_i (j a positive)
//!        G = C t − (Σ_j C_ij) x_i                        (data units: F_R = G/c)
//!        λ_R = sqrt(max(mean F_R², 1e-8))                 (over the batch, or per problem)
//! V = c Σ_R F_R/λ_R = Σ_R G_R / λ_R
//! ```
//!
//! Three passes, each parallel over the problems with per-thread scratch (nothing allocated per
//! problem): the distances and the scale's sums (distances kept for the second pass when they fit
//! [`KEPT_DISTANCES_BYTES`]); every temperature's `G_R` from one stacked product `[C_R; …] · t`;
//! the normalised sum. The two dense products per problem (`x tᵀ` for the distances from `D = 16`,
//! `C t`) run on the `gemm` crate.

use super::buffers;
use super::lanes::{
    lane_dot, lane_min, lane_sum, sized, sq_distances, sum_squares, with_avx2_copy,
};
use super::problem::{centred_targets, Problem};
use super::statistics::{ratio_of_sums, temperature_lambdas};
use crate::dense::{matmul, View};
use drift_api::batch::split_per_problem;
use drift_api::kit::{Collective, ProblemBatch, Reduction};
use drift_api::{DriftError, Real, Result};
use rayon::prelude::*;

/// Distances are kept between the first two passes up to this many bytes (recomputed beyond).
pub const KEPT_DISTANCES_BYTES: usize = 512 << 20;

/// The constants of the official loss (its defaults: `1e-8`, `1e-3`, `100`, `1e-6`, `1e-8`).
#[derive(Clone, Copy, Debug)]
pub struct OfficialConstants {
    /// Floor of the squared distances.
    pub distance_floor: f64,
    /// Floor of the scale (and of `s/√D`).
    pub scale_floor: f64,
    /// Added to the normalised distance of a generated sample to itself.
    pub self_mask: f64,
    /// Floor of the product of the two softmaxes.
    pub affinity_floor: f64,
    /// Floor of each `mean F_R²`.
    pub norm_floor: f64,
}

/// What the pass reports: the scale(s) and the normalisers.
#[derive(Clone, Debug, Default)]
pub struct OfficialOutcome {
    /// The feature scale `s` (over the batch, or the mean of the per-problem scales).
    pub scale: f64,
    /// `λ_R` per temperature (over the batch, or the mean of the per-problem values).
    pub lambdas: Vec<f64>,
    /// The sum of the field's squares and the count of its values (for the drift norm).
    pub field_sums: Vec<(f64, f64)>,
}
/// Per-thread buffers, grown to the largest problem and reused.
#[derive(Default)]
struct Scratch<T> {
    /// The targets `[x; negatives; positives]` centred on their mean (`M × D`).
    targets: Vec<T>,
    dist: Vec<T>,
    norms: Vec<T>,
    logits: Vec<T>,
    row: Vec<T>,
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
    let floor = T::of(k.affinity_floor);
    // No subnormal numbers: they cost a micro-code assist per operation on x86 (the official
    // code runs with them flushed to zero). Exponents stop where a term is below 2⁻²³ (f32) of
    // the smallest normal number divided by the row's or column's length: a sum that holds its
    // largest term, 1, cannot see it. Each softmax factor stops at the floor (when the floor is
    // positive, a factor below it makes the product floored anyway: the same result), else at
    // the root of the smallest normal number.
    let lowest = T::min_positive_value().ln() + T::of(16.0);
    let tiny = if k.affinity_floor > 0.0 {
        floor
    } else {
        T::min_positive_value().sqrt()
    };
    let coeff = sized(&mut s.coeff, temperatures.len() * nm);
    let row = sized(&mut s.row, nm);
    let col = sized(&mut s.col, nm);
    // A = sqrt(max(p_row p_col, floor)) = max(sqrt(p_row) sqrt(p_col), sqrt(floor)): the passes
    // take the exponentials of half the logits, whose squares sum to the softmaxes' normalisers,
    // so that no entry needs a square root.
    let (lowest_half, root_tiny, root_floor) = (lowest * T::of(0.5), tiny.sqrt(), floor.sqrt());
    for (r, &tau) in temperatures.iter().enumerate() {
        let half = -T::of(0.5) / tau;
        // Row softmax: over the targets of each generated sample.
        for i in 0..n {
            let (src, dst) = (&logits[i * m..(i + 1) * m], &mut row[i * m..(i + 1) * m]);
            let top = lane_min(src);
            for (o, v) in dst.iter_mut().zip(src) {
                *o = ((*v - top) * half).max(lowest_half);
            }
        }
        T::exp_in_place(row);
        for i in 0..n {
            let dst = &mut row[i * m..(i + 1) * m];
            let inv = T::one() / lane_dot(dst, dst).sqrt();
            dst.iter_mut().for_each(|v| *v = (*v * inv).max(root_tiny));
        }
        // Column softmax: over the generated samples of each target.
        let col_top = &mut s.norms;
        col_top.clear();
        col_top.resize(m, T::infinity());
        for i in 0..n {
            for (t, v) in col_top.iter_mut().zip(&logits[i * m..(i + 1) * m]) {
                *t = t.min(*v);
            }
        }
        for i in 0..n {
            let (src, dst) = (&logits[i * m..(i + 1) * m], &mut col[i * m..(i + 1) * m]);
            for ((o, v), t) in dst.iter_mut().zip(src).zip(col_top.iter()) {
                *o = ((*v - *t) * half).max(lowest_half);
            }
        }
        T::exp_in_place(col);
        let col_sum = &mut s.sums;
        col_sum.clear();
        col_sum.resize(m, T::zero());
        for i in 0..n {
            for (t, v) in col_sum.iter_mut().zip(&col[i * m..(i + 1) * m]) {
                *t += *v * *v;
            }
        }
        col_sum.iter_mut().for_each(|v| *v = T::one() / v.sqrt());
        // A, then the coefficients.
        let c = &mut coeff[r * nm..(r + 1) * nm];
        for i in 0..n {
            let range = i * m..(i + 1) * m;
            let (a_row, a_col, out) = (&row[range.clone()], &col[range.clone()], &mut c[range]);
            for (((o, pr), pc), cs) in out.iter_mut().zip(a_row).zip(a_col).zip(col_sum.iter()) {
                *o = (*pr * (*pc * *cs).max(root_tiny)).max(root_floor);
            }
        }
        for i in 0..n {
            let out = &mut c[i * m..(i + 1) * m];
            out.iter_mut().zip(w.iter()).for_each(|(a, w)| *a *= *w);
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

with_avx2_copy!(
    /// [`forces_body`], in the AVX2+FMA copy where the CPU has it.
    fn forces / forces_avx2_fma = forces_body(
        p: &Problem<'_, T>,
        dim: usize,
        dist: &[T],
        inv_scale: T,
        temperatures: &[T],
        k: &OfficialConstants,
        s: &mut Scratch<T>,
        field: &mut [T]
    ) -> Vec<f64>
);

with_avx2_copy!(
    /// [`distances_body`], in the AVX2+FMA copy where the CPU has it.
    fn distances / distances_avx2_fma = distances_body(
        n: usize,
        dim: usize,
        targets: &[T],
        floor: T,
        dist: &mut [T],
        norms: &mut Vec<T>
    ) -> ()
);

/// Adds `scale · V` of the official loss for every problem into `out`; `temperatures` are the
/// effective ones (the operator's times the context's factor).
pub fn official_field<T: Real>(
    batch: &ProblemBatch<'_, T>,
    out: &mut [T],
    out_scale: T,
    temperatures: &[f64],
    over: Reduction,
    k: &OfficialConstants,
    collective: &dyn Collective,
) -> Result<OfficialOutcome> {
    let (problems, dim) = (batch.problems(), batch.dim());
    if let Some(b) = (0..problems).find(|&b| batch.x.len(b) == 0 || batch.y.len(b) == 0) {
        return Err(DriftError::InProblem {
            index: b,
            source: Box::new(DriftError::TooFewPoints {
                what: "deng_official (generated samples and positives)".into(),
                needed: 1,
                found: 0,
            }),
        });
    }
    let dist_len = |b: usize| batch.x.len(b) * Problem::of(batch, b).m();
    let (dist_offsets, kept) = buffers::kept_blocks(
        "deng_official distances",
        problems,
        dist_len,
        KEPT_DISTANCES_BYTES,
    )?;
    let keep = kept.is_some();
    let mut kept: Vec<T> = kept.unwrap_or_default();
    let floor = T::of(k.distance_floor);
    // Pass 1: distances and the scale's sums.
    let kept_parts: Vec<Option<&mut [T]>> = if keep {
        split_per_problem(&mut kept, &dist_offsets, 1)
            .into_iter()
            .map(Some)
            .collect()
    } else {
        (0..problems).map(|_| None).collect()
    };
    let sums: Vec<(f64, f64)> = kept_parts
        .into_par_iter()
        .enumerate()
        .map_init(Scratch::<T>::default, |s, (b, kept)| {
            let p = Problem::of(batch, b);
            centred_targets(&p, &mut s.targets);
            let dist = match kept {
                Some(d) => d,
                None => sized(&mut s.dist, dist_len(b)),
            };
            distances(p.n, dim, &s.targets, floor, dist, &mut s.norms);
            p.weights_into(&mut s.weights);
            scale_sums(dist, &s.weights, p.n)
        })
        .collect();
    let scales = ratio_of_sums(&sums, over, collective)?;
    if let Some(b) = scales.iter().position(|s| !s.is_finite()) {
        return Err(DriftError::InProblem {
            index: b,
            source: Box::new(DriftError::NonFiniteResult {
                what: "deng_official scale".into(),
                index: 0,
            }),
        });
    }
    // Pass 2: every temperature's G_R per problem.
    let n_t = temperatures.len();
    let mut fields = buffers::take::<T>("deng_official fields", n_t * out.len())?;
    let stacked: Vec<usize> = batch.x.offsets().iter().map(|o| o * n_t).collect();
    let per_problem = split_per_problem(&mut fields, &stacked, dim);
    let taus: Vec<T> = temperatures.iter().map(|t| T::of(*t)).collect();
    let kept_ref = &kept;
    let squares: Vec<Vec<f64>> = per_problem
        .into_par_iter()
        .enumerate()
        .map_init(Scratch::<T>::default, |s, (b, field)| {
            let p = Problem::of(batch, b);
            let len = dist_len(b);
            centred_targets(&p, &mut s.targets);
            let mut dist = std::mem::take(&mut s.dist);
            let d: &[T] = if keep {
                &kept_ref[dist_offsets[b]..dist_offsets[b + 1]]
            } else {
                let d = sized(&mut dist, len);
                distances(p.n, dim, &s.targets, floor, d, &mut s.norms);
                d
            };
            let inv = T::of(1.0 / scales[b].max(k.scale_floor));
            let sq = forces(&p, dim, d, inv, &taus, k, s, field);
            s.dist = dist;
            sq
        })
        .collect();
    // Pass 3: λ_R and the normalised sum. Σ F_R² = Σ G_R² / c².
    let c: Vec<f64> = scales
        .iter()
        .map(|s| (s / (dim as f64).sqrt()).max(k.scale_floor))
        .collect();
    let counts: Vec<f64> = (0..problems)
        .map(|b| (batch.x.len(b) * dim) as f64)
        .collect();
    let lambda_of = |sq: f64, count: f64| (sq / count).max(k.norm_floor).sqrt();
    // Σ F_R² = Σ G_R² / c², in the order the sums were taken before.
    let scaled: Vec<Vec<f64>> = squares
        .iter()
        .zip(&c)
        .map(|(s, c)| s.iter().map(|sq| sq / (c * c)).collect())
        .collect();
    let lambdas = temperature_lambdas(&scaled, &counts, over, collective, lambda_of)?;
    let outs = split_per_problem(out, batch.x.offsets(), dim);
    let fields_ref = &fields;
    let field_sums: Vec<(f64, f64)> = outs
        .into_par_iter()
        .enumerate()
        .map_init(Vec::<T>::new, |v, (b, o)| {
            // V = c Σ_R F_R/λ_R = Σ_R G_R/λ_R.
            let len = o.len();
            let field = &fields_ref[stacked[b] * dim..stacked[b + 1] * dim];
            v.clear();
            let w0 = T::of(1.0 / lambdas[b][0]);
            v.extend(field[..len].iter().map(|g| *g * w0));
            for (r, l) in lambdas[b].iter().enumerate().skip(1) {
                let w = T::of(1.0 / l);
                let g = &field[r * len..(r + 1) * len];
                v.iter_mut().zip(g).for_each(|(v, g)| *v += *g * w);
            }
            o.iter_mut()
                .zip(v.iter())
                .for_each(|(o, v)| *o += out_scale * *v);
            (sum_squares(v), counts[b])
        })
        .collect();
    buffers::give_back(fields);
    buffers::give_back(kept);
    if let Some(index) = out.iter().position(|v| !v.is_finite()) {
        return Err(DriftError::NonFiniteResult {
            what: "deng_official field".into(),
            index,
        });
    }
    let mean = |v: &mut dyn Iterator<Item = f64>| v.sum::<f64>() / problems.max(1) as f64;
    Ok(OfficialOutcome {
        scale: mean(&mut scales.iter().copied()),
        lambdas: (0..n_t)
            .map(|r| mean(&mut lambdas.iter().map(|l| l[r])))
            .collect(),
        field_sums,
    })
}
