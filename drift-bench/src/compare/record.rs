//! One run of a comparison as data: what ran ([`RunKey`]), how it ended ([`RunStatus`]) and every
//! metric ([`RunMetrics`]), plus its final samples ([`RunOutput`]) for the pictures.
//!
//! A [`RunRecord`] is one row of `results.csv` and one element of `results.json`; both files are
//! written from the same records, so they agree by construction.

use serde::{Deserialize, Serialize};

/// How a drift is used in a run.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Mode {
    /// The particle flow `x ← x + η V(x)`.
    Flow,
    /// A one-step generator `z → x` trained with the drifting loss.
    Train,
}

impl Mode {
    /// The name used on the command line, in files and in tables (`flow`, `train`).
    pub fn name(self) -> &'static str {
        match self {
            Mode::Flow => "flow",
            Mode::Train => "train",
        }
    }
}

/// What one run is: a cell of the operators × temperatures × datasets × seeds × modes grid.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct RunKey {
    /// The operator's label (its name, or the stem of its RON file).
    pub operator: String,
    /// The exact operator that ran, as RON (the sweep's temperature is applied on top of it as a
    /// temperature factor, see `temperature`).
    pub operator_ron: String,
    /// The data set's name (`eight_gaussians`, `digits`, a file's stem, ...).
    pub dataset: String,
    /// Dimension of the data.
    pub dim: usize,
    /// Flow or generator training.
    pub mode: Mode,
    /// The sweep temperature, relative to the data's scale: every kernel temperature of the operator
    /// is multiplied by it, in coordinates where the mean distance between two data points is 1.
    pub temperature: f64,
    /// The run's seed (start, generator initialisation, batches, metric directions).
    pub seed: u64,
    /// The study the run belongs to, its settings, the expanded operator, the command and the
    /// version: with the fields above, everything needed to run it again
    /// ([`crate::compare::rerun::sweep_of_records`]). Written as flat columns and keys.
    #[serde(flatten)]
    pub settings: RunSettings,
}

/// Where a run comes from: its study's index and settings, the operator with every default, the
/// command and the version. Runs of different studies are never merged in a report, even on the
/// same data set. The flow settings are empty for a training run and the training settings for a
/// flow run. The default (study 0, empty texts) is "unknown", as in records made by hand.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct RunSettings {
    /// The study's 1-based index in its sweep (0: unknown).
    pub study: usize,
    /// The data set as the sweep names it (`file:my.csv:label=last`); `dataset` is the name the
    /// report shows, with a `#2` suffix when two studies draw the same data set differently.
    pub data: String,
    /// Points drawn from a generated data set before the split (files and digits keep all rows).
    pub points: usize,
    /// Seed of the data set and of its split.
    pub data_seed: u64,
    /// Fraction of the data held out for the metrics.
    pub test_fraction: f64,
    /// Precision of the drifts: `f32` or `f64`.
    pub precision: String,
    /// Where the drifts ran: `cpu` or `cuda`.
    pub backend: String,
    /// Flow runs: Euler steps.
    pub flow_steps: Option<usize>,
    /// Flow runs: step size η.
    pub eta: Option<f64>,
    /// Flow runs: particles (0: as many as held-out points).
    pub particles: Option<usize>,
    /// Flow runs: the start, as `--start` reads it (`gaussian:1`, `blob:1,2:0.3`).
    pub start: Option<String>,
    /// Training runs: optimiser steps.
    pub train_steps: Option<usize>,
    /// Training runs: generated samples per step (per class on labelled data).
    pub batch: Option<usize>,
    /// Training runs: width of the hidden layers.
    pub hidden: Option<usize>,
    /// Training runs: number of hidden layers.
    pub layers: Option<usize>,
    /// Training runs: dimension of the latent.
    pub latent: Option<usize>,
    /// Training runs: learning rate.
    pub learning_rate: Option<f64>,
    /// Training runs: what the drift sees of a sample (`Raw`, `Encoder`), as RON.
    pub features: Option<String>,
    /// The operator as RON with every parameter written out, defaults included (what
    /// `operator_ron` leaves to the registry).
    pub operator_expanded: String,
    /// The command line that made the run, quoted for a POSIX shell.
    pub command: String,
    /// The version of drift-bench that made the run.
    pub version: String,
}

