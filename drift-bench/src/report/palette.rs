//! Colours of the figures: one per operator, the same in every figure of a report.

use plotters::style::RGBColor;

/// Ten well-separated colours (the "tab10" palette), repeated past ten operators.
const COLOURS: [RGBColor; 10] = [
    RGBColor(31, 119, 180),
    RGBColor(255, 127, 14),
    RGBColor(44, 160, 44),
    RGBColor(214, 39, 40),
    RGBColor(148, 103, 189),
    RGBColor(140, 86, 75),
    RGBColor(227, 119, 194),
    RGBColor(127, 127, 127),
    RGBColor(188, 189, 34),
    RGBColor(23, 190, 207),
];

/// The colour of the operator at `index` in the sweep's order of operators.
pub(crate) fn operator_colour(index: usize) -> RGBColor {
    COLOURS[index % COLOURS.len()]
}

/// The held-out data drawn behind samples.
pub(crate) const REFERENCE: RGBColor = RGBColor(200, 200, 200);

/// Text that reports a run that did not finish.
pub(crate) const ALERT: RGBColor = RGBColor(200, 0, 0);
