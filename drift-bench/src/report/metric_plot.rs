//! A metric against temperature for one data set and mode: one line per operator through the mean
//! over seeds, with the seeds' range (min–max) as a shaded band and error bars.
//!
//! The temperature axis is logarithmic. The metric axis spans 0 to the largest possible value for a
//! count or a fraction (modes covered, accuracy), and is logarithmic for a distance whose values
//! span more than a factor 30. Runs that diverged or failed have no value: a cross in the operator's
//! colour at the top of the plot marks each temperature where one did, and the legend counts them.
//! A line breaks at a temperature where the operator has no value.
//!
//! Lines that share a point are drawn side by side (each operator's temperatures moved by a small
//! factor), and a line that coincides with an earlier one everywhere says so in the legend
//! (`= one_sided`), each operator's points have their own shape (circle, square, triangle,
//! diamond), so that no operator hides behind another. Counts have whole-number ticks, a
//! logarithmic metric axis round ones (1-2-5 of each decade). A point where a Sinkhorn coupling
//! stopped at its cap unconverged carries a ‡, as the summary table does.

use super::figure::{drawn, Figure};
use super::font::FAMILY;
use super::groups::{Group, HasRecord, Sweep};
use super::layout::{any_overlap, coinciding, dodge, fit_caption, integer_ticks, log_ticks, wrap};
use super::metric::Metric;
use super::number::short;
use super::palette::operator_colour;
use super::stats::spread;
use crate::compare::record::RunStatus;
use plotters::coord::Shift;
use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};

/// The seeds of one cell.
#[derive(Clone, Copy, Debug)]
struct Point {
    t: f64,
    mean: f64,
    min: f64,
    max: f64,
    n: usize,
    /// Whether a run of the cell ended with a Sinkhorn coupling unconverged at its cap.
    unconverged: bool,
}

/// One operator's line.
#[derive(Clone, Debug)]
struct Series {
    label: String,
    colour: RGBColor,
    /// Runs of points at consecutive temperatures of the group.
    segments: Vec<Vec<Point>>,
    /// Temperatures at which a run diverged or failed.
    failures: Vec<f64>,
    /// Height of this operator's crosses, above the data.
    cross_y: f64,
    /// The factor its temperatures are drawn at (1 unless lines share points).
    dodge: f64,
    /// Its line's width: wider under a later line that coincides with it, so both show.
    width: u32,
    /// Its points' shape ([`marker_shape`]), one per operator in turn, so that points drawn over each
    /// other still show whose they are.
    marker: usize,
}

/// The outline of marker `k` in pixels around its point: a circle (an octagon at this size), a
/// square, a triangle and a diamond, in turn.
fn marker_shape(k: usize) -> Vec<(i32, i32)> {
    match k % 4 {
        0 => vec![
            (-1, -3),
            (1, -3),
            (3, -1),
            (3, 1),
            (1, 3),
            (-1, 3),
            (-3, 1),
            (-3, -1),
        ],
        1 => vec![(-3, -3), (3, -3), (3, 3), (-3, 3)],
        2 => vec![(0, -4), (4, 3), (-4, 3)],
        _ => vec![(0, -4), (4, 0), (0, 4), (-4, 0)],
    }
}

/// The figure of one metric.
#[derive(Clone, Debug)]
pub(crate) struct MetricPlot {
    title: String,
    y_label: String,
    series: Vec<Series>,
    t_range: (f64, f64),
    y_range: (f64, f64),
    log_y: bool,
    /// Where the metric axis has its ticks (in the axis's coordinate) and what they read; `None`
    /// leaves them to plotters.
    y_ticks: Option<Vec<(f64, String)>>,
}

/// The most ticks the metric axis gets.
const MAX_Y_TICKS: usize = 10;

/// How far apart (in decades of temperature, per operator) lines that share points are drawn, as a
/// fraction of the axis's span in decades.
const DODGE_FRACTION: f64 = 0.01;

/// Points closer than this fraction of the metric axis's span are taken as one.
const SAME_POINT: f64 = 0.004;

/// The most decades the temperature axis spans.
const MAX_DECADES: i32 = 200;

const WIDTH: u32 = 780;
const HEIGHT: u32 = 440;
const LEGEND_WIDTH: u32 = 230;

