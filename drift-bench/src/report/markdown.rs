//! `report.md`: the title, the command, the notes, the summary table, the figures of each data set
//! and mode, and the runs that did not finish.

use super::ReportOptions;
use crate::compare::record::{RunRecord, RunStatus};
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
