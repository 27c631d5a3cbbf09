//! Tile skipping for the fused pass in low dimensions.
//!
//! At a low temperature most pairs of a large problem carry weights far below the precision of
//! their row's sum: in a pass over 100 000 points in 2-D at `τ = 0.1`, every pair more than about
//! 1.5 apart adds less than `2⁻²⁴` of its row's weight. The fused pass still pays one exponential
//! for each of them. Where the kernel's log-weight decreases with the distance
//! ([`Kernel::decreases_with_distance`]), the pass can skip them and stay exact to its precision:
//!
//! 1. Rows and columns are put in a spatial order ([`spatial_order`]: the leaves of a kd-tree, in
//!    order), so that each block of rows and each tile of columns is a compact box of points.
//! 2. Per block of rows, every column tile gets a bound on its log-weights: the kernel at the
//!    smallest distance between the two boxes, plus the tile's largest column potential. The pass
//!    takes the tiles in decreasing order of this bound ([`TilePlan`]).
//! 3. Before each tile, it compares what the remaining tiles can add at most (the log-sum of their
//!    bounds times their widths) with the smallest running log-sum-exp of the block's rows. Once
//!    that is below `ε = 2⁻²⁴` (`f32`) or `2⁻⁵³` (`f64`) of every row's sum, it stops. Every row's
//!    log-sum-exp then differs from the complete one by less than `ε`, below one rounding of the
//!    sum itself.
//!
//! A mean-displacement pass also weighs each tile's bound by the largest length of its
//! displacements (from the row, or from the pass's origin), relative to that of the first tile
//! taken: the skipped displacement is below `ε` times the row's weight times the near field's
//! length. Unit displacements compute every pair. [`counts`] reports how many pairs the passes skipped.
//!
//! Skipping is on by default. A backend may carry its own setting
//! ([`crate::CpuBackend::builder`]); the process default that the others use is [`set_enabled`]'s
//! choice, else the environment variable `DRIFT_TILE_SKIP` (`off`, `0`, `false` turn it off; `on`,
//! `1`, `true` on; any other value is reported once on standard error and leaves it on). Off, every
//! pair is computed, in the input order.

use crate::bounding_box::BoundingBox;
use drift_api::kit::Displacement;
use drift_api::{Kernel, PointCloud, Real};
use std::sync::atomic::{AtomicU64, AtomicU8, Ordering};
use std::sync::OnceLock;

/// Dimensions up to which the fused pass sorts its points and skips tiles: in more, the boxes of a
/// tile's points are too wide for their bounds to skip anything.
pub const MAX_DIM: usize = 8;
/// Pairs from which a fused pass sorts its points: below, the sort costs more than it can save.
pub const MIN_PAIRS: usize = 1 << 20;
/// Points per leaf of the spatial order. It divides both the row block and the tile width, so
/// each of them is a run of consecutive leaves.
const LEAF: usize = 16;
/// Runs longer than this are split on two threads.
const PARALLEL_SPLIT: usize = 8192;

static SKIPPED: AtomicU64 = AtomicU64::new(0);
static COVERED: AtomicU64 = AtomicU64::new(0);

/// Pairs of the fused passes that sorted their points, since the process started.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct SkipCounts {
    /// Pairs whose tiles were skipped.
    pub skipped: u64,
    /// Pairs the passes covered, computed or skipped.
    pub covered: u64,
}

impl SkipCounts {
    /// The skipped fraction of the covered pairs (0 when none were covered).
    pub fn fraction(&self) -> f64 {
        if self.covered == 0 {
            0.0
        } else {
            self.skipped as f64 / self.covered as f64
        }
    }
}

/// The pairs the fused passes skipped and covered so far (counted over every thread).
///
/// ```
/// let before = drift_ops::tile_skip::counts();
/// assert!(before.skipped <= before.covered);
/// ```
pub fn counts() -> SkipCounts {
    SkipCounts {
        skipped: SKIPPED.load(Ordering::Relaxed),
        covered: COVERED.load(Ordering::Relaxed),
    }
}

