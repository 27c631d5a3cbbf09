//! Squared distances for high-dimensional points as `‖x‖² + ‖y‖² − 2 x·y`, register-blocked.
//!
//! For small `D` the reduction computes `‖y − x‖²` directly. From [`GRAM_MIN_DIM`] coordinates on,
//! the inner products dominate, and they are computed like a matrix product: the columns are stored
//! coordinate-major (`D × M`), and four rows times sixteen columns of dot products stay in registers
//! while the loop runs over the coordinates (one vector load feeds four multiply-adds). Both sets are
//! first centred on the mean of the columns, so that the expansion does not cancel away the
//! precision of data far from the origin.

use drift_api::Real;

/// The smallest dimension that uses the Gram form.
pub const GRAM_MIN_DIM: usize = 16;
/// Rows computed together (accumulators held in registers).
const GROUP: usize = 4;
/// Columns per register block.
const LANES: usize = 16;
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
    /// Centred columns point-major, each padded to `dim_pad` coordinates (for displacements).
    points: Vec<T>,
    dim_pad: usize,
    dim: usize,
}

impl<T: Real> GramColumns<T> {
    /// Prepares `m` points of dimension `dim` (row-major `y`).
    pub fn new(y: &[T], dim: usize) -> Self {
        let m = y.len() / dim;
        let stride = m.div_ceil(LANES) * LANES;
        let mut centre64 = vec![0.0f64; dim];
        for p in y.chunks_exact(dim) {
            for (c, v) in centre64.iter_mut().zip(p) {
                *c += v.as_f64();
            }
        }
        let centre: Vec<T> = centre64.iter().map(|c| T::of(c / m as f64)).collect();
        let dim_pad = dim.div_ceil(LANES) * LANES;
        let mut points = vec![T::zero(); m * dim_pad];
        let mut panels = vec![T::zero(); dim * stride];
        let mut y_sq = vec![T::zero(); stride];
        for (j, p) in y.chunks_exact(dim).enumerate() {
            let base = (j / LANES) * dim * LANES + j % LANES;
            for k in 0..dim {
                let v = p[k] - centre[k];
                panels[base + k * LANES] = v;
                points[j * dim_pad + k] = v;
            }
            y_sq[j] = squared_norm(&points[j * dim_pad..j * dim_pad + dim]);
        }
        GramColumns {
            centre,
            panels,
            y_sq,
            points,
            dim_pad,
            dim,
        }
    }

    /// Centres a block of rows (row-major) into `xc`, padded with zero rows to whole groups, and
    /// returns their squared norms in `x_sq`. (This and the other per-block methods are
    /// `#[inline(always)]`: they run inside the CPU backend's AVX2+FMA copy of its block loop.)
    #[inline(always)]
    pub fn centre_rows(&self, x: &[T], xc: &mut Vec<T>, x_sq: &mut Vec<T>) {
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
            x_sq[r] = squared_norm(&xc[r * d..(r + 1) * d]);
        }
    }

    /// Squared distances of the centred rows `xc` to the columns `c0..c0 + width`, written to
    /// `out[r * out_stride + jj]` for every (padded) row `r`.
    #[inline(always)]
    pub fn tile(
        &self,
        xc: &[T],
        x_sq: &[T],
        c0: usize,
        width: usize,
        out: &mut [T],
        out_stride: usize,
    ) {
        let d = self.dim;
        let two = T::of(2.0);
        for (g, xg) in xc.chunks_exact(GROUP * d).enumerate() {
            let r0 = g * GROUP;
            for jb in (0..width).step_by(LANES) {
                let j0 = c0 + jb;
                let panel = &self.panels[(j0 / LANES) * d * LANES..][..d * LANES];
                // Products are summed in chunks of CHUNK coordinates, each chunk into fresh
                // accumulators: one long running sum would lose about sqrt(D) times more to rounding
                // (in f32 at D = 65536, 0.5 % of the distance: enough to wreck two-sided couplings).
                // The first chunk is the running sum itself, so D <= CHUNK costs nothing extra.
                let mut chunks = panel.chunks(CHUNK * LANES);
                // A `match`, not `Option::map_or`: a closure passed to core's (merely `#[inline]`)
                // combinator was compiled out of line, outside the backend's AVX2 copy.
                let mut acc = match chunks.next() {
                    Some(c) => chunk_dots(xg, d, 0, c),
                    None => [[T::zero(); LANES]; GROUP],
                };
                for (c, chunk) in chunks.enumerate() {
                    let part = chunk_dots(xg, d, (c + 1) * CHUNK, chunk);
                    for q in 0..GROUP {
                        for l in 0..LANES {
                            acc[q][l] += part[q][l];
                        }
                    }
                }
                let take = LANES.min(width - jb);
                for q in 0..GROUP {
                    let row = &mut out[(r0 + q) * out_stride + jb..][..take];
                    for (l, o) in row.iter_mut().enumerate() {
                        let v = x_sq[r0 + q] + self.y_sq[j0 + l] - two * acc[q][l];
                        *o = v.max(T::zero());
                    }
                }
            }
        }
    }
}

