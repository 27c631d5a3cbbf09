//! The folder that `drift-bench compare --shard I/N` writes: the shard's part of the results, and
//! everything `drift-bench merge` needs to write the sweep's full report.
//!
//! A shard folder holds:
//! - `results.csv` and `results.json`: the shard's runs, in the sweep's run order, in the format of
//!   a full report's (each row's `command` is the shard's command line);
//! - `report.md`: what the folder is and the summary table of its runs (no figures);
//! - `shard.json` ([`ShardManifest`]): the sweep's fingerprint, `I`, `N`, the number of runs of the
//!   whole sweep, the command, the sweep as RON, the report's notes, every data set as the report
//!   draws it (held-out points, scale, image shape) and, for each run in the order of
//!   `results.json`, its 0-based index in the sweep and its final samples (exact: a JSON number
//!   reads back as the same `f64`; a value that is not finite is the string `"inf"`, `"-inf"` or
//!   `"NaN"`).
//!
//! The folder is written whole or not at all, like a report folder ([`ReportFolder`]), and is one
//! that a later `compare` or `merge` may replace.
//!
//! **Fingerprint.** [`fingerprint`] hashes (FNV-1a, 128 bits) what decides the sweep's results:
//! the drift-bench version, the sweep (every study and setting, `jobs` aside), each operator as
//! it resolved (its RON and every parameter) and each data set as drawn (its name, dimension,
//! scale and held-out points, so that a `file:` data set that differs between machines is caught).
//! Shards made by different sweeps, versions or data files have different fingerprints, and
//! `drift-bench merge` refuses to mix them.

use crate::compare::operator_spec::{make_labels_unique, resolve};
use crate::compare::record::{DatasetSummary, RunOutput, RunRecord};
use crate::compare::shard::Shard;
use crate::compare::{Sweep, SweepResults};
use crate::report::{self, ReportFolder};
use anyhow::{Context as _, Result};
use serde::{Deserialize, Serialize};
use std::fmt::Write as _;
use std::path::{Path, PathBuf};

/// The manifest's file name in a shard folder.
pub const MANIFEST: &str = "shard.json";
/// The manifest's `format`: what marks a folder as a shard folder.
pub const FORMAT: &str = "drift-bench shard";
/// The manifest layout this drift-bench writes and reads.
pub const FORMAT_VERSION: u32 = 1;

/// `shard.json`: the shard, its sweep and what the full report needs of its runs.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ShardManifest {
    /// Always [`FORMAT`].
    pub format: String,
    /// The manifest layout ([`FORMAT_VERSION`]).
    pub format_version: u32,
    /// The drift-bench version that ran the shard.
    pub version: String,
    /// The sweep's [`fingerprint`]: equal for the shards of one sweep.
    pub fingerprint: String,
    /// The shard: its 0-based index and the number of shards.
    pub shard: Shard,
    /// Runs of the whole sweep.
    pub total_runs: usize,
    /// The shard's command line.
    pub command: String,
    /// The sweep, as RON (for people: the fingerprint is what the merge compares).
    pub sweep: String,
    /// The report's notes that do not depend on how the runs were executed (the temperature and
    /// metric conventions, the data sets' sizes and scales, ...).
    pub notes: Vec<String>,
    /// Wall time of the shard's runs, in seconds.
    pub seconds: f64,
    /// Runs the shard evaluated at once.
    pub jobs: usize,
    /// Every data set of the sweep, as the report draws it.
    pub datasets: Vec<ShardDataset>,
    /// The shard's runs, in the order of `results.json`.
    pub runs: Vec<ShardRun>,
}

/// A data set as the report needs it ([`DatasetSummary`]).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ShardDataset {
    /// The name the runs refer to.
    pub name: String,
    /// Dimension of the points.
    pub dim: usize,
    /// `(height, width)` of image data.
    pub image_shape: Option<(usize, usize)>,
    /// The data's scale `s`.
    pub scale: f64,
    /// The held-out points (data units, row-major).
    #[serde(with = "exact")]
    pub reference: Vec<f64>,
}