/// 0: as the environment says; 1: on; 2: off.
static SWITCH: AtomicU8 = AtomicU8::new(0);

/// Turns tile skipping on or off for the rest of the process (overriding `DRIFT_TILE_SKIP`).
///
/// ```
/// drift_ops::tile_skip::set_enabled(false);
/// assert!(!drift_ops::tile_skip::enabled());
/// drift_ops::tile_skip::set_enabled(true);
/// assert!(drift_ops::tile_skip::enabled());
/// ```
pub fn set_enabled(on: bool) {
    SWITCH.store(if on { 1 } else { 2 }, Ordering::Relaxed);
}

/// Whether fused passes skip negligible tiles by default: [`set_enabled`]'s choice, else
/// `DRIFT_TILE_SKIP` ([`env_enabled`]; an invalid value is reported once on standard error and
/// leaves skipping on), else on.
pub fn enabled() -> bool {
    static ENV: OnceLock<bool> = OnceLock::new();
    match SWITCH.load(Ordering::Relaxed) {
        1 => true,
        2 => false,
        _ => *ENV.get_or_init(|| match env_enabled() {
            Ok(on) => on.unwrap_or(true),
            Err(message) => {
                use std::io::Write as _;
                let _ = writeln!(
                    std::io::stderr(),
                    "warning: {message}; tile skipping stays on"
                );
                true
            }
        }),
    }
}

/// What the environment variable `DRIFT_TILE_SKIP` asks for: `Ok(None)` when it is not set, an
/// error saying why when it is none of `on`, `1`, `true`, `off`, `0`, `false` (any case).
///
/// ```
/// if std::env::var_os("DRIFT_TILE_SKIP").is_none() {
///     assert_eq!(drift_ops::tile_skip::env_enabled(), Ok(None));
/// }
/// ```
pub fn env_enabled() -> Result<Option<bool>, String> {
    match std::env::var_os("DRIFT_TILE_SKIP") {
        None => Ok(None),
        Some(raw) => parse_switch(&raw.to_string_lossy()).map(Some),
    }
}

/// `on`/`1`/`true` or `off`/`0`/`false` (any case, surrounding spaces ignored).
fn parse_switch(text: &str) -> Result<bool, String> {
    match text.trim().to_ascii_lowercase().as_str() {
        "on" | "1" | "true" => Ok(true),
        "off" | "0" | "false" => Ok(false),
        _ => Err(format!(
            "DRIFT_TILE_SKIP={text:?} is none of on, off, 1, 0, true, false"
        )),
    }
}

/// The process default as [`enabled`] gives it, or the reason why `DRIFT_TILE_SKIP` is invalid
/// where that variable supplies it (the backend builder refuses to start then).
pub(crate) fn checked_enabled() -> Result<bool, String> {
    match SWITCH.load(Ordering::Relaxed) {
        1 => Ok(true),
        2 => Ok(false),
        _ => Ok(env_enabled()?.unwrap_or(true)),
    }
}

/// Adds a block's pairs to [`counts`]: `skipped` of the `covered` ones.
pub(crate) fn record(skipped: usize, covered: usize) {
    SKIPPED.fetch_add(skipped as u64, Ordering::Relaxed);
    COVERED.fetch_add(covered as u64, Ordering::Relaxed);
}

/// Whether a fused pass of this shape sorts its points and skips tiles, given the smallest
/// problem that does (`min_pairs`: [`MIN_PAIRS`], `usize::MAX` where the backend has skipping off,
/// smaller in tests).
pub(crate) fn applies(
    kernel: &dyn Kernel,
    dim: usize,
    pairs: usize,
    mode: Displacement,
    min_pairs: usize,
) -> bool {
    kernel.decreases_with_distance()
        && dim <= MAX_DIM
        && pairs >= min_pairs
        && mode != Displacement::Unit
}

