//! Generated images of an image data set: rows are operators, columns temperatures, each cell ten
//! samples of the run of the first seed (one per class 0..9 in order when the generator is
//! class-conditional), under a header row of held-out images.
//!
//! Pixels are grey levels between the smallest (black) and largest (white) value of the held-out
//! data, the same in every cell, and are drawn as [`Raster`]s (exact square pixels in both the PNG
//! and the SVG).

use super::figure::{drawn, Figure, Raster};
use super::font::FAMILY;
use super::groups::{Group, Sweep};
use super::layout::fit_caption;
use super::palette::{operator_colour, ALERT};
use crate::compare::record::{DatasetSummary, RunOutput, RunStatus};
use plotters::coord::Shift;
use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};

/// Images per cell, laid out in two rows.
const PER_CELL: usize = 10;
const PER_ROW: usize = 5;
const LABEL_WIDTH: u32 = 190;
const TITLE: u32 = 36;
const HEADER: u32 = 26;
const PADDING: u32 = 10;

/// What a cell shows.
#[derive(Clone, Debug)]
enum Content {
    /// Up to [`PER_CELL`] images (`None`: no sample of that class).
    Images(Vec<Option<Vec<f64>>>),
    /// Why there are no images.
    Note(String),
}

/// One row: a label and one cell per temperature.
#[derive(Clone, Debug)]
struct Row {
    label: String,
    colour: RGBColor,
    cells: Vec<Content>,
}

/// The grid of one image data set and mode.
#[derive(Clone, Debug)]
pub(crate) struct ImageGrid {
    title: String,
    columns: Vec<String>,
    rows: Vec<Row>,
    /// Image height and width in pixels.
    shape: (usize, usize),
    /// Each image pixel is `scale × scale` figure pixels.
    scale: u32,
    /// The values shown as black and white.
    grey: (f64, f64),
}

/// The `i`-th image of row-major `points` of dimension `dim`.
fn image(points: &[f64], dim: usize, i: usize) -> Vec<f64> {
    points[i * dim..(i + 1) * dim].to_vec()
}

/// The images a finished run shows: one per class 0..9 when it knows the class of each sample,
/// else its first ten samples.
fn run_images(run: &RunOutput, dim: usize) -> Vec<Option<Vec<f64>>> {
    let n = run.samples.len() / dim;
    match &run.sample_classes {
        Some(classes) => (0..PER_CELL)
            .map(|c| {
                classes
                    .iter()
                    .take(n)
                    .position(|&k| k == c)
                    .map(|i| image(&run.samples, dim, i))
            })
            .collect(),
        None => (0..n.min(PER_CELL))
            .map(|i| Some(image(&run.samples, dim, i)))
            .collect(),
    }
}

/// The grid for `group` of image data set `dataset` (whose `image_shape` is set).
pub(crate) fn image_grid(
    sweep: &Sweep<'_, RunOutput>,
    group: &Group<'_, RunOutput>,
    dataset: &DatasetSummary,
    shape: (usize, usize),
) -> ImageGrid {
    let dim = dataset.dim;
    let n_reference = dataset.reference.len() / dim.max(1);
    let finite = |v: &&f64| v.is_finite();
    let lo = dataset
        .reference
        .iter()
        .filter(finite)
        .copied()
        .fold(f64::INFINITY, f64::min);
    let hi = dataset
        .reference
        .iter()
        .filter(finite)
        .copied()
        .fold(f64::NEG_INFINITY, f64::max);
    let grey = if lo < hi { (lo, hi) } else { (0.0, 1.0) };

    // The header row: different held-out images in each column.
    let data_row = Row {
        label: "held-out data".to_string(),
        colour: BLACK,
        cells: (0..group.temperatures.len())
            .map(|col| {
                Content::Images(
                    (0..PER_CELL.min(n_reference))
                        .map(|i| {
                            Some(image(
                                &dataset.reference,
                                dim,
                                (col * PER_CELL + i) % n_reference,
                            ))
                        })
                        .collect(),
                )
            })
            .collect(),
    };
    let mut rows = vec![data_row];
    for &op in &group.operators {
        let cells = group
            .temperatures
            .iter()
            .map(|&t| match group.cell(op, t).and_then(|c| c.runs.first()) {
                None => Content::Note("no run".to_string()),
                Some(run) => match &run.record.status {
                    RunStatus::Diverged { step } => {
                        Content::Note(format!("diverged at step {step}"))
                    }
                    RunStatus::Failed { .. } => Content::Note("failed".to_string()),
                    RunStatus::Ok => Content::Images(run_images(run, dim)),
                },
            })
            .collect();
        rows.push(Row {
            label: sweep.operators[op].to_string(),
            colour: operator_colour(op),
            cells,
        });
    }
    let conditional = group
        .cells
        .iter()
        .flat_map(|c| c.runs.iter())
        .any(|r| r.sample_classes.is_some());
    ImageGrid {
        title: format!(
            "{}: generated images (first seed{})",
            group.heading(),
            if conditional { ", classes 0–9" } else { "" }
        ),
        columns: group
            .temperatures
            .iter()
            .map(|t| format!("T={t}"))
            .collect(),
        rows,
        shape,
        scale: (32 / shape.0.max(shape.1).max(1)).max(1) as u32,
        grey,
    }
}

