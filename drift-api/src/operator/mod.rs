//! The drift operator trait: generated samples `X` and data `Y` in, vector field `V(x_i)` out.

pub mod batch;
mod column_split;
mod report;

pub use report::DriftReport;

use crate::error::{check_param, DriftError, Result};
use crate::kit::backend::Backend;
use crate::kit::resident::with_resident;
use crate::operator::batch::{BatchJob, BatchReport};
use crate::points::PointCloud;
use crate::real::{ByPrecision, Real, Tagged};
use std::sync::atomic::{AtomicBool, Ordering};

/// Where in a flow or a training run an operator is applied, and how compositions have rescaled it.
///
/// ```
/// use drift_api::Context;
/// let c = Context::at(10, 0.5).with_temperature_factor(0.1);
/// assert_eq!((c.step, c.time), (10, 0.5));
/// assert!((c.with_temperature_factor(2.0).temperature_factor - 0.2).abs() < 1e-15);
/// assert_eq!(Context::default().temperature_factor, 1.0);
/// assert_eq!(c.for_problem(3).problem, 3);
/// ```
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Context {
    /// Step counter (training step or flow step).
    pub step: u64,
    /// Continuous time of the flow.
    pub time: f64,
    /// Factor every kernel temperature is multiplied by (1 unless a composition such as an annealing
    /// schedule, a multi-temperature sum or a feature scale sets it). Operators apply it, never store it.
    pub temperature_factor: f64,
    /// The problem's index in its batch (0 for a single call). Solvers that keep state between
    /// calls (Sinkhorn's warm start) keep one state per index, so the problems of a batch, run in
    /// parallel, never share one and their results do not depend on scheduling.
    pub problem: usize,
}

impl Default for Context {
    fn default() -> Self {
        Context {
            step: 0,
            time: 0.0,
            temperature_factor: 1.0,
            problem: 0,
        }
    }
}

impl Context {
    /// The context at a given step and time, no temperature rescaling.
    pub fn at(step: u64, time: f64) -> Self {
        Context {
            step,
            time,
            ..Default::default()
        }
    }

    /// This context with its temperature factor multiplied by `factor`.
    pub fn with_temperature_factor(self, factor: f64) -> Self {
        Context {
            temperature_factor: self.temperature_factor * factor,
            ..self
        }
    }

    /// Checks the temperature factor (finite and positive): what every problem's check makes.
    pub fn check(&self) -> Result<()> {
        let factor = self.temperature_factor;
        if !(factor.is_finite() && factor > 0.0) {
            return Err(DriftError::InvalidTemperature {
                what: "context.temperature_factor".into(),
                value: factor,
            });
        }
        Ok(())
    }

    /// This context for problem `index` of a batch ([`Context::problem`]).
    pub fn for_problem(self, index: usize) -> Self {
        Context {
            problem: index,
            ..self
        }
    }
}

/// One drift evaluation: accumulate `scale · V(x_i)` into `out`.
///
/// Operators *add* to `out` (faer's accumulate style) so that a sum of operators shares one buffer.
#[derive(Debug)]
pub struct DriftProblem<'a, T> {
    /// Where the reductions run.
    pub backend: &'a dyn Backend,
    /// Generated samples (the particles that move).
    pub x: &'a PointCloud<T>,
    /// Data samples (the targets).
    pub y: &'a PointCloud<T>,
    /// Step and time.
    pub context: &'a Context,
    /// Output `N × D`, row-major; the operator adds `scale · V` to it.
    pub out: &'a mut [T],
    /// Factor applied to the operator's field before accumulation.
    pub scale: T,
    /// Extra negatives (classifier-free guidance): unconditional samples added to the repulsion's
    /// column set with a relative weight. `None` for plain drifts.
    pub negatives: Option<Negatives<'a, T>>,
}

/// Extra samples in the negative (repulsion) set, each weighing `weight` relative to one generated
/// sample: Deng et al.'s classifier-free guidance uses `w = (α − 1)(N − 1)/N_unc`
/// ([`Negatives::guidance_weight`]); Sinkhorn couplings see them as weighted columns (He et al.'s
/// `weighted_cols`).
///
/// Negatives cannot be dropped silently: [`apply_drift`] fails with
/// [`DriftError::NegativesIgnored`] when an operator returns without having used them. The engines
/// of `drift-ops` use them for every operator built on them; an operator that handles them its own
/// way calls [`Negatives::mark_used`].
#[derive(Clone, Copy, Debug)]
pub struct Negatives<'a, T> {
    /// The unconditional samples.
    pub points: &'a PointCloud<T>,
    /// Relative weight `w >= 0` of each negative (its own weights, if any, are spread over it).
    pub weight: f64,
    /// Set when an operator has used them; owned by the [`apply_drift`] call that handed them over.
    used: Option<&'a AtomicBool>,
}

