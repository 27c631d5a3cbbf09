//! Final samples of 2-D runs: rows are operators, columns temperatures, one panel per run of the
//! first seed, drawn over the held-out data (light grey).
//!
//! Every panel has the same square axis limits, set by the held-out data with a margin, so that
//! panels compare at a glance; a panel's title counts the samples that fall outside them (they are
//! not drawn), and the figure's title says so. A run that diverged or failed has no samples: its
//! panel says so. The title wraps to the grid's width, and a panel's caption shrinks (or is cut)
//! to its panel's, so that neither is cut off in a narrow grid.

use super::figure::{draw_title_lines, drawn, Figure};
use super::font::FAMILY;
use super::groups::{Group, Sweep};
use super::layout::{chars_that_fit, fit_caption, wrap};
use super::number::short;
use super::palette::{operator_colour, ALERT, REFERENCE};
use crate::compare::record::{DatasetSummary, RunOutput, RunStatus};
use plotters::coord::Shift;
use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};

/// At most this many samples per panel, and this many held-out points behind them (evenly strided),
/// so that an SVG stays small.
const MAX_SAMPLES: usize = 600;
const MAX_REFERENCE: usize = 300;
const PANEL: u32 = 230;
/// The title's font size and line height, and the room below it.
const TITLE_SIZE: u32 = 16;
const TITLE_LINE: u32 = 20;
const TITLE_PAD: u32 = 16;
/// A panel caption's font sizes, largest first.
const CAPTION_SIZES: (u32, u32) = (12, 8);

/// One panel.
#[derive(Clone, Debug)]
struct Panel {
    caption: String,
    colour: RGBColor,
    samples: Vec<(f64, f64)>,
    /// Why there are no samples.
    note: Option<String>,
}

/// The grid of one 2-D data set and mode.
#[derive(Clone, Debug)]
pub(crate) struct SampleGrid {
    title: String,
    rows: usize,
    cols: usize,
    /// Row-major.
    panels: Vec<Panel>,
    reference: Vec<(f64, f64)>,
    x: (f64, f64),
    y: (f64, f64),
}

/// Every `ceil(n / max)`-th point of the row-major 2-D `points`.
fn strided(points: &[f64], max: usize) -> Vec<(f64, f64)> {
    let n = points.len() / 2;
    let step = n.div_ceil(max).max(1);
    (0..n)
        .step_by(step)
        .map(|i| (points[2 * i], points[2 * i + 1]))
        .collect()
}

/// Square limits around `points` (with a 10% margin), `[-1, 1]²` when there are none.
fn limits(points: impl Iterator<Item = (f64, f64)>) -> ((f64, f64), (f64, f64)) {
    let (mut x0, mut x1, mut y0, mut y1) = (
        f64::INFINITY,
        f64::NEG_INFINITY,
        f64::INFINITY,
        f64::NEG_INFINITY,
    );
    for (x, y) in points.filter(|(x, y)| x.is_finite() && y.is_finite()) {
        x0 = x0.min(x);
        x1 = x1.max(x);
        y0 = y0.min(y);
        y1 = y1.max(y);
    }
    if x0 > x1 {
        return ((-1.0, 1.0), (-1.0, 1.0));
    }
    let half = ((x1 - x0).max(y1 - y0) / 2.0 * 1.1).max(1e-9);
    let (cx, cy) = ((x0 + x1) / 2.0, (y0 + y1) / 2.0);
    ((cx - half, cx + half), (cy - half, cy + half))
}