/// The rows and columns of one pass in spatial order, with the column potentials to match.
pub(crate) struct SortedPass<T> {
    /// `rows[k]`: the original index of sorted row `k`.
    pub rows: Vec<usize>,
    /// Sorted row coordinates.
    pub x: Vec<T>,
    /// Sorted column coordinates.
    pub y: Vec<T>,
    /// Sorted column potentials.
    pub g: Option<Vec<T>>,
}

impl<T: Real> SortedPass<T> {
    /// Sorts `rows` and `cols`. With `same_order` (which the masked diagonal needs), or for a set
    /// against itself, the columns take the rows' permutation.
    pub fn new(
        rows: &PointCloud<T>,
        cols: &PointCloud<T>,
        g: Option<&[T]>,
        same_order: bool,
    ) -> Self {
        let dim = rows.dim();
        let same_order = same_order || std::ptr::eq(rows.data(), cols.data());
        let row_order = spatial_order(rows.data(), dim);
        let cols_order = (!same_order).then(|| spatial_order(cols.data(), dim));
        let col_perm = cols_order.as_deref().unwrap_or(&row_order);
        SortedPass {
            x: gather(rows.data(), dim, &row_order),
            y: gather(cols.data(), dim, col_perm),
            g: g.map(|g| gather(g, 1, col_perm)),
            rows: row_order,
        }
    }

    /// Writes values computed in sorted row order (`per_row` values per row) to their rows.
    pub fn scatter_rows(&self, sorted: &[T], per_row: usize, out: &mut [T]) {
        for (k, &i) in self.rows.iter().enumerate() {
            out[i * per_row..(i + 1) * per_row]
                .copy_from_slice(&sorted[k * per_row..(k + 1) * per_row]);
        }
    }
}

/// Points `perm[0], perm[1], …` of `data` (`dim` values each), in that order.
fn gather<T: Copy>(data: &[T], dim: usize, perm: &[usize]) -> Vec<T> {
    let mut out = Vec::with_capacity(perm.len() * dim);
    for &i in perm {
        out.extend_from_slice(&data[i * dim..(i + 1) * dim]);
    }
    out
}

/// A permutation that puts near points next to each other: the leaves of a kd-tree, in order.
/// Each node splits at a multiple of the leaf size near its median, across the widest side of its
/// box, so any run of whole leaves that starts at a multiple of its length is a compact box.
pub(crate) fn spatial_order<T: Real>(data: &[T], dim: usize) -> Vec<usize> {
    let mut idx: Vec<usize> = (0..data.len() / dim.max(1)).collect();
    split(&mut idx, data, dim);
    idx
}

fn split<T: Real>(idx: &mut [usize], data: &[T], dim: usize) {
    if idx.len() <= LEAF {
        return;
    }
    let axis =
        BoundingBox::of(dim, idx.iter().map(|&i| &data[i * dim..(i + 1) * dim])).widest_axis();
    // The left part gets the larger half of the leaves: more than zero, fewer than all.
    let half = (idx.len() / LEAF).div_ceil(2) * LEAF;
    let coord = |i: &usize| data[i * dim + axis].as_f64();
    idx.select_nth_unstable_by(half, |a, b| coord(a).total_cmp(&coord(b)));
    let (left, right) = idx.split_at_mut(half);
    if left.len() + right.len() > PARALLEL_SPLIT {
        rayon::join(|| split(left, data, dim), || split(right, data, dim));
    } else {
        split(left, data, dim);
        split(right, data, dim);
    }
}

/// Smallest and largest squared distances between a point of box `a` and one of box `b`.
fn box_sq_distances(a: (&[f64], &[f64]), b: (&[f64], &[f64])) -> (f64, f64) {
    let (mut near, mut far) = (0.0, 0.0);
    for k in 0..a.0.len() {
        let gap = (b.0[k] - a.1[k]).max(a.0[k] - b.1[k]).max(0.0);
        let span = (b.1[k] - a.0[k]).max(a.1[k] - b.0[k]);
        near += gap * gap;
        far += span * span;
    }
    (near, far)
}

