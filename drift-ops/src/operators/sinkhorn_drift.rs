//! He et al.'s Sinkhorn drift: full two-sided scaling on both terms.

use super::defaults::gaussian;
use crate::couplings::Sinkhorn;
use crate::engine::{
    add_weighted_difference, cross_minus_self, evaluate_term, run_guarded, Engine, TermProblem,
    TermRef,
};
use drift_api::batch::BatchProblem;
use drift_api::{
    BatchReport, ColumnBlock, DriftError, DriftProblem, DriftReport, Kernel, Real, Result,
};
use serde::{Deserialize, Serialize};

/// What the repulsion of a [`SinkhornDrift`] transports the generated samples to.
///
/// In RON: `Particles` (the default) or `Negatives`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub enum SelfTransport {
    /// The generated samples themselves (the symmetric Sinkhorn plan of `X × X`, unmasked);
    /// guidance negatives, when given, join them as weighted columns.
    #[default]
    Particles,
    /// The problem's negatives alone, as a second generated batch `X'` (the later training codes:
    /// an independent draw of the generator instead of a masked diagonal): the balanced plan of
    /// `X × X'` with the negatives' own point weights as its column marginal. The negatives are
    /// then required, and their relative weight plays no part (it must be positive).
    Negatives,
}

/// Sinkhorn drift (He et al., Sinkhorn drifting): the balanced Sinkhorn plan of `X × Y`, row-normalised,
/// for the attraction, and the symmetric Sinkhorn plan of `X × X` (unmasked) for the repulsion;
/// `V_i = bar⁺_i − bar⁻_i`. Zero at `X = Y` (definiteness), stable at low temperature, and at small `τ`
/// it tends to the optimal-transport displacement `T(x) − x`, sending mass to uncovered modes.
///
/// With `self_transport: Negatives` the repulsion is the balanced plan of `X` against the
/// problem's negatives, a second generated batch (see [`SelfTransport`]). On a batch of problems,
/// with the Gaussian or Laplace kernel and a plain solver (no ε-scaling, warm start or GeomLoss
/// loop), both forms and their `feature_scale` / `multi_temperature` / `guidance` compositions
/// run on a fused batched path (`crate::batched::sinkhorn`) that computes each problem's
/// distances once for every temperature and both terms.
///
/// RON name `sinkhorn_drift` (`kernel` defaults to Gaussian; `sinkhorn` is a [`crate::Sinkhorn`]
/// without its name; `self_transport` defaults to `Particles`):
/// `{"sinkhorn_drift": (temperature: 0.05, kernel: {"gaussian": ()}, sinkhorn: (max_iters: 50, tol: 1e-5), self_transport: Particles)}`.
///
/// ```
/// use drift_api::PointCloud;
/// let op = drift_ops::SinkhornDrift::new(0.1);
/// let x = PointCloud::new("x", vec![0.0f64, 0.1], 1).unwrap();
/// let y = PointCloud::new("y", vec![0.0f64, 3.0], 1).unwrap();
/// let (v, report) = drift_ops::drift(&op, &x, &y).unwrap();
/// // Balanced transport: the particle nearer the far mode goes there.
/// assert!(v[1] > 2.0);
/// assert!(report.couplings.iter().all(|c| c.converged));
/// ```
#[derive(Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SinkhornDrift {
    /// Kernel (default Gaussian).
    #[serde(default = "gaussian")]
    pub kernel: Box<dyn Kernel>,
    /// Temperature `τ > 0`.
    pub temperature: f64,
    /// Sinkhorn solver settings, shared by both terms.
    #[serde(default)]
    pub sinkhorn: Sinkhorn,
    /// What the repulsion transports the samples to (default `Particles`).
    #[serde(default)]
    pub self_transport: SelfTransport,
}

