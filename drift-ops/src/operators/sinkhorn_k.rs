//! Sinkhorn with a fixed number of scaling iterations: from one-sided (K = 0) to full Sinkhorn.

use super::defaults::gaussian;
use crate::couplings::Sinkhorn;
use crate::engine::cross_minus_self;
use crate::engine::TermRef;
use drift_api::{DriftError, DriftProblem, DriftReport, Kernel, Real, Result};
use serde::{Deserialize, Serialize};

/// `K` Sinkhorn iterations on both terms, then row-normalised barycentres: the interpolation the
/// Sinkhorn-drifting paper describes between the one-sided drift (`K = 0`, unmasked) and the
/// Sinkhorn drift (`K → ∞`).
///
/// RON name `sinkhorn_k` (`kernel` defaults to Gaussian):
/// `{"sinkhorn_k": (temperature: 0.05, iterations: 3)}`.
///
/// ```
/// use drift_api::PointCloud;
/// use drift_ops::{OneSided, SinkhornK};
/// let x = PointCloud::new("x", vec![0.0f64, 0.3, 0.9], 1).unwrap();
/// let y = PointCloud::new("y", vec![1.0f64, 2.0], 1).unwrap();
/// let k0 = SinkhornK { iterations: 0, ..SinkhornK::new(0, 0.5) };
/// let mut one_sided = OneSided::new(0.5);
/// one_sided.kernel = Box::new(drift_ops::Gaussian);
/// one_sided.mask_self = false;
/// let (a, _) = drift_ops::drift(&k0, &x, &y).unwrap();
/// let (b, _) = drift_ops::drift(&one_sided, &x, &y).unwrap();
/// assert!(a.iter().zip(&b).all(|(p, q)| (p - q).abs() < 1e-14));
/// ```
#[derive(Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SinkhornK {
    /// Kernel (default Gaussian).
    #[serde(default = "gaussian")]
    pub kernel: Box<dyn Kernel>,
    /// Temperature `τ > 0`.
    pub temperature: f64,
    /// Number of Sinkhorn iterations `K` (0 = one-sided).
    pub iterations: usize,
}

impl SinkhornK {
    /// `K` iterations, Gaussian kernel.
    pub fn new(iterations: usize, temperature: f64) -> Self {
        SinkhornK {
            kernel: gaussian(),
            temperature,
            iterations,
        }
    }

    fn run<T: Real>(&self, p: DriftProblem<'_, T>) -> Result<DriftReport> {
        let solver = Sinkhorn::new(self.iterations, 0.0);
        let t = TermRef::mean(self.kernel.as_ref(), &solver, self.temperature);
        cross_minus_self(p, "sinkhorn_k", t, t, false, &crate::Unit)
    }
}

impl SinkhornK {
    /// Validates the whole parameter tree of this operator.
    fn check(&self) -> Result<()> {
        drift_api::check_temperature("sinkhorn_k.temperature", self.temperature)?;
        self.kernel.validate()?;
        if self.iterations > 1_000_000 {
            return Err(DriftError::invalid(
                "sinkhorn_k.iterations",
                format!("must be at most 1000000, got {}", self.iterations),
            ));
        }
        Ok(())
    }
}

drift_api::operator!(
    SinkhornK = "sinkhorn_k",
    summary: "K Sinkhorn iterations on both terms: one-sided at K = 0, Sinkhorn drift as K grows",
    params: "temperature: f64, iterations: usize, kernel: Kernel = gaussian",
    example: r#"(temperature: 0.05, iterations: 3)"#
);
