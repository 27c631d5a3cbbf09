//! What a comparison runs: one or more studies, each a grid of operators × temperatures × data
//! sets × seeds × modes with the settings of its flows and generators. A sweep is built from the
//! command line or read from a RON file:
//!
//! ```ron
//! (
//!     studies: [(
//!         operators: ["one_sided", "sinkhorn_drift", "my_operator.ron"],
//!         temperatures: [0.01, 0.1, 1.0],
//!         datasets: ["eight_gaussians", "digits"],
//!         seeds: [0, 1],
//!         modes: [flow],
//!         flow: (steps: 100, eta: 0.5),
//!     )],
//! )
//! ```
//!
//! Every field but `operators` and `datasets` has a default (those of [`Study::new`]).

use crate::backend_kind::BackendKind;
use crate::compare::record::Mode;
use crate::compare::start::StartSpec;
use anyhow::{bail, Context as _, Result};
use serde::{Deserialize, Serialize};
use std::path::Path;

/// A whole comparison: its studies run one after the other into one report.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Sweep {
    /// The grids to run.
    pub studies: Vec<Study>,
    /// Runs evaluated at once (each drift also uses every core: more than 1 helps only small
    /// problems). Results do not depend on it.
    #[serde(default = "one")]
    pub jobs: usize,
}

/// One grid: every operator at every temperature on every data set, for every seed and mode.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Study {
    /// Operators: registered names, `.ron` files or RON text, optionally `label=...` (see
    /// [`crate::compare::operator_spec`]).
    pub operators: Vec<String>,
    /// Temperatures relative to the data's scale (see [`crate::compare`]).
    #[serde(default = "default_temperatures")]
    pub temperatures: Vec<f64>,
    /// Data sets (see [`crate::data::DataSpec`]).
    pub datasets: Vec<String>,
    /// Seeds of the runs (start, network, batches); the data are drawn once, from `data_seed`.
    #[serde(default = "default_seeds")]
    pub seeds: Vec<u64>,
    /// Particle flow, generator training, or both.
    #[serde(default = "default_modes")]
    pub modes: Vec<Mode>,
    /// Seed of the data sets and of their held-out split.
    #[serde(default)]
    pub data_seed: u64,
    /// Points drawn from a generated data set (before the split); files and the digits keep all
    /// their rows.
    #[serde(default = "default_points")]
    pub points: usize,
    /// Fraction of the data held out for the metrics (the drift never sees it).
    #[serde(default = "default_test_fraction")]
    pub test_fraction: f64,
    /// Run the drifts in f64 (f32 by default; metrics are always f64).
    #[serde(default)]
    pub f64: bool,
    /// Where the drifts run: `cpu` (the default) or `cuda`.
    #[serde(default)]
    pub backend: BackendKind,
    /// Particle-flow settings.
    #[serde(default)]
    pub flow: FlowSettings,
    /// Generator settings.
    #[serde(default)]
    pub train: TrainSettings,
}

/// Settings of the particle flows of a study.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct FlowSettings {
    /// Euler steps of `x ← x + η V(x)`.
    pub steps: usize,
    /// Step size `η` (the built-in drifts are displacements: keep it below 1).
    pub eta: f64,
    /// Particles `N`; 0 means as many as the held-out split has points (so that `W2²` compares
    /// equal-size samples without subsampling).
    pub particles: usize,
    /// Where the particles start.
    pub start: StartSpec,
}

impl Default for FlowSettings {
    fn default() -> Self {
        FlowSettings {
            steps: 100,
            eta: 0.5,
            particles: 0,
            start: StartSpec::default(),
        }
    }
}

/// Settings of the one-step generators of a study.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct TrainSettings {
    /// Optimiser steps.
    pub steps: usize,
    /// Generated samples per step (per class when the data are labelled: the generator is then
    /// class-conditional).
    pub batch: usize,
    /// Width of the hidden layers.
    pub hidden: usize,
    /// Number of hidden layers.
    pub layers: usize,
    /// Dimension of the latent `z`.
    pub latent: usize,
    /// Learning rate.
    pub learning_rate: f64,
    /// What the drift sees of a sample: `Raw` (the sample) or `Encoder` (a fixed encoder's
    /// feature maps, one problem per class and location, for square images such as the digits).
    pub features: crate::generator::Features,
}

