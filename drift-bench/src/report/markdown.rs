//! `report.md`: the title, the command, the notes, the summary table, the figures of each data set
//! and mode, the settings (each study's, each operator with every default, the sweep as RON that
//! runs it again, the version) and the runs that did not finish.

use super::summary::table_cell;
use super::ReportOptions;
use crate::compare::operator_spec::differences_from_registry;
use crate::compare::record::{Mode, RunRecord, RunStatus};
use crate::compare::rerun::sweep_of_records;
use std::fmt::Write as _;

/// A figure written as a PNG and an SVG, as the report links it.
#[derive(Clone, Debug, PartialEq)]
pub(crate) struct FigureLink {
    /// What it shows.
    pub caption: String,
    /// The PNG's file name (in the report folder).
    pub png: String,
    /// The SVG's file name.
    pub svg: String,
}

/// The figures of one data set and mode.
#[derive(Clone, Debug, PartialEq)]
pub(crate) struct Section {
    /// `digits · flow`.
    pub heading: String,
    /// In the order shown.
    pub figures: Vec<FigureLink>,
    /// A line said before the figures (why a figure is missing).
    pub note: Option<String>,
}

/// `text` with the characters that Markdown would read as markup escaped, on one line.
pub(crate) fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '\\' | '`' | '*' | '_' | '[' | ']' | '<' | '>' | '|' | '#' => {
                out.push('\\');
                out.push(c);
            }
            '\n' | '\r' => out.push(' '),
            _ => out.push(c),
        }
    }
    out
}

/// A fenced code block around `text`, with a fence longer than any run of backticks inside.
fn fenced(text: &str) -> String {
    let mut longest = 0;
    let mut run = 0;
    for c in text.chars() {
        run = if c == '`' { run + 1 } else { 0 };
        longest = longest.max(run);
    }
    let fence = "`".repeat(longest.max(2) + 1);
    format!("{fence}text\n{text}\n{fence}\n")
}

/// The whole of `report.md`.
pub(crate) fn report_markdown(
    options: &ReportOptions,
    table: &str,
    sections: &[Section],
    runs: &[RunRecord],
) -> String {
    let mut md = String::new();
    let _ = writeln!(md, "# {}\n", escape(&options.title));
    let _ = writeln!(md, "Made by:\n\n{}", fenced(&options.command));
    for note in &options.notes {
        let _ = writeln!(md, "- {}", note.replace('\n', " "));
    }
    if !options.notes.is_empty() {
        md.push('\n');
    }
    let _ = writeln!(
        md,
        "Every run, every metric, its exact operator and seed: [results.csv](results.csv), \
         [results.json](results.json).\n"
    );
    let _ = writeln!(md, "## Summary\n\n{table}");
    for section in sections {
        let _ = writeln!(md, "## {}\n", escape(&section.heading));
        if let Some(note) = &section.note {
            let _ = writeln!(md, "{note}\n");
        }
        for f in &section.figures {
            let _ = writeln!(
                md,
                "![{}]({}) ([SVG]({}))\n",
                escape(&f.caption),
                f.png,
                f.svg
            );
        }
    }
    md.push_str(&settings_section(runs));
    let _ = writeln!(md, "## Runs that did not finish\n");
    let mut any = false;
    for r in runs {
        let k = &r.key;
        let end = match &r.status {
            RunStatus::Ok => continue,
            RunStatus::Diverged { step } => format!("diverged at step {step}"),
            RunStatus::Failed { message } => format!("failed: {}", escape(message)),
        };
        any = true;
        let _ = writeln!(
            md,
            "- {} on {} ({}, T={}, seed {}): {end}",
            escape(&k.operator),
            escape(&k.dataset),
            k.mode.name(),
            k.temperature,
            k.seed
        );
    }
    if !any {
        let _ = writeln!(md, "Every run finished.");
    }
    md
}

