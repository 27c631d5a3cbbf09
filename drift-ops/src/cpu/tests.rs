//! The two instruction-set copies of the block loop, and tile skipping, against each other and
//! against a dense `f64` reference.

use super::*;
use crate::kernels::{Gaussian, Laplace};
use drift_api::PointCloud;

/// `lse` and displacements of one reduction, on the given copy of the block loop.
fn reduce_on<T: Real>(
    avx2_fma: bool,
    kernel: &dyn Kernel,
    x: &PointCloud<T>,
    mode: Displacement,
    origin: Option<&[T]>,
) -> (Vec<T>, Vec<T>) {
    let (mut lse, mut disp) = (vec![T::zero(); x.len()], vec![T::zero(); x.data().len()]);
    let g: Vec<T> = (0..x.len()).map(|j| T::of(-0.01 * j as f64)).collect();
    run(
        RowReduction {
            rows: x,
            cols: x,
            kernel,
            tau: T::of(0.7 * x.dim() as f64),
            col_potential: Some(&g),
            mask_diagonal: true,
            displacement: mode,
            origin,
            lse: &mut lse,
            disp: (mode != Displacement::None).then_some(&mut disp[..]),
        },
        avx2_fma,
        usize::MAX,
    )
    .unwrap();
    (lse, disp)
}

fn check_paths_agree<T: Real>() {
    if !drift_api::math::has_avx2_fma() {
        return; // only one copy can run on this CPU
    }
    let bits = |v: &[T]| v.iter().map(|a| a.as_f64().to_bits()).collect::<Vec<_>>();
    // The Gram path's fused multiply-adds: sums of `n` terms (displacements of unit vectors
    // cancel, so the terms' scale is 1 however small the mean) agree to a few roundings per
    // `sqrt(n)` terms of the values' scale.
    let close = |a: &[T], b: &[T], n: usize| {
        let scale = a.iter().fold(1.0f64, |m, v| m.max(v.as_f64().abs()));
        let tol = 16.0 * (n as f64).sqrt() * T::epsilon().as_f64() * scale;
        a.iter()
            .zip(b)
            .all(|(x, y)| (x.as_f64() - y.as_f64()).abs() <= tol)
    };
    // Dimensions on the unrolled, the lane-summed and the Gram-form paths; sizes that leave
    // partial row blocks and tiles.
    for dim in [2, 7, 40] {
        let n = 300;
        let data = (0..n * dim)
            .map(|k| T::of((k as f64 * 0.37).sin() * 3.0))
            .collect();
        let x = PointCloud::new("x", data, dim).unwrap();
        let origin = vec![T::of(0.25); dim];
        for kernel in [&Gaussian as &dyn Kernel, &Laplace] {
            for (mode, origin) in [
                (Displacement::None, None),
                (Displacement::Mean, None),
                (Displacement::Mean, Some(&origin[..])),
                (Displacement::Unit, None),
            ] {
                let plain = reduce_on(false, kernel, &x, mode, origin);
                let wide = reduce_on(true, kernel, &x, mode, origin);
                if dim < GRAM_MIN_DIM {
                    assert_eq!(bits(&plain.0), bits(&wide.0), "lse, D = {dim}, {mode:?}");
                    assert_eq!(bits(&plain.1), bits(&wide.1), "disp, D = {dim}, {mode:?}");
                } else {
                    assert!(close(&plain.0, &wide.0, n), "lse, D = {dim}, {mode:?}");
                    assert!(close(&plain.1, &wide.1, n), "disp, D = {dim}, {mode:?}");
                }
            }
        }
    }
}

/// The AVX2+FMA copy of the block loop computes the same bits as the baseline copy, or (on the
/// Gram path, with fused multiply-adds) the same values to rounding.
#[test]
fn dispatched_and_plain_reductions_agree() {
    check_paths_agree::<f32>();
    check_paths_agree::<f64>();
}

/// The dense `f64` reduction: `lse_i = ln Σ_j exp(ℓ_ij + g_j)` and the mean displacement
/// from the row (or the origin).
fn dense_reference(
    kernel: &dyn Kernel,
    x: &[f64],
    y: &[f64],
    dim: usize,
    tau: f64,
    g: &[f64],
    mask: bool,
    origin: Option<&[f64]>,
) -> (Vec<f64>, Vec<f64>) {
    let (mut lse, mut disp) = (vec![], vec![]);
    for (i, xi) in x.chunks_exact(dim).enumerate() {
        let mut w: Vec<f64> = y
            .chunks_exact(dim)
            .map(|yj| xi.iter().zip(yj).map(|(a, b)| (a - b) * (a - b)).sum())
            .collect();
        kernel.log_weight_f64(&mut w, tau);
        for (j, v) in w.iter_mut().enumerate() {
            *v = if mask && i == j {
                f64::NEG_INFINITY
            } else {
                *v + g[j]
            };
        }
        let top = w.iter().fold(f64::NEG_INFINITY, |a, b| a.max(*b));
        let total: f64 = w.iter().map(|v| (v - top).exp()).sum();
        lse.push(top + total.ln());
        let from = origin.unwrap_or(xi);
        for k in 0..dim {
            let s: f64 = w
                .iter()
                .zip(y.chunks_exact(dim))
                .map(|(v, yj)| (v - top).exp() * (yj[k] - from[k]))
                .sum();
            disp.push(s / total);
        }
    }
    (lse, disp)
}

