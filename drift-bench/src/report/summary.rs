//! The summary table: one Markdown row per data set, mode, operator and temperature, aggregating the
//! seeds.
//!
//! A numeric cell is the mean over the seeds that have the metric, followed by `± s` (the sample
//! standard deviation) when more than one seed has it; a coverage cell is `k/K`, or `k1–k2/K` when
//! the seeds disagree. Columns of metrics that no run has are left out. The cells are padded so that
//! the table also reads as a table in a terminal.

use super::groups::{arrange, Cell};
use super::number::significant;
use super::stats::spread;
use crate::compare::record::{RunMetrics, RunRecord, RunStatus};

/// How a column reads a cell.
enum Kind {
    /// A real metric: mean ± standard deviation.
    Mean(fn(&RunMetrics) -> Option<f64>),
    /// A count out of a total: `k/K`.
    Count(
        fn(&RunMetrics) -> Option<usize>,
        fn(&RunMetrics) -> Option<usize>,
    ),
}

/// The header of the Sinkhorn iterations' column (its cells carry the unconverged mark).
const SINKHORN_HEADER: &str = "Sinkhorn it.";

/// A metric column.
struct Column {
    header: &'static str,
    kind: Kind,
}

const METRIC_COLUMNS: [Column; 10] = [
    Column {
        header: "W2²",
        kind: Kind::Mean(|m| m.w2_sq),
    },
    Column {
        header: "sliced W2",
        kind: Kind::Mean(|m| m.sliced_w2),
    },
    Column {
        header: "MMD²",
        kind: Kind::Mean(|m| m.mmd_sq),
    },
    Column {
        header: "energy",
        kind: Kind::Mean(|m| m.energy),
    },
    Column {
        header: "modes",
        kind: Kind::Count(|m| m.modes_covered, |m| m.modes_total),
    },
    Column {
        header: "mass err",
        kind: Kind::Mean(|m| m.mode_mass_error),
    },
    Column {
        header: "classes",
        kind: Kind::Count(|m| m.classes_covered, |m| m.classes_total),
    },
    Column {
        header: "accuracy",
        kind: Kind::Mean(|m| m.accuracy),
    },
    Column {
        header: "ms/step",
        kind: Kind::Mean(|m| m.ms_per_step),
    },
    Column {
        header: SINKHORN_HEADER,
        kind: Kind::Mean(|m| m.sinkhorn_iters),
    },
];

impl Column {
    /// Whether any run has this metric.
    fn present(&self, runs: &[RunRecord]) -> bool {
        runs.iter().any(|r| match self.kind {
            Kind::Mean(value) => value(&r.metrics).is_some(),
            Kind::Count(covered, _) => covered(&r.metrics).is_some(),
        })
    }

    /// The text of a cell.
    fn cell(&self, runs: &[&RunRecord]) -> String {
        match self.kind {
            Kind::Mean(value) => match spread(runs.iter().filter_map(|r| value(&r.metrics))) {
                None => "-".to_string(),
                Some(s) if s.n == 1 => significant(s.mean, 3),
                Some(s) => format!("{} ± {}", significant(s.mean, 3), significant(s.sd, 2)),
            },
            Kind::Count(covered, total) => {
                let counts: Vec<usize> = runs.iter().filter_map(|r| covered(&r.metrics)).collect();
                let (Some(lo), Some(hi)) = (counts.iter().min(), counts.iter().max()) else {
                    return "-".to_string();
                };
                let total = runs
                    .iter()
                    .filter_map(|r| total(&r.metrics))
                    .max()
                    .map(|k| k.to_string())
                    .unwrap_or_else(|| "?".to_string());
                if lo == hi {
                    format!("{lo}/{total}")
                } else {
                    format!("{lo}–{hi}/{total}")
                }
            }
        }
    }
}

/// How the runs of a cell ended: `2 ok`, `1 ok, 1 diverged`, `2 failed`.
fn outcome(runs: &[&RunRecord]) -> String {
    let count = |name: &str| runs.iter().filter(|r| r.status.name() == name).count();
    let parts: Vec<String> = ["ok", "diverged", "failed"]
        .iter()
        .map(|name| (count(name), name))
        .filter(|(n, _)| *n > 0)
        .map(|(n, name)| format!("{n} {name}"))
        .collect();
    parts.join(", ")
}

/// Rows of cells as a Markdown table, each column padded to its widest cell.
fn markdown_table(header: &[String], rows: &[Vec<String>], numeric: &[bool]) -> String {
    let width = |i: usize| {
        rows.iter()
            .map(|r| r[i].chars().count())
            .chain([header[i].chars().count(), 3])
            .max()
            .unwrap_or(3)
    };
    let widths: Vec<usize> = (0..header.len()).map(width).collect();
    let pad = |text: &str, i: usize| {
        let fill = " ".repeat(widths[i] - text.chars().count());
        if numeric[i] {
            format!("{fill}{text}")
        } else {
            format!("{text}{fill}")
        }
    };
    let line = |cells: Vec<String>| format!("| {} |\n", cells.join(" | "));
    let mut out = line(header.iter().enumerate().map(|(i, h)| pad(h, i)).collect());
    out.push_str(&line(
        widths
            .iter()
            .zip(numeric)
            .map(|(w, &right)| {
                if right {
                    format!("{}:", "-".repeat(w - 1))
                } else {
                    "-".repeat(*w)
                }
            })
            .collect(),
    ));
    for row in rows {
        out.push_str(&line(
            row.iter().enumerate().map(|(i, c)| pad(c, i)).collect(),
        ));
    }
    out
}