/// How a run ended.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RunStatus {
    /// Finished; every metric is meaningful.
    Ok,
    /// The samples left the finite numbers (NaN or infinity) at the given step; no sample metrics.
    Diverged {
        /// The step at which a non-finite value first appeared.
        step: usize,
    },
    /// The operator returned an error; the message says which and why.
    Failed {
        /// The error, as the command line would print it.
        message: String,
    },
}

impl RunStatus {
    /// `ok`, `diverged` or `failed`.
    pub fn name(&self) -> &'static str {
        match self {
            RunStatus::Ok => "ok",
            RunStatus::Diverged { .. } => "diverged",
            RunStatus::Failed { .. } => "failed",
        }
    }
}

/// Every metric of a run, against the held-out split of its data set. `None` where a metric does
/// not apply (no mixture truth, no labels, no Sinkhorn coupling) or the run did not finish.
///
/// A metric that is not finite (a `W2²` or an energy distance beyond `f64::MAX`) is written to
/// `results.json` as the string `"inf"`, `"-inf"` or `"NaN"`, the same text as in `results.csv`
/// (JSON has no such numbers, and `null` means "does not apply"); both read back as the `f64`.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct RunMetrics {
    /// `W2²` by exact optimal assignment between equal-size samples (samples and held-out data).
    #[serde(default, with = "non_finite")]
    pub w2_sq: Option<f64>,
    /// Sliced W2 distance to the held-out data.
    #[serde(default, with = "non_finite")]
    pub sliced_w2: Option<f64>,
    /// Squared MMD with a Gaussian kernel of bandwidth `mmd_bandwidth` (biased V-statistic).
    #[serde(default, with = "non_finite")]
    pub mmd_sq: Option<f64>,
    /// The MMD kernel's bandwidth σ in data units (`k = exp(−‖x − y‖²/(2σ²))`).
    #[serde(default, with = "non_finite")]
    pub mmd_bandwidth: Option<f64>,
    /// Energy distance `2E‖X−Y‖ − E‖X−X'‖ − E‖Y−Y'‖`.
    #[serde(default, with = "non_finite")]
    pub energy: Option<f64>,
    /// Mixtures: modes holding at least their share threshold of the samples.
    pub modes_covered: Option<usize>,
    /// Mixtures: number of modes.
    pub modes_total: Option<usize>,
    /// Mixtures: `½ Σ_k |sample fraction_k − weight_k|` (total variation between mode masses).
    #[serde(default, with = "non_finite")]
    pub mode_mass_error: Option<f64>,
    /// Mixtures: each mode's share of the samples captured by some mode (compare with the
    /// mixture's weights: the per-mode mass error is `|share_k − weight_k|`).
    pub mode_shares: Option<Vec<f64>>,
    /// Mixtures: fraction of the samples within the capture radius of some mode (on the data).
    #[serde(default, with = "non_finite")]
    pub near_fraction: Option<f64>,
    /// Labelled data: classes that the nearest-neighbour classifier finds among the samples
    /// (at least the share threshold of them).
    pub classes_covered: Option<usize>,
    /// Labelled data: number of classes.
    pub classes_total: Option<usize>,
    /// Labelled data: samples per class as the classifier labels them.
    pub class_histogram: Option<Vec<usize>>,
    /// Class-conditional runs: fraction of samples classified as the class they were generated for.
    #[serde(default, with = "non_finite")]
    pub accuracy: Option<f64>,
    /// Mean wall time of one step (flow step, or training step with its drift), in milliseconds.
    #[serde(default, with = "non_finite")]
    pub ms_per_step: Option<f64>,
    /// The drift norm `λ = sqrt(mean ‖V‖² / D)` at the last step (data units).
    #[serde(default, with = "non_finite")]
    pub drift_norm: Option<f64>,
    /// Mean Sinkhorn iterations per coupling solve, where the operator solves Sinkhorn couplings.
    #[serde(default, with = "non_finite")]
    pub sinkhorn_iters: Option<f64>,
    /// The largest Sinkhorn L1 marginal error of the last step.
    #[serde(default, with = "non_finite")]
    pub sinkhorn_error: Option<f64>,
    /// How many couplings of the last step stopped at their iteration cap without reaching their
    /// tolerance (the field then is not the exact Sinkhorn field; the report marks the run).
    #[serde(default)]
    pub sinkhorn_unconverged: Option<usize>,
}