impl Default for TrainSettings {
    fn default() -> Self {
        TrainSettings {
            steps: 300,
            batch: 64,
            hidden: 128,
            layers: 2,
            latent: 16,
            learning_rate: 1e-3,
            features: crate::generator::Features::Raw,
        }
    }
}

impl Study {
    /// A study of `operators` on `datasets` with every other setting at its default: temperatures
    /// 0.005, 0.02, 0.1, 0.5, 1; seed 0; flow mode; 1000 generated points, a third held out.
    pub fn new(operators: Vec<String>, datasets: Vec<String>) -> Self {
        Study {
            operators,
            temperatures: default_temperatures(),
            datasets,
            seeds: default_seeds(),
            modes: default_modes(),
            data_seed: 0,
            points: default_points(),
            test_fraction: default_test_fraction(),
            f64: false,
            backend: BackendKind::Cpu,
            flow: FlowSettings::default(),
            train: TrainSettings::default(),
        }
    }

    /// Checks the settings that need no data: a bad one is named with its value. `at` names the
    /// study in messages.
    pub fn check(&self, at: &str) -> Result<()> {
        let named = |what: &str| format!("{at}: {what}");
        if self.operators.is_empty() {
            bail!(named("no operators: give at least one"));
        }
        if self.datasets.is_empty() {
            bail!(named("no data sets: give at least one"));
        }
        if self.temperatures.is_empty() {
            bail!(named("the temperature list is empty: give at least one"));
        }
        if let Some(t) = self
            .temperatures
            .iter()
            .find(|t| !(t.is_finite() && **t > 0.0))
        {
            bail!(named(&format!("temperature {t} must be finite and > 0")));
        }
        if self.seeds.is_empty() {
            bail!(named("the seed list is empty: give at least one"));
        }
        if self.modes.is_empty() {
            bail!(named("no modes: give flow, train or both"));
        }
        // A repeated value would run the same cell twice and count it as two seeds of one row.
        if let Some(t) = repeated(&self.temperatures, |a, b| a.to_bits() == b.to_bits()) {
            bail!(named(&format!(
                "temperature {t} is given twice: give each temperature once"
            )));
        }
        if let Some(seed) = repeated(&self.seeds, |a, b| a == b) {
            bail!(named(&format!(
                "seed {seed} is given twice: give each seed once"
            )));
        }
        if let Some(mode) = repeated(&self.modes, |a, b| a == b) {
            bail!(named(&format!(
                "mode {} is given twice: give each mode once",
                mode.name()
            )));
        }
        let names: Vec<&str> = self.datasets.iter().map(|d| d.trim()).collect();
        if let Some(name) = repeated(&names, |a, b| a == b) {
            bail!(named(&format!(
                "data set `{name}` is given twice: give each data set once"
            )));
        }
        if !(self.test_fraction > 0.0 && self.test_fraction < 1.0) {
            bail!(named(&format!(
                "test fraction {} must be strictly between 0 and 1",
                self.test_fraction
            )));
        }
        if self.points < 4 {
            bail!(named(&format!("points {} must be at least 4", self.points)));
        }
        self.check_sizes(at)?;
        if self.modes.contains(&Mode::Flow) {
            if self.flow.steps == 0 {
                bail!(named("flow steps must be at least 1"));
            }
            if !(self.flow.eta.is_finite() && self.flow.eta > 0.0) {
                bail!(named(&format!(
                    "flow eta {} must be finite and > 0",
                    self.flow.eta
                )));
            }
            if self.flow.particles == 1 {
                bail!(named(
                    "flow particles must be at least 2 (or 0: the held-out size)"
                ));
            }
            self.flow
                .start
                .check()
                .with_context(|| named("flow start"))?;
        }
        if self.modes.contains(&Mode::Train) {
            let t = &self.train;
            for (what, v) in [
                ("train steps", t.steps),
                ("train batch", t.batch.saturating_sub(1)),
                ("train hidden", t.hidden),
                ("train layers", t.layers),
                ("train latent", t.latent),
            ] {
                if v == 0 {
                    bail!(named(&format!("{what} is too small")));
                }
            }
            if !(t.learning_rate.is_finite() && t.learning_rate > 0.0) {
                bail!(named(&format!(
                    "train learning_rate {} must be finite and > 0",
                    t.learning_rate
                )));
            }
        }
        Ok(())
    }

