//! Squared distances for high-dimensional points as `‖x‖² + ‖y‖² − 2 x·y`, register-blocked.
//!
//! For small `D` the reduction computes `‖y − x‖²` directly. From [`GRAM_MIN_DIM`] coordinates on,
//! the inner products dominate, and they are computed like a matrix product: the columns are stored
//! coordinate-major (`D × M`), and a block of six rows times sixteen columns of dot products stays in
//! registers while the loop runs over the coordinates (the microkernels of [`crate::microkernel`]).
//! Both sets are
//! first centred on the mean of the columns, so that the expansion does not cancel away the
//! precision of data far from the origin.

use crate::microkernel::{madd, panel_dots, weighted_differences, LANES, ROWS};
use drift_api::Real;

/// The smallest dimension that uses the Gram form.
pub const GRAM_MIN_DIM: usize = 16;
/// Rows computed together (accumulators held in registers); blocks of rows are padded to whole
/// groups.
const GROUP: usize = ROWS;
/// Coordinates summed into one partial dot product before it joins the running total.
const CHUNK: usize = 64;

/// The column set prepared for Gram-form distances: centred, coordinate-major, padded to whole
/// register blocks, with squared norms.
pub(crate) struct GramColumns<T> {
    centre: Vec<T>,
    /// Panels of [`LANES`] columns, each `D × LANES` contiguous:
    /// `panels[((j / LANES) * D + k) * LANES + j % LANES] = y_jk − c_k`; columns beyond `m` are zero.
    /// One register block streams one contiguous panel (a plain `D × M` layout would put every
    /// coordinate row a multiple of 4 KiB apart, all in the same L1 set).
    panels: Vec<T>,
    y_sq: Vec<T>,
    /// Centred columns in strips of one vector register of coordinates (eight `f32` or four `f64`,
    /// [`strip_width`]) for displacements: `strips[((k / V) * m + j) * V + k % V] = y_jk − c_k`
    /// (zero beyond `dim`), so that a pass over the columns for one strip of coordinates reads
    /// memory in order.
    strips: Vec<T>,
    m: usize,
    dim: usize,
}

impl<T: Real> GramColumns<T> {
    /// Prepares `m` points of dimension `dim` (row-major `y`) for [`GramColumns::tile_with`]`::<FMA>`:
    /// the squared norms are summed with the same (fused or separate) multiply-adds as the tile's dot
    /// products, so that the distance of coincident points comes out exactly zero.
    #[inline(always)]
    pub fn new_with<const FMA: bool>(y: &[T], dim: usize) -> Self {
        let m = y.len() / dim;
        let stride = m.div_ceil(LANES) * LANES;
        let mut centre64 = vec![0.0f64; dim];
        for p in y.chunks_exact(dim) {
            for (c, v) in centre64.iter_mut().zip(p) {
                *c += v.as_f64();
            }
        }
        let centre: Vec<T> = centre64.iter().map(|c| T::of(c / m as f64)).collect();
        let sv = strip_width::<T>();
        let mut strips = vec![T::zero(); m * dim.div_ceil(sv) * sv];
        let mut row = vec![T::zero(); dim];
        let mut panels = vec![T::zero(); dim * stride];
        let mut y_sq = vec![T::zero(); stride];
        for (j, p) in y.chunks_exact(dim).enumerate() {
            let base = (j / LANES) * dim * LANES + j % LANES;
            for k in 0..dim {
                let v = p[k] - centre[k];
                panels[base + k * LANES] = v;
                strips[((k / sv) * m + j) * sv + k % sv] = v;
                row[k] = v;
            }
            y_sq[j] = squared_norm::<T, FMA>(&row);
        }
        GramColumns {
            centre,
            panels,
            y_sq,
            strips,
            m,
            dim,
        }
    }

    /// Centres a block of rows (row-major) into `xc`, padded with zero rows to whole groups, and
    /// returns their squared norms in `x_sq`, summed as [`GramColumns::tile_with`]`::<FMA>` sums
    /// its products. (This and the other per-block methods are `#[inline(always)]`: they run inside
    /// the CPU backend's AVX2+FMA copy of its block loop.)
    #[inline(always)]
    pub fn centre_rows_with<const FMA: bool>(&self, x: &[T], xc: &mut Vec<T>, x_sq: &mut Vec<T>) {
        let d = self.dim;
        let rows = x.len() / d;
        let padded = rows.div_ceil(GROUP) * GROUP;
        xc.clear();
        xc.resize(padded * d, T::zero());
        x_sq.clear();
        x_sq.resize(padded, T::zero());
        for (r, p) in x.chunks_exact(d).enumerate() {
            for k in 0..d {
                xc[r * d + k] = p[k] - self.centre[k];
            }
            x_sq[r] = squared_norm::<T, FMA>(&xc[r * d..(r + 1) * d]);
        }
    }

