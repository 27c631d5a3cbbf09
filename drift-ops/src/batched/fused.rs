//! The fused batched path of a leaf drift with `feature_scale` / `multi_temperature` / `guidance`
//! around it ([`super::plan`]; guidance reweights the negatives first): per problem the squared distances are computed once and shared by every
//! temperature and both terms, while the problem's working set is in cache (one problem per thread
//! at a time), in parallel over the problems with per-thread scratch.
//!
//! Three passes, as in [`super::official`]: (A) per problem the distances, the feature scale's sums
//! and the precision bound (distances kept for B when they fit
//! [`super::official::KEPT_DISTANCES_BYTES`]); (B) every temperature's field `G_τ` (data units,
//! one stacked product per problem) and its sum of squares, and their weighted sum where the
//! weights are the problem's own; (C) the norms `λ_τ` (over the batch through the collective, or
//! per problem), the weighted sum where it needed them, and the output. Batches of one problem,
//! trees it does not cover, and inputs the general path would promote to f64 or refuse take the
//! general path instead.

use super::buffers;
use super::coefficients::Stacked;
use super::lanes::{sized, sum_squares};
use super::official::KEPT_DISTANCES_BYTES;
use super::plan::{plan_of, Leaf, Plan, Radial};
use super::prepared::{first_pass, kernel_distances, negatives_of, Prepared};
use super::statistics::{ratio_of_sums, temperature_lambdas};
use crate::compositions::guidance::with_guided_negatives;
use crate::compositions::multi_temperature::{refuse_negligible_weights, temperature_weight};
use drift_api::batch::{batch_norm, split_per_problem, support_len};
use drift_api::batch::{problem_by_problem, BatchProblem, TemperatureNorm};
use drift_api::kit::Tagged;
use drift_api::kit::{BatchSets, Reduction, WEIGHT_ERROR_TOLERANCE};
use drift_api::{
    BatchReport, CouplingReport, DriftError, DriftOperator, DriftReport, Real, Result,
};
use rayon::prelude::*;

/// Runs `op` on the batch on its fused path when it has one, else problem by problem.
pub(crate) fn run_or_default<O: DriftOperator, T: Real>(
    op: &O,
    mut p: BatchProblem<'_, T>,
) -> Result<BatchReport> {
    p.check()?;
    if let Some(report) = try_fused(op, &mut p)? {
        return Ok(report);
    }
    problem_by_problem(op, p.tagged())
}

/// The batch's report from the fused path of `op`, or `None` when `op` (or the batch) takes the
/// general path.
pub(crate) fn try_fused<T: Real>(
    op: &dyn DriftOperator,
    p: &mut BatchProblem<'_, T>,
) -> Result<Option<BatchReport>> {
    // Every process holds the same operator, so every process gets the same plan.
    let Some(plan) = plan_of(op) else {
        return Ok(None);
    };
    let Some(alpha) = plan.guidance else {
        return fused(&plan, p);
    };
    // Guidance inside the tree: the negatives weighted as `guidance` weighs them. Without
    // negatives the general path's error stands (`fused` refuses such a batch).
    let guided = with_guided_negatives(alpha, p.batch, |guided| {
        let mut q = BatchProblem {
            batch: guided,
            out: &mut *p.out,
            ..*p
        };
        fused(&plan, &mut q)
    })?;
    match guided {
        Some(report) => Ok(report),
        None => fused(&plan, p),
    }
}

/// What pass A gives per problem: `Σ_i a_i Σ_j b_j ‖x_i − y_j‖`, the pair count, a bound on the
/// radius² around the data's median.
type ScaleSums = (f64, f64, f64);

/// A usable scale (as `feature_scale`'s): coinciding points or an overflow leave the units as
/// they are.
fn usable(s: f64) -> f64 {
    if s > 0.0 && s.is_finite() {
        s
    } else {
        1.0
    }
}

