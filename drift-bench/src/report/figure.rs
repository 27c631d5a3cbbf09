//! A figure drawn once and written twice: as a PNG and as an SVG.
//!
//! A [`Figure`] draws on any plotters backend. Pictures made of pixels (the generated digits) are
//! not drawn through plotters, which would turn every pixel into an SVG rectangle: they are
//! [`Raster`]s, pasted into the PNG's pixels and embedded in the SVG as small PNG images.

use super::atomic_write::write_atomically;
use super::font::ensure_font;
use super::png_image::{encode_png, png_data_uri};
use anyhow::Context;
use plotters::coord::Shift;
use plotters::prelude::*;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};

/// A picture made of pixels, shown scaled up without smoothing.
#[derive(Clone, Debug, PartialEq)]
pub(crate) struct Raster {
    /// Left edge in the figure, pixels.
    pub x: u32,
    /// Top edge in the figure, pixels.
    pub y: u32,
    /// Each pixel becomes a `scale × scale` square.
    pub scale: u32,
    /// Width in pixels (before scaling).
    pub width: u32,
    /// Height in pixels (before scaling).
    pub height: u32,
    /// RGB bytes, row-major, `3 × width × height`.
    pub rgb: Vec<u8>,
}

/// Something drawn the same way into a PNG and an SVG.
pub(crate) trait Figure: Sync {
    /// Width and height in pixels.
    fn size(&self) -> (u32, u32);

    /// Draws on a white area of [`size`](Figure::size).
    fn draw<DB: DrawingBackend>(&self, root: &DrawingArea<DB, Shift>) -> anyhow::Result<()>;

    /// Pictures laid over the drawing.
    fn rasters(&self) -> Vec<Raster> {
        Vec::new()
    }
}

/// Draws `lines` of a title, `line_height` pixels apart from `top`, at `size` pixels, left-aligned
/// at `left`.
pub(crate) fn draw_title_lines<DB: DrawingBackend>(
    area: &DrawingArea<DB, Shift>,
    lines: &[String],
    size: u32,
    (left, top): (i32, i32),
    line_height: i32,
) -> anyhow::Result<()> {
    for (k, line) in lines.iter().enumerate() {
        drawn(
            area.draw_text(
                line,
                &(super::font::FAMILY, size).into_font().color(&BLACK),
                (left, top + k as i32 * line_height),
            ),
            "the title",
        )?;
    }
    Ok(())
}

/// Turns a plotters error (whose type depends on the backend) into an error naming what was drawn.
pub(crate) fn drawn<T, E: std::fmt::Display>(
    result: Result<T, E>,
    what: &str,
) -> anyhow::Result<T> {
    result.map_err(|e| anyhow::anyhow!("cannot draw {what}: {e}"))
}

/// Writes `figure` as `{stem}.png` and `{stem}.svg` in `dir`; returns both paths.
pub(crate) fn render(figure: &impl Figure, dir: &Path, stem: &str) -> anyhow::Result<[PathBuf; 2]> {
    ensure_font()?;
    let png = dir.join(format!("{stem}.png"));
    let svg = dir.join(format!("{stem}.svg"));
    write_atomically(
        &png,
        &png_bytes(figure).with_context(|| png.display().to_string())?,
    )?;
    write_atomically(
        &svg,
        svg_text(figure)
            .with_context(|| svg.display().to_string())?
            .as_bytes(),
    )?;
    Ok([png, svg])
}

/// The figure as PNG bytes.
fn png_bytes(figure: &impl Figure) -> anyhow::Result<Vec<u8>> {
    let (width, height) = figure.size();
    let mut buffer = vec![255u8; 3 * width as usize * height as usize];
    {
        let root = BitMapBackend::with_buffer(&mut buffer, (width, height)).into_drawing_area();
        drawn(root.fill(&WHITE), "the background")?;
        figure.draw(&root)?;
        drawn(root.present(), "the figure")?;
    }
    for raster in figure.rasters() {
        paste(&mut buffer, width, height, &raster);
    }
    encode_png(width, height, &buffer)
}

impl Raster {
    /// Width and height once scaled up.
    fn scaled_size(&self) -> (u32, u32) {
        (self.width * self.scale, self.height * self.scale)
    }

    /// The RGB bytes scaled up, each pixel a `scale × scale` square.
    fn scaled_rgb(&self) -> Vec<u8> {
        let (w, h) = self.scaled_size();
        let mut out = Vec::with_capacity(3 * (w * h) as usize);
        for y in 0..h {
            for x in 0..w {
                let src = 3 * ((y / self.scale) * self.width + x / self.scale) as usize;
                out.extend_from_slice(&self.rgb[src..src + 3]);
            }
        }
        out
    }
}

/// Copies `raster`, scaled up, into the RGB `buffer` of a `width × height` image (clipped at its
/// edges).
fn paste(buffer: &mut [u8], width: u32, height: u32, raster: &Raster) {
    let (w, h) = raster.scaled_size();
    let rgb = raster.scaled_rgb();
    let visible = w.min(width.saturating_sub(raster.x)) as usize;
    for y in 0..h.min(height.saturating_sub(raster.y)) {
        let src = 3 * (y * w) as usize;
        let dst = 3 * ((raster.y + y) * width + raster.x) as usize;
        buffer[dst..dst + 3 * visible].copy_from_slice(&rgb[src..src + 3 * visible]);
    }
}

/// The figure as SVG text.
fn svg_text(figure: &impl Figure) -> anyhow::Result<String> {
    let mut text = String::new();
    {
        let root = SVGBackend::with_string(&mut text, figure.size()).into_drawing_area();
        drawn(root.fill(&WHITE), "the background")?;
        figure.draw(&root)?;
        drawn(root.present(), "the figure")?;
    }
    let rasters = figure.rasters();
    if !rasters.is_empty() {
        let end = text
            .rfind("</svg>")
            .context("the SVG backend wrote no closing tag")?;
        let mut images = String::new();
        for r in &rasters {
            // Embedded already scaled up: not every viewer honours `image-rendering: pixelated`,
            // and a smoothed 8×8 digit is a blur.
            let (w, h) = r.scaled_size();
            let _ = writeln!(
                images,
                r#"<image x="{}" y="{}" width="{w}" height="{h}" preserveAspectRatio="none" style="image-rendering:pixelated" href="{}"/>"#,
                r.x,
                r.y,
                png_data_uri(w, h, &r.scaled_rgb())?
            );
        }
        text.insert_str(end, &images);
    }
    Ok(text)
}

#[cfg(test)]
mod tests {
    use super::{paste, Raster};

    #[test]
    fn rasters_scale_by_repeating_pixels_and_clip_at_the_edges() {
        // Two pixels, red and blue, each becoming a 2×2 square.
        let r = Raster {
            x: 1,
            y: 0,
            scale: 2,
            width: 2,
            height: 1,
            rgb: vec![255, 0, 0, 0, 0, 255],
        };
        let red = [255, 0, 0];
        let blue = [0, 0, 255];
        let row: Vec<u8> = [red, red, blue, blue].concat();
        assert_eq!(r.scaled_rgb(), [row.clone(), row].concat());
        // Pasted into a 4×1 white image from x = 1: the last column falls outside.
        let mut buffer = vec![255u8; 12];
        paste(&mut buffer, 4, 1, &r);
        assert_eq!(buffer, [[255, 255, 255], red, red, blue].concat());
    }
}