/// The column side of a skipping pass: each tile's box and largest potential.
pub(crate) struct TileBounds<'a> {
    kernel: &'a dyn Kernel,
    tau: f64,
    dim: usize,
    /// Tile boxes, `dim` values per tile.
    lo: Vec<f64>,
    hi: Vec<f64>,
    /// Columns per tile (the last one may be short).
    width: Vec<usize>,
    /// Largest column potential per tile (0 without potentials).
    g_max: Vec<f64>,
    /// Mean displacements: bounds also carry the lengths of the tiles' displacements.
    with_distance: bool,
    /// Squared length of the longest displacement per tile, when taken from a fixed origin.
    origin_reach: Option<Vec<f64>>,
    /// `ln ε`: the share of a row's sum the skipped tiles may add at most.
    log_eps: f64,
}

impl<'a> TileBounds<'a> {
    /// Bounds for the sorted columns `y` in tiles of `tile` columns.
    pub fn new<T: Real>(
        kernel: &'a dyn Kernel,
        tau: T,
        y: &[T],
        dim: usize,
        g: Option<&[T]>,
        tile: usize,
        mode: Displacement,
        origin: Option<&[T]>,
    ) -> Self {
        let cols = y.len() / dim;
        let (mut lo, mut hi, mut width, mut g_max) = (vec![], vec![], vec![], vec![]);
        for c0 in (0..cols).step_by(tile) {
            let w = tile.min(cols - c0);
            let b = BoundingBox::of_block(dim, &y[c0 * dim..(c0 + w) * dim]);
            lo.extend(b.lo);
            hi.extend(b.hi);
            width.push(w);
            g_max.push(g.map_or(0.0, |g| {
                g[c0..c0 + w]
                    .iter()
                    .fold(f64::NEG_INFINITY, |m, v| m.max(v.as_f64()))
            }));
        }
        let origin_reach = origin.map(|o| {
            let o: Vec<f64> = o.iter().map(|v| v.as_f64()).collect();
            (0..width.len())
                .map(|t| {
                    let tile = (&lo[t * dim..(t + 1) * dim], &hi[t * dim..(t + 1) * dim]);
                    box_sq_distances((&o, &o), tile).1
                })
                .collect()
        });
        TileBounds {
            kernel,
            tau: tau.as_f64(),
            dim,
            lo,
            hi,
            width,
            g_max,
            origin_reach,
            with_distance: mode == Displacement::Mean,
            log_eps: (T::epsilon().as_f64() / 2.0).ln(),
        }
    }

    /// The plan of one block of rows (sorted coordinates `x`): the tiles in decreasing order of
    /// their bounds, and what the tiles from each position on can add at most.
    pub fn plan<T: Real>(&self, x: &[T]) -> TilePlan {
        let d = self.dim;
        let rows = BoundingBox::of_block(d, x);
        let tiles = self.width.len();
        let tile_box = |t: usize| (&self.lo[t * d..(t + 1) * d], &self.hi[t * d..(t + 1) * d]);
        // Per tile: the smallest squared distance, and the squared length of the longest
        // displacement (to the farthest pair, or from the origin).
        let (mut bound, mut reach) = (Vec::with_capacity(tiles), Vec::with_capacity(tiles));
        for t in 0..tiles {
            let (near, far) = box_sq_distances((&rows.lo, &rows.hi), tile_box(t));
            bound.push(near);
            reach.push(self.origin_reach.as_ref().map_or(far, |r| r[t]));
        }
        self.kernel.log_weight_f64(&mut bound, self.tau);
        for (b, g) in bound.iter_mut().zip(&self.g_max) {
            *b += g;
        }
        if self.with_distance {
            // Displacements weigh each pair by its length: relative to the near field's (the
            // longest in the tile of highest bound), a far tile's bound grows by its own.
            let top = (0..tiles).max_by(|&a, &b| bound[a].total_cmp(&bound[b]));
            let near_sq = top.map_or(0.0, |t| reach[t]);
            for (b, r) in bound.iter_mut().zip(&reach) {
                if *r > near_sq {
                    *b += 0.5 * (r / near_sq).ln();
                }
            }
        }
        let mut order: Vec<usize> = (0..tiles).collect();
        order.sort_by(|&a, &b| bound[b].total_cmp(&bound[a]));
        // rest[k] = ln Σ_{k' ≥ k} width · exp(bound), accumulated from the smallest.
        let mut rest = vec![f64::NEG_INFINITY; tiles + 1];
        for k in (0..tiles).rev() {
            let t = order[k];
            rest[k] = log_add(rest[k + 1], bound[t] + (self.width[t] as f64).ln());
        }
        TilePlan {
            order,
            rest,
            log_eps: self.log_eps,
        }
    }
}