    /// Refuses a size whose buffers would exceed [`MAX_BUFFER_VALUES`] (or overflow `usize`),
    /// naming the setting, its command-line argument and the size, before anything is allocated:
    /// `points × D` of a generated data set, `particles × D`, and the generator's
    /// `hidden × hidden`, `hidden × max(batch, latent, D)` and `batch × D` (`D` the largest
    /// dimension known before loading: `mixture:D:K`'s, 64 for `digits`, 2 otherwise).
    fn check_sizes(&self, at: &str) -> Result<()> {
        let specs: Vec<crate::data::DataSpec> = self
            .datasets
            .iter()
            .filter_map(|d| crate::data::DataSpec::parse(d).ok())
            .collect();
        let dim = specs
            .iter()
            .map(|d| match d {
                crate::data::DataSpec::Mixture { dim, .. } => *dim,
                crate::data::DataSpec::Digits => 64,
                _ => 2,
            })
            .max()
            .unwrap_or(2);
        for spec in &specs {
            if let crate::data::DataSpec::Mixture { dim, modes } = spec {
                within(at, "mixture:D:K centres (D × K)", &[*dim, *modes])?;
            }
        }
        within(at, "points (--points) × dimension", &[self.points, dim])?;
        if self.modes.contains(&Mode::Flow) {
            within(
                at,
                "flow particles (--particles) × dimension",
                &[self.flow.particles, dim],
            )?;
        }
        if self.modes.contains(&Mode::Train) {
            let t = &self.train;
            within(at, "train batch (--batch) × dimension", &[t.batch, dim])?;
            within(
                at,
                "train hidden (--hidden) × hidden",
                &[t.hidden, t.hidden],
            )?;
            within(
                at,
                "train hidden (--hidden) × batch (--batch)",
                &[t.hidden, t.batch],
            )?;
            within(
                at,
                "train hidden (--hidden) × latent",
                &[t.hidden, t.latent.max(dim)],
            )?;
        }
        Ok(())
    }

    /// Number of runs of the study.
    pub fn runs(&self) -> usize {
        self.operators.len()
            * self.temperatures.len()
            * self.datasets.len()
            * self.seeds.len()
            * self.modes.len()
    }
}

/// The most values (`f64`, 8 bytes each) one buffer of a study may hold: 2^28, 2 GiB. A setting
/// that needs more is refused by [`Study::check`] before any run (it would abort on allocation).
pub const MAX_BUFFER_VALUES: usize = 1 << 28;

/// Errors when the product of `factors` overflows or exceeds [`MAX_BUFFER_VALUES`].
fn within(at: &str, what: &str, factors: &[usize]) -> Result<()> {
    let product = factors
        .iter()
        .try_fold(1usize, |p, f| p.checked_mul(*f))
        .filter(|p| *p <= MAX_BUFFER_VALUES);
    if product.is_none() {
        let sizes: Vec<String> = factors.iter().map(usize::to_string).collect();
        bail!(
            "{at}: {what} = {} is too large: a buffer may hold at most {MAX_BUFFER_VALUES} values \
             (2 GiB of f64)",
            sizes.join(" × ")
        );
    }
    Ok(())
}

/// The largest sweep file [`Sweep::from_file`] reads, as for operator files
/// ([`drift_api::registry::MAX_OPERATOR_FILE_BYTES`]): a longer or endless one (`/dev/zero`) is refused
/// after reading at most this much plus one byte.
pub const MAX_SWEEP_FILE_BYTES: u64 = drift_api::registry::MAX_OPERATOR_FILE_BYTES;