/// One row of the results: the run, its end, its metrics.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct RunRecord {
    /// What ran.
    #[serde(flatten)]
    pub key: RunKey,
    /// How it ended.
    pub status: RunStatus,
    /// Every metric.
    #[serde(flatten)]
    pub metrics: RunMetrics,
    /// Wall time of the whole run (steps and evaluation), in seconds.
    pub seconds: f64,
}

/// A finished run with its final samples (data units, row-major, `key.dim` columns) and, for
/// class-conditional generators, the class each sample was generated for.
#[derive(Clone, Debug, PartialEq)]
pub struct RunOutput {
    /// The row of the results.
    pub record: RunRecord,
    /// The final samples (empty when the run failed or diverged).
    pub samples: Vec<f64>,
    /// The class each sample was generated for, when the generator is class-conditional.
    pub sample_classes: Option<Vec<usize>>,
}

/// What the report needs to know of a data set besides the runs on it.
#[derive(Clone, Debug, PartialEq)]
pub struct DatasetSummary {
    /// The name the runs' [`RunKey::dataset`] refers to.
    pub name: String,
    /// Dimension of the points.
    pub dim: usize,
    /// The held-out data (data units, row-major): drawn behind 2-D samples, and shown as a row of
    /// real images for image data.
    pub reference: Vec<f64>,
    /// `(height, width)` when each point is an image (the digits: `(8, 8)`), row-major pixels.
    pub image_shape: Option<(usize, usize)>,
    /// The data's scale `s` (mean distance between two data points), which relative temperatures
    /// multiply.
    pub scale: f64,
}

/// A float as `results.json` (and a shard's manifest) writes it: a finite value a JSON number
/// (which reads back as the same `f64`), `inf`, `-inf` and `NaN` the strings `"inf"`, `"-inf"`,
/// `"NaN"` (Rust's `Display`, as in `results.csv`).
#[derive(Clone, Copy, Debug)]
pub(crate) struct JsonFloat(pub f64);

impl Serialize for JsonFloat {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        if self.0.is_finite() {
            s.serialize_f64(self.0)
        } else {
            s.serialize_str(&self.0.to_string())
        }
    }
}

impl<'de> Deserialize<'de> for JsonFloat {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        use serde::de::{self, Visitor};
        struct Float;
        impl Visitor<'_> for Float {
            type Value = JsonFloat;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("a number, \"inf\", \"-inf\" or \"NaN\"")
            }
            fn visit_f64<E: de::Error>(self, v: f64) -> Result<JsonFloat, E> {
                Ok(JsonFloat(v))
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> Result<JsonFloat, E> {
                Ok(JsonFloat(v as f64))
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> Result<JsonFloat, E> {
                Ok(JsonFloat(v as f64))
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<JsonFloat, E> {
                match v {
                    "inf" => Ok(JsonFloat(f64::INFINITY)),
                    "-inf" => Ok(JsonFloat(f64::NEG_INFINITY)),
                    "NaN" => Ok(JsonFloat(f64::NAN)),
                    _ => Err(E::invalid_value(de::Unexpected::Str(v), &self)),
                }
            }
        }
        d.deserialize_any(Float)
    }
}

/// Serde for an optional metric that keeps non-finite values apart from "does not apply": the
/// value as a [`JsonFloat`], `None` as `null`.
mod non_finite {
    use super::JsonFloat;
    use serde::{Deserialize, Deserializer, Serialize, Serializer};

    pub fn serialize<S: Serializer>(v: &Option<f64>, s: S) -> Result<S::Ok, S::Error> {
        v.map(JsonFloat).serialize(s)
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Option<f64>, D::Error> {
        Ok(Option::<JsonFloat>::deserialize(d)?.map(|f| f.0))
    }
}