fn fused<T: Real>(plan: &Plan, p: &mut BatchProblem<'_, T>) -> Result<Option<BatchReport>> {
    let batch = p.batch;
    let (problems, dim, leaf) = (batch.problems(), batch.dim(), plan.leaf);
    // Problems the general path refuses (no self-transport set, no mass, a masked diagonal
    // with one point) keep its errors.
    let refused = |b| {
        let x = support_len(&batch.x, b);
        let no_negatives = batch.negatives.as_ref().is_none_or(|n| n.len(b) == 0);
        x == 0
            || (plan.guidance.is_some() && no_negatives)
            || support_len(&batch.y, b) == 0
            || match leaf {
                Leaf::Sinkhorn {
                    particles: false, ..
                } => negatives_of(p, b).is_none(),
                _ => leaf.masks_self() && x < 2,
            }
    };
    // The processes of a collective decide together, as each path makes its own collective
    // calls and every process must make the same ones: the fused path only where no process
    // refuses it, and never for a batch of one problem over all of them, which stays today's
    // single-problem call bit for bit. (In one process the sum is the local values.)
    let mut votes = [
        f64::from(u8::from((0..problems).any(refused))),
        problems as f64,
    ];
    p.collective.all_reduce_sum(&mut votes)?;
    if votes[0] > 0.0 || votes[1] < 2.0 {
        return Ok(None);
    }
    if plan.multi.as_ref().is_some_and(|m| m.normalise) {
        for b in 0..problems {
            refuse_negligible_weights(&format!("x[{b}]"), batch.x.weights_of(b))?;
        }
    }
    let cols_of = |b: usize| {
        let own = if leaf.has_own_columns() {
            batch.x.len(b)
        } else {
            0
        };
        batch.y.len(b) + own + negatives_of(p, b).map_or(0, |n| n.len() / dim)
    };
    let (sq_offsets, kept) = buffers::kept_blocks(
        "fused batched distances",
        problems,
        |b| batch.x.len(b) * cols_of(b),
        KEPT_DISTANCES_BYTES,
    )?;
    let keep = kept.is_some();
    let mut kept: Vec<T> = kept.unwrap_or_default();
    // Pass A: distances, the scale's sums, the precision bound.
    let parts: Vec<Option<&mut [T]>> = if keep {
        split_per_problem(&mut kept, &sq_offsets, 1)
            .into_iter()
            .map(Some)
            .collect()
    } else {
        (0..problems).map(|_| None).collect()
    };
    let p_ref: &BatchProblem<'_, T> = p;
    // Each problem's origin (its data's mean), found once for both passes.
    let mut origins = buffers::take::<T>("fused batched origins", problems * dim)?;
    let sums: Vec<ScaleSums> = parts
        .into_par_iter()
        .zip(origins.par_chunks_mut(dim))
        .enumerate()
        .map_init(Prepared::<T>::default, |s, (b, (kept, origin))| {
            let mut own = std::mem::take(&mut s.sq);
            let sq = match kept {
                Some(d) => d,
                None => sized(&mut own, sq_offsets[b + 1] - sq_offsets[b]),
            };
            let (mean, radius) = first_pass(s, p_ref, b, leaf, origin, sq);
            s.sq = own;
            let pairs = (support_len(&batch.x, b) * support_len(&batch.y, b)) as f64;
            (mean, pairs, radius)
        })
        .collect();
    let root_d = (dim as f64).sqrt();
    // The feature scale: mean distances weighted by pair counts (over the batch) or each
    // problem's own.
    let scales: Vec<f64> = match plan.scale.map(|s| s.over) {
        None => vec![1.0; problems],
        Some(over) => {
            let weighted: Vec<(f64, f64)> = sums.iter().map(|s| (s.0 * s.1, s.1)).collect();
            ratio_of_sums(&weighted, over, p.collective)?
                .into_iter()
                .map(|s| usable(s / root_d))
                .collect()
        }
    };
    // Effective temperatures: the leaf's, times each factor, the context's and √D (feature scale).
    let factors = plan.factors();
    let base = plan.temperature
        * p.context.temperature_factor
        * if plan.scale.is_some() { root_d } else { 1.0 };
    // The general path's precision guard, a priori: an f32 problem whose log-weights f32 cannot
    // hold to `WEIGHT_ERROR_TOLERANCE` runs there in f64 (or is refused), so it goes there.
    let smallest = factors.iter().fold(f64::INFINITY, |a, f| a.min(*f)) * base;
    let fits = |radius: f64, scale: f64| {
        let log_weight = match plan.kernel {
            Radial::Gaussian => 4.0 * radius / (scale * scale) / smallest,
            Radial::Laplace => 2.0 * radius.sqrt() / scale / smallest,
        };
        log_weight.is_finite()
            && T::of(log_weight).is_finite()
            && T::epsilon().as_f64() * log_weight <= WEIGHT_ERROR_TOLERANCE
    };
    // Pass A's bound is at least the general path's radius: where it fits, so does that; where
    // it does not, the exact radius (around the data's median) decides.
    let mut exact = Prepared::<T>::default();
    let bound_fits =
        (0..problems).all(|b| fits(sums[b].2, scales[b]) || fits(exact.radius_sq(p, b), scales[b]));
    let mut misfits = [f64::from(u8::from(!bound_fits))];
    p.collective.all_reduce_sum(&mut misfits)?;
    if misfits[0] > 0.0 {
        buffers::give_back(kept);
        buffers::give_back(origins);
        return Ok(None);
    }
    // Pass B: every temperature's field per problem, combined there (in cache) when the
    // temperatures' weights are the problem's own, else kept for pass C's batch-wide λ_τ.
    let n_t = factors.len();
    let over = plan.multi.as_ref().map_or(Reduction::Problem, |m| m.over);
    let direct = over == Reduction::Problem || plan.multi.as_ref().is_none_or(|m| !m.normalise);
    let rows_of = if direct { 1 } else { n_t };
    let stacked: Vec<usize> = batch.x.offsets().iter().map(|o| o * rows_of).collect();
    let mut fields = buffers::take::<T>("fused batched fields", stacked[problems] * dim)?;
    let per_problem = split_per_problem(&mut fields, &stacked, dim);
    let kept_ref = &kept;
    // λ in the units of the node that divides by it: scaled when feature_scale is outside.
    let unit = |b: usize| match plan.scale {
        Some(s) if s.outside => scales[b],
        _ => 1.0,
    };
    let counts: Vec<f64> = (0..problems)
        .map(|b| (support_len(&batch.x, b) * dim) as f64)
        .collect();
    let lambda_of = |sq: f64, count: f64| (sq / count.max(1.0)).sqrt();
    // Each temperature's weight in the sum, from its λ_τ.
    let weights_of = |lambdas: &[f64]| -> Result<Vec<T>> {
        lambdas
            .iter()
            .zip(&factors)
            .enumerate()
            .map(|(k, (l, f))| match &plan.multi {
                Some(m) => temperature_weight(m.normalise, k, *f, *l).map(T::of),
                None => Ok(T::one()),
            })
            .collect()
    };
    let squares: Vec<(Vec<f64>, Vec<CouplingReport>)> = per_problem
        .into_par_iter()
        .enumerate()
        .map_init(
            || {
                (
                    Prepared::<T>::default(),
                    (Vec::new(), Vec::new()),
                    Vec::new(),
                )
            },
            |(s, (inv_taus, gains), stack), (b, field)| {
                s.of(p_ref, b, leaf, &origins[b * dim..(b + 1) * dim]);
                let len = sq_offsets[b + 1] - sq_offsets[b];
                let mut own = std::mem::take(&mut s.sq);
                let sq: &[T] = if keep {
                    &kept_ref[sq_offsets[b]..sq_offsets[b + 1]]
                } else {
                    let d = sized(&mut own, len);
                    s.distances(dim, d);
                    d
                };
                let (n, m, stride) = (batch.x.len(b), batch.y.len(b), cols_of(b));
                let unit_len = match plan.kernel {
                    Radial::Gaussian => scales[b] * scales[b],
                    Radial::Laplace => scales[b],
                };
                inv_taus.clear();
                inv_taus.extend(factors.iter().map(|f| T::of(1.0 / (unit_len * base * f))));
                // MMD's gradient scale 2/τ at the effective temperature (data units).
                gains.clear();
                gains.extend(factors.iter().map(|f| T::of(2.0 / (base * f))));
                // The stacked fields: the problem's block (kept for pass C) or this thread's.
                let (g, combined) = match direct {
                    true => (sized(stack, n_t * n * dim), Some(field)),
                    false => (field, None),
                };
                let mut dist = std::mem::take(&mut s.dist);
                let stacked = Stacked {
                    leaf,
                    kd: kernel_distances(plan.kernel, sq, &mut dist),
                    shape: (n, m, stride, dim),
                    inv_taus,
                    gains,
                };
                let mut couplings = Vec::new();
                let outcome = s.fields(&stacked, g, &mut couplings);
                s.sq = own;
                s.dist = dist;
                outcome.map_err(|e| DriftError::InProblem {
                    index: b,
                    source: Box::new(e),
                })?;
                let u = unit(b);
                let squares: Vec<f64> = g
                    .chunks_exact(n * dim)
                    .map(|g| rows_with_mass(&batch.x, b, g, dim) / (u * u))
                    .collect();
                if let Some(field) = combined {
                    let lambdas: Vec<f64> =
                        squares.iter().map(|sq| lambda_of(*sq, counts[b])).collect();
                    weighted_sum(g, n * dim, &weights_of(&lambdas)?);
                    field.copy_from_slice(&g[..n * dim]);
                }
                Ok((squares, couplings))
            },
        )
        .collect::<Result<Vec<_>>>()?;
    let (squares, couplings): (Vec<Vec<f64>>, Vec<Vec<CouplingReport>>) =
        squares.into_iter().unzip();
    buffers::give_back(kept);
    buffers::give_back(origins);
    // Pass C: λ_τ, and the weighted sum where pass B could not form it.
    let lambdas = temperature_lambdas(&squares, &counts, over, p.collective, lambda_of)?;
    if !direct {
        let weights: Vec<Vec<T>> = lambdas
            .iter()
            .map(|l| weights_of(l))
            .collect::<Result<_>>()?;
        split_per_problem(&mut fields, &stacked, dim)
            .into_par_iter()
            .zip(&weights)
            .for_each(|(g, w)| weighted_sum(g, g.len() / n_t, w));
    }
    let combined = apply(p, &fields, &stacked)?;
    buffers::give_back(fields);
    let drift_norm = batch_norm(p.collective, &combined)?;
    // One report per problem where the leaf solved couplings (each temperature's attraction and
    // repulsion, in order), as the per-problem default gives.
    let per_problem = if couplings.iter().all(Vec::is_empty) {
        Vec::new()
    } else {
        couplings
            .into_iter()
            .zip(&combined)
            .map(|(c, (sq, count))| DriftReport::of(leaf.name(), c, (sq / count.max(1.0)).sqrt()))
            .collect()
    };
    let mean = |v: &mut dyn Iterator<Item = f64>| v.sum::<f64>() / problems as f64;
    Ok(Some(BatchReport {
        operator: plan.root.into(),
        problems,
        drift_norm,
        reduction: match plan.root {
            "multi_temperature" => plan.multi.as_ref().map(|m| m.over),
            "feature_scale" => plan.scale.map(|s| s.over),
            _ => None,
        },
        scale: plan.scale.map(|_| mean(&mut scales.iter().copied())),
        temperature_norms: match &plan.multi {
            Some(m) => m
                .factors
                .iter()
                .enumerate()
                .map(|(r, t)| TemperatureNorm {
                    temperature: *t,
                    lambda: mean(&mut lambdas.iter().map(|l| l[r])),
                })
                .collect(),
            None => Vec::new(),
        },
        per_problem,
        fused: true,
        ..Default::default()
    }))
}

