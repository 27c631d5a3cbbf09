//! The precision guard of the kernel engines: bound the log-weights before computing, run in f64
//! when the inputs' precision cannot hold them, refuse when nothing can.

use super::term::TermRef;
use crate::column_shards::complete::{max_over, problem_origin, split_of};
use drift_api::kit::{with_resident, PrecisionReport, WEIGHT_ERROR_TOLERANCE};
use drift_api::{DriftError, DriftProblem, DriftReport, PointCloud, Precision, Real, Result};

/// A kernel engine (split or joint, or a plugin's own): one computation, written once over the
/// precision, that [`run_guarded`] runs in a precision that can hold its log-weights.
pub trait Engine {
    /// The operator's name, for errors.
    fn name(&self) -> &str;
    /// The terms it evaluates, with the context already applied.
    fn terms(&self) -> Vec<TermRef<'_>>;
    /// Runs at precision `T`, measuring barycentres from `origin` (the data's median).
    fn run<T: Real>(&self, p: DriftProblem<'_, T>, origin: &[T]) -> Result<DriftReport>;
}

/// Runs an engine at the problem's precision, or at f64 when the problem's log-weights are too large
/// for it, and records which in the report.
///
/// The bound is a priori (from the squared diameter of every point set involved, measured around
/// the data's median, which the engine also measures barycentres from), so an f32 problem that
/// needs f64 costs one f64 evaluation, not an f32 one first.
pub fn run_guarded<T: Real>(p: DriftProblem<'_, T>, engine: &impl Engine) -> Result<DriftReport> {
    let origin = problem_origin(p.backend, p.y)?;
    let diameter_sq = squared_diameter(&p, &origin)?;
    let terms = engine.terms();
    let scale = log_weight_scale(&terms, diameter_sq);
    let fits_native = terms.iter().all(|t| representable::<T>(t, diameter_sq));
    let eps_native = T::epsilon().as_f64();
    let precision_report = |computed, eps: f64| PrecisionReport {
        requested: T::PRECISION,
        computed,
        log_weight_scale: scale,
        weight_error_bound: eps * scale,
    };
    let narrow_origin: Vec<T> = origin.iter().map(|c| T::of(*c)).collect();
    if fits_native && eps_native * scale <= WEIGHT_ERROR_TOLERANCE {
        let mut report = engine.run(p, &narrow_origin)?;
        report.precision = Some(precision_report(T::PRECISION, eps_native));
        return Ok(report);
    }
    if let Some(t) = terms.iter().find(|t| !representable::<f64>(t, diameter_sq)) {
        return Err(DriftError::PrecisionExhausted {
            what: engine.name().to_string(),
            temperature: t.temperature,
            diameter_sq,
            precision: Precision::F64,
        });
    }
    if T::PRECISION == Precision::F64 {
        // Nothing wider to run in: compute, and say that the result is not to be trusted.
        let mut report = engine.run(p, &narrow_origin)?;
        report.precision = Some(precision_report(Precision::F64, eps_native));
        return Ok(report);
    }
    let mut report = promoted(p, |wide| engine.run(wide, &origin))?;
    report.precision = Some(precision_report(Precision::F64, f64::EPSILON));
    Ok(report)
}

/// Runs `wide` on f64 copies of the problem's point sets and adds its field into the problem's
/// output.
fn promoted<T: Real>(
    p: DriftProblem<'_, T>,
    wide: impl FnOnce(DriftProblem<'_, f64>) -> Result<DriftReport>,
) -> Result<DriftReport> {
    let x = widen(p.x)?;
    let y = widen(p.y)?;
    let negatives = p.negatives.map(|n| widen(n.points)).transpose()?;
    let mut out = vec![0.0f64; p.out.len()];
    let problem = DriftProblem {
        backend: p.backend,
        x: &x,
        y: &y,
        context: p.context,
        out: &mut out,
        scale: 1.0,
        negatives: p
            .negatives
            .zip(negatives.as_ref())
            .map(|(n, points)| n.with_points(points)),
    };
    // The copies are the sets this evaluation reads: they are what stays on the device.
    let sets = problem.point_sets();
    let report = with_resident(p.backend, &sets, || wide(problem))?;
    let narrowed: Vec<T> = out.iter().map(|v| T::of(*v)).collect();
    if let Some(index) = narrowed.iter().position(|v| !v.is_finite()) {
        return Err(DriftError::NonFiniteResult {
            what: "drift field (computed in f64, beyond the range of f32)".into(),
            index,
        });
    }
    for (o, v) in p.out.iter_mut().zip(narrowed) {
        *o += p.scale * v;
    }
    Ok(report)
}

/// An f64 copy of a point set, weights (and the whole of a shard) included.
fn widen<T: Real>(c: &PointCloud<T>) -> Result<PointCloud<f64>> {
    c.converted()
}

/// A bound on the squared distance between any two points of the problem: `(2 max ‖p − c‖)²`
/// around a point `c` (the data's median), over every process's shard when `Y` is split.
fn squared_diameter<T: Real>(p: &DriftProblem<'_, T>, centre: &[f64]) -> Result<f64> {
    let sets = [Some(p.x), Some(p.y), p.negatives.map(|n| n.points)];
    let mut radius_sq = [sets
        .into_iter()
        .flatten()
        .flat_map(|s| s.data().chunks_exact(s.dim()))
        .map(|point| {
            point
                .iter()
                .zip(centre)
                .map(|(v, c)| (v.as_f64() - c).powi(2))
                .sum::<f64>()
        })
        .fold(0.0f64, f64::max)];
    max_over(split_of(p.backend, &[p.y]), &mut radius_sq)?;
    Ok(4.0 * radius_sq[0])
}

/// The largest `|ℓ|` over the terms for pairs within the diameter (radial kernels are monotone in
/// the distance, so the diameter bounds every pair).
fn log_weight_scale(terms: &[TermRef<'_>], diameter_sq: f64) -> f64 {
    terms
        .iter()
        .map(|t| {
            let mut v = [diameter_sq];
            t.kernel.log_weight_f64(&mut v, t.temperature);
            v[0].abs()
        })
        .fold(0.0f64, f64::max)
}

/// Whether the term's log-weights at every distance up to the diameter are finite in `T` (the
/// temperature itself must be a normal number there, or `d/τ` overflows for every pair).
fn representable<T: Real>(t: &TermRef<'_>, diameter_sq: f64) -> bool {
    let tau = T::of(t.temperature);
    if !(tau.is_normal() && tau > T::zero()) {
        return false;
    }
    let mut v = [T::of(diameter_sq)];
    t.kernel.log_weight(&mut v, tau);
    v[0].is_finite()
}