impl<'a, T> Negatives<'a, T> {
    /// Negatives `points`, each of relative weight `weight`.
    pub fn new(points: &'a PointCloud<T>, weight: f64) -> Self {
        Negatives {
            points,
            weight,
            used: None,
        }
    }

    /// The same negatives with another weight.
    pub fn with_weight(self, weight: f64) -> Self {
        Negatives { weight, ..self }
    }

    /// The same negatives as other points (a rescaled or widened copy), still reporting their use to
    /// the caller that handed them over.
    pub fn with_points<'b, U>(self, points: &'b PointCloud<U>) -> Negatives<'b, U>
    where
        'a: 'b,
    {
        Negatives {
            points,
            weight: self.weight,
            used: self.used,
        }
    }

    /// Records that the operator's field accounts for the negatives.
    pub fn mark_used(&self) {
        if let Some(flag) = self.used {
            flag.store(true, Ordering::Relaxed);
        }
    }

    /// Deng et al.'s guidance weight `w = (α − 1)(N_neg − 1)/N_unc` for guidance scale `α >= 1`,
    /// `N_neg` own negatives (the generated samples) and `N_unc` unconditional ones.
    ///
    /// ```
    /// assert_eq!(drift_api::Negatives::<f32>::guidance_weight(2.0, 65, 32), 2.0);
    /// ```
    pub fn guidance_weight(alpha: f64, n_neg: usize, n_unc: usize) -> f64 {
        (alpha - 1.0) * (n_neg as f64 - 1.0) / n_unc as f64
    }
}

impl<T: Real> Negatives<'_, T> {
    /// Each negative's own weight relative to one generated sample: the relative weight spread
    /// as the engines spread it (mass `weight × support`, shared in proportion to the points' own
    /// weights). The inverse of [`Negatives::relative_weight_of`].
    ///
    /// ```
    /// use drift_api::{Negatives, PointCloud};
    /// let n = PointCloud::new("n", vec![0.0f64, 1.0, 2.0], 1).unwrap().with_weights(vec![1.0, 3.0, 0.0]).unwrap();
    /// let w = Negatives::new(&n, 2.0).point_weights();
    /// assert_eq!(w, vec![1.0, 3.0, 0.0]);
    /// assert_eq!(Negatives::<f64>::relative_weight_of(&[1.0, 3.0, 0.0]), 2.0);
    /// ```
    pub fn point_weights(&self) -> Vec<f64> {
        let mass = self.weight * self.points.support_len() as f64;
        self.points
            .probabilities()
            .iter()
            .map(|q| mass * q.as_f64())
            .collect()
    }

    /// The relative weight that gives each negative its weight in `weights` once spread over
    /// their own weights: their mean over the points of positive weight (0 when there are none).
    pub fn relative_weight_of(weights: &[T]) -> f64 {
        let support = weights.iter().filter(|w| **w > T::zero()).count();
        let total: f64 = weights.iter().map(|w| w.as_f64()).sum();
        if support == 0 {
            0.0
        } else {
            total / support as f64
        }
    }
}

impl<T: Real> DriftProblem<'_, T> {
    /// Checks that `x` and `y` share a dimension and that `out` has the shape of `x`.
    pub fn check(&self) -> Result<()> {
        self.x.check_same_dim(self.y)?;
        let expected = self.x.len() * self.x.dim();
        if self.out.len() != expected {
            return Err(DriftError::ShapeMismatch {
                what: "drift output".into(),
                expected,
                found: self.out.len(),
            });
        }
        check_param("scale", self.scale.as_f64(), true, "real")?;
        if let Some(neg) = &self.negatives {
            self.x.check_same_dim(neg.points)?;
            check_param("negatives.weight", neg.weight, neg.weight >= 0.0, ">= 0")?;
        }
        self.context.check()
    }
}