/// One run of a shard besides its record: where it stands in the sweep and its final samples.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ShardRun {
    /// The run's 0-based index in the sweep's run order.
    pub index: usize,
    /// The final samples (data units, row-major; empty when the run did not finish).
    #[serde(with = "exact")]
    pub samples: Vec<f64>,
    /// The class each sample was generated for (class-conditional generators).
    pub sample_classes: Option<Vec<usize>>,
}

impl From<&DatasetSummary> for ShardDataset {
    fn from(d: &DatasetSummary) -> Self {
        ShardDataset {
            name: d.name.clone(),
            dim: d.dim,
            image_shape: d.image_shape,
            scale: d.scale,
            reference: d.reference.clone(),
        }
    }
}

impl From<ShardDataset> for DatasetSummary {
    fn from(d: ShardDataset) -> Self {
        DatasetSummary {
            name: d.name,
            dim: d.dim,
            reference: d.reference,
            image_shape: d.image_shape,
            scale: d.scale,
        }
    }
}

/// FNV-1a with 128 bits: stable across platforms, versions of Rust and runs (unlike std's
/// hasher), enough to tell sweeps apart (it is no defence against a forger).
struct Fnv128(u128);

impl Fnv128 {
    fn new() -> Self {
        Fnv128(0x6c62272e07bb014262b821756295c58d)
    }
    fn bytes(&mut self, bytes: &[u8]) {
        for b in bytes {
            self.0 ^= u128::from(*b);
            self.0 = self.0.wrapping_mul(0x0000000001000000000000000000013B);
        }
    }
    /// A field: its length first, so that two fields never read as one.
    fn field(&mut self, bytes: &[u8]) {
        self.bytes(&(bytes.len() as u64).to_le_bytes());
        self.bytes(bytes);
    }
}

/// The fingerprint of `sweep` run on `datasets` (the data sets of its [`SweepResults`]): 32 hex
/// digits (see the module docs). Fails when an operator does not resolve.
pub fn fingerprint(sweep: &Sweep, datasets: &[DatasetSummary]) -> Result<String> {
    let mut h = Fnv128::new();
    h.field(b"drift-bench sweep");
    h.field(env!("CARGO_PKG_VERSION").as_bytes());
    let mut plain = sweep.clone();
    plain.jobs = 1;
    h.field(
        ron::to_string(&plain)
            .context("cannot write the sweep as RON")?
            .as_bytes(),
    );
    for (s, study) in sweep.studies.iter().enumerate() {
        let mut operators = study
            .operators
            .iter()
            .map(|o| resolve(o))
            .collect::<Result<Vec<_>>>()
            .with_context(|| format!("study {}", s + 1))?;
        make_labels_unique(&mut operators);
        for op in &operators {
            h.field(op.label.as_bytes());
            h.field(op.ron.as_bytes());
            h.field(op.expanded.as_bytes());
        }
    }
    for d in datasets {
        h.field(d.name.as_bytes());
        h.field(&(d.dim as u64).to_le_bytes());
        h.field(format!("{:?}", d.image_shape).as_bytes());
        h.field(&d.scale.to_bits().to_le_bytes());
        h.bytes(&(d.reference.len() as u64).to_le_bytes());
        for v in &d.reference {
            h.bytes(&v.to_bits().to_le_bytes());
        }
    }
    Ok(format!("{:032x}", h.0))
}

/// What a shard process made, to be written as its shard folder.
#[derive(Debug)]
pub struct ShardParts<'a> {
    /// The shard.
    pub shard: Shard,
    /// The whole sweep (not only the shard's runs).
    pub sweep: &'a Sweep,
    /// The shard's command line.
    pub command: &'a str,
    /// The report's notes that do not depend on how the runs were executed.
    pub notes: Vec<String>,
    /// Wall time of the shard's runs, in seconds.
    pub seconds: f64,
    /// The shard's runs (those of [`Shard::indices`]) and every data set of the sweep.
    pub results: &'a SweepResults,
}

/// The files a shard folder got.
#[derive(Clone, Debug, PartialEq)]
pub struct ShardFiles {
    /// The sweep's fingerprint.
    pub fingerprint: String,
    /// Every file written, in the folder.
    pub files: Vec<PathBuf>,
}

