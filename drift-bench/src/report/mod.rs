//! The report folder of a comparison: `results.csv` and `results.json` (every run, every metric),
//! figures as PNG and SVG, and `report.md` that links them with the summary table.
//!
//! Figures, per data set and mode (file names are sanitised to `[a-z0-9_-]`):
//! - `{dataset}_{mode}_{metric}.png/.svg`: one file per metric (`w2_sq`, `sliced_w2`, `mmd_sq`,
//!   `energy`, `modes_covered`, `mode_mass_error`, `classes_covered`, `accuracy`, `ms_per_step`)
//!   against temperature, one line per operator with the spread over seeds; a metric that no run
//!   of the group has is left out;
//! - `{dataset}_{mode}_samples.png/.svg` for 2-D data: final samples, operators × temperatures;
//! - `{dataset}_{mode}_images.png/.svg` for image data: generated images, operators × temperatures.
//!
//! The folder is written whole or not at all ([`ReportFolder`]): the report is written in a fresh
//! sibling folder that then replaces the old one, under a lock that keeps a second writer out, so a
//! reader (or a run killed midway) never sees new tables beside old figures, two writers never mix
//! their files, and figures of a previous sweep never stay beside a new report. Figures are drawn
//! in parallel, with DejaVu Sans compiled in, so they look the same on every machine.

mod atomic_write;
mod figure;
mod file_name;
mod folder;
mod font;
mod groups;
mod image_grid;
mod inputs;
pub mod layout;
mod markdown;
mod metric;
mod metric_plot;
mod number;
mod palette;
mod png_image;
mod results_csv;
mod results_json;
mod sample_grid;
mod stats;
mod summary;

pub use file_name::sanitize;
pub use folder::ReportFolder;
pub use results_csv::{csv_field, results_csv, write_csv};
pub use results_json::{results_json, write_json};
pub use summary::{summary_table, TRAIN_STEPS_TO_LEARN};

use crate::compare::record::{DatasetSummary, RunOutput, RunRecord};
use markdown::{FigureLink, Section};
use rayon::prelude::*;
use std::path::{Path, PathBuf};

/// What the report says besides the runs.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct ReportOptions {
    /// The report's title (its first heading).
    pub title: String,
    /// The command line that made it, shown so that the report can be made again.
    pub command: String,
    /// Lines shown as a list under the command (temperature convention, metric definitions,
    /// machine, ...), as Markdown.
    pub notes: Vec<String>,
}

/// The files a report wrote.
#[derive(Clone, Debug, PartialEq)]
pub struct ReportFiles {
    /// The report folder.
    pub dir: PathBuf,
    /// Every file written, in order: `results.csv`, `results.json`, the figures (each PNG followed
    /// by its SVG), `report.md` last.
    pub files: Vec<PathBuf>,
}

impl ReportFiles {
    /// The report's Markdown file.
    pub fn report_md(&self) -> PathBuf {
        self.dir.join("report.md")
    }
}