impl<'a, T: Real> DriftProblem<'a, T> {
    /// The problem of `V(x_i)` on `backend` in `context`, added into `out` with scale 1 and no
    /// negatives: with [`DriftProblem::scaled`] and [`DriftProblem::with_negatives`], how every
    /// caller (a program, a composition running its child) builds what [`apply_drift`] runs.
    ///
    /// ```
    /// use drift_api::{apply_drift, Context, DriftProblem, Negatives, PointCloud};
    /// # use drift_api::{DriftOperator, DriftReport, DriftJob, Result};
    /// # #[derive(Debug, serde::Serialize, serde::Deserialize)] struct Uses;
    /// # #[typetag::serde(name = "doc.uses")] impl DriftOperator for Uses {
    /// #     fn drift(&self, job: DriftJob<'_>) -> Result<DriftReport> {
    /// #         drift_api::by_precision!(job, p => { if let Some(n) = p.negatives { n.mark_used() };
    /// #             p.out.iter_mut().for_each(|v| *v += p.scale); Ok(DriftReport::default()) })
    /// #     } }
    /// # #[derive(Debug)] struct NoBackend;
    /// # impl drift_api::kit::Backend for NoBackend { fn name(&self) -> &str { "none" }
    /// #     fn row_reduce(&self, _: drift_api::kit::ReductionJob<'_>) -> Result<()> { Ok(()) } }
    /// let x = PointCloud::new("x", vec![0.0f64, 1.0], 1).unwrap();
    /// let y = PointCloud::new("y", vec![3.0f64], 1).unwrap();
    /// let (context, mut v) = (Context::default(), vec![0.0; 2]);
    /// let problem = DriftProblem::new(&NoBackend, &x, &y, &context, &mut v)
    ///     .scaled(0.5)
    ///     .with_negatives(Some(Negatives::new(&y, 1.0)));
    /// apply_drift(&Uses, problem).unwrap();
    /// assert_eq!(v, vec![0.5, 0.5]);
    /// ```
    pub fn new(
        backend: &'a dyn Backend,
        x: &'a PointCloud<T>,
        y: &'a PointCloud<T>,
        context: &'a Context,
        out: &'a mut [T],
    ) -> Self {
        DriftProblem {
            backend,
            x,
            y,
            context,
            out,
            scale: T::one(),
            negatives: None,
        }
    }

    /// This problem with the field multiplied by `scale` before it is added.
    pub fn scaled(self, scale: T) -> Self {
        DriftProblem { scale, ..self }
    }

    /// This problem with guidance negatives (or none).
    pub fn with_negatives(self, negatives: Option<Negatives<'a, T>>) -> Self {
        DriftProblem { negatives, ..self }
    }
}

impl<'a, T> DriftProblem<'a, T> {
    /// The point sets the evaluation reads: `x`, `y`, and the negatives when there are any (what
    /// [`apply_drift`] keeps resident on the backend's device for its length).
    pub fn point_sets(&self) -> Vec<&'a PointCloud<T>> {
        let mut sets = vec![self.x, self.y];
        sets.extend(self.negatives.as_ref().map(|n| n.points));
        sets
    }
}

crate::per_precision!(
    /// The kind of [`DriftProblem`]s, for [`DriftJob`].
    pub DriftProblems = DriftProblem
);

/// A [`DriftProblem`] tagged with its precision.
pub type DriftJob<'a> = ByPrecision<DriftProblems<'a>>;

