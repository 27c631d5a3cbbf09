//! Recognising the operator trees that a fused batched path evaluates at once: a leaf drift, with
//! `multi_temperature` and `feature_scale` around it (in either order).
//!
//! A composition only sees its child as a `dyn DriftOperator`; the child's settings are read back
//! from its RON form (the registry's own description of it), so that a plugin operator, or a
//! built-in with settings the fused path does not cover, simply stays on the general path.

use crate::{
    DengAlg2, FeatureScale, Gaussian, Laplace, MultiTemperature, OneSided, SelfTransport,
    SinkhornDrift,
};
use drift_api::kit::Reduction;
use drift_api::DriftOperator;
use serde::de::DeserializeOwned;
use std::collections::BTreeMap;

/// The radial kernels of the fused paths: `ℓ = −d/τ` or `ℓ = −d²/τ`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Radial {
    /// `ℓ = −d/τ`.
    Laplace,
    /// `ℓ = −d²/τ`.
    Gaussian,
}

impl Radial {
    /// The kernel of a boxed kernel, if it is one of these.
    fn of(kernel: &dyn drift_api::Kernel) -> Option<Radial> {
        let text = ron::to_string(kernel).ok()?;
        match name_of(&text)? {
            Laplace::NAME => Some(Radial::Laplace),
            Gaussian::NAME => Some(Radial::Gaussian),
            _ => None,
        }
    }
}

/// The leaf drifts with a fused batched path, with the settings it needs.
#[derive(Clone, Copy, Debug, PartialEq)]
pub(crate) enum Leaf {
    /// `sinkhorn_drift` with a plain solver (no ε-scaling, warm start or GeomLoss loop) and the
    /// negatives as its self-transport set.
    Sinkhorn {
        /// Iteration cap.
        max_iters: usize,
        /// Marginal error at which the loop stops.
        tol: f64,
    },
    /// `one_sided`.
    OneSided {
        /// Mask `j = i` in the repulsion.
        mask_self: bool,
    },
    /// `deng_alg2`.
    Joint {
        /// Mask `j = i` in the self block.
        mask_self: bool,
    },
}

impl Leaf {
    /// The leaf operator's registered name.
    pub fn name(self) -> &'static str {
        match self {
            Leaf::Sinkhorn { .. } => SinkhornDrift::NAME,
            Leaf::OneSided { .. } => OneSided::NAME,
            Leaf::Joint { .. } => DengAlg2::NAME,
        }
    }
}

/// `multi_temperature` around the leaf (possibly through `feature_scale`).
#[derive(Clone, Debug, PartialEq)]
pub(crate) struct Multi {
    /// The temperature factors.
    pub factors: Vec<f64>,
    /// Divide each temperature's field by its norm `λ_τ`.
    pub normalise: bool,
    /// Where `λ_τ` is taken, once the outer nodes' reductions are applied (a per-problem outer
    /// node runs everything inside it per problem).
    pub over: Reduction,
}

/// `feature_scale` around the leaf (possibly through `multi_temperature`).
#[derive(Clone, Copy, Debug, PartialEq)]
pub(crate) struct Scale {
    /// Where the scale is taken, once the outer nodes' reductions are applied.
    pub over: Reduction,
    /// `feature_scale` wraps `multi_temperature`: the norms `λ_τ` are then taken in scaled units.
    pub outside: bool,
}

/// A recognised tree.
#[derive(Clone, Debug, PartialEq)]
pub(crate) struct Plan {
    /// The leaf drift.
    pub leaf: Leaf,
    /// Its kernel.
    pub kernel: Radial,
    /// The leaf's own temperature.
    pub temperature: f64,
    /// The multi-temperature node, if any.
    pub multi: Option<Multi>,
    /// The feature-scale node, if any.
    pub scale: Option<Scale>,
    /// The name of the tree's root, for reports.
    pub root: &'static str,
}

impl Plan {
    /// The temperature factors of the leaf's evaluations (one, `1`, without `multi_temperature`).
    pub fn factors(&self) -> Vec<f64> {
        self.multi
            .as_ref()
            .map_or_else(|| vec![1.0], |m| m.factors.clone())
    }
}

/// The registered name of a serialised operator `{"name": (...)}`.
fn name_of(text: &str) -> Option<&str> {
    let rest = text.trim_start().strip_prefix('{')?.trim_start();
    let rest = rest.strip_prefix('"')?;
    rest.split('"').next()
}

/// The operator of `text` as its concrete type.
fn parse<T: DeserializeOwned>(text: &str) -> Option<T> {
    let mut map: BTreeMap<String, T> = ron::from_str(text).ok()?;
    let key = map.keys().next()?.clone();
    map.remove(&key)
}

fn limited(outer: Reduction, inner: Reduction) -> Reduction {
    match outer {
        Reduction::Problem => Reduction::Problem,
        Reduction::Batch => inner,
    }
}