/// The plot of `metric` for `group`, or `None` when no run of the group has the metric (or no
/// temperature is positive, which a logarithmic axis cannot show).
pub(crate) fn metric_plot<R: HasRecord>(
    sweep: &Sweep<'_, R>,
    group: &Group<'_, R>,
    metric: &Metric,
) -> Option<MetricPlot> {
    let value = |r: &R| (metric.value)(&r.record().metrics).filter(|v| v.is_finite());
    let temperatures: Vec<f64> = group
        .temperatures
        .iter()
        .copied()
        .filter(|t| *t > 0.0 && t.is_finite())
        .collect();
    let any_value = group
        .cells
        .iter()
        .any(|c| c.runs.iter().any(|r| value(r).is_some()));
    if !any_value || temperatures.is_empty() {
        return None;
    }
    // A logarithmic axis spanning more than MAX_DECADES decades (or reaching past f64's range,
    // where the axis's tick search never ends) cannot be drawn: the lowest temperatures are left
    // off it, and the title says how many.
    let t_hi_axis = (temperatures[temperatures.len() - 1] * 1.4).min(f64::MAX);
    let t_lo_axis = (temperatures[0] / 1.4).max(t_hi_axis / 10f64.powi(MAX_DECADES));
    let mut temperatures = temperatures;
    let hidden = temperatures.iter().filter(|t| **t < t_lo_axis).count();
    temperatures.retain(|t| *t >= t_lo_axis);
    let mut series = Vec::new();
    for &op in &group.operators {
        let mut segments: Vec<Vec<Point>> = vec![Vec::new()];
        let mut failures = Vec::new();
        let (mut diverged, mut failed) = (0, 0);
        for &t in &temperatures {
            let cell = group.cell(op, t);
            let runs = cell.map(|c| c.runs.as_slice()).unwrap_or_default();
            let ended_badly = |r: &&&R| !matches!(r.record().status, RunStatus::Ok);
            diverged += runs
                .iter()
                .filter(|r| matches!(r.record().status, RunStatus::Diverged { .. }))
                .count();
            failed += runs
                .iter()
                .filter(|r| matches!(r.record().status, RunStatus::Failed { .. }))
                .count();
            if runs.iter().any(|r| ended_badly(&r)) {
                failures.push(t);
            }
            match spread(runs.iter().filter_map(|r| value(r))) {
                Some(s) => segments.last_mut().expect("never empty").push(Point {
                    t,
                    mean: s.mean,
                    min: s.min,
                    max: s.max,
                    n: s.n,
                    unconverged: runs.iter().any(|r| {
                        r.record()
                            .metrics
                            .sinkhorn_unconverged
                            .is_some_and(|k| k > 0)
                    }),
                }),
                None => segments.push(Vec::new()),
            }
        }
        segments.retain(|s| !s.is_empty());
        let mut label = sweep.operators[op].to_string();
        let counts: Vec<String> = [(diverged, "diverged"), (failed, "failed")]
            .iter()
            .filter(|(n, _)| *n > 0)
            .map(|(n, what)| format!("{n} {what}"))
            .collect();
        if !counts.is_empty() {
            label = format!("{label} ({})", counts.join(", "));
        }
        series.push(Series {
            label,
            colour: operator_colour(op),
            segments,
            failures,
            cross_y: 0.0,
            dodge: 1.0,
            width: 2,
            marker: series.len(),
        });
    }

    let points = || series.iter().flat_map(|s| s.segments.iter().flatten());
    let lo = points().map(|p| p.min).fold(f64::INFINITY, f64::min);
    let hi = points().map(|p| p.max).fold(f64::NEG_INFINITY, f64::max);
    let ceiling = group
        .cells
        .iter()
        .flat_map(|c| c.runs.iter())
        .filter_map(|r| (metric.ceiling)(&r.record().metrics))
        .fold(f64::NEG_INFINITY, f64::max);
    let log_y = metric.log_ok && lo > 0.0 && hi / lo > 30.0;
    let (mut y_lo, mut y_hi) = if ceiling.is_finite() {
        (lo.min(0.0), hi.max(ceiling))
    } else if log_y {
        (lo.log10(), hi.log10())
    } else {
        (lo, hi)
    };
    if log_y {
        for s in &mut series {
            for p in s.segments.iter_mut().flatten() {
                p.mean = p.mean.log10();
                p.min = p.min.log10();
                p.max = p.max.log10();
            }
        }
    }
    let span = if y_hi > y_lo {
        y_hi - y_lo
    } else {
        y_lo.abs().max(1e-12)
    };
    y_lo -= 0.06 * span;
    y_hi += 0.06 * span;
    if series.iter().any(|s| !s.failures.is_empty()) {
        // Room above the data for the crosses, one row per operator.
        for (k, s) in series.iter_mut().enumerate() {
            s.cross_y = y_hi + 0.05 * span * (k as f64 + 1.0);
        }
        y_hi += 0.05 * span * (series.len() as f64 + 1.0);
    }
    // Lines that share points are drawn apart, and one that coincides with an earlier one says so.
    let lines: Vec<Vec<(f64, f64)>> = series
        .iter()
        .map(|s| s.segments.iter().flatten().map(|p| (p.t, p.mean)).collect())
        .collect();
    let tol = SAME_POINT * (y_hi - y_lo);
    let decades = (t_hi_axis / t_lo_axis).log10();
    let factors = dodge(
        series.len(),
        any_overlap(&lines, tol),
        DODGE_FRACTION * decades,
    );
    let same_as = coinciding(&lines, tol);
    let names: Vec<String> = group
        .operators
        .iter()
        .map(|&op| sweep.operators[op].to_string())
        .collect();
    for (k, s) in series.iter_mut().enumerate() {
        s.dodge = factors[k];
        if same_as.contains(&Some(k)) {
            s.width = 6;
        }
        if let Some(j) = same_as[k] {
            s.label = format!("{} (= {})", s.label, names[j]);
        }
        if s.segments.iter().flatten().any(|p| p.unconverged) {
            s.label.push_str(" ‡");
        }
    }
    let y_ticks = if log_y {
        let ticks = log_ticks(10f64.powf(y_lo), 10f64.powf(y_hi), MAX_Y_TICKS);
        Some(ticks.iter().map(|t| (t.log10(), short(*t, 2))).collect())
    } else if metric.integer {
        let ticks = integer_ticks(y_lo, y_hi, MAX_Y_TICKS);
        Some(ticks.iter().map(|t| (*t, format!("{t}"))).collect())
    } else {
        None
    };
    let hidden_note = if hidden > 0 {
        format!(
            " ({hidden} temperature(s) below {} not shown)",
            short(t_lo_axis, 2)
        )
    } else {
        String::new()
    };
    Some(MetricPlot {
        title: format!("{}: {}{hidden_note}", group.heading(), metric.label),
        y_label: if log_y {
            format!("{} (log scale)", metric.label)
        } else {
            metric.label.to_string()
        },
        series,
        t_range: (t_lo_axis, t_hi_axis),
        y_range: (y_lo, y_hi),
        log_y,
        y_ticks,
    })
}

