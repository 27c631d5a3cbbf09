//! `results.json`: the array of every [`RunRecord`], as serde writes it (pretty-printed).
//!
//! Each record is one object whose keys are the fields of the run's key and metrics (flattened), plus
//! `status` (`"ok"`, `{"diverged": {"step": 12}}` or `{"failed": {"message": "..."}}`) and
//! `seconds`; a metric that does not apply is `null`, and the class histogram is an array.

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