impl ImageGrid {
    /// Width and height of a cell's picture in image pixels (images with one-pixel gaps).
    fn strip(&self) -> (u32, u32) {
        let (h, w) = (self.shape.0 as u32, self.shape.1 as u32);
        let per_row = PER_ROW as u32;
        let rows = PER_CELL.div_ceil(PER_ROW) as u32;
        (per_row * w + per_row - 1, rows * h + rows - 1)
    }

    /// Width and height of a cell in figure pixels.
    fn cell_size(&self) -> (u32, u32) {
        let (w, h) = self.strip();
        (w * self.scale + 2 * PADDING, h * self.scale + 2 * PADDING)
    }

    /// Top-left corner of cell (`row`, `col`) in figure pixels.
    fn cell_origin(&self, row: usize, col: usize) -> (u32, u32) {
        let (w, h) = self.cell_size();
        (
            LABEL_WIDTH + col as u32 * w,
            TITLE + HEADER + row as u32 * h,
        )
    }

    /// A cell's picture: its images in reading order on a white background.
    fn picture(&self, images: &[Option<Vec<f64>>]) -> Vec<u8> {
        let (sw, sh) = self.strip();
        let (h, w) = self.shape;
        let mut rgb = vec![255u8; 3 * (sw * sh) as usize];
        let (lo, hi) = self.grey;
        for (k, img) in images.iter().enumerate() {
            let (x0, y0) = ((k % PER_ROW) * (w + 1), (k / PER_ROW) * (h + 1));
            for y in 0..h {
                for x in 0..w {
                    // A class without a sample shows as a mid-grey square.
                    let level = match img {
                        Some(px) if px[y * w + x].is_finite() => {
                            (255.0 * ((px[y * w + x] - lo) / (hi - lo)).clamp(0.0, 1.0)).round()
                                as u8
                        }
                        Some(_) => 0,
                        None => 160,
                    };
                    let at = 3 * ((y0 + y) * sw as usize + x0 + x);
                    rgb[at..at + 3].fill(level);
                }
            }
        }
        rgb
    }
}

impl Figure for ImageGrid {
    fn size(&self) -> (u32, u32) {
        let (w, h) = self.cell_size();
        (
            LABEL_WIDTH + w * self.columns.len().max(1) as u32,
            TITLE + HEADER + h * self.rows.len() as u32,
        )
    }

    fn draw<DB: DrawingBackend>(&self, root: &DrawingArea<DB, Shift>) -> anyhow::Result<()> {
        let (cw, ch) = self.cell_size();
        // A narrow grid (one temperature) shrinks its title rather than cutting it.
        let (title, size) = fit_caption(&self.title, self.size().0.saturating_sub(20), 16, 9);
        drawn(
            root.draw_text(&title, &(FAMILY, size).into_font().color(&BLACK), (10, 10)),
            "the title",
        )?;
        let centred = |size: u32, colour: &RGBColor| {
            (FAMILY, size)
                .into_font()
                .color(colour)
                .pos(Pos::new(HPos::Center, VPos::Center))
        };
        for (col, label) in self.columns.iter().enumerate() {
            let (x, _) = self.cell_origin(0, col);
            let at = ((x + cw / 2) as i32, (TITLE + HEADER / 2) as i32);
            drawn(
                root.draw_text(label, &centred(13, &BLACK), at),
                "a column label",
            )?;
        }
        for (r, row) in self.rows.iter().enumerate() {
            let (_, y) = self.cell_origin(r, 0);
            let style = (FAMILY, 13)
                .into_font()
                .color(&row.colour)
                .pos(Pos::new(HPos::Left, VPos::Center));
            drawn(
                root.draw_text(&row.label, &style, (10, (y + ch / 2) as i32)),
                "a row label",
            )?;
            for (col, content) in row.cells.iter().enumerate() {
                if let Content::Note(note) = content {
                    let (x, y) = self.cell_origin(r, col);
                    let at = ((x + cw / 2) as i32, (y + ch / 2) as i32);
                    drawn(root.draw_text(note, &centred(13, &ALERT), at), "a note")?;
                }
            }
        }
        Ok(())
    }

    fn rasters(&self) -> Vec<Raster> {
        let (width, height) = self.strip();
        let mut rasters = Vec::new();
        for (r, row) in self.rows.iter().enumerate() {
            for (col, content) in row.cells.iter().enumerate() {
                if let Content::Images(images) = content {
                    let (x, y) = self.cell_origin(r, col);
                    rasters.push(Raster {
                        x: x + PADDING,
                        y: y + PADDING,
                        scale: self.scale,
                        width,
                        height,
                        rgb: self.picture(images),
                    });
                }
            }
        }
        rasters
    }
}