/// A drift operator: the vector field that says where each generated sample should move.
///
/// Write the body once over `T: Real` and dispatch the precision with [`by_precision!`](crate::by_precision!). Operators
/// of the cross-minus-self family are one call of `drift_ops::engine::cross_minus_self`, which also
/// handles guidance negatives, the context's temperature factor and precision; the toy below works
/// on the points directly (and, having no repulsion, would refuse negatives: see [`Negatives`]).
///
/// ```
/// use drift_api::{DriftJob, DriftOperator, DriftProblem, DriftReport, Real, Result};
/// use serde::{Deserialize, Serialize};
///
/// /// Moves every particle toward the data mean (a toy operator).
/// #[derive(Debug, Serialize, Deserialize)]
/// struct ToMean;
///
/// impl ToMean {
///     fn run<T: Real>(&self, p: DriftProblem<'_, T>) -> Result<DriftReport> {
///         p.check()?;
///         let d = p.y.dim();
///         let mut mean = vec![T::zero(); d];
///         for j in 0..p.y.len() {
///             for k in 0..d { mean[k] += p.y.point(j)[k] / T::of(p.y.len() as f64); }
///         }
///         for i in 0..p.x.len() {
///             for k in 0..d { p.out[i * d + k] += p.scale * (mean[k] - p.x.point(i)[k]); }
///         }
///         Ok(DriftReport::of("doc.to_mean", Vec::new(), 0.0))
///     }
/// }
///
/// #[typetag::serde(name = "doc.to_mean")]
/// impl DriftOperator for ToMean {
///     fn drift(&self, job: DriftJob<'_>) -> Result<DriftReport> {
///         drift_api::by_precision!(job, p => self.run(p))
///     }
/// }
/// ```
#[typetag::serde]
pub trait DriftOperator: Send + Sync + std::fmt::Debug {
    /// Adds `scale · V(x_i)` for every particle into the job's output.
    fn drift(&self, job: DriftJob<'_>) -> Result<DriftReport>;

    /// Checks the whole parameter tree (temperatures, iteration counts, sub-operators) once before use.
    fn validate(&self) -> Result<()> {
        Ok(())
    }

    /// Adds `scale · V` for every problem of a batch into the job's output (see
    /// [`crate::batch`]). The default runs the problems one by one through [`DriftOperator::drift`],
    /// in parallel ([`crate::batch::problem_by_problem`]); operators with a batched fast path or with
    /// batch-wide statistics (compositions) override it. Call it through
    /// [`crate::batch::apply_drift_batch`], which checks the job first.
    fn drift_batch(&self, job: BatchJob<'_>) -> Result<BatchReport> {
        crate::operator::batch::problem_by_problem(self, job)
    }
}

/// Runs a typed drift problem through the object-safe trait (generic code calls this).
///
/// Fails with [`DriftError::NegativesIgnored`] if the problem has negatives and the operator
/// returned without using them (the output then holds whatever the operator added).
pub fn apply_drift<T: Real>(
    op: &dyn DriftOperator,
    problem: DriftProblem<'_, T>,
) -> Result<DriftReport> {
    apply_drift_to(op, problem)
}

/// [`apply_drift`] for any operator type, sized or not (the batch's per-problem default calls it
/// with the operator it belongs to).
pub(crate) fn apply_drift_to<O: DriftOperator + ?Sized, T: Real>(
    op: &O,
    problem: DriftProblem<'_, T>,
) -> Result<DriftReport> {
    let used = AtomicBool::new(false);
    let handed_over = problem.negatives.map(|n| n.used);
    let problem = DriftProblem {
        negatives: problem.negatives.map(|n| Negatives {
            used: Some(&used),
            ..n
        }),
        ..problem
    };
    problem.check_shards()?;
    // The problem's sets stay on the backend's device for the whole evaluation.
    let (backend, sets) = (problem.backend, problem.point_sets());
    let report = on_threads(backend, || {
        with_resident(backend, &sets, || op.drift(problem.tagged()))
    })?;
    if let Some(outer) = handed_over {
        if !used.load(Ordering::Relaxed) {
            return Err(DriftError::NegativesIgnored {
                operator: report.operator,
            });
        }
        if let Some(flag) = outer {
            flag.store(true, Ordering::Relaxed);
        }
    }
    Ok(report)
}

/// `work` (one whole evaluation) on the backend's threads ([`Backend::run_on_threads`]); an error
/// if the backend returned without running it.
pub(crate) fn on_threads<R: Send>(
    backend: &dyn Backend,
    work: impl FnOnce() -> Result<R> + Send,
) -> Result<R> {
    let mut work = Some(work);
    let mut outcome = None;
    backend.run_on_threads(&mut || outcome = work.take().map(|w| w()));
    outcome.unwrap_or_else(|| {
        Err(DriftError::invalid(
            format!("backend {}", backend.name()),
            "run_on_threads returned without running the evaluation",
        ))
    })
}

/// Runs a precision-tagged job through a method generic over the precision: the one `match` every
/// [`DriftOperator::drift`] needs.
///
/// ```
/// # use drift_api::{DriftJob, DriftProblem, DriftReport, Real, Result};
/// # struct Op;
/// # impl Op { fn run<T: Real>(&self, _p: DriftProblem<'_, T>) -> Result<DriftReport> { Ok(DriftReport::default()) } }
/// # impl Op { fn drift(&self, job: DriftJob<'_>) -> Result<DriftReport> {
/// drift_api::by_precision!(job, p => self.run(p))
/// # } }
/// ```
#[macro_export]
macro_rules! by_precision {
    ($job:expr, $p:ident => $body:expr) => {
        match $job {
            $crate::DriftJob::F32($p) => $body,
            $crate::DriftJob::F64($p) => $body,
        }
    };
}