impl Figure for MetricPlot {
    fn size(&self) -> (u32, u32) {
        (WIDTH, HEIGHT)
    }

    fn draw<DB: DrawingBackend>(&self, root: &DrawingArea<DB, Shift>) -> anyhow::Result<()> {
        let (title, size) = fit_caption(&self.title, WIDTH - 20, 17, 10);
        let area = drawn(root.titled(&title, (FAMILY, size)), "the title")?;
        let (plot, legend) = area.split_horizontally(WIDTH - LEGEND_WIDTH);
        let (y_lo, y_hi) = self.y_range;
        let log_y = self.log_y;
        let mut chart = drawn(
            ChartBuilder::on(&plot)
                .margin(8)
                .x_label_area_size(42)
                .y_label_area_size(62)
                .build_cartesian_2d((self.t_range.0..self.t_range.1).log_scale(), y_lo..y_hi),
            "the axes",
        )?;
        let y_format = move |v: &f64| {
            if log_y {
                short(10f64.powf(*v), 2)
            } else {
                short(*v, 3)
            }
        };
        let mut mesh = chart.configure_mesh();
        mesh.x_desc("temperature (relative to the data's scale)")
            .y_desc(&self.y_label)
            .x_label_formatter(&|t| short(*t, 2))
            .y_label_formatter(&y_format)
            .label_style((FAMILY, 12))
            .axis_desc_style((FAMILY, 13))
            .light_line_style(RGBColor(240, 240, 240));
        if self.y_ticks.is_some() {
            // Ticks chosen here (round or whole), drawn below.
            mesh.y_labels(0);
        }
        drawn(mesh.draw(), "the grid")?;
        if let Some(ticks) = &self.y_ticks {
            let (t0, t1) = self.t_range;
            drawn(
                chart.draw_series(ticks.iter().map(|(y, _)| {
                    PathElement::new(vec![(t0, *y), (t1, *y)], RGBColor(215, 215, 215))
                })),
                "the ticks' lines",
            )?;
            let style = (FAMILY, 12)
                .into_font()
                .color(&BLACK)
                .pos(Pos::new(HPos::Right, VPos::Center));
            for (y, label) in ticks {
                let (px, py) = chart.backend_coord(&(t0, *y));
                drawn(
                    root.draw_text(label, &style, (px - 6, py)),
                    "a tick's label",
                )?;
            }
        }
        for s in &self.series {
            let colour = s.colour;
            let dodged: Vec<Vec<Point>> = s
                .segments
                .iter()
                .map(|seg| {
                    seg.iter()
                        .map(|p| Point {
                            t: p.t * s.dodge,
                            ..*p
                        })
                        .collect()
                })
                .collect();
            for segment in &dodged {
                if segment.len() > 1 {
                    let mut outline: Vec<(f64, f64)> =
                        segment.iter().map(|p| (p.t, p.max)).collect();
                    outline.extend(segment.iter().rev().map(|p| (p.t, p.min)));
                    drawn(
                        chart.draw_series(std::iter::once(Polygon::new(outline, colour.mix(0.15)))),
                        "a band",
                    )?;
                }
                drawn(
                    chart.draw_series(std::iter::once(PathElement::new(
                        segment.iter().map(|p| (p.t, p.mean)).collect::<Vec<_>>(),
                        colour.stroke_width(s.width),
                    ))),
                    "a line",
                )?;
                drawn(
                    chart.draw_series(
                        segment
                            .iter()
                            .filter(|p| p.n > 1)
                            .map(|p| PathElement::new(vec![(p.t, p.min), (p.t, p.max)], colour)),
                    ),
                    "error bars",
                )?;
                drawn(
                    chart.draw_series(segment.iter().map(|p| {
                        EmptyElement::at((p.t, p.mean))
                            + Polygon::new(marker_shape(s.marker), colour.filled())
                    })),
                    "points",
                )?;
                let mark = (FAMILY, 13)
                    .into_font()
                    .color(&colour)
                    .pos(Pos::new(HPos::Center, VPos::Bottom));
                drawn(
                    chart.draw_series(
                        segment
                            .iter()
                            .filter(|p| p.unconverged)
                            .map(|p| Text::new("‡", (p.t, p.mean), mark.clone())),
                    ),
                    "the unconverged marks",
                )?;
            }
            drawn(
                chart.draw_series(
                    s.failures
                        .iter()
                        .map(|&t| Cross::new((t, s.cross_y), 5, colour.stroke_width(2))),
                ),
                "crosses",
            )?;
        }

        // The legend beside the plot, where it can never hide a line.
        let text = (FAMILY, 12).into_font();
        let fit = super::layout::chars_that_fit(LEGEND_WIDTH - 40, 12);
        let mut y = 24;
        for s in &self.series {
            drawn(
                legend.draw(&PathElement::new(
                    vec![(4, y), (28, y)],
                    s.colour.stroke_width(2),
                )),
                "the legend",
            )?;
            drawn(
                legend.draw(
                    &(EmptyElement::at((16, y))
                        + Polygon::new(marker_shape(s.marker), s.colour.filled())),
                ),
                "the legend",
            )?;
            for (k, line) in wrap(&s.label, fit).iter().enumerate() {
                if k > 0 {
                    y += 15;
                }
                drawn(
                    legend.draw_text(line, &text.color(&BLACK), (34, y - 7)),
                    "the legend",
                )?;
            }
            y += 20;
        }
        let mut notes = vec!["line: mean over seeds", "band, bars: min–max"];
        if self.series.iter().any(|s| !s.failures.is_empty()) {
            notes.push("×: a run diverged or failed");
        }
        if self.series.iter().any(|s| s.dodge != 1.0) {
            notes.push("lines sharing points: drawn");
            notes.push("  slightly apart in temperature");
        }
        if self.series.iter().any(|s| s.label.contains(" (= ")) {
            notes.push("(= X): the same values as X");
        }
        if self.series.iter().any(|s| s.label.ends_with('‡')) {
            notes.push("‡: a Sinkhorn coupling stopped");
            notes.push("  at its cap, unconverged");
        }
        y += 8;
        for note in notes {
            drawn(
                legend.draw_text(
                    note,
                    &(FAMILY, 11).into_font().color(&RGBColor(90, 90, 90)),
                    (4, y - 7),
                ),
                "the legend",
            )?;
            y += 16;
        }
        Ok(())
    }
}
