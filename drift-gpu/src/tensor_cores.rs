//! The optional tensor-core path of the single-precision reduction: the `x·y` products of the
//! squared distances `‖x‖² + ‖y‖² − 2 x·y` on TF32 tensor cores, plain or split (3xTF32), and a
//! CPU emulation of both that states and tests their accuracy.
//!
//! * [`TensorCores::Tf32`]: `x` and `y` rounded to TF32 (10 explicit mantissa bits), products
//!   accumulated in f32. Squared distances are within [`TF32_D2_BOUND`]` · (‖x‖² + ‖y‖²)` of the
//!   exact ones: about `1e-3` relative on `d²` for centred data, so log-weights `−d²/τ` move by
//!   up to that over `τ`. Not within the f32 conformance tolerance: opt in knowingly.
//! * [`TensorCores::Split3`]: `x = hi + lo` with `hi` the TF32 rounding of `x` and `lo` that of
//!   the remainder; `x·y ≈ hi·hi' + hi·lo' + lo·hi'` (three tensor-core products, the `lo·lo'`
//!   term below f32 resolution dropped). Within [`SPLIT3_D2_BOUND`]` · (‖x‖² + ‖y‖²)`: f32 level.
//!
//! Both bounds are relative to `‖x‖² + ‖y‖²`, not to `d²`: like every Gram-form distance, points
//! far from the origin compared with their distance lose digits to cancellation, so the path is
//! meant for centred data (features, latents). It applies to f32 reductions with `D` a multiple of
//! 8 up to [`TC_MAX_DIM`]; any other reduction runs the exact path whatever the option.

use drift_api::Precision;

/// Whether and how the f32 reduction uses tensor cores for its `x·y` products.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub enum TensorCores {
    /// Exact f32 arithmetic (the default).
    #[default]
    Off,
    /// One TF32 product: fastest, about `1e-3` relative on `d²` ([`TF32_D2_BOUND`]).
    Tf32,
    /// Three TF32 products on split operands: f32 accuracy ([`SPLIT3_D2_BOUND`]).
    Split3,
}

impl TensorCores {
    /// The source's `DRIFT_TC` value.
    pub fn define(self) -> u32 {
        match self {
            TensorCores::Off => 0,
            TensorCores::Tf32 => 1,
            TensorCores::Split3 => 2,
        }
    }

    /// What a reduction of this precision and dimension actually runs: the option when the
    /// tensor-core path applies ([`tensor_core_tile`] is `Some`), `Off` otherwise.
    pub fn effective(self, precision: Precision, dim: usize) -> TensorCores {
        if precision == Precision::F32 && tensor_core_tile(dim).is_some() {
            self
        } else {
            TensorCores::Off
        }
    }

    /// The bound of this path on `|d̃² − d²| / (‖x‖² + ‖y‖²)` (0 for the exact path, whose error
    /// is the f32 conformance tolerance's).
    pub fn d2_bound(self) -> f64 {
        match self {
            TensorCores::Off => 0.0,
            TensorCores::Tf32 => TF32_D2_BOUND,
            TensorCores::Split3 => SPLIT3_D2_BOUND,
        }
    }
}

/// Documented bound of the TF32 path on `|d̃² − d²| / (‖x‖² + ‖y‖²)`: two roundings to TF32
/// (unit roundoff `2⁻¹¹` each) per product, doubled by the `−2x·y` term, plus f32 accumulation.
pub const TF32_D2_BOUND: f64 = 2.5e-3;

/// Documented bound of the 3xTF32 path on `|d̃² − d²| / (‖x‖² + ‖y‖²)`: the dropped `lo·lo'`
/// term and the rounding of `lo` are `O(2⁻²²)`; f32 accumulation dominates (f32 level).
pub const SPLIT3_D2_BOUND: f64 = 2e-6;

/// The largest dimension the tensor-core path compiles for (its shared-memory tile must hold 16
/// columns and the block's products).
pub const TC_MAX_DIM: usize = 512;

/// Bytes of static shared memory the tensor-core variant may use.
const TC_SHARED_BYTES: usize = 46 * 1024;