    /// Squared distances of the centred rows `xc` to the columns `c0..c0 + width`, written to
    /// `out[r * out_stride + jj]` for every (padded) row `r`. `c0` is a multiple of the panel
    /// width, 16 (tiles start at whole panels). With fused multiply-adds when `FMA` is set (one
    /// rounding per product instead of two; only for code compiled with the FMA instructions, as in
    /// the CPU backend's AVX2+FMA copy of its block loop), else separate multiplies and adds.
    #[inline(always)]
    pub fn tile_with<const FMA: bool>(
        &self,
        xc: &[T],
        x_sq: &[T],
        c0: usize,
        width: usize,
        out: &mut [T],
        out_stride: usize,
    ) {
        let d = self.dim;
        for (g, xg) in xc.chunks_exact(GROUP * d).enumerate() {
            let r0 = g * GROUP;
            // Twelve vector accumulators either way: six rows of sixteen f32 columns, or twice
            // three rows of sixteen f64 columns.
            if std::mem::size_of::<T>() == 4 {
                self.tile_rows::<6, FMA>(xg, x_sq, r0, c0, width, out, out_stride);
            } else {
                for h in 0..GROUP / 3 {
                    let rows = &xg[h * 3 * d..(h + 1) * 3 * d];
                    self.tile_rows::<3, FMA>(rows, x_sq, r0 + h * 3, c0, width, out, out_stride);
                }
            }
        }
    }

    /// Distances of the `R` centred rows `xr` (rows `r0..r0 + R` of the block) to the tile's columns.
    #[inline(always)]
    fn tile_rows<const R: usize, const FMA: bool>(
        &self,
        xr: &[T],
        x_sq: &[T],
        r0: usize,
        c0: usize,
        width: usize,
        out: &mut [T],
        out_stride: usize,
    ) {
        let d = self.dim;
        let two = T::of(2.0);
        let rows: [&[T]; R] = std::array::from_fn(|q| &xr[q * d..(q + 1) * d]);
        let xs: [T; R] = std::array::from_fn(|q| x_sq[r0 + q]);
        for jb in (0..width).step_by(LANES) {
            let j0 = c0 + jb;
            let panel = &self.panels[(j0 / LANES) * d * LANES..][..d * LANES];
            // Products are summed in chunks of CHUNK coordinates, each chunk into fresh
            // accumulators: one long running sum would lose about sqrt(D) times more to rounding
            // (in f32 at D = 65536, 0.5 % of the distance: enough to wreck two-sided couplings).
            // The first chunk is the running sum itself, so D <= CHUNK costs nothing extra.
            let mut acc = [[T::zero(); LANES]; R];
            for (c, chunk) in panel.chunks(CHUNK * LANES).enumerate() {
                let k0 = c * CHUNK;
                let part = panel_dots::<T, R, FMA>(std::array::from_fn(|q| &rows[q][k0..]), chunk);
                if c == 0 {
                    acc = part;
                } else {
                    for q in 0..R {
                        for l in 0..LANES {
                            acc[q][l] += part[q][l];
                        }
                    }
                }
            }
            let ys: &[T; LANES] = self.y_sq[j0..j0 + LANES]
                .try_into()
                .expect("norms are padded to whole panels");
            let take = LANES.min(width - jb);
            for q in 0..R {
                let mut v = [T::zero(); LANES];
                for l in 0..LANES {
                    v[l] = (xs[q] + ys[l] - two * acc[q][l]).max(T::zero());
                }
                let start = (r0 + q) * out_stride + jb;
                if take == LANES {
                    let row: &mut [T; LANES] = (&mut out[start..start + LANES])
                        .try_into()
                        .expect("a whole panel");
                    *row = v;
                } else {
                    out[start..start + take].copy_from_slice(&v[..take]);
                }
            }
        }
    }
}

/// `‖v‖²` summed exactly as [`GramColumns::tile_with`]`::<FMA>` sums a dot product (chunks of
/// [`CHUNK`] coordinates, in order, with the same multiply-adds), so that `‖x‖² + ‖x‖² − 2 x·x` is
/// exactly zero for coincident points: a Laplace kernel's `sqrt` would turn the smallest residue
/// there into a visible error.
#[inline(always)]
fn squared_norm<T: Real, const FMA: bool>(v: &[T]) -> T {
    v.chunks(CHUNK).fold(T::zero(), |acc, chunk| {
        acc + chunk
            .iter()
            .fold(T::zero(), |part, a| madd::<T, FMA>(*a, *a, part))
    })
}