impl SinkhornDrift {
    /// Gaussian kernel, default solver settings.
    pub fn new(temperature: f64) -> Self {
        SinkhornDrift {
            kernel: gaussian(),
            temperature,
            sinkhorn: Sinkhorn::default(),
            self_transport: SelfTransport::Particles,
        }
    }

    fn term(&self) -> TermRef<'_> {
        TermRef::mean(self.kernel.as_ref(), &self.sinkhorn, self.temperature)
    }

    fn run<T: Real>(&self, p: DriftProblem<'_, T>) -> Result<DriftReport> {
        let t = self.term();
        match self.self_transport {
            SelfTransport::Particles => {
                cross_minus_self(p, "sinkhorn_drift", t, t, false, &crate::Unit)
            }
            SelfTransport::Negatives => {
                p.check()?;
                let term = t.in_context(p.context);
                run_guarded(p, &ToNegatives { term })
            }
        }
    }

    fn run_batch<T: Real>(&self, p: BatchProblem<'_, T>) -> Result<BatchReport> {
        crate::batched::fused::run_or_default(self, p)
    }
}

/// The Sinkhorn drift whose repulsion transports `X` to the negatives ([`SelfTransport::Negatives`]):
/// `V_i = bar(X → Y)_i − bar(X → X')_i`, both balanced plans row-normalised.
struct ToNegatives<'a> {
    term: TermRef<'a>,
}

impl Engine for ToNegatives<'_> {
    fn name(&self) -> &str {
        "sinkhorn_drift"
    }

    fn terms(&self) -> Vec<TermRef<'_>> {
        vec![self.term, self.term]
    }

    fn run<T: Real>(&self, mut p: DriftProblem<'_, T>, origin: &[T]) -> Result<DriftReport> {
        let negatives = match &p.negatives {
            Some(n) if n.weight > 0.0 && n.points.support_len() > 0 => n.points,
            _ => {
                return Err(DriftError::invalid(
                    "sinkhorn_drift.self_transport",
                    "Negatives transports the samples to the problem's negatives (a second \
                     generated batch): give negatives with a positive weight and at least one \
                     point of positive weight",
                ))
            }
        };
        if let Some(n) = &p.negatives {
            n.mark_used();
        }
        let log_a = p.x.log_weights();
        let transport = |label: &'static str, to: &drift_api::PointCloud<T>| {
            let log_b = to.log_weights();
            let block = [ColumnBlock {
                points: to,
                log_weights: &log_b,
                mask_diagonal: false,
            }];
            evaluate_term(TermProblem {
                label,
                backend: p.backend,
                term: self.term,
                rows: p.x,
                row_log_weights: &log_a,
                blocks: &block,
                symmetric: false,
                origin: Some(origin),
                densities: false,
            })
        };
        let attraction = transport("attraction", p.y)?;
        let repulsion = transport("repulsion", negatives)?;
        let norm = add_weighted_difference(
            &mut p,
            &crate::Unit,
            attraction.side(0),
            repulsion.side(0),
            origin,
        )?;
        Ok(DriftReport::of(
            "sinkhorn_drift",
            vec![attraction.report, repulsion.report],
            norm,
        ))
    }
}

impl SinkhornDrift {
    /// Validates the whole parameter tree of this operator.
    fn check(&self) -> Result<()> {
        self.term().validate("sinkhorn_drift")
    }
}

drift_api::operator!(
    SinkhornDrift = "sinkhorn_drift",
    batched,
    summary: "He et al. Sinkhorn drift: balanced Sinkhorn plans on both terms; the repulsion against X itself or a second generated batch (the negatives)",
    params: "temperature: f64, kernel: Kernel = gaussian, sinkhorn: (max_iters, tol, epsilon_scaling, warm_start), self_transport: Particles | Negatives = Particles (Negatives: X' given as the negatives)",
    example: r#"(temperature: 0.05, kernel: {"gaussian": ()}, sinkhorn: (max_iters: 50, tol: 1e-5))"#
);