/// Columns per tile of the tensor-core variant at `dim` (a multiple of 16), or `None` when the
/// path does not apply (`dim` not a multiple of 8, or above [`TC_MAX_DIM`]).
pub fn tensor_core_tile(dim: usize) -> Option<usize> {
    if dim == 0 || !dim.is_multiple_of(8) || dim > TC_MAX_DIM {
        return None;
    }
    // Per column: its coordinates, its norm, its potential and a product per row of the block;
    // plus the warps' staging of the rows (4 warps × 2 tiles × 16 × 8 floats).
    let per_column = 4 * (dim + 2 + crate::BLOCK_ROWS);
    let staging = 4 * 4 * 2 * 16 * 8;
    let t = (TC_SHARED_BYTES - staging) / per_column / 16 * 16;
    (t >= 16).then_some(t.min(crate::MAX_TILE_COLUMNS))
}

/// `v` rounded to TF32 (10 explicit mantissa bits, round to nearest, ties away from zero as the
/// hardware's `cvt.rna.tf32.f32` does); the result is an f32 with its low 13 bits zero.
pub fn round_to_tf32(v: f32) -> f32 {
    if !v.is_finite() {
        return v;
    }
    let bits = v.to_bits();
    // Adding half of the dropped part's unit rounds the magnitude to nearest, ties away.
    let rounded = bits.wrapping_add(1 << 12) & !((1u32 << 13) - 1);
    f32::from_bits(rounded)
}

/// `(hi, lo)`: `hi` the TF32 rounding of `v`, `lo` the TF32 rounding of `v − hi`.
pub fn split_tf32(v: f32) -> (f32, f32) {
    let hi = round_to_tf32(v);
    (hi, round_to_tf32(v - hi))
}

/// `x·y` as the tensor-core path of `mode` computes it (products of TF32 operands, exact in f32,
/// accumulated in f32 in the order of the coordinates); the exact f32 dot product for `Off`.
pub fn emulated_dot(mode: TensorCores, x: &[f32], y: &[f32]) -> f32 {
    x.iter().zip(y).fold(0.0f32, |acc, (&a, &b)| match mode {
        TensorCores::Off => acc + a * b,
        TensorCores::Tf32 => acc + round_to_tf32(a) * round_to_tf32(b),
        TensorCores::Split3 => {
            let ((ah, al), (bh, bl)) = (split_tf32(a), split_tf32(b));
            acc + ah * bl + al * bh + ah * bh
        }
    })
}