/// `text` as one cell of a Markdown table: `|` escaped, line breaks as spaces (the rest as is:
/// inside a word `_` is not markup).
pub(crate) fn table_cell(text: &str) -> String {
    text.replace('|', "\\|").replace(['\n', '\r'], " ")
}

/// Fewer generator training steps than this cannot learn a data set: the table marks such rows.
pub const TRAIN_STEPS_TO_LEARN: usize = 100;

/// The Markdown summary table of `runs`, followed by lines saying how to read it.
///
/// One row per (data set, mode, study, operator, temperature), sorted by data set, mode, study and
/// operator in the order the runs first list them, then by temperature; the `runs` column counts the
/// seeds that finished, diverged and failed. Runs of different studies are never one row: a
/// `study` column appears when two studies ran on the same data set and mode. Labels and names are
/// escaped so that a `|` or a line break cannot break the table. Training rows of fewer than
/// [`TRAIN_STEPS_TO_LEARN`] steps are marked `train†`, with a note under the table; a row with a
/// run whose Sinkhorn coupling stopped at its iteration cap unconverged has its Sinkhorn cell
/// marked `‡`, with the worst marginal error under the table.
pub fn summary_table(runs: &[RunRecord]) -> String {
    let sweep = arrange(runs);
    let columns: Vec<&Column> = METRIC_COLUMNS.iter().filter(|c| c.present(runs)).collect();
    let with_study = sweep.groups.iter().any(|g| g.shared);
    let mut header: Vec<String> = ["dataset", "mode", "operator", "T", "runs"]
        .iter()
        .map(|s| s.to_string())
        .collect();
    let mut numeric = vec![false, false, false, true, false];
    if with_study {
        header.insert(2, "study".to_string());
        numeric.insert(2, true);
    }
    header.extend(columns.iter().map(|c| c.header.to_string()));
    numeric.extend(columns.iter().map(|_| true));
    let mut rows = Vec::new();
    let mut short_training: Vec<usize> = Vec::new();
    let (mut unconverged_rows, mut unconverged_worst) = (0usize, None::<f64>);
    let sinkhorn_at = header.iter().position(|h| h == SINKHORN_HEADER);
    for group in &sweep.groups {
        for cell in &group.cells {
            let Cell {
                operator,
                temperature,
                runs,
            } = cell;
            let runs: Vec<&RunRecord> = runs.to_vec();
            let steps = runs
                .iter()
                .filter_map(|r| r.key.settings.train_steps)
                .filter(|s| *s < TRAIN_STEPS_TO_LEARN)
                .max();
            let mut mode = group.mode.name().to_string();
            if let Some(steps) = steps {
                mode.push('†');
                if !short_training.contains(&steps) {
                    short_training.push(steps);
                }
            }
            let mut row = vec![
                table_cell(group.dataset),
                mode,
                table_cell(sweep.operators[*operator]),
                temperature.to_string(),
                outcome(&runs),
            ];
            if with_study {
                row.insert(2, group.study.to_string());
            }
            row.extend(columns.iter().map(|c| c.cell(&runs)));
            // A run whose coupling stopped at its cap unconverged: its Sinkhorn cell says so.
            let capped = runs
                .iter()
                .filter(|r| r.metrics.sinkhorn_unconverged.is_some_and(|k| k > 0));
            if let Some(worst) = capped
                .filter_map(|r| r.metrics.sinkhorn_error)
                .reduce(f64::max)
            {
                if let Some(cell) = sinkhorn_at.and_then(|i| row.get_mut(i)) {
                    cell.push('‡');
                }
                unconverged_worst = Some(unconverged_worst.map_or(worst, |w: f64| w.max(worst)));
                unconverged_rows += 1;
            }
            rows.push(row);
        }
    }
    let mut out = markdown_table(&header, &rows, &numeric);
    if !short_training.is_empty() {
        short_training.sort_unstable();
        let steps: Vec<String> = short_training.iter().map(usize::to_string).collect();
        out.push_str(&format!(
            "\n† {} training step(s): too few for a generator to learn (at least {} are needed); \
             these rows show an untrained generator, not the operator's quality.\n",
            steps.join(", "),
            TRAIN_STEPS_TO_LEARN
        ));
    }
    if let Some(worst) = unconverged_worst {
        out.push_str(&format!(
            "\n‡ {unconverged_rows} row(s) where a Sinkhorn coupling of the run's last step stopped at \
             its iteration cap without reaching its tolerance (worst L1 marginal error {}): their \
             field is not the exact Sinkhorn field (raise `max_iters`, or use ε-scaling); \
             `results.csv` gives each run's `sinkhorn_unconverged` and `sinkhorn_error`.\n",
            significant(worst, 2)
        ));
    }
    let diverged = runs
        .iter()
        .filter(|r| matches!(r.status, RunStatus::Diverged { .. }))
        .count();
    let failed = runs
        .iter()
        .filter(|r| matches!(r.status, RunStatus::Failed { .. }))
        .count();
    out.push_str(&format!(
        "\nT: temperature relative to the data's scale. Cells: mean ± sample standard deviation \
         over the seeds that have the metric; k/K: modes or classes covered (range over seeds). \
         {} runs: {} diverged, {} failed.\n",
        runs.len(),
        diverged,
        failed
    ));
    out
}
