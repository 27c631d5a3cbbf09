//! How each side of a batch of problems splits into problems, checked before anything is computed.
//!
//! A **dense** batch gives every side as a three-dimensional `.npy` array `(B, n, D)` and weights
//! as `(B, n)`. A **ragged** batch (problems of different sizes) gives every side's points back to
//! back as a `(total, D)` array with the side's offsets (`--x-offsets`, `--y-offsets`,
//! `--negative-offsets`): a one-dimensional integer `.npy` file (`int32`, `int64`, `uint32` or
//! `uint64`) of `B + 1` offsets that start at 0, never decrease and end at the side's number of
//! rows, problem `b` holding rows `offsets[b]..offsets[b + 1]`; weights are then `(total,)`. A
//! batch is one or the other: offsets for any side make it ragged, and then every side needs its
//! own. Every error names the argument, the file and the shapes or values at fault.

use crate::apply_batch::{BatchInput, BatchInputs};
use crate::array::Shape;
use crate::npy;
use crate::point_files::{label, Format};
use anyhow::{anyhow, bail, Result};
use drift_api::Real;
use std::path::{Path, PathBuf};

/// A side's offsets file: its argument, file and values.
#[derive(Clone, Copy, Debug)]
pub struct OffsetsInput<'a> {
    /// The argument (`--y-offsets`).
    pub arg: &'a str,
    /// Its file.
    pub path: &'a Path,
    /// The offsets it holds (checked by [`read_offsets`]).
    pub values: &'a [usize],
}

impl OffsetsInput<'_> {
    fn label(&self) -> String {
        label(self.arg, self.path)
    }
}

/// The offsets argument of a points argument: `--x` → `--x-offsets`, `--negatives` →
/// `--negative-offsets`.
pub fn offsets_arg(points_arg: &str) -> &'static str {
    match points_arg {
        "--x" => "--x-offsets",
        "--y" => "--y-offsets",
        _ => "--negative-offsets",
    }
}

/// The offsets read for each side of a ragged batch (`None` where not given).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct BatchOffsets {
    /// `--x-offsets`.
    pub x: Option<Vec<usize>>,
    /// `--y-offsets`.
    pub y: Option<Vec<usize>>,
    /// `--negative-offsets`.
    pub negatives: Option<Vec<usize>>,
}

impl BatchOffsets {
    /// Reads the offsets files given ([`read_offsets`]).
    pub fn read(
        x: Option<&PathBuf>,
        y: Option<&PathBuf>,
        negatives: Option<&PathBuf>,
    ) -> Result<Self> {
        let read = |arg, p: Option<&PathBuf>| p.map(|p| read_offsets(arg, p)).transpose();
        Ok(BatchOffsets {
            x: read("--x-offsets", x)?,
            y: read("--y-offsets", y)?,
            negatives: read("--negative-offsets", negatives)?,
        })
    }

    /// Whether any side has offsets (the batch is ragged).
    pub fn any(&self) -> bool {
        self.x.is_some() || self.y.is_some() || self.negatives.is_some()
    }

    /// Each side's offsets with its argument, in a fixed order.
    pub fn named(&self) -> [(&'static str, Option<&[usize]>); 3] {
        [
            ("--x-offsets", self.x.as_deref()),
            ("--y-offsets", self.y.as_deref()),
            ("--negative-offsets", self.negatives.as_deref()),
        ]
    }
}

/// Reads and checks an offsets file: a one-dimensional integer `.npy` array of at least two values
/// that starts at 0 and never decreases (that it ends at its side's rows is checked with the
/// points, by [`Layouts::of`]).
pub fn read_offsets(arg: &str, path: &Path) -> Result<Vec<usize>> {
    let name = label(arg, path);
    if Format::of(arg, path)? != Format::Npy {
        bail!("{name}: offsets are read from a .npy file of integers, shape (B + 1,)");
    }
    let bytes = std::fs::read(path).map_err(|e| anyhow!("{name}: {e}"))?;
    let (shape, values) = npy::integers_from_bytes(&bytes).map_err(|e| anyhow!("{name}: {e}"))?;
    let Shape::Vector(len) = shape else {
        bail!("{name}: shape {shape} but offsets are one-dimensional, (B + 1,)");
    };
    if len < 2 {
        bail!(
            "{name}: {len} offset(s), but a batch of B >= 1 problems has B + 1 offsets (0 first)"
        );
    }
    if values[0] != 0 {
        bail!(
            "{name}: starts at {} but the first offset must be 0",
            values[0]
        );
    }
    if let Some(k) = (1..len).find(|&k| values[k] < values[k - 1]) {
        bail!(
            "{name}: offsets[{k}] = {} is less than offsets[{}] = {}: offsets never decrease",
            values[k],
            k - 1,
            values[k - 1]
        );
    }
    values
        .iter()
        .enumerate()
        .map(|(k, &v)| {
            usize::try_from(v).map_err(|_| anyhow!("{name}: offsets[{k}] = {v} is too large"))
        })
        .collect()
}

/// One side's split into problems: problem `b` holds rows `offsets[b]..offsets[b + 1]`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Layout {
    /// `B + 1` row offsets, 0 first.
    pub offsets: Vec<usize>,
    /// The dimension of every point.
    pub dim: usize,
}

