//! `results.csv`: one line per run with every field of its [`RunRecord`].
//!
//! Fields follow RFC 4180: separated by commas, each line ended by `\n`; a field holding a comma,
//! a double quote, a carriage return or a newline is put in double quotes with its quotes doubled
//! (the operator's RON, the last column, often spans lines). A metric that does not apply is an
//! empty field. Numbers are printed with Rust's shortest representation that reads back to the same
//! `f64`, so the file agrees with `results.json` value for value; a metric that is not finite is
//! `inf`, `-inf` or `NaN`, the string `results.json` holds for it. The status takes three columns:
//! `status` (`ok`, `diverged`, `failed`), `diverged_step` and `failure` (the error message). After
//! the metrics come the study's index and settings, the version, the command and the operator with
//! every default ([`crate::compare::RunSettings`]), then the operator's RON as given.

use super::atomic_write::write_atomically;
use crate::compare::record::{RunRecord, RunStatus};
use std::path::Path;

/// One column: its header and how to print a run's value.
type Column = (&'static str, fn(&RunRecord) -> String);

fn opt<T: ToString>(v: Option<T>) -> String {
    v.map(|v| v.to_string()).unwrap_or_default()
}

/// Every column, in file order. The names are the keys of `results.json` wherever the JSON has the
/// same value (all but the status columns).
const COLUMNS: [Column; 29] = [
    ("operator", |r| r.key.operator.clone()),
    ("dataset", |r| r.key.dataset.clone()),
    ("dim", |r| r.key.dim.to_string()),
    ("mode", |r| r.key.mode.name().to_string()),
    ("temperature", |r| r.key.temperature.to_string()),
    ("seed", |r| r.key.seed.to_string()),
    ("status", |r| r.status.name().to_string()),
    ("diverged_step", |r| match &r.status {
        RunStatus::Diverged { step } => step.to_string(),
        _ => String::new(),
    }),
    ("failure", |r| match &r.status {
        RunStatus::Failed { message } => message.clone(),
        _ => String::new(),
    }),
    ("w2_sq", |r| opt(r.metrics.w2_sq)),
    ("sliced_w2", |r| opt(r.metrics.sliced_w2)),
    ("mmd_sq", |r| opt(r.metrics.mmd_sq)),
    ("mmd_bandwidth", |r| opt(r.metrics.mmd_bandwidth)),
    ("energy", |r| opt(r.metrics.energy)),
    ("modes_covered", |r| opt(r.metrics.modes_covered)),
    ("modes_total", |r| opt(r.metrics.modes_total)),
    ("mode_mass_error", |r| opt(r.metrics.mode_mass_error)),
    ("mode_shares", |r| {
        r.metrics
            .mode_shares
            .as_ref()
            // `{:?}` keeps the `.0` of whole numbers, as the JSON array writes them.
            .map(|h| {
                h.iter()
                    .map(|v| format!("{v:?}"))
                    .collect::<Vec<_>>()
                    .join(";")
            })
            .unwrap_or_default()
    }),
    ("near_fraction", |r| opt(r.metrics.near_fraction)),
    ("classes_covered", |r| opt(r.metrics.classes_covered)),
    ("classes_total", |r| opt(r.metrics.classes_total)),
    ("class_histogram", |r| {
        r.metrics
            .class_histogram
            .as_ref()
            .map(|h| h.iter().map(usize::to_string).collect::<Vec<_>>().join(";"))
            .unwrap_or_default()
    }),
    ("accuracy", |r| opt(r.metrics.accuracy)),
    ("ms_per_step", |r| opt(r.metrics.ms_per_step)),
    ("drift_norm", |r| opt(r.metrics.drift_norm)),
    ("sinkhorn_iters", |r| opt(r.metrics.sinkhorn_iters)),
    ("sinkhorn_error", |r| opt(r.metrics.sinkhorn_error)),
    ("sinkhorn_unconverged", |r| {
        opt(r.metrics.sinkhorn_unconverged)
    }),
    ("seconds", |r| r.seconds.to_string()),
];

/// The study and its settings ([`crate::compare::RunSettings`]), after the metrics: with the key,
/// enough to run the row again. A setting of the other mode (the flow's for a training run) is
/// empty.
const SETTINGS_COLUMNS: [Column; 21] = [
    ("study", |r| r.key.settings.study.to_string()),
    ("data", |r| r.key.settings.data.clone()),
    ("points", |r| r.key.settings.points.to_string()),
    ("data_seed", |r| r.key.settings.data_seed.to_string()),
    ("test_fraction", |r| {
        r.key.settings.test_fraction.to_string()
    }),
    ("precision", |r| r.key.settings.precision.clone()),
    ("backend", |r| r.key.settings.backend.clone()),
    ("flow_steps", |r| opt(r.key.settings.flow_steps)),
    ("eta", |r| opt(r.key.settings.eta)),
    ("particles", |r| opt(r.key.settings.particles)),
    ("start", |r| opt(r.key.settings.start.clone())),
    ("train_steps", |r| opt(r.key.settings.train_steps)),
    ("batch", |r| opt(r.key.settings.batch)),
    ("hidden", |r| opt(r.key.settings.hidden)),
    ("layers", |r| opt(r.key.settings.layers)),
    ("latent", |r| opt(r.key.settings.latent)),
    ("learning_rate", |r| opt(r.key.settings.learning_rate)),
    ("features", |r| opt(r.key.settings.features.clone())),
    ("version", |r| r.key.settings.version.clone()),
    ("command", |r| r.key.settings.command.clone()),
    ("operator_expanded", |r| {
        r.key.settings.operator_expanded.clone()
    }),
];

/// The exact operator RON comes last: the longest field, usually spread over several lines.
const OPERATOR_RON: Column = ("operator_ron", |r| r.key.operator_ron.clone());

/// `field` as RFC 4180 wants it: as is, or quoted with its quotes doubled when it holds a comma, a
/// quote, or a line break.
///
/// ```
/// use drift_bench::report::csv_field;
/// assert_eq!(csv_field("plain"), "plain");
/// assert_eq!(csv_field("a,b"), "\"a,b\"");
/// assert_eq!(csv_field("say \"hi\""), "\"say \"\"hi\"\"\"");
/// assert_eq!(csv_field("two\nlines"), "\"two\nlines\"");
/// ```
pub fn csv_field(field: &str) -> String {
    if field.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", field.replace('"', "\"\""))
    } else {
        field.to_string()
    }
}

/// The whole of `results.csv` for `runs`: a header line, then one line per run.
pub fn results_csv(runs: &[RunRecord]) -> String {
    let columns: Vec<&Column> = COLUMNS
        .iter()
        .chain(SETTINGS_COLUMNS.iter())
        .chain([&OPERATOR_RON])
        .collect();
    let mut out = columns
        .iter()
        .map(|(name, _)| *name)
        .collect::<Vec<_>>()
        .join(",");
    out.push('\n');
    for run in runs {
        let line: Vec<String> = columns
            .iter()
            .map(|(_, value)| csv_field(&value(run)))
            .collect();
        out.push_str(&line.join(","));
        out.push('\n');
    }
    out
}

/// Writes [`results_csv`] to `path`, all at once (a reader never sees a partial file).
pub fn write_csv(path: &Path, runs: &[RunRecord]) -> anyhow::Result<()> {
    write_atomically(path, results_csv(runs).as_bytes())
}
