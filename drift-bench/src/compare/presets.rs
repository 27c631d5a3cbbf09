//! Named sweeps: `default` (the project's main comparison) and `quick` (a smoke test of every
//! piece in seconds).

use crate::compare::record::Mode;
use crate::compare::sweep::{FlowSettings, Study, Sweep, TrainSettings};
use crate::generator::Features;
use anyhow::{bail, Result};

/// The names [`preset`] knows.
pub const PRESETS: [&str; 2] = ["default", "quick"];

/// The drifts of the default comparison, all with a Gaussian kernel so that one temperature means
/// the same kernel for each; Sinkhorn solves warm-started across flow steps.
///
/// Labels say what ran: a label that is a registered operator's name would read as that operator
/// at its registry defaults (what `-o one_sided` runs, a Laplace kernel), so the operators whose
/// kernel differs from their registry default carry it in their label (`one_sided_gaussian`,
/// `deng_alg2_gaussian`). The report lists every operator with every parameter, and names the
/// parameters where a label that is a registered name differs from the registry's operator (here
/// the Sinkhorn solvers' tolerances and warm start).
fn default_operators() -> Vec<String> {
    [
        r#"one_sided_gaussian={"one_sided": (temperature: 1.0, kernel: {"gaussian": ()})}"#,
        r#"deng_alg2_gaussian={"deng_alg2": (temperature: 1.0, kernel: {"gaussian": ()})}"#,
        r#"sinkhorn_proxy={"sinkhorn_proxy": (temperature: 1.0)}"#,
        r#"sinkhorn_drift={"sinkhorn_drift": (temperature: 1.0, sinkhorn: (max_iters: 100, tol: 1e-3, warm_start: true))}"#,
        r#"sinkhorn_divergence={"sinkhorn_divergence": (temperature: 1.0, sinkhorn: (max_iters: 100, tol: 1e-3, epsilon_scaling: Some(0.5)))}"#,
        r#"mmd={"mmd": (temperature: 1.0)}"#,
        r#"sliced_wasserstein={"sliced_wasserstein": (directions: 64)}"#,
        // The official release's loss at one temperature R = T (relative to its own feature
        // scale, taken over every class of the step): trained, not flowed (its field is
        // normalised per temperature, a training signal rather than a velocity).
        r#"deng_official={"deng_official": (temperatures: [1.0])}"#,
    ]
    .map(String::from)
    .to_vec()
}

/// The sweep called `name`.
pub fn preset(name: &str) -> Result<Sweep> {
    match name {
        "default" => Ok(default_sweep()),
        "quick" => Ok(quick_sweep()),
        other => bail!(
            "--preset {other}: unknown preset (known: {})",
            PRESETS.join(", ")
        ),
    }
}

/// The default comparison: every built-in family in flow mode on a 2-D mixture with unequal
/// modes (weights 0.8 and 0.2: does a drift keep the small mode, with its mass?) and on the
/// digits, and generators on the digits for the three operators whose difference
/// the Sinkhorn-drifting paper reports (one-sided, Algorithm 2, Sinkhorn drift) and the official
/// release's loss (`deng_official`, one temperature, its statistics over every class of a step),
/// once on the samples and once on the feature maps of a fixed encoder (labels `…_encoder`).
pub fn default_sweep() -> Sweep {
    let temperatures = vec![0.005, 0.02, 0.1, 0.5, 1.0];
    let flow = Study {
        temperatures: temperatures.clone(),
        points: 1200,
        flow: FlowSettings {
            steps: 40,
            ..FlowSettings::default()
        },
        ..Study::new(
            default_operators()
                .into_iter()
                .filter(|o| !o.starts_with("deng_official="))
                .collect(),
            vec!["unequal_modes".into(), "digits".into()],
        )
    };
    let train = Study {
        temperatures,
        modes: vec![Mode::Train],
        train: TrainSettings {
            steps: 300,
            batch: 32,
            ..TrainSettings::default()
        },
        ..Study::new(
            default_operators()
                .into_iter()
                .filter(|o| {
                    o.starts_with("one_sided_gaussian=")
                        || o.starts_with("deng_alg2_gaussian=")
                        || o.starts_with("deng_official=")
                        || o.starts_with("sinkhorn_drift=")
                })
                .collect(),
            vec!["digits".into()],
        )
    };
    // The official method's feature setting: the same generators, each drift taken over the
    // feature maps of a fixed random encoder (one problem per class and location, every key's
    // problems in one batched call). Labelled apart from the raw rows.
    let features = Study {
        train: TrainSettings {
            features: Features::Encoder,
            ..train.train.clone()
        },
        ..Study::new(
            default_operators()
                .into_iter()
                .filter(|o| {
                    o.starts_with("one_sided_gaussian=")
                        || o.starts_with("deng_official=")
                        || o.starts_with("sinkhorn_drift=")
                })
                .map(|o| o.replacen('=', "_encoder=", 1))
                .collect(),
            vec!["digits".into()],
        )
    };
    let features = Study {
        temperatures: train.temperatures.clone(),
        modes: vec![Mode::Train],
        ..features
    };
    Sweep {
        studies: vec![flow, train, features],
        jobs: 1,
    }
}

/// A few seconds' sweep through every piece: two operators, two temperatures, a 2-D mixture in
/// flow and train modes, two seeds.
pub fn quick_sweep() -> Sweep {
    Sweep {
        studies: vec![Study {
            temperatures: vec![0.05, 0.5],
            seeds: vec![0, 1],
            modes: vec![Mode::Flow, Mode::Train],
            points: 300,
            flow: FlowSettings {
                steps: 10,
                ..FlowSettings::default()
            },
            train: TrainSettings {
                steps: 10,
                batch: 32,
                hidden: 32,
                ..TrainSettings::default()
            },
            ..Study::new(
                vec!["one_sided".into(), "sinkhorn_drift".into()],
                vec!["eight_gaussians".into()],
            )
        }],
        jobs: 1,
    }
}