/// Coordinates per strip of [`GramColumns`]' displacement layout: one AVX2 register.
#[inline(always)]
fn strip_width<T>() -> usize {
    32 / std::mem::size_of::<T>()
}

impl<T: Real> GramColumns<T> {
    /// `origin` in the centred coordinates, repeated for a block of `rows` rows padded to whole
    /// groups: what [`GramColumns::accumulate_tile`] subtracts per row when displacements are
    /// measured from one point rather than from the rows themselves.
    pub fn centred_origin(&self, origin: &[T], rows: usize) -> Vec<T> {
        let repeated: Vec<T> = origin
            .iter()
            .copied()
            .cycle()
            .take(rows * self.dim)
            .collect();
        let (mut centred, mut norms) = (Vec::new(), Vec::new());
        self.centre_rows_with::<false>(&repeated, &mut centred, &mut norms);
        centred
    }

    /// `disp_r += Σ_j w_rj (ỹ_j − x̃_r)` over the tile's columns `c0..c0 + width`, six rows by one
    /// register of coordinates at a time (the differences are formed in registers too, so the result
    /// rounds like the direct sum). Row `r`'s weights are `weights[r * w_stride..][..width]` for
    /// every padded row of `xc` (padding rows' sums are computed and dropped, so their weights need
    /// only be finite); `disp` holds the block's real rows, `d` values each. Fused multiply-adds when `FMA` is set, as in [`GramColumns::tile_with`].
    #[inline(always)]
    pub fn accumulate_tile<const FMA: bool>(
        &self,
        weights: &[T],
        w_stride: usize,
        c0: usize,
        width: usize,
        xc: &[T],
        disp: &mut [T],
    ) {
        // One vector register of coordinates: eight f32 or four f64 (`strip_width`).
        if std::mem::size_of::<T>() == 4 {
            self.accumulate_lanes::<8, FMA>(weights, w_stride, c0, width, xc, disp)
        } else {
            self.accumulate_lanes::<4, FMA>(weights, w_stride, c0, width, xc, disp)
        }
    }

    #[inline(always)]
    fn accumulate_lanes<const V: usize, const FMA: bool>(
        &self,
        weights: &[T],
        w_stride: usize,
        c0: usize,
        width: usize,
        xc: &[T],
        disp: &mut [T],
    ) {
        let d = self.dim;
        let rows = disp.len() / d;
        debug_assert_eq!(V, strip_width::<T>());
        for r0 in (0..rows).step_by(GROUP) {
            let w: [&[T]; GROUP] =
                std::array::from_fn(|q| &weights[(r0 + q) * w_stride..][..width]);
            for (kb, k0) in (0..d).step_by(V).enumerate() {
                let lanes = V.min(d - k0);
                let mut xs = [[T::zero(); V]; GROUP];
                for q in 0..GROUP {
                    xs[q][..lanes].copy_from_slice(&xc[(r0 + q) * d + k0..][..lanes]);
                }
                let strip = &self.strips[(kb * self.m + c0) * V..][..width * V];
                let acc = weighted_differences::<T, V, FMA>(w, strip, &xs);
                for q in 0..GROUP.min(rows - r0) {
                    let row = &mut disp[(r0 + q) * d + k0..][..lanes];
                    for (o, a) in row.iter_mut().zip(&acc[q]) {
                        *o += *a;
                    }
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn gram_distances_match_direct_ones_far_from_the_origin() {
        let (n, m, d) = (7, 37, 20);
        let x: Vec<f64> = (0..n * d)
            .map(|k| 100.0 + (k as f64 * 0.37).sin())
            .collect();
        let y: Vec<f64> = (0..m * d)
            .map(|k| 100.0 + (k as f64 * 0.11).cos())
            .collect();
        let cols = GramColumns::new_with::<false>(&y, d);
        let (mut xc, mut x_sq) = (Vec::new(), Vec::new());
        cols.centre_rows_with::<false>(&x, &mut xc, &mut x_sq);
        let mut out = vec![0.0; x_sq.len() * 40];
        cols.tile_with::<false>(&xc, &x_sq, 0, 37, &mut out, 40);
        for i in 0..n {
            for j in 0..m {
                let direct: f64 = (0..d).map(|k| (x[i * d + k] - y[j * d + k]).powi(2)).sum();
                assert!((out[i * 40 + j] - direct).abs() < 1e-11 * (1.0 + direct));
            }
        }
    }
}