/// The plan of `op`, if a fused path evaluates it.
pub(crate) fn plan_of(op: &dyn DriftOperator) -> Option<Plan> {
    let text = ron::to_string(op).ok()?;
    match name_of(&text)? {
        "multi_temperature" => {
            let mt: MultiTemperature = parse(&text)?;
            let mut plan = plan_of(mt.operator.as_ref())?;
            if plan.multi.is_some() {
                return None;
            }
            if let Some(s) = &mut plan.scale {
                s.over = limited(mt.over, s.over);
            }
            plan.multi = Some(Multi {
                factors: mt.temperatures,
                normalise: mt.normalise,
                over: mt.over,
            });
            plan.root = MultiTemperature::NAME;
            Some(plan)
        }
        "feature_scale" => {
            let fs: FeatureScale = parse(&text)?;
            let mut plan = plan_of(fs.operator.as_ref())?;
            if plan.scale.is_some() {
                return None;
            }
            if let Some(m) = &mut plan.multi {
                m.over = limited(fs.over, m.over);
            }
            plan.scale = Some(Scale {
                over: fs.over,
                outside: plan.multi.is_some(),
            });
            plan.root = FeatureScale::NAME;
            Some(plan)
        }
        "sinkhorn_drift" => {
            let op: SinkhornDrift = parse(&text)?;
            let s = &op.sinkhorn;
            let plain = s.epsilon_scaling.is_none()
                && !s.warm_start
                && s.schedule == crate::Schedule::Standard;
            let fits = plain && op.self_transport == SelfTransport::Negatives;
            fits.then_some(Plan {
                leaf: Leaf::Sinkhorn {
                    max_iters: s.max_iters,
                    tol: s.tol,
                },
                kernel: Radial::of(op.kernel.as_ref())?,
                temperature: op.temperature,
                multi: None,
                scale: None,
                root: SinkhornDrift::NAME,
            })
        }
        "one_sided" => {
            let op: OneSided = parse(&text)?;
            Some(Plan {
                leaf: Leaf::OneSided {
                    mask_self: op.mask_self,
                },
                kernel: Radial::of(op.kernel.as_ref())?,
                temperature: op.temperature,
                multi: None,
                scale: None,
                root: OneSided::NAME,
            })
        }
        "deng_alg2" => {
            let op: DengAlg2 = parse(&text)?;
            Some(Plan {
                leaf: Leaf::Joint {
                    mask_self: op.mask_self,
                },
                kernel: Radial::of(op.kernel.as_ref())?,
                temperature: op.temperature,
                multi: None,
                scale: None,
                root: DengAlg2::NAME,
            })
        }
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn plan(text: &str) -> Option<Plan> {
        plan_of(drift_api::operator_from_str(text, "t").unwrap().as_ref())
    }

    #[test]
    fn the_fused_trees_are_recognised_with_their_settings() {
        let leaf = r#"{"sinkhorn_drift": (temperature: 0.5, sinkhorn: (max_iters: 12, tol: 0.0), self_transport: Negatives)}"#;
        let p = plan(leaf).unwrap();
        assert_eq!(
            (p.leaf, p.kernel, p.temperature, p.root),
            (
                Leaf::Sinkhorn {
                    max_iters: 12,
                    tol: 0.0
                },
                Radial::Gaussian,
                0.5,
                "sinkhorn_drift"
            )
        );
        let p = plan(r#"{"one_sided": (temperature: 0.5, mask_self: false)}"#).unwrap();
        assert_eq!(
            (p.leaf, p.kernel),
            (Leaf::OneSided { mask_self: false }, Radial::Laplace)
        );
        let text = format!(
            r#"{{"feature_scale": (operator: {{"multi_temperature": (operator: {leaf}, temperatures: [0.1, 0.3])}}, over: Problem)}}"#
        );
        let p = plan(&text).unwrap();
        let m = p.multi.unwrap();
        assert_eq!((m.factors, m.over), (vec![0.1, 0.3], Reduction::Problem));
        assert_eq!(
            p.scale,
            Some(Scale {
                over: Reduction::Problem,
                outside: true
            })
        );
        // The particles as the self-transport set, another kernel, ε-scaling, another leaf: the
        // general path.
        for other in [
            r#"{"sinkhorn_drift": (temperature: 0.5)}"#,
            r#"{"sinkhorn_drift": (temperature: 0.5, kernel: {"inverse_multiquadric": (beta: 0.5)}, self_transport: Negatives)}"#,
            r#"{"sinkhorn_drift": (temperature: 0.5, sinkhorn: (epsilon_scaling: Some(0.5)), self_transport: Negatives)}"#,
            r#"{"sinkhorn_proxy": (temperature: 0.5)}"#,
        ] {
            assert_eq!(plan(other), None, "{other}");
        }
    }
}
