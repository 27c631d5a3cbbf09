//! The one font of every figure: DejaVu Sans, compiled into the binary.
//!
//! Plotters' `ab_glyph` text looks fonts up in a table filled at run time; registering DejaVu Sans
//! under `sans-serif` makes every figure render the same on any machine, with no system fonts.

use plotters::style::FontStyle;
use std::sync::OnceLock;

/// The family name the figures ask for.
pub(crate) const FAMILY: &str = "sans-serif";

/// Registers DejaVu Sans (regular and bold) as [`FAMILY`], once per process.
pub(crate) fn ensure_font() -> anyhow::Result<()> {
    static REGISTERED: OnceLock<Result<(), String>> = OnceLock::new();
    REGISTERED
        .get_or_init(|| {
            let regular =
                plotters::style::register_font(FAMILY, FontStyle::Normal, dejavu::sans::regular());
            let bold =
                plotters::style::register_font(FAMILY, FontStyle::Bold, dejavu::sans::bold());
            match (regular, bold) {
                (Ok(()), Ok(())) => Ok(()),
                _ => Err("the DejaVu Sans font could not be read".to_string()),
            }
        })
        .clone()
        .map_err(anyhow::Error::msg)
}