impl Layout {
    /// `B` equal problems of `n` points.
    fn dense(b: usize, n: usize, dim: usize) -> Layout {
        Layout {
            offsets: (0..=b).map(|k| k * n).collect(),
            dim,
        }
    }
    /// Number of problems.
    pub fn problems(&self) -> usize {
        self.offsets.len() - 1
    }
    /// Points over every problem.
    pub fn total(&self) -> usize {
        self.offsets[self.offsets.len() - 1]
    }
    /// Points of problem `b`.
    pub fn len(&self, b: usize) -> usize {
        self.offsets[b + 1] - self.offsets[b]
    }
    /// Whether there are no points at all.
    pub fn is_empty(&self) -> bool {
        self.total() == 0
    }
    /// `n` when every problem holds `n` points, `min..max` otherwise.
    pub fn sizes(&self) -> String {
        let lens = (0..self.problems()).map(|b| self.len(b));
        let (min, max) = (lens.clone().min().unwrap_or(0), lens.max().unwrap_or(0));
        if min == max {
            min.to_string()
        } else {
            format!("{min}..{max}")
        }
    }
}

/// The layouts of every side of a batch, checked against each other and their weights.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Layouts {
    /// Whether the batch is ragged (given with offsets).
    pub ragged: bool,
    /// The generated samples'.
    pub x: Layout,
    /// The data's.
    pub y: Layout,
    /// The negatives', if any.
    pub negatives: Option<Layout>,
}

impl Layouts {
    /// Checks every side of `inputs` (shapes, offsets, weights) and returns their layouts.
    pub fn of(inputs: &BatchInputs<'_>) -> Result<Layouts> {
        let sides = [Some(&inputs.x), Some(&inputs.y), inputs.negatives.as_ref()];
        // The first offsets given make the batch ragged; the errors name them.
        let ragged_by = sides
            .iter()
            .flatten()
            .find_map(|s| s.offsets.as_ref().map(OffsetsInput::label));
        let side =
            |input: &BatchInput<'_>, like: Option<(&Layout, &BatchInput<'_>)>| match &ragged_by {
                Some(by) => ragged_layout(input, by, like),
                None => dense_layout(input, like.map(|(l, _)| l)),
            };
        let x = side(&inputs.x, None)?;
        let y = side(&inputs.y, Some((&x, &inputs.x)))?;
        let negatives = inputs
            .negatives
            .as_ref()
            .map(|n| side(n, Some((&x, &inputs.x))))
            .transpose()?;
        let layouts = Layouts {
            ragged: ragged_by.is_some(),
            x,
            y,
            negatives,
        };
        let pairs = [
            (&inputs.x_weights, Some((&inputs.x, &layouts.x))),
            (&inputs.y_weights, Some((&inputs.y, &layouts.y))),
            (
                &inputs.negative_weights,
                inputs.negatives.as_ref().zip(layouts.negatives.as_ref()),
            ),
        ];
        for (w, points) in pairs {
            match (w, points) {
                (Some(w), Some((p, l))) => check_weights(w, p, l, layouts.ragged)?,
                (Some(w), None) => bail!("{}: there are no --negatives to weigh", w.label()),
                _ => {}
            }
        }
        Ok(layouts)
    }

    /// `B 4 problems: X 6 x 3, Y 9 x 3, 3 negatives, f32` for a dense batch; `B 3 ragged
    /// problems: X 32..64 x 16 (144 in all), Y 64..128 x 16 (288 in all), 16..32 negatives (64 in
    /// all), f32` for a ragged one; `problems` names the whole batch's count (a share of a batch
    /// split over processes names the whole batch's).
    pub fn sizes(&self, problems: usize, precision: &str) -> String {
        let d = self.x.dim;
        // A ragged side's sizes range over its problems; their sum follows.
        let all = |l: &Layout| match self.ragged {
            true => format!(" ({} in all)", l.total()),
            false => String::new(),
        };
        let kind = if self.ragged {
            "ragged problems"
        } else {
            "problems"
        };
        format!(
            "B {problems} {kind}: X {} x {d}{}, Y {} x {d}{}{}, {precision}",
            self.x.sizes(),
            all(&self.x),
            self.y.sizes(),
            all(&self.y),
            self.negatives.as_ref().map_or(String::new(), |k| format!(
                ", {} negatives{}",
                k.sizes(),
                all(k)
            ))
        )
    }
}