/// `## Settings`: the version, each study's settings, each operator with every parameter, and the
/// sweep as RON that runs the whole comparison again. Empty when the runs carry no settings
/// (records made by hand).
fn settings_section(runs: &[RunRecord]) -> String {
    let Ok(sweep) = sweep_of_records(runs) else {
        return String::new();
    };
    let mut md = String::from("## Settings\n\n");
    let versions: Vec<&str> = {
        let mut v: Vec<&str> = runs
            .iter()
            .map(|r| r.key.settings.version.as_str())
            .collect();
        v.sort_unstable();
        v.dedup();
        v
    };
    let _ = writeln!(
        md,
        "Made with drift-bench {}. Every row of results.csv and results.json also carries these \
         settings, its operator with every default (`operator_expanded`) and the command.\n",
        versions.join(", ")
    );
    let header = [
        "study",
        "data sets",
        "modes",
        "points",
        "data seed",
        "test fraction",
        "precision",
        "backend",
        "flow steps",
        "η",
        "particles",
        "start",
        "train steps",
        "batch",
        "hidden",
        "layers",
        "latent",
        "learning rate",
        "features",
    ];
    let _ = writeln!(md, "| {} |", header.join(" | "));
    let _ = writeln!(md, "|{}", "---|".repeat(header.len()));
    let mut indices: Vec<usize> = runs.iter().map(|r| r.key.settings.study).collect();
    indices.sort_unstable();
    indices.dedup();
    for (index, study) in indices.iter().zip(&sweep.studies) {
        let flow = study.modes.contains(&Mode::Flow);
        let train = study.modes.contains(&Mode::Train);
        let when = |on: bool, v: String| if on { v } else { "-".to_string() };
        let first = runs
            .iter()
            .find(|r| r.key.settings.study == *index)
            .expect("every index comes from a run");
        let cells = [
            index.to_string(),
            study.datasets.join(", "),
            study
                .modes
                .iter()
                .map(|m| m.name())
                .collect::<Vec<_>>()
                .join(", "),
            study.points.to_string(),
            study.data_seed.to_string(),
            study.test_fraction.to_string(),
            first.key.settings.precision.clone(),
            first.key.settings.backend.clone(),
            when(flow, study.flow.steps.to_string()),
            when(flow, study.flow.eta.to_string()),
            when(flow, study.flow.particles.to_string()),
            when(flow, study.flow.start.to_string()),
            when(train, study.train.steps.to_string()),
            when(train, study.train.batch.to_string()),
            when(train, study.train.hidden.to_string()),
            when(train, study.train.layers.to_string()),
            when(train, study.train.latent.to_string()),
            when(train, study.train.learning_rate.to_string()),
            when(train, format!("{:?}", study.train.features)),
        ];
        let cells: Vec<String> = cells.iter().map(|c| table_cell(c)).collect();
        let _ = writeln!(md, "| {} |", cells.join(" | "));
    }
    md.push_str("\nOperators, with every parameter (the sweep's temperature multiplies each kernel temperature):\n\n");
    let mut seen: Vec<(&str, &str)> = Vec::new();
    for r in runs {
        let expanded = r.key.settings.operator_expanded.as_str();
        let pair = (r.key.operator.as_str(), expanded);
        if seen.contains(&pair) {
            continue;
        }
        seen.push(pair);
        let _ = write!(md, "- {}: `{}`", escape(pair.0), expanded.replace('`', "'"));
        if let Some(diff) = differences_from_registry(pair.0, expanded) {
            let name = pair.0.split('#').next().unwrap_or(pair.0);
            let diff: Vec<String> = diff
                .iter()
                .map(|d| format!("`{}`", d.replace('`', "'")))
                .collect();
            let _ = write!(
                md,
                " — not `-o {name}` as the registry defines it: {}",
                diff.join(", ")
            );
        }
        md.push('\n');
    }
    if let Ok(text) = ron::ser::to_string_pretty(&sweep, ron::ser::PrettyConfig::default()) {
        let _ = writeln!(
            md,
            "\nThe sweep, every operator written out: saved as `sweep.ron`, `drift-bench compare \
             sweep.ron` runs it again (a `file:` data set is read from the path shown, relative to \
             the folder the command ran in).\n\n{}",
            fenced(&text).replacen("text\n", "ron\n", 1)
        );
    }
    md
}

#[cfg(test)]
mod tests {
    use super::{escape, fenced};

    #[test]
    fn escapes_markup_and_fences_backticks() {
        assert_eq!(escape("a_b *c*\nd"), "a\\_b \\*c\\* d");
        assert_eq!(fenced("x"), "```text\nx\n```\n");
        assert_eq!(fenced("a ``` b"), "````text\na ``` b\n````\n");
    }
}
