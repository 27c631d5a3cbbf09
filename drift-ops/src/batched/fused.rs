//! The fused batched path of a leaf drift with `feature_scale` / `multi_temperature` around it
//! ([`super::plan`]): per problem the squared distances are computed once and shared by every
//! temperature and both terms, while the problem's working set is in cache (one problem per thread
//! at a time), in parallel over the problems with per-thread scratch.
//!
//! Three passes, as in [`super::official`]: (A) per problem the distances, the feature scale's sums
//! and the precision bound (distances kept for B when they fit
//! [`super::official::KEPT_DISTANCES_BYTES`]); (B) every temperature's field `G_τ` (data units)
//! and its sum of squares; (C) the norms `λ_τ` (over the batch through the collective, or per
//! problem) and the weighted sum. Batches of one problem, trees it does not cover, and inputs the
//! general path would promote to f64 or refuse take the general path instead.

use super::buffers;
use super::lanes::{sized, sum_squares};
use super::official::KEPT_DISTANCES_BYTES;
use super::plan::{plan_of, Leaf, Plan, Radial};
use super::prepared::{kernel_distances, leaf_field, negatives_of, Prepared};
use super::statistics::{ratio_of_sums, temperature_lambdas};
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
    fused(&plan, p)
}

/// What pass A gives per problem: `Σ_i a_i Σ_j b_j ‖x_i − y_j‖`, the pair count, the radius².
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
        x == 0
            || support_len(&batch.y, b) == 0
            || match leaf {
                Leaf::Sinkhorn { .. } => negatives_of(p, b).is_none(),
                Leaf::OneSided { mask_self } | Leaf::Joint { mask_self } => mask_self && x < 2,
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
        let own = match leaf {
            Leaf::Sinkhorn { .. } => 0,
            _ => batch.x.len(b),
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
    let sums: Vec<ScaleSums> = parts
        .into_par_iter()
        .enumerate()
        .map_init(Prepared::<T>::default, |s, (b, kept)| {
            let radius = s.of(p_ref, b, leaf);
            let mut own = std::mem::take(&mut s.sq);
            let sq = match kept {
                Some(d) => d,
                None => sized(&mut own, sq_offsets[b + 1] - sq_offsets[b]),
            };
            s.distances(dim, sq);
            let m = cols_of(b);
            let mean = s.mean_distance(sq, m, batch.y.len(b));
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
    let bound_fits = sums.iter().zip(&scales).all(|(s, scale)| {
        let log_weight = match plan.kernel {
            Radial::Gaussian => 4.0 * s.2 / (scale * scale) / smallest,
            Radial::Laplace => 2.0 * s.2.sqrt() / scale / smallest,
        };
        log_weight.is_finite()
            && T::of(log_weight).is_finite()
            && T::epsilon().as_f64() * log_weight <= WEIGHT_ERROR_TOLERANCE
    });
    let mut misfits = [f64::from(u8::from(!bound_fits))];
    p.collective.all_reduce_sum(&mut misfits)?;
    if misfits[0] > 0.0 {
        buffers::give_back(kept);
        return Ok(None);
    }
    // Pass B: every temperature's field per problem.
    let n_t = factors.len();
    let out_len = p.out.len();
    let mut fields = buffers::take::<T>("fused batched fields", n_t * out_len)?;
    let stacked: Vec<usize> = batch.x.offsets().iter().map(|o| o * n_t).collect();
    let per_problem = split_per_problem(&mut fields, &stacked, dim);
    let kept_ref = &kept;
    // λ in the units of the node that divides by it: scaled when feature_scale is outside.
    let unit = |b: usize| match plan.scale {
        Some(s) if s.outside => scales[b],
        _ => 1.0,
    };
    let squares: Vec<(Vec<f64>, Vec<CouplingReport>)> = per_problem
        .into_par_iter()
        .enumerate()
        .map_init(Prepared::<T>::default, |s, (b, field)| {
            s.of(p_ref, b, leaf);
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
            let mut dist = std::mem::take(&mut s.dist);
            let kd = kernel_distances(plan.kernel, sq, &mut dist);
            let mut squares = vec![0.0f64; n_t];
            let mut couplings = Vec::new();
            for (r, factor) in factors.iter().enumerate() {
                let g = &mut field[r * n * dim..(r + 1) * n * dim];
                let inv_tau = T::of(1.0 / (unit_len * base * factor));
                let shape = (n, m, stride, dim);
                leaf_field(leaf, s, kd, shape, inv_tau, g, &mut couplings).map_err(|e| {
                    DriftError::InProblem {
                        index: b,
                        source: Box::new(e),
                    }
                })?;
                let u = unit(b);
                squares[r] = rows_with_mass(&batch.x, b, g, dim) / (u * u);
            }
            s.sq = own;
            s.dist = dist;
            Ok((squares, couplings))
        })
        .collect::<Result<Vec<_>>>()?;
    let (squares, couplings): (Vec<Vec<f64>>, Vec<Vec<CouplingReport>>) =
        squares.into_iter().unzip();
    buffers::give_back(kept);
    // Pass C: λ_τ and the weighted sum.
    let counts: Vec<f64> = (0..problems)
        .map(|b| (support_len(&batch.x, b) * dim) as f64)
        .collect();
    let lambda_of = |sq: f64, count: f64| (sq / count.max(1.0)).sqrt();
    let over = plan.multi.as_ref().map_or(Reduction::Problem, |m| m.over);
    let lambdas = temperature_lambdas(&squares, &counts, over, p.collective, lambda_of)?;
    let weights: Vec<Vec<T>> = lambdas
        .iter()
        .map(|ls| {
            ls.iter()
                .zip(&factors)
                .enumerate()
                .map(|(k, (l, f))| match &plan.multi {
                    Some(m) => temperature_weight(m.normalise, k, *f, *l).map(T::of),
                    None => Ok(T::one()),
                })
                .collect::<Result<Vec<T>>>()
        })
        .collect::<Result<_>>()?;
    let combined = combine(p, &fields, &stacked, &weights)?;
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

/// Adds `scale · Σ_τ w_τ G_τ` into the output; returns each problem's `(Σ‖V‖², count)` of the
/// field before `scale`. A non-finite value is an error, leaving the output untouched.
fn combine<T: Real>(
    p: &mut BatchProblem<'_, T>,
    fields: &[T],
    stacked: &[usize],
    weights: &[Vec<T>],
) -> Result<Vec<(f64, f64)>> {
    let (batch, dim, scale) = (p.batch, p.batch.dim(), p.scale);
    let mut total = buffers::take::<T>("fused batched field", p.out.len())?;
    let outs = split_per_problem(&mut total, batch.x.offsets(), dim);
    let sums: Vec<(f64, f64)> = outs
        .into_par_iter()
        .enumerate()
        .map(|(b, v)| {
            let len = v.len();
            let field = &fields[stacked[b] * dim..stacked[b + 1] * dim];
            v.fill(T::zero());
            for (r, w) in weights[b].iter().enumerate() {
                let g = &field[r * len..(r + 1) * len];
                v.iter_mut().zip(g).for_each(|(v, g)| *v += *g * *w);
            }
            let count = (support_len(&batch.x, b) * dim) as f64;
            (rows_with_mass(&batch.x, b, v, dim), count)
        })
        .collect();
    if let Some(index) = total.iter().position(|v| !v.is_finite()) {
        buffers::give_back(total);
        return Err(DriftError::NonFiniteResult {
            what: "batched drift field".into(),
            index,
        });
    }
    p.out
        .iter_mut()
        .zip(&total)
        .for_each(|(o, v)| *o += scale * *v);
    buffers::give_back(total);
    Ok(sums)
}