/// The layout of a dense side `(B, n, D)`, checked against `--x`'s `B` and `D` when given.
fn dense_layout(input: &BatchInput<'_>, like: Option<&Layout>) -> Result<Layout> {
    let Shape::Batch(b, n, d) = input.array.shape() else {
        bail!(
            "{}: shape {} but --x is a batch of problems: give {} as (B, n, D)",
            input.label(),
            input.array.shape(),
            input.arg
        );
    };
    if let Some(x) = like {
        let (bx, dx) = (x.problems(), x.dim);
        if (b, d) != (bx, dx) {
            bail!(
                "{}: shape {} does not match --x's {bx} problems of dimension {dx}: expected ({bx}, n, {dx})",
                input.label(),
                input.array.shape()
            );
        }
    }
    if n == 0 || d == 0 || b == 0 {
        bail!("{}: empty (shape {})", input.label(), input.array.shape());
    }
    Ok(Layout::dense(b, n, d))
}

/// The layout of a side of a ragged batch (made ragged by the offsets `by`): a `(total, D)` array
/// and its offsets, checked against `--x`'s when given.
fn ragged_layout(
    input: &BatchInput<'_>,
    by: &str,
    like: Option<(&Layout, &BatchInput<'_>)>,
) -> Result<Layout> {
    let (name, shape) = (input.label(), input.array.shape());
    let offsets_arg = offsets_arg(input.arg);
    let Some(offsets) = &input.offsets else {
        bail!(
            "{name}: the batch is ragged ({by} is given) but {offsets_arg} is not: give {} as \
             (total, D) with its offsets {offsets_arg}",
            input.arg
        );
    };
    let Shape::Matrix(rows, d) = shape else {
        bail!(
            "{name}: shape {shape} but {} makes the batch ragged: give {} as (total, D), every \
             problem's points back to back",
            offsets.label(),
            input.arg
        );
    };
    let last = offsets.values[offsets.values.len() - 1];
    if last != rows {
        bail!(
            "{}: ends at {last} but {name} has {rows} rows (shape {shape}): the last offset is \
             the number of points",
            offsets.label()
        );
    }
    let layout = Layout {
        offsets: offsets.values.to_vec(),
        dim: d,
    };
    if let Some((x, x_input)) = like {
        if layout.problems() != x.problems() {
            bail!(
                "{}: {} problems ({} offsets) but {} holds {} ({} offsets)",
                offsets.label(),
                layout.problems(),
                layout.offsets.len(),
                x_input
                    .offsets
                    .as_ref()
                    .map_or_else(|| x_input.label(), OffsetsInput::label),
                x.problems(),
                x.offsets.len()
            );
        }
        if d != x.dim {
            bail!(
                "{name}: shape {shape}, dimension {d}, but --x's points have dimension {}",
                x.dim
            );
        }
    }
    if d == 0 {
        bail!("{name}: empty (shape {shape})");
    }
    // Generated samples and data need a point in every problem; a problem may have no negatives.
    if input.arg != "--negatives" {
        if let Some(b) = (0..layout.problems()).find(|&b| layout.len(b) == 0) {
            bail!(
                "{}: problem {b} is empty (offsets[{b}] = offsets[{}] = {}): every problem needs \
                 at least one point of {}",
                offsets.label(),
                b + 1,
                layout.offsets[b],
                input.arg
            );
        }
    }
    Ok(layout)
}

/// Checks the shape of `w`, the weights of `points`: `(B, n)` for a dense batch, `(total,)` (or
/// `(total, 1)`) for a ragged one.
fn check_weights(
    w: &BatchInput<'_>,
    points: &BatchInput<'_>,
    layout: &Layout,
    ragged: bool,
) -> Result<()> {
    let shape = w.array.shape();
    if ragged {
        let total = layout.total();
        if !matches!(shape, Shape::Vector(t) | Shape::Matrix(t, 1) if t == total) {
            bail!(
                "{}: shape {shape} but {} is a ragged batch of {total} points: expected ({total},)",
                w.label(),
                points.label()
            );
        }
    } else {
        let (b, n) = (layout.problems(), layout.len(0));
        if shape != Shape::Matrix(b, n) {
            bail!(
                "{}: shape {shape} but {} holds {b} problems of {n} points: expected ({b}, {n})",
                w.label(),
                points.label()
            );
        }
    }
    Ok(())
}

/// The weights of a side in precision `T` (their shape checked by [`Layouts::of`]).
pub fn weight_values<T: Real>(w: &BatchInput<'_>) -> Vec<T> {
    w.array.values().to_real::<T>()
}