/// `ln(eᵃ + eᵇ)`, with `−∞` as the empty sum.
fn log_add(a: f64, b: f64) -> f64 {
    let (hi, lo) = if a >= b { (a, b) } else { (b, a) };
    if lo == f64::NEG_INFINITY {
        hi
    } else {
        hi + (lo - hi).exp().ln_1p()
    }
}

/// The order in which one block of rows takes the column tiles, and where it may stop.
pub(crate) struct TilePlan {
    order: Vec<usize>,
    /// `rest[k]`: the log of the most weight tiles `k, k + 1, …` of the order can add.
    rest: Vec<f64>,
    log_eps: f64,
}

impl TilePlan {
    /// The tile to take at step `k`.
    pub fn tile(&self, k: usize) -> usize {
        self.order[k]
    }

    /// Whether the tiles from step `k` on are negligible for rows whose smallest running
    /// log-sum-exp is `floor`.
    pub fn negligible_from(&self, k: usize, floor: f64) -> bool {
        self.rest[k] <= floor + self.log_eps
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_switch_reads_every_spelling_and_refuses_others() {
        for (text, on) in [
            ("on", true),
            (" TRUE ", true),
            ("1", true),
            ("off", false),
            ("False", false),
            ("0", false),
        ] {
            assert_eq!(parse_switch(text), Ok(on), "{text:?}");
        }
        for text in ["", "maybe", "2", "no"] {
            let err = parse_switch(text).unwrap_err();
            assert!(err.contains("DRIFT_TILE_SKIP"), "{err}");
        }
    }

    #[test]
    fn spatial_order_is_a_permutation_of_compact_leaves() {
        let n = 1000;
        let data: Vec<f64> = (0..2 * n)
            .map(|k| ((k as f64) * 0.618).fract() * 10.0)
            .collect();
        let order = spatial_order(&data, 2);
        let mut seen = order.clone();
        seen.sort_unstable();
        assert_eq!(seen, (0..n).collect::<Vec<_>>());
        // A run of three leaves has a far smaller box than the whole set.
        let sorted = gather(&data, 2, &order);
        let BoundingBox { lo, hi } = BoundingBox::of_block(2, &sorted[..2 * 3 * LEAF]);
        let area = (hi[0] - lo[0]) * (hi[1] - lo[1]);
        assert!(area < 100.0 * 0.2, "area {area}");
    }

    #[test]
    fn box_distances_bound_every_pair() {
        let a = (vec![0.0, 0.0], vec![1.0, 1.0]);
        let b = (vec![3.0, -1.0], vec![4.0, 0.5]);
        let (near, far) = box_sq_distances((&a.0, &a.1), (&b.0, &b.1));
        assert_eq!(near, 4.0);
        assert_eq!(far, 16.0 + 4.0);
        let (near, _) = box_sq_distances((&a.0, &a.1), (&a.0, &a.1));
        assert_eq!(near, 0.0);
    }

    #[test]
    fn log_add_is_the_log_of_a_sum() {
        assert!((log_add(1f64.ln(), 2f64.ln()) - 3f64.ln()).abs() < 1e-15);
        assert_eq!(log_add(f64::NEG_INFINITY, 0.5), 0.5);
        assert_eq!(
            log_add(f64::NEG_INFINITY, f64::NEG_INFINITY),
            f64::NEG_INFINITY
        );
    }
}
