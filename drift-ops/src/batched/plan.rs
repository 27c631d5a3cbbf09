//! Recognising the operator trees that a fused batched path evaluates at once: a leaf drift, with
//! `multi_temperature`, `feature_scale` and `guidance` around it (in any order).
//!
//! A composition only sees its child as a `dyn DriftOperator`; the child's settings are read back
//! from its RON form (the registry's own description of it), so that a plugin operator, or a
//! built-in with settings the fused path does not cover, simply stays on the general path.

use crate::{
    DengAlg2, FeatureScale, Gaussian, Guidance, Laplace, Mmd, MmdKernel, MultiTemperature,
    OneSided, SelfTransport, SinkhornDrift, SinkhornProxy,
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
    /// `sinkhorn_drift` with a plain solver (no ε-scaling, warm start or GeomLoss loop).
    Sinkhorn {
        /// Iteration cap.
        max_iters: usize,
        /// Marginal error at which the loop stops.
        tol: f64,
        /// The repulsion transports `X` to itself (with the negatives as weighted columns),
        /// `SelfTransport::Particles`; else to the negatives, `SelfTransport::Negatives`.
        particles: bool,
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
    /// `sinkhorn_proxy`: the two-sided proxy on `X × Y` and on `X × [X; negatives]`.
    Proxy {
        /// Mask `j = i` in the repulsion.
        mask_self: bool,
    },
    /// `mmd` with the Gaussian kernel (the Laplace kernel's unit displacements stay on the
    /// general path: their weights `k/d` would lose digits to the product form near coincident
    /// points).
    Mmd,
}

impl Leaf {
    /// The leaf operator's registered name.
    pub fn name(self) -> &'static str {
        match self {
            Leaf::Sinkhorn { .. } => SinkhornDrift::NAME,
            Leaf::OneSided { .. } => OneSided::NAME,
            Leaf::Joint { .. } => DengAlg2::NAME,
            Leaf::Proxy { .. } => SinkhornProxy::NAME,
            Leaf::Mmd => Mmd::NAME,
        }
    }

    /// The leaf's columns: `[Y; X; negatives]`, or `[Y; negatives]` for the Sinkhorn drift
    /// against a second generated batch.
    pub fn has_own_columns(self) -> bool {
        !matches!(
            self,
            Leaf::Sinkhorn {
                particles: false,
                ..
            }
        )
    }

    /// Masks the diagonal of its `X` block (a problem then needs two points of positive weight).
    pub fn masks_self(self) -> bool {
        match self {
            Leaf::OneSided { mask_self }
            | Leaf::Joint { mask_self }
            | Leaf::Proxy { mask_self } => mask_self,
            Leaf::Sinkhorn { .. } | Leaf::Mmd => false,
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
    /// The guidance scale `α` of a `guidance` node inside the tree, if any: the negatives
    /// weighted as it weighs them.
    pub guidance: Option<f64>,
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
        "guidance" => {
            let g: Guidance = parse(&text)?;
            let mut plan = plan_of(g.operator.as_ref())?;
            if plan.guidance.is_some() {
                return None;
            }
            plan.guidance = Some(g.alpha);
            plan.root = Guidance::NAME;
            Some(plan)
        }
        "sinkhorn_drift" => {
            let op: SinkhornDrift = parse(&text)?;
            let s = &op.sinkhorn;
            let plain = s.epsilon_scaling.is_none()
                && !s.warm_start
                && s.schedule == crate::Schedule::Standard;
            let leaf = Leaf::Sinkhorn {
                max_iters: s.max_iters,
                tol: s.tol,
                particles: op.self_transport == SelfTransport::Particles,
            };
            plain.then_some(leaf_plan(
                leaf,
                Radial::of(op.kernel.as_ref())?,
                op.temperature,
            ))
        }
        "one_sided" => {
            let op: OneSided = parse(&text)?;
            let leaf = Leaf::OneSided {
                mask_self: op.mask_self,
            };
            Some(leaf_plan(
                leaf,
                Radial::of(op.kernel.as_ref())?,
                op.temperature,
            ))
        }
        "deng_alg2" => {
            let op: DengAlg2 = parse(&text)?;
            let leaf = Leaf::Joint {
                mask_self: op.mask_self,
            };
            Some(leaf_plan(
                leaf,
                Radial::of(op.kernel.as_ref())?,
                op.temperature,
            ))
        }
        "sinkhorn_proxy" => {
            let op: SinkhornProxy = parse(&text)?;
            let leaf = Leaf::Proxy {
                mask_self: op.mask_self,
            };
            Some(leaf_plan(
                leaf,
                Radial::of(op.kernel.as_ref())?,
                op.temperature,
            ))
        }
        "mmd" => {
            let op: Mmd = parse(&text)?;
            (op.kernel == MmdKernel::Gaussian)
                .then(|| leaf_plan(Leaf::Mmd, Radial::Gaussian, op.temperature))
        }
        _ => None,
    }
}

/// The plan of a leaf alone.
fn leaf_plan(leaf: Leaf, kernel: Radial, temperature: f64) -> Plan {
    Plan {
        leaf,
        kernel,
        temperature,
        multi: None,
        scale: None,
        guidance: None,
        root: leaf.name(),
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
                    tol: 0.0,
                    particles: false
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
        let p = plan(r#"{"sinkhorn_proxy": (temperature: 0.5, mask_self: true)}"#).unwrap();
        assert_eq!(
            (p.leaf, p.kernel, p.root),
            (
                Leaf::Proxy { mask_self: true },
                Radial::Gaussian,
                "sinkhorn_proxy"
            )
        );
        let text = format!(
            r#"{{"multi_temperature": (operator: {{"guidance": (operator: {leaf}, alpha: 3.0)}})}}"#
        );
        let p = plan(&text).unwrap();
        assert_eq!((p.guidance, p.root), (Some(3.0), "multi_temperature"));
        let p = plan(r#"{"mmd": (temperature: 0.5)}"#).unwrap();
        assert_eq!((p.leaf, p.kernel), (Leaf::Mmd, Radial::Gaussian));
        let p = plan(r#"{"sinkhorn_drift": (temperature: 0.5)}"#).unwrap();
        assert!(matches!(
            p.leaf,
            Leaf::Sinkhorn {
                particles: true,
                ..
            }
        ));
        // Another kernel, ε-scaling, the Laplace MMD, another leaf: the general path.
        for other in [
            r#"{"sinkhorn_drift": (temperature: 0.5, kernel: {"inverse_multiquadric": (beta: 0.5)}, self_transport: Negatives)}"#,
            r#"{"sinkhorn_drift": (temperature: 0.5, sinkhorn: (epsilon_scaling: Some(0.5)), self_transport: Negatives)}"#,
            r#"{"mmd": (temperature: 0.5, kernel: laplace)}"#,
            r#"{"cross_minus_self": (attraction: (coupling: {"proxy": ()}, temperature: 0.5), repulsion: (coupling: {"proxy": ()}, temperature: 0.5))}"#,
        ] {
            assert_eq!(plan(other), None, "{other}");
        }
    }
}
