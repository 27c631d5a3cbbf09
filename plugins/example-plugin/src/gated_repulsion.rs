//! A new operator of the cross-minus-self family, made of the engine's public pieces.

use crate::DensityGate;
use drift_api::{DriftProblem, DriftReport, Kernel, Real, Result};
use drift_ops::engine::{cross_minus_self, TermRef};
use drift_ops::{RowNormalised, Sinkhorn};
use serde::{Deserialize, Serialize};

/// RON name `example.gated_repulsion`: a Sinkhorn attraction minus a row-softmax repulsion, the
/// repulsion scaled per particle by [`DensityGate`]. Guidance negatives join the repulsion (the
/// engine does it), the context's temperature factor applies, and f32 problems that need f64 get it.
///
/// ```
/// use drift_api::PointCloud;
/// let op = drift_example_plugin::GatedRepulsion::new(Box::new(drift_ops::Gaussian), 0.5);
/// let x = PointCloud::new("x", vec![0.0f64, 0.2, 0.4], 1).unwrap();
/// let y = PointCloud::new("y", vec![1.0f64, 1.5], 1).unwrap();
/// let (v, report) = drift_ops::drift(&op, &x, &y).unwrap();
/// assert!(v.iter().all(|vi| *vi > 0.0));
/// assert_eq!(report.couplings[0].coupling, "sinkhorn");
/// ```
#[derive(Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GatedRepulsion {
    /// Kernel of both terms.
    pub kernel: Box<dyn Kernel>,
    /// Temperature `τ > 0` of both terms.
    pub temperature: f64,
    /// The attraction's solver (default: 100 iterations, tolerance 1e-5).
    #[serde(default)]
    pub sinkhorn: Sinkhorn,
}

impl GatedRepulsion {
    fn check(&self) -> Result<()> {
        TermRef::mean(self.kernel.as_ref(), &self.sinkhorn, self.temperature).validate(Self::NAME)
    }

    fn run<T: Real>(&self, p: DriftProblem<'_, T>) -> Result<DriftReport> {
        let (kernel, tau) = (self.kernel.as_ref(), self.temperature);
        let attraction = TermRef::mean(kernel, &self.sinkhorn, tau);
        let repulsion = TermRef::mean(kernel, &RowNormalised, tau);
        cross_minus_self(p, Self::NAME, attraction, repulsion, false, &DensityGate)
    }

    /// The operator with the default solver.
    pub fn new(kernel: Box<dyn Kernel>, temperature: f64) -> Self {
        GatedRepulsion {
            kernel,
            temperature,
            sinkhorn: Sinkhorn::default(),
        }
    }
}

drift_api::operator!(
    GatedRepulsion = "example.gated_repulsion",
    summary: "Sinkhorn attraction minus a row-softmax repulsion gated by min(1, q/p) (example plugin)",
    params: "kernel: Kernel, temperature: f64, sinkhorn: Sinkhorn = (max_iters: 100, tol: 1e-5)",
    example: r#"(kernel: {"gaussian": ()}, temperature: 0.1)"#
);
