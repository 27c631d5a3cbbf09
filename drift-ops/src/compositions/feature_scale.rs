//! Deng et al.'s feature scale: normalise coordinates so the mean pairwise distance is `√D`.

use super::accumulate::run_into;
use crate::couplings::passes::Passes;
use crate::kernels::LogDistance;
use drift_api::{Backend, DriftOperator, DriftProblem, DriftReport, PointCloud, Real, Result};
use serde::{Deserialize, Serialize};

/// Runs the inner operator on `X/S`, `Y/S` with every temperature multiplied by `√D`, where
/// `S = mean_{i,j} ‖x_i − y_j‖ / √D` (weighted by `a`, `b`; a constant, not differentiated), and
/// returns the field in the original units (`S · V`). Temperatures then mean the same thing in
/// every dimension (Deng et al.).
///
/// RON name `feature_scale`: `{"feature_scale": (operator: {"one_sided": (temperature: 0.05)})}`.
///
/// ```
/// use drift_api::PointCloud;
/// let op = drift_ops::FeatureScale { operator: Box::new(drift_ops::OneSided::new(0.05)) };
/// let x = PointCloud::new("x", vec![0.0f64, 0.0, 10.0, 0.0], 2).unwrap();
/// let y = PointCloud::new("y", vec![0.0f64, 10.0, 10.0, 10.0], 2).unwrap();
/// let s = drift_ops::mean_distance(&drift_ops::CpuBackend, &x, &y).unwrap();
/// assert!((s - (10.0 + 200f64.sqrt()) / 2.0).abs() < 1e-12);
/// let (v, _) = drift_ops::drift(&op, &x, &y).unwrap();
/// assert!(v[1] > 0.0 && v[3] > 0.0);
/// ```
#[derive(Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FeatureScale {
    /// The operator run on the normalised features.
    pub operator: Box<dyn DriftOperator>,
}

/// `Σ_i a_i Σ_j b_j ‖x_i − y_j‖`, through one fused reduction with the [`LogDistance`] weight.
pub fn mean_distance<T: Real>(
    backend: &dyn Backend,
    x: &PointCloud<T>,
    y: &PointCloud<T>,
) -> Result<f64> {
    x.check_same_dim(y)?;
    let passes = Passes {
        backend,
        kernel: &LogDistance,
        tau: T::one(),
    };
    passes.mean_kernel(x, y)
}

impl FeatureScale {
    fn run<T: Real>(&self, p: DriftProblem<'_, T>) -> Result<DriftReport> {
        p.check()?;
        let root_d = (p.x.dim() as f64).sqrt();
        let s = mean_distance(p.backend, p.x, p.y)? / root_d;
        // All points coincide: nothing to normalise.
        let s = if s > 0.0 && s.is_finite() { s } else { 1.0 };
        let inv = T::of(1.0 / s);
        let xs = p.x.map_coords(|_, v| v * inv)?;
        let ys = p.y.map_coords(|_, v| v * inv)?;
        let negs = match &p.negatives {
            Some(n) => Some(n.points.map_coords(|_, v| v * inv)?),
            None => None,
        };
        let negatives = p
            .negatives
            .zip(negs.as_ref())
            .map(|(n, points)| n.with_points(points));
        let context = p.context.with_temperature_factor(root_d);
        let inner = run_into(
            self.operator.as_ref(),
            p.backend,
            &xs,
            &ys,
            negatives,
            &context,
            p.out,
            p.scale * T::of(s),
        )?;
        Ok(
            DriftReport::of("feature_scale", Vec::new(), inner.drift_norm * s)
                .with_parts(vec![inner]),
        )
    }
}

impl FeatureScale {
    /// Validates the whole parameter tree of this operator.
    fn check(&self) -> Result<()> {
        self.operator.validate()
    }
}

crate::operators::builtin_operator!(
    FeatureScale,
    "feature_scale",
    summary: "Deng feature scale: run on X/S, Y/S with tau sqrt(D), S = mean distance / sqrt(D)",
    params: "operator: Operator",
    example: r#"{"feature_scale": (operator: {"one_sided": (temperature: 0.05)})}"#
);