/// `Σ ‖g_i‖²` over the rows of problem `b` with positive weight.
fn rows_with_mass<T: Real>(x: &BatchSets<'_, T>, b: usize, g: &[T], dim: usize) -> f64 {
    match x.weights_of(b) {
        None => sum_squares(g),
        Some(w) => g
            .chunks_exact(dim)
            .zip(w)
            .filter(|(_, w)| **w > T::zero())
            .map(|(v, _)| sum_squares(v))
            .sum(),
    }
}

/// `stack[..len] ← Σ_τ w_τ G_τ` of the fields `G_τ` stacked in `stack` (`len` values each).
fn weighted_sum<T: Real>(stack: &mut [T], len: usize, weights: &[T]) {
    let (first, rest) = stack.split_at_mut(len);
    let w0 = weights.first().copied().unwrap_or(T::zero());
    first.iter_mut().for_each(|v| *v *= w0);
    for (g, w) in rest.chunks_exact(len).zip(weights.iter().skip(1)) {
        first.iter_mut().zip(g).for_each(|(v, g)| *v += *g * *w);
    }
}

/// Adds `scale · V` into the output, `V` each problem's combined field (the first rows of its
/// block of `fields`, blocks from `stacked · D`); returns each problem's `(Σ‖V‖², count)` of the
/// field before `scale`. A non-finite value is an error, leaving the output untouched.
fn apply<T: Real>(
    p: &mut BatchProblem<'_, T>,
    fields: &[T],
    stacked: &[usize],
) -> Result<Vec<(f64, f64)>> {
    let (batch, dim, scale) = (p.batch, p.batch.dim(), p.scale);
    let offsets = batch.x.offsets();
    let field =
        |b: usize| &fields[stacked[b] * dim..(stacked[b] + offsets[b + 1] - offsets[b]) * dim];
    let sums: Vec<((f64, f64), Option<usize>)> = (0..batch.problems())
        .into_par_iter()
        .map(|b| {
            let v = field(b);
            // A finite sum of squares means finite values; else find the first that is not.
            let bad = match sum_squares(v).is_finite() {
                true => None,
                false => v.iter().position(|x| !x.is_finite()),
            };
            let count = (support_len(&batch.x, b) * dim) as f64;
            let sums = (rows_with_mass(&batch.x, b, v, dim), count);
            (sums, bad.map(|i| offsets[b] * dim + i))
        })
        .collect();
    if let Some(index) = sums.iter().find_map(|s| s.1) {
        return Err(DriftError::NonFiniteResult {
            what: "batched drift field".into(),
            index,
        });
    }
    split_per_problem(p.out, offsets, dim)
        .into_par_iter()
        .enumerate()
        .for_each(|(b, o)| {
            o.iter_mut()
                .zip(field(b))
                .for_each(|(o, v)| *o += scale * *v)
        });
    Ok(sums.into_iter().map(|s| s.0).collect())
}