/// `‖x − y‖²` as the reduction computes it on the path of `mode`: `‖x‖² + ‖y‖² − 2 x·y` in f32,
/// clamped at zero, with the products of [`emulated_dot`].
pub fn emulated_d2(mode: TensorCores, x: &[f32], y: &[f32]) -> f32 {
    let norm = |v: &[f32]| v.iter().fold(0.0f32, |a, c| a + c * c);
    (norm(x) + norm(y) - 2.0 * emulated_dot(mode, x, y)).max(0.0)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn uniform(seed: u64, len: usize) -> Vec<f64> {
        let mut rng = drift_ops::random::SplitMix64::new(seed);
        (0..len)
            .map(|_| (rng.next_u64() >> 11) as f64 / (1u64 << 53) as f64)
            .collect()
    }

    #[test]
    fn rounding_to_tf32_keeps_ten_mantissa_bits_to_nearest() {
        assert_eq!(round_to_tf32(1.0), 1.0);
        // 1 + 2^-10 is representable; 1 + 2^-11 is a tie, rounded away from zero.
        assert_eq!(round_to_tf32(1.0 + 2f32.powi(-10)), 1.0 + 2f32.powi(-10));
        assert_eq!(round_to_tf32(1.0 + 2f32.powi(-11)), 1.0 + 2f32.powi(-10));
        assert_eq!(round_to_tf32(1.0 + 2f32.powi(-12)), 1.0);
        assert_eq!(
            round_to_tf32(-(1.0 + 3.0 * 2f32.powi(-12))),
            -(1.0 + 2f32.powi(-10))
        );
        for v in uniform(3, 1000) {
            let v = (v as f32 - 0.5) * 100.0;
            let r = round_to_tf32(v);
            assert_eq!(r.to_bits() & 0x1fff, 0);
            assert!(((r - v) / v).abs() <= 2f32.powi(-11) * 1.0001, "{v} {r}");
            let (hi, lo) = split_tf32(v);
            assert!(((hi + lo - v) / v).abs() <= 2f32.powi(-21), "{v}");
        }
    }

    /// Worst `|d̃² − d²| / (‖x‖² + ‖y‖²)` and worst `|d̃² − d²| / d²` over random centred pairs,
    /// and the worst log-sum-exp error of a Gaussian row at `τ` = the mean `d²`.
    fn measure(mode: TensorCores, dim: usize) -> (f64, f64, f64) {
        let (n, m) = (24, 200);
        let x: Vec<f32> = uniform(dim as u64, n * dim)
            .iter()
            .map(|v| (v - 0.5) as f32)
            .collect();
        let y: Vec<f32> = uniform(dim as u64 + 1, m * dim)
            .iter()
            .map(|v| (v - 0.4) as f32)
            .collect();
        let (mut scaled, mut relative, mut lse_err) = (0f64, 0f64, 0f64);
        for xi in x.chunks(dim) {
            let (mut exact_row, mut tc_row) = (Vec::new(), Vec::new());
            for yj in y.chunks(dim) {
                let exact: f64 = xi
                    .iter()
                    .zip(yj)
                    .map(|(a, b)| (*a as f64 - *b as f64).powi(2))
                    .sum();
                let norms: f64 = xi.iter().chain(yj).map(|c| (*c as f64).powi(2)).sum();
                let got = emulated_d2(mode, xi, yj) as f64;
                scaled = scaled.max((got - exact).abs() / norms);
                relative = relative.max((got - exact).abs() / exact);
                exact_row.push(exact);
                tc_row.push(got);
            }
            let tau = exact_row.iter().sum::<f64>() / exact_row.len() as f64;
            let lse = |d: &[f64]| {
                let mx = d.iter().map(|v| -v / tau).fold(f64::NEG_INFINITY, f64::max);
                mx + d.iter().map(|v| (-v / tau - mx).exp()).sum::<f64>().ln()
            };
            lse_err = lse_err.max((lse(&tc_row) - lse(&exact_row)).abs());
        }
        (scaled, relative, lse_err)
    }

    #[test]
    fn the_emulated_paths_stay_within_their_documented_bounds_at_d_64_and_256() {
        for dim in [64, 256] {
            let (exact_scaled, _, _) = measure(TensorCores::Off, dim);
            let (tf32_scaled, tf32_rel, tf32_lse) = measure(TensorCores::Tf32, dim);
            let (split_scaled, split_rel, split_lse) = measure(TensorCores::Split3, dim);
            eprintln!(
                "D = {dim}: |Δd²|/(|x|²+|y|²): f32 {exact_scaled:.2e}, TF32 {tf32_scaled:.2e}, \
                 3xTF32 {split_scaled:.2e}; |Δd²|/d²: TF32 {tf32_rel:.2e}, 3xTF32 {split_rel:.2e}; \
                 lse at τ = mean d²: TF32 {tf32_lse:.2e}, 3xTF32 {split_lse:.2e}"
            );
            assert!(tf32_scaled <= TF32_D2_BOUND, "{tf32_scaled}");
            assert!(split_scaled <= SPLIT3_D2_BOUND, "{split_scaled}");
            // Plain TF32 is visibly coarser than f32; the split path is at f32 level (within a
            // small factor of the exact f32 Gram form's own error).
            assert!(tf32_scaled > 20.0 * exact_scaled.max(1e-9), "{tf32_scaled}");
            assert!(
                split_scaled <= 4.0 * exact_scaled.max(2f64.powi(-23)),
                "{split_scaled}"
            );
            // On centred data: about 1e-3 relative on d² for TF32, f32 level for 3xTF32.
            assert!(
                tf32_rel < 1e-2 && split_rel < 1e-4,
                "{tf32_rel} {split_rel}"
            );
            assert!(split_lse < 1e-4, "{split_lse}");
        }
    }

    #[test]
    fn the_path_applies_to_f32_multiples_of_eight_up_to_the_largest_dimension() {
        assert_eq!(
            TensorCores::Split3.effective(Precision::F32, 64),
            TensorCores::Split3
        );
        assert_eq!(
            TensorCores::Split3.effective(Precision::F64, 64),
            TensorCores::Off
        );
        assert_eq!(
            TensorCores::Tf32.effective(Precision::F32, 3),
            TensorCores::Off
        );
        assert_eq!(
            TensorCores::Tf32.effective(Precision::F32, 1024),
            TensorCores::Off
        );
        for dim in (8..=TC_MAX_DIM).step_by(8) {
            let t = tensor_core_tile(dim).unwrap();
            assert!(t.is_multiple_of(16) && t >= 16);
            assert!(4 * t * (dim + 2 + crate::BLOCK_ROWS) + 4096 <= TC_SHARED_BYTES);
        }
    }
}