/// The dot products of [`GROUP`] rows (`xg`, `d` coordinates each, from coordinate `k0`) with the
/// [`LANES`] columns of one panel chunk (`LANES` values per coordinate).
#[inline(always)]
fn chunk_dots<T: Real>(xg: &[T], d: usize, k0: usize, chunk: &[T]) -> [[T; LANES]; GROUP] {
    let mut part = [[T::zero(); LANES]; GROUP];
    for (k, yk) in chunk.chunks_exact(LANES).enumerate() {
        for q in 0..GROUP {
            let a = xg[q * d + k0 + k];
            for l in 0..LANES {
                part[q][l] += a * yk[l];
            }
        }
    }
    part
}

/// `‖v‖²` summed exactly as [`GramColumns::tile`] sums a dot product (chunks of [`CHUNK`]
/// coordinates, in order), so that `‖x‖² + ‖x‖² − 2 x·x` is exactly zero for coincident points: a
/// Laplace kernel's `sqrt` would turn the smallest residue there into a visible error.
#[inline(always)]
fn squared_norm<T: Real>(v: &[T]) -> T {
    v.chunks(CHUNK).fold(T::zero(), |acc, chunk| {
        acc + chunk.iter().fold(T::zero(), |part, a| part + *a * *a)
    })
}

impl<T: Real> GramColumns<T> {
    /// `disp_r += Σ_j w_rj (ỹ_j − x̃_r)` over the tile's columns `c0..c0 + width`, four rows by
    /// sixteen coordinates in registers (the differences are formed in registers too, so the result
    /// rounds like the direct sum). Row `r`'s weights are `weights[r * w_stride..][..width]` (zero for
    /// padding rows); `disp` holds the block's real rows, `d` values each.
    #[inline(always)]
    pub fn accumulate_tile(
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
        for r0 in (0..rows).step_by(GROUP) {
            for k0 in (0..d).step_by(LANES) {
                let lanes = LANES.min(d - k0);
                let mut xs = [[T::zero(); LANES]; GROUP];
                for q in 0..GROUP.min(rows - r0) {
                    xs[q][..lanes].copy_from_slice(&xc[(r0 + q) * d + k0..][..lanes]);
                }
                let mut acc = [[T::zero(); LANES]; GROUP];
                for j in 0..width {
                    let y: &[T; LANES] = self.points[(c0 + j) * self.dim_pad + k0..][..LANES]
                        .try_into()
                        .expect("points are padded to whole register blocks");
                    for q in 0..GROUP {
                        let a = weights[(r0 + q) * w_stride + j];
                        for l in 0..LANES {
                            acc[q][l] += a * (y[l] - xs[q][l]);
                        }
                    }
                }
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
        let cols = GramColumns::new(&y, d);
        let (mut xc, mut x_sq) = (Vec::new(), Vec::new());
        cols.centre_rows(&x, &mut xc, &mut x_sq);
        let mut out = vec![0.0; 8 * 40];
        cols.tile(&xc, &x_sq, 0, 37, &mut out, 40);
        for i in 0..n {
            for j in 0..m {
                let direct: f64 = (0..d).map(|k| (x[i * d + k] - y[j * d + k]).powi(2)).sum();
                assert!((out[i * 40 + j] - direct).abs() < 1e-11 * (1.0 + direct));
            }
        }
    }
}