/// One figure to draw.
enum Job<'a> {
    Samples(&'a DatasetSummary),
    Images(&'a DatasetSummary, (usize, usize)),
    Metric(&'static metric::Metric),
}

/// Writes the report of `runs` on `datasets` into `dir` (created with its parents if needed),
/// replacing the folder whole (see [`ReportFolder`]).
///
/// Fails, before writing anything, when a run refers to a data set that `datasets` lacks or their
/// dimensions or lengths disagree, or when `dir` cannot be claimed ([`ReportFolder::claim`]);
/// fails when a file cannot be written, leaving the old folder as it was.
pub fn write_report(
    dir: &Path,
    runs: &[RunOutput],
    datasets: &[DatasetSummary],
    options: &ReportOptions,
) -> anyhow::Result<ReportFiles> {
    inputs::check(runs, datasets)?;
    write_report_in(ReportFolder::claim(dir)?, runs, datasets, options)
}

/// Writes the report of `runs` on `datasets` into a folder claimed beforehand (so that a command
/// finds a folder it cannot write before its runs), and puts it in place.
///
/// Fails as [`write_report`] does; on an error the old folder is as it was.
pub fn write_report_in(
    folder: ReportFolder,
    runs: &[RunOutput],
    datasets: &[DatasetSummary],
    options: &ReportOptions,
) -> anyhow::Result<ReportFiles> {
    let names = write_files(folder.staging(), runs, datasets, options)?;
    let dir = folder.path().to_path_buf();
    folder.commit()?;
    Ok(ReportFiles {
        files: names.iter().map(|n| dir.join(n)).collect(),
        dir,
    })
}

/// Writes every file of the report into the (empty) folder `dir`; returns their names in order.
fn write_files(
    dir: &Path,
    runs: &[RunOutput],
    datasets: &[DatasetSummary],
    options: &ReportOptions,
) -> anyhow::Result<Vec<PathBuf>> {
    let used = inputs::check(runs, datasets)?;
    let records: Vec<RunRecord> = runs.iter().map(|r| r.record.clone()).collect();
    let mut files = vec![dir.join("results.csv"), dir.join("results.json")];
    write_csv(&files[0], &records)?;
    write_json(&files[1], &records)?;

    let sweep = groups::arrange(runs);
    let mut jobs = Vec::new();
    let mut stems: Vec<String> = Vec::new();
    for (g, group) in sweep.groups.iter().enumerate() {
        let data = used
            .iter()
            .find(|d| d.name == group.dataset)
            .expect("every data set a run refers to was checked");
        let mut stem = |what: &str| {
            let study = if group.shared {
                format!("_study{}", group.study)
            } else {
                String::new()
            };
            let base = format!(
                "{}_{}{study}_{}",
                sanitize(group.dataset),
                group.mode.name(),
                sanitize(what)
            );
            // Two data set names may sanitise to the same text.
            let mut name = base.clone();
            let mut n = 2;
            while stems.contains(&name) {
                name = format!("{base}_{n}");
                n += 1;
            }
            stems.push(name.clone());
            name
        };
        if data.dim == 2 {
            jobs.push((g, stem("samples"), Job::Samples(data)));
        }
        if let Some(shape) = data.image_shape {
            jobs.push((g, stem("images"), Job::Images(data, shape)));
        }
        for m in &metric::PLOTTED {
            let has = group.cells.iter().any(|c| {
                c.runs
                    .iter()
                    .any(|r| (m.value)(&r.record.metrics).is_some())
            });
            if has {
                jobs.push((g, stem(m.id), Job::Metric(m)));
            }
        }
    }

    // Each figure is independent: drawn in parallel, collected in job order.
    let drawn: Vec<Option<(usize, FigureLink, [PathBuf; 2])>> = jobs
        .par_iter()
        .map(|(g, stem, job)| {
            let group = &sweep.groups[*g];
            let what = group.heading();
            let (caption, paths) = match job {
                Job::Samples(data) => (
                    format!("{what}: final samples"),
                    figure::render(&sample_grid::sample_grid(&sweep, group, data), dir, stem)?,
                ),
                Job::Images(data, shape) => (
                    format!("{what}: generated images"),
                    figure::render(
                        &image_grid::image_grid(&sweep, group, data, *shape),
                        dir,
                        stem,
                    )?,
                ),
                Job::Metric(m) => match metric_plot::metric_plot(&sweep, group, m) {
                    Some(plot) => (
                        format!("{what}: {} against temperature", m.label),
                        figure::render(&plot, dir, stem)?,
                    ),
                    None => return Ok(None),
                },
            };
            let link = FigureLink {
                caption,
                png: format!("{stem}.png"),
                svg: format!("{stem}.svg"),
            };
            Ok(Some((*g, link, paths)))
        })
        .collect::<anyhow::Result<_>>()?;

    let mut sections: Vec<Section> = sweep
        .groups
        .iter()
        .map(|g| Section {
            heading: g.heading(),
            figures: Vec::new(),
            note: used
                .iter()
                .find(|d| d.name == g.dataset)
                .and_then(|d| layout::samples_note(d.dim, d.image_shape.is_some())),
        })
        .collect();
    for (g, link, paths) in drawn.into_iter().flatten() {
        sections[g].figures.push(link);
        files.extend(paths);
    }

    let table = summary_table(&records);
    let md = markdown::report_markdown(options, &table, &sections, &records);
    let report = dir.join("report.md");
    atomic_write::write_atomically(&report, md.as_bytes())?;
    files.push(report);
    Ok(files
        .iter()
        .map(|f| f.strip_prefix(dir).unwrap_or(f).to_path_buf())
        .collect())
}