/// Clustered 2-D or 3-D points: blobs of width 0.05 around centres spread over `[0, 4]^d`.
fn clusters<T: Real>(n: usize, dim: usize, seed: u64) -> Vec<T> {
    let mut rng = crate::random::SplitMix64::new(seed);
    let centres: Vec<f64> = (0..8 * dim).map(|_| 4.0 * rng.uniform()).collect();
    (0..n)
        .flat_map(|i| {
            let c = (i * 7 + seed as usize) % 8;
            let u: Vec<f64> = (0..dim).map(|_| rng.uniform() - 0.5).collect();
            (0..dim)
                .map(|k| T::of(centres[c * dim + k] + 0.3 * u[k]))
                .collect::<Vec<_>>()
        })
        .collect()
}

fn check_skipping_matches_the_dense_reference<T: Real>(tol: f64) {
    use crate::kernels::InverseMultiquadric;
    let avx2 = drift_api::math::has_avx2_fma();
    for (dim, n, m) in [(2, 1500, 1100), (3, 900, 900)] {
        let x = PointCloud::new("x", clusters::<T>(n, dim, 1), dim).unwrap();
        let y = PointCloud::new("y", clusters::<T>(m, dim, 2), dim).unwrap();
        let potential = |len: usize| {
            (0..len)
                .map(|j| T::of(0.3 * (j as f64 * 0.7).sin()))
                .collect()
        };
        let (gy, gx): (Vec<T>, Vec<T>) = (potential(m), potential(n));
        let origin = vec![T::of(1.5); dim];
        let imq = InverseMultiquadric { beta: 40.0 };
        for kernel in [&Gaussian as &dyn Kernel, &Laplace, &imq] {
            for (cols, g, mask) in [(&y, &gy, false), (&x, &gx, true)] {
                for (mode, origin) in [
                    (Displacement::None, None),
                    (Displacement::Mean, None),
                    (Displacement::Mean, Some(&origin[..])),
                ] {
                    let tau = T::of(0.02);
                    let (mut lse, mut disp) = (vec![T::zero(); n], vec![T::zero(); n * dim]);
                    let before = tile_skip::counts();
                    run(
                        RowReduction {
                            rows: &x,
                            cols,
                            kernel,
                            tau,
                            col_potential: Some(g),
                            mask_diagonal: mask,
                            displacement: mode,
                            origin,
                            lse: &mut lse,
                            disp: (mode != Displacement::None).then_some(&mut disp[..]),
                        },
                        avx2,
                        0,
                    )
                    .unwrap();
                    let after = tile_skip::counts();
                    let what = format!(
                        "{kernel:?}, D = {dim}, mask {mask}, {mode:?}, origin {}",
                        origin.is_some()
                    );
                    assert!(after.skipped > before.skipped, "nothing skipped: {what}");
                    let f = |v: &[T]| v.iter().map(|a| a.as_f64()).collect::<Vec<_>>();
                    let (want_lse, want_disp) = dense_reference(
                        kernel,
                        &f(x.data()),
                        &f(cols.data()),
                        dim,
                        tau.as_f64(),
                        &f(g),
                        mask,
                        origin.map(f).as_deref(),
                    );
                    for (i, (a, b)) in lse.iter().zip(&want_lse).enumerate() {
                        let err = (a.as_f64() - b).abs() / b.abs().max(1.0);
                        assert!(err <= tol, "lse[{i}] {a} vs {b}: {what}");
                    }
                    if mode != Displacement::None {
                        for (k, (a, b)) in disp.iter().zip(&want_disp).enumerate() {
                            let err = (a.as_f64() - b).abs();
                            assert!(err <= tol, "disp[{k}] {a} vs {b}: {what}");
                        }
                    }
                }
            }
        }
    }
}

/// Passes that skip tiles give the dense reference's values to the precision's rounding, and
/// they do skip (the clusters are far apart at this temperature).
#[test]
fn skipping_passes_match_the_dense_reference() {
    check_skipping_matches_the_dense_reference::<f32>(2e-5);
    check_skipping_matches_the_dense_reference::<f64>(1e-12);
}