/// The manifest of `parts` and its runs' records, in the order of `results.json`. Fails when the
/// runs are not the shard's (a bug, not bad input) or an operator does not resolve.
pub fn shard_manifest(parts: &ShardParts) -> Result<(ShardManifest, Vec<RunRecord>)> {
    let results = parts.results;
    let total = parts.sweep.runs();
    let indices: Vec<usize> = parts.shard.indices(total).collect();
    anyhow::ensure!(
        results.indices == indices && results.runs.len() == indices.len(),
        "shard {}: ran runs {:?}, not the shard's {:?}",
        parts.shard,
        results.indices,
        indices
    );
    let records: Vec<_> = results.runs.iter().map(|r| r.record.clone()).collect();
    let manifest = ShardManifest {
        format: FORMAT.to_string(),
        format_version: FORMAT_VERSION,
        version: env!("CARGO_PKG_VERSION").to_string(),
        fingerprint: fingerprint(parts.sweep, &results.datasets)?,
        shard: parts.shard,
        total_runs: total,
        command: parts.command.to_string(),
        sweep: ron::ser::to_string_pretty(parts.sweep, ron::ser::PrettyConfig::default())
            .context("cannot write the sweep as RON")?,
        notes: parts.notes.clone(),
        seconds: parts.seconds,
        jobs: results.jobs,
        datasets: results.datasets.iter().map(ShardDataset::from).collect(),
        runs: results
            .runs
            .iter()
            .zip(&indices)
            .map(|(r, &index)| shard_run(index, r))
            .collect(),
    };
    Ok((manifest, records))
}

/// Writes the shard folder of `parts` into `folder` (claimed before the runs) and puts it in
/// place. Fails when the runs are not the shard's (a bug, not bad input) or a file cannot be
/// written; the old folder is then as it was.
pub fn write_shard_folder(folder: ReportFolder, parts: &ShardParts) -> Result<ShardFiles> {
    let (manifest, records) = shard_manifest(parts)?;
    let fingerprint = manifest.fingerprint.clone();
    let dir = folder.staging().to_path_buf();
    let names = ["results.csv", "results.json", MANIFEST, "report.md"];
    report::write_csv(&dir.join(names[0]), &records)?;
    report::write_json(&dir.join(names[1]), &records)?;
    let mut json = serde_json::to_string(&manifest).context("cannot encode the shard as JSON")?;
    json.push('\n');
    let write = |name: &str, text: &str| {
        std::fs::write(dir.join(name), text)
            .with_context(|| format!("cannot write {name} in {}", folder.path().display()))
    };
    write(names[2], &json)?;
    write(names[3], &shard_markdown(&manifest, &records))?;
    let out = folder.path().to_path_buf();
    folder.commit()?;
    Ok(ShardFiles {
        fingerprint,
        files: names.iter().map(|n| out.join(n)).collect(),
    })
}

fn shard_run(index: usize, run: &RunOutput) -> ShardRun {
    ShardRun {
        index,
        samples: run.samples.clone(),
        sample_classes: run.sample_classes.clone(),
    }
}

/// The shard folder's `report.md`: what it is, how to merge it, and its runs' summary table.
fn shard_markdown(m: &ShardManifest, records: &[RunRecord]) -> String {
    let s = m.shard;
    let mut md = format!("# drift-bench compare: shard {s}\n\nMade by:\n\n");
    let longest = m
        .command
        .split(|c| c != '`')
        .map(str::len)
        .max()
        .unwrap_or(0);
    let fence = "`".repeat(longest.max(2) + 1);
    let _ = writeln!(md, "{fence}text\n{}\n{fence}\n", m.command);
    let _ = writeln!(
        md,
        "- This folder holds shard {s} of a sweep of {} runs: the {} runs whose 0-based index i in \
         the sweep's run order has i mod {} = {}. It is not a report: `drift-bench merge` combines \
         the {} shard folders of the sweep (each `--shard I/{}`) into the sweep's full report.",
        m.total_runs,
        m.runs.len(),
        s.count,
        s.index,
        s.count,
        s.count
    );
    let _ = writeln!(
        md,
        "- Sweep fingerprint `{}`; `{MANIFEST}` holds what the merge needs (the runs' indices and \
         samples, the data sets, the notes).",
        m.fingerprint
    );
    for note in &m.notes {
        let _ = writeln!(md, "- {}", note.replace('\n', " "));
    }
    let _ = writeln!(
        md,
        "\nThe shard's runs: [results.csv](results.csv), [results.json](results.json).\n"
    );
    if records.is_empty() {
        let _ = writeln!(md, "## Summary\n\nThis shard holds no runs.");
    } else {
        let _ = writeln!(md, "## Summary\n\n{}", report::summary_table(records));
    }
    md
}