/// The grid for `group` of 2-D `dataset`.
pub(crate) fn sample_grid(
    sweep: &Sweep<'_, RunOutput>,
    group: &Group<'_, RunOutput>,
    dataset: &DatasetSummary,
) -> SampleGrid {
    let reference = strided(&dataset.reference, MAX_REFERENCE);
    let (x, y) = if reference.is_empty() {
        let all = group
            .cells
            .iter()
            .flat_map(|c| c.runs.iter())
            .flat_map(|r| strided(&r.samples, MAX_SAMPLES));
        limits(all)
    } else {
        limits(reference.iter().copied())
    };
    let inside = |&(px, py): &(f64, f64)| px >= x.0 && px <= x.1 && py >= y.0 && py <= y.1;
    let mut panels = Vec::new();
    for &op in &group.operators {
        for &t in &group.temperatures {
            let mut caption = format!("{} · T={t}", sweep.operators[op]);
            let run = group.cell(op, t).and_then(|c| c.runs.first());
            let (samples, note) = match run {
                None => (Vec::new(), Some("no run".to_string())),
                Some(run) => match &run.record.status {
                    RunStatus::Diverged { step } => {
                        (Vec::new(), Some(format!("diverged at step {step}")))
                    }
                    RunStatus::Failed { .. } => (Vec::new(), Some("failed".to_string())),
                    RunStatus::Ok => {
                        let all = strided(&run.samples, usize::MAX);
                        let outside = all.iter().filter(|p| !inside(p)).count();
                        if outside > 0 {
                            caption = format!("{caption} · {outside} outside");
                        }
                        // Points outside the limits are counted in the title, not drawn on the
                        // panel's edge.
                        let shown = strided(&run.samples, MAX_SAMPLES);
                        (shown.into_iter().filter(inside).collect(), None)
                    }
                },
            };
            panels.push(Panel {
                caption,
                colour: operator_colour(op),
                samples,
                note,
            });
        }
    }
    SampleGrid {
        title: format!(
            "{}: final samples (first seed) over held-out data (grey); N outside: samples \
             beyond the limits set by the held-out data, not drawn",
            group.heading()
        ),
        rows: group.operators.len(),
        cols: group.temperatures.len(),
        panels,
        reference,
        x,
        y,
    }
}

impl SampleGrid {
    /// The title's lines, wrapped to the grid's width.
    fn title_lines(&self) -> Vec<String> {
        let width = PANEL * self.cols.max(1) as u32 - 20;
        wrap(&self.title, chars_that_fit(width, TITLE_SIZE))
    }

    /// Height of the title's band.
    fn title_height(&self) -> u32 {
        TITLE_LINE * self.title_lines().len() as u32 + TITLE_PAD
    }
}

impl Figure for SampleGrid {
    fn size(&self) -> (u32, u32) {
        (
            PANEL * self.cols.max(1) as u32,
            self.title_height() + PANEL * self.rows.max(1) as u32,
        )
    }

    fn draw<DB: DrawingBackend>(&self, root: &DrawingArea<DB, Shift>) -> anyhow::Result<()> {
        let (top, body) = root.split_vertically(self.title_height());
        draw_title_lines(
            &top,
            &self.title_lines(),
            TITLE_SIZE,
            (10, 10),
            TITLE_LINE as i32,
        )?;
        let areas = body.split_evenly((self.rows.max(1), self.cols.max(1)));
        for (panel, area) in self.panels.iter().zip(&areas) {
            let (caption, size) =
                fit_caption(&panel.caption, PANEL - 10, CAPTION_SIZES.0, CAPTION_SIZES.1);
            let mut chart = drawn(
                ChartBuilder::on(area)
                    .caption(&caption, (FAMILY, size))
                    .margin(5)
                    .x_label_area_size(18)
                    .y_label_area_size(30)
                    .build_cartesian_2d(self.x.0..self.x.1, self.y.0..self.y.1),
                "a panel",
            )?;
            drawn(
                chart
                    .configure_mesh()
                    .disable_mesh()
                    .x_labels(3)
                    .y_labels(3)
                    .x_label_formatter(&|v| short(*v, 2))
                    .y_label_formatter(&|v| short(*v, 2))
                    .label_style((FAMILY, 9))
                    .draw(),
                "a panel's axes",
            )?;
            drawn(
                chart.draw_series(
                    self.reference
                        .iter()
                        .map(|&p| Circle::new(p, 1, REFERENCE.filled())),
                ),
                "the held-out data",
            )?;
            let colour = panel.colour.mix(0.8);
            drawn(
                chart.draw_series(
                    panel
                        .samples
                        .iter()
                        .map(|&p| Circle::new(p, 1, colour.filled())),
                ),
                "samples",
            )?;
            if let Some(note) = &panel.note {
                let centre = ((self.x.0 + self.x.1) / 2.0, (self.y.0 + self.y.1) / 2.0);
                let style = (FAMILY, 14)
                    .into_font()
                    .color(&ALERT)
                    .pos(Pos::new(HPos::Center, VPos::Center));
                drawn(
                    chart.draw_series(std::iter::once(Text::new(note.clone(), centre, style))),
                    "a note",
                )?;
            }
        }
        Ok(())
    }
}
