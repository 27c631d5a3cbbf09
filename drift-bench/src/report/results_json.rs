//! `results.json`: the array of every [`RunRecord`], as serde writes it (pretty-printed).
//!
//! Each record is one object whose keys are the fields of the run's key and metrics (flattened), plus
//! `status` (`"ok"`, `{"diverged": {"step": 12}}` or `{"failed": {"message": "..."}}`) and
//! `seconds`; a metric that does not apply is `null`, and the class histogram is an array. A metric
//! that is not finite (a `W2²` of samples beyond `f64::MAX`) is the string `"inf"`, `"-inf"` or
//! `"NaN"`: the text `results.csv` has in that column, never `null` (see
//! [`crate::compare::record::RunMetrics`]).

use super::atomic_write::write_atomically;
use crate::compare::record::RunRecord;
use anyhow::Context;
use std::path::Path;

/// The whole of `results.json` for `runs`.
pub fn results_json(runs: &[RunRecord]) -> anyhow::Result<String> {
    let mut text = serde_json::to_string_pretty(runs).context("cannot encode the runs as JSON")?;
    text.push('\n');
    Ok(text)
}

/// Writes [`results_json`] to `path`, all at once (a reader never sees a partial file).
pub fn write_json(path: &Path, runs: &[RunRecord]) -> anyhow::Result<()> {
    write_atomically(path, results_json(runs)?.as_bytes())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::compare::record::{Mode, RunKey, RunMetrics, RunStatus};
    use crate::report::results_csv;

    fn record(w2_sq: Option<f64>, energy: Option<f64>) -> RunRecord {
        RunRecord {
            key: RunKey {
                operator: "op".into(),
                operator_ron: "Op".into(),
                dataset: "d".into(),
                dim: 2,
                mode: Mode::Flow,
                temperature: 1.0,
                seed: 0,
                settings: Default::default(),
            },
            status: RunStatus::Ok,
            metrics: RunMetrics {
                w2_sq,
                energy,
                ..RunMetrics::default()
            },
            seconds: 1.0,
        }
    }

    #[test]
    fn infinite_metrics_agree_with_the_csv_and_read_back() {
        let runs = [
            record(Some(f64::INFINITY), None),
            record(Some(0.5), Some(f64::NAN)),
        ];
        let json = results_json(&runs).unwrap();
        let v: serde_json::Value = serde_json::from_str(&json).unwrap();
        assert_eq!(v[0]["w2_sq"], serde_json::json!("inf"));
        assert_eq!(v[0]["energy"], serde_json::Value::Null);
        assert_eq!(v[1]["w2_sq"], serde_json::json!(0.5));
        assert_eq!(v[1]["energy"], serde_json::json!("NaN"));
        let csv = results_csv(&runs);
        let header: Vec<&str> = csv.lines().next().unwrap().split(',').collect();
        let col = header.iter().position(|h| *h == "w2_sq").unwrap();
        let row: Vec<&str> = csv.lines().nth(1).unwrap().split(',').collect();
        assert_eq!(row[col], v[0]["w2_sq"].as_str().unwrap());
        let back: Vec<RunRecord> = serde_json::from_str(&json).unwrap();
        assert_eq!(back[0].metrics.w2_sq, Some(f64::INFINITY));
        assert_eq!(back[0].metrics.energy, None);
        assert_eq!(back[1].metrics.w2_sq, Some(0.5));
        assert!(back[1].metrics.energy.unwrap().is_nan());
    }
}