impl Sweep {
    /// Reads a sweep from a RON file of at most [`MAX_SWEEP_FILE_BYTES`] (a UTF-8 byte-order mark
    /// at its start is skipped); errors name the file, line and column.
    pub fn from_file(path: &Path) -> Result<Sweep> {
        use std::io::Read;
        let cannot_read = || format!("cannot read sweep file {}", path.display());
        let mut bytes = Vec::new();
        std::fs::File::open(path)
            .with_context(cannot_read)?
            .take(MAX_SWEEP_FILE_BYTES + 1)
            .read_to_end(&mut bytes)
            .with_context(cannot_read)?;
        if bytes.len() as u64 > MAX_SWEEP_FILE_BYTES {
            bail!(
                "sweep file {}: longer than {} MiB, the most a sweep file may hold",
                path.display(),
                MAX_SWEEP_FILE_BYTES >> 20
            );
        }
        let text = String::from_utf8(bytes)
            .with_context(|| format!("sweep file {}: not UTF-8 text", path.display()))?;
        // Editors on some systems start UTF-8 files with a byte-order mark; operator files accept
        // it too.
        let text = text.strip_prefix('\u{feff}').unwrap_or(&text);
        ron::from_str(text).map_err(|e| {
            anyhow::anyhow!(
                "{}:{}:{}: {}",
                path.display(),
                e.span.end.line,
                e.span.end.col,
                e.code
            )
        })
    }

    /// Checks every study ([`Study::check`]) and the sweep's own settings.
    pub fn check(&self) -> Result<()> {
        if self.studies.is_empty() {
            bail!("the sweep has no studies");
        }
        if self.jobs == 0 {
            bail!("--jobs 0: must be at least 1");
        }
        for (i, s) in self.studies.iter().enumerate() {
            s.check(&format!("study {}", i + 1))?;
        }
        Ok(())
    }

    /// Number of runs of all studies.
    pub fn runs(&self) -> usize {
        self.studies.iter().map(Study::runs).sum()
    }
}

/// The first value of `list` that an earlier one equals.
fn repeated<T>(list: &[T], same: impl Fn(&T, &T) -> bool) -> Option<&T> {
    list.iter()
        .enumerate()
        .find(|(i, v)| list[..*i].iter().any(|u| same(u, v)))
        .map(|(_, v)| v)
}

fn one() -> usize {
    1
}
fn default_temperatures() -> Vec<f64> {
    vec![0.005, 0.02, 0.1, 0.5, 1.0]
}
fn default_seeds() -> Vec<u64> {
    vec![0]
}
fn default_modes() -> Vec<Mode> {
    vec![Mode::Flow]
}
fn default_points() -> usize {
    1000
}
fn default_test_fraction() -> f64 {
    1.0 / 3.0
}

#[cfg(test)]
mod tests {
    use super::*;

    /// An endless file is refused after the cap, not read until memory runs out.
    #[cfg(unix)]
    #[test]
    fn an_endless_sweep_file_is_refused_after_the_cap() {
        let e = Sweep::from_file(Path::new("/dev/zero"))
            .unwrap_err()
            .to_string();
        assert!(e.contains("longer than 64 MiB"), "{e}");
    }

    #[test]
    fn a_sweep_file_parses_with_defaults() {
        let s: Sweep = ron::from_str(
            r#"(studies: [(operators: ["one_sided"], datasets: ["eight_gaussians"], modes: [flow, train], flow: (steps: 5))])"#,
        )
        .unwrap();
        let study = &s.studies[0];
        assert_eq!(study.flow.steps, 5);
        assert_eq!(study.flow.eta, 0.5);
        assert_eq!(study.temperatures.len(), 5);
        assert_eq!(s.jobs, 1);
        s.check().unwrap();
        assert_eq!(s.runs(), 10);
    }

    #[test]
    fn bad_settings_are_named() {
        let mut s = Study::new(vec!["one_sided".into()], vec!["eight_gaussians".into()]);
        s.temperatures.clear();
        assert!(
            format!("{:#}", s.check("study 1").unwrap_err()).contains("temperature list is empty")
        );
        s.temperatures = vec![0.1, -1.0];
        assert!(format!("{:#}", s.check("study 1").unwrap_err()).contains("-1"));
        s.temperatures = vec![0.1];
        s.operators.clear();
        assert!(s.check("study 1").is_err());
    }
}
