//! The checks on the runs and data sets that a report is made of, before anything is written.

use crate::compare::record::{DatasetSummary, RunOutput};

/// The summary of every data set that a run refers to, or an error naming what does not fit: a run
/// on an unknown data set, a dimension that disagrees, samples or classes of the wrong length, an
/// image shape that is not the dimension.
pub(crate) fn check<'a>(
    runs: &[RunOutput],
    datasets: &'a [DatasetSummary],
) -> anyhow::Result<Vec<&'a DatasetSummary>> {
    anyhow::ensure!(!runs.is_empty(), "no runs to report");
    for d in datasets {
        anyhow::ensure!(d.dim > 0, "data set {}: dimension 0", d.name);
        anyhow::ensure!(
            d.reference.len() % d.dim == 0,
            "data set {}: {} reference values are not points of dimension {}",
            d.name,
            d.reference.len(),
            d.dim
        );
        if let Some((h, w)) = d.image_shape {
            anyhow::ensure!(
                h * w == d.dim,
                "data set {}: images of {h}×{w} pixels in dimension {}",
                d.name,
                d.dim
            );
        }
    }
    let mut used = Vec::new();
    for run in runs {
        let key = &run.record.key;
        let what = || {
            format!(
                "run {} on {} ({}, T={}, seed {})",
                key.operator,
                key.dataset,
                key.mode.name(),
                key.temperature,
                key.seed
            )
        };
        let Some(d) = datasets.iter().find(|d| d.name == key.dataset) else {
            anyhow::bail!("{}: no data set summary named {}", what(), key.dataset);
        };
        anyhow::ensure!(
            key.dim == d.dim,
            "{}: dimension {} but the data set has dimension {}",
            what(),
            key.dim,
            d.dim
        );
        anyhow::ensure!(
            run.samples.len() % d.dim == 0,
            "{}: {} sample values are not points of dimension {}",
            what(),
            run.samples.len(),
            d.dim
        );
        if let Some(classes) = &run.sample_classes {
            anyhow::ensure!(
                classes.len() == run.samples.len() / d.dim,
                "{}: {} sample classes for {} samples",
                what(),
                classes.len(),
                run.samples.len() / d.dim
            );
        }
        if !used.iter().any(|u: &&DatasetSummary| u.name == d.name) {
            used.push(d);
        }
    }
    Ok(used)
}