/// Reads a shard folder's manifest; the error says what is wrong with the file.
pub fn read_manifest(dir: &Path) -> Result<ShardManifest, String> {
    let path = dir.join(MANIFEST);
    if std::fs::symlink_metadata(&path).is_err() {
        return Err(format!(
            "holds no {MANIFEST}, so it is no shard folder (a report folder cannot be merged)"
        ));
    }
    let text =
        std::fs::read_to_string(&path).map_err(|e| format!("cannot read {MANIFEST}: {e}"))?;
    let value: serde_json::Value =
        serde_json::from_str(&text).map_err(|e| format!("{MANIFEST} is not JSON: {e}"))?;
    if value.get("format").and_then(|f| f.as_str()) != Some(FORMAT) {
        return Err(format!("{MANIFEST} is not a drift-bench shard manifest"));
    }
    let version = value.get("format_version").and_then(|v| v.as_u64());
    if version != Some(u64::from(FORMAT_VERSION)) {
        return Err(format!(
            "{MANIFEST} has format version {}, this drift-bench reads {FORMAT_VERSION}; merge with \
             the drift-bench that made the shards",
            version.map_or("none".to_string(), |v| v.to_string())
        ));
    }
    serde_json::from_value(value).map_err(|e| format!("{MANIFEST}: {e}"))
}

/// Serde for `f64` values kept exact, each a [`JsonFloat`] (the form of `results.json`).
mod exact {
    use crate::compare::record::JsonFloat;
    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(values: &[f64], s: S) -> Result<S::Ok, S::Error> {
        s.collect_seq(values.iter().map(|v| JsonFloat(*v)))
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<f64>, D::Error> {
        Ok(Vec::<JsonFloat>::deserialize(d)?
            .into_iter()
            .map(|f| f.0)
            .collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn samples_read_back_exactly() {
        let run = ShardRun {
            index: 3,
            samples: vec![0.1, 1.0 / 3.0, -2.5e-300, f64::INFINITY, f64::NEG_INFINITY],
            sample_classes: Some(vec![0, 1]),
        };
        let text = serde_json::to_string(&run).unwrap();
        let back: ShardRun = serde_json::from_str(&text).unwrap();
        assert_eq!(back, run);
        let nan = ShardRun {
            samples: vec![f64::NAN],
            ..run
        };
        let back: ShardRun = serde_json::from_str(&serde_json::to_string(&nan).unwrap()).unwrap();
        assert!(back.samples[0].is_nan());
        assert!(serde_json::from_str::<ShardRun>(r#"{"index":0,"samples":["x"]}"#).is_err());
    }

    #[test]
    fn the_fingerprint_sees_the_sweep_and_the_data() {
        let sweep = Sweep {
            studies: vec![crate::compare::Study::new(
                vec!["one_sided".into()],
                vec!["eight_gaussians".into()],
            )],
            jobs: 1,
        };
        let data = vec![DatasetSummary {
            name: "eight_gaussians".into(),
            dim: 2,
            reference: vec![0.0, 1.0],
            image_shape: None,
            scale: 1.0,
        }];
        let a = fingerprint(&sweep, &data).unwrap();
        assert_eq!(a.len(), 32);
        let jobs = Sweep {
            jobs: 4,
            ..sweep.clone()
        };
        assert_eq!(fingerprint(&jobs, &data).unwrap(), a);
        let mut other = sweep.clone();
        other.studies[0].seeds = vec![1];
        assert_ne!(fingerprint(&other, &data).unwrap(), a);
        let mut moved = data.clone();
        moved[0].reference[1] = 1.0 + f64::EPSILON;
        assert_ne!(fingerprint(&sweep, &moved).unwrap(), a);
    }
}
