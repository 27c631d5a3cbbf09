//! The cache's scaled matrix: repeated passes as potentials move, sweeps, and the drift term's
//! displacement pass, against the dense reference.

use super::common::*;
use super::support::*;
use drift_api::kit::{FusedPairs, PairPath, PreparedPairs};
use drift_api::Real;
use drift_ops::cached::CachedPairs;
use drift_ops::CpuBackend;
use rand::Rng;

/// Repeated passes, as a Sinkhorn solve makes them: the cached path shifts each pass by the last
/// one's result, so moving potentials, a jump far beyond the range of the shifted sums (f32 and
/// f64 overflow and underflow), a new temperature and zero-weight points must all still give the
/// dense reference.
#[test]
fn repeated_cached_passes_match_the_reference_as_potentials_move() {
    fn run<T: Real>(tol: f64) {
        for (seed, mask) in [(11, false), (12, true)] {
            let c = case(seed, 70, 70, 20, K::Gaussian, 0.05, mask);
            let clouds = Clouds::<T>::of(&c);
            let set = clouds.set(&drift_ops::Gaussian);
            let (x64, y64) = clouds.points64();
            let cached = CachedPairs::new(set).unwrap();
            let mut r = rng(seed);
            let steps: [(f64, f64); 6] = [
                (0.05, 0.0),
                (0.05, 0.3),
                (0.05, 0.01),
                (0.05, 400.0),
                (0.05, -900.0),
                (0.02, 0.5),
            ];
            for (step, (tau, jump)) in steps.into_iter().enumerate() {
                let mut moved = |p: &[f64]| -> Vec<T> {
                    p.iter()
                        .map(|v| T::of(v + jump * r.gen_range(0.5..1.0)))
                        .collect()
                };
                let (f, g) = (moved(&c.f), moved(&c.g));
                let as64 = |v: &[T]| v.iter().map(|a| a.as_f64()).collect::<Vec<_>>();
                let (want_rows, want_cols) =
                    dense(c.k, tau, &x64, &y64, mask, &as64(&f), &as64(&g));
                let mut rows = vec![T::zero(); x64.len()];
                let mut cols = vec![T::zero(); y64.len()];
                cached.row_lse(T::of(tau), Some(&g), &mut rows).unwrap();
                cached.col_lse(T::of(tau), Some(&f), &mut cols).unwrap();
                let scale = scale_of(&want_rows, &want_cols);
                let err = max_abs_err(&rows, &want_rows).max(max_abs_err(&cols, &want_cols));
                assert!(
                    err / scale < tol,
                    "step {step} (tau {tau}, jump {jump}, mask {mask}): {err:e} of {scale:e}"
                );
            }
        }
    }
    run::<f64>(1e-12);
    run::<f32>(1e-5);
}

/// Sweeps of alternating scaling as a Sinkhorn solve runs them (`f = log a − row_lse(g)`, then
/// `g = log b − col_lse(f)`): after the first pass the cache keeps the scaled matrix and runs each
/// sweep in one read of it. Every sweep must give the dense reference of its two passes, and the
/// fused path's two-pass sweep, including when the potentials jump out of the matrix's reach (the
/// sweep falls back and the matrix is rebuilt), at a low temperature, with a masked diagonal and
/// zero-weight points.
#[test]
fn scaled_sweeps_match_the_reference_and_the_two_passes() {
    fn run<T: Real>(tol: f64) {
        for (seed, mask, tau) in [(21, false, 0.05), (22, true, 0.05), (23, false, 1e-4)] {
            let c = case(
                seed,
                90,
                if mask { 90 } else { 61 },
                12,
                K::Gaussian,
                tau,
                mask,
            );
            let clouds = Clouds::<T>::of(&c);
            let set = clouds.set(&drift_ops::Gaussian);
            let (x64, y64) = clouds.points64();
            let (n, m) = (x64.len(), y64.len());
            let cached = CachedPairs::new(set).unwrap();
            let fused = FusedPairs::new(&CpuBackend, set);
            // Uniform weights with one zero-weight point on each side.
            let log_w = |len: usize| -> Vec<T> {
                let mut w = vec![T::of(-(len as f64 - 1.0).ln()); len];
                w[len / 2] = T::neg_infinity();
                w
            };
            let (log_a, log_b) = (log_w(n), log_w(m));
            let update = |i: usize, l: T| {
                if l == T::neg_infinity() {
                    T::neg_infinity()
                } else {
                    log_a[i] - l
                }
            };
            let mut g = log_b.clone();
            for sweep in 0..12 {
                if sweep == 6 {
                    // A jump past what the stored values can give: half the columns far up.
                    g.iter_mut().step_by(2).for_each(|v| *v += T::of(150.0));
                }
                let (mut f, mut col) = (vec![T::zero(); n], vec![T::zero(); m]);
                cached
                    .sweep(T::of(tau), Some(&g), &update, &mut f, &mut col)
                    .unwrap();
                let (mut f2, mut col2) = (vec![T::zero(); n], vec![T::zero(); m]);
                fused
                    .sweep(T::of(tau), Some(&g), &update, &mut f2, &mut col2)
                    .unwrap();
                let as64 = |v: &[T]| v.iter().map(|a| a.as_f64()).collect::<Vec<_>>();
                let (rows_want, _) = dense(c.k, tau, &x64, &y64, mask, &vec![0.0; n], &as64(&g));
                let f_want: Vec<f64> = (0..n)
                    .map(|i| update(i, T::of(rows_want[i])).as_f64())
                    .collect();
                // The columns against the sweep's own row potentials (as rounded to T).
                let (_, col_want) = dense(c.k, tau, &x64, &y64, mask, &as64(&f), &as64(&g));
                let scale = scale_of(&rows_want, &col_want);
                let err = max_abs_err(&f, &f_want).max(max_abs_err(&col, &col_want));
                let err2 = max_abs_err(&f2, &f_want).max(max_abs_err(&col2, &as64(&col)));
                assert!(
                    err / scale < tol && err2 / scale < 10.0 * tol,
                    "sweep {sweep} (tau {tau}, mask {mask}): {err:e}, fused {err2:e} of {scale:e}"
                );
                g = col
                    .iter()
                    .zip(&log_b)
                    .map(|(l, lb)| {
                        if *l == T::neg_infinity() {
                            T::neg_infinity()
                        } else {
                            *lb - *l
                        }
                    })
                    .collect();
            }
            // The scaled matrix was kept: the cache holds it next to the distances.
            let size = std::mem::size_of::<T>();
            assert_eq!(
                cached.path(),
                PairPath::Cached {
                    bytes: 2 * n * m * size
                }
            );
        }
    }
    run::<f64>(1e-12);
    run::<f32>(2e-5);
}

/// A drift term's displacement pass after a Sinkhorn solve on the cache: the scaled matrix holds
/// the term's temperature, so the pass answers from the stored exponentials. It must give the
/// dense reference of the row log-sums and mean displacements (from the rows or from an origin,
/// with a masked diagonal and zero-weight points), and answer `false` (the caller then runs the
/// fused reduction) for what it does not cover: another temperature, the unit displacement, a
/// potential out of the matrix's reach.
#[test]
fn displacement_passes_on_the_scaled_matrix_match_the_reference() {
    use drift_api::kit::{Displacement, PairDisplacement};
    fn run<T: Real>(tol: f64) {
        // Dimension 20: the Gram form's accumulation; 2 and 7: the direct one.
        let cases = [
            (31, false, false, 20),
            (32, true, false, 20),
            (33, false, true, 20),
            (34, true, true, 2),
            (35, false, true, 7),
            (36, false, false, 2),
        ];
        for (seed, mask, with_origin, d) in cases {
            let tau = 0.05;
            let c = case(
                seed,
                80,
                if mask { 80 } else { 57 },
                d,
                K::Gaussian,
                tau,
                mask,
            );
            let clouds = Clouds::<T>::of(&c);
            let (x64, y64) = clouds.points64();
            let (n, m) = (x64.len(), y64.len());
            let cached = CachedPairs::new(clouds.set(&drift_ops::Gaussian)).unwrap();
            let g: Vec<T> = c.g.iter().map(|v| T::of(*v)).collect();
            // Two passes at τ: the first builds the scaled matrix.
            let mut lse = vec![T::zero(); n];
            cached.row_lse(T::of(tau), Some(&g), &mut lse).unwrap();
            cached.row_lse(T::of(tau), Some(&g), &mut lse).unwrap();
            let origin: Vec<T> = (0..d).map(|k| T::of(0.1 * k as f64 - 0.4)).collect();
            let origin = with_origin.then_some(&origin[..]);
            // Moved potentials, as the last iterations of a solve leave them.
            let mut r = rng(seed);
            let g: Vec<T> = g
                .iter()
                .map(|v| *v + T::of(r.gen_range(-0.5..0.5)))
                .collect();
            let pass = |tau: f64, g: &[T], mode, lse: &mut [T], disp: &mut [T]| {
                cached
                    .displacement_pass(PairDisplacement {
                        tau: T::of(tau),
                        col_potential: g,
                        displacement: mode,
                        origin,
                        lse,
                        disp,
                    })
                    .unwrap()
            };
            let (mut lse, mut disp) = (vec![T::zero(); n], vec![T::zero(); n * d]);
            assert!(pass(tau, &g, Displacement::Mean, &mut lse, &mut disp));
            // The dense reference.
            let g64: Vec<f64> = g.iter().map(|v| v.as_f64()).collect();
            let (want_lse, _) = dense(c.k, tau, &x64, &y64, mask, &vec![0.0; n], &g64);
            let mut err_disp: f64 = 0.0;
            let mut scale_disp: f64 = 0.0;
            for i in 0..n {
                let from: Vec<f64> = match origin {
                    Some(o) => o.iter().map(|v| v.as_f64()).collect(),
                    None => x64[i].clone(),
                };
                for k in 0..d {
                    let want: f64 = (0..m)
                        .filter(|&j| !(mask && i == j) && g64[j].is_finite())
                        .map(|j| {
                            let d2: f64 = x64[i]
                                .iter()
                                .zip(&y64[j])
                                .map(|(a, b)| (a - b) * (a - b))
                                .sum();
                            (g64[j] + c.k.ell(d2, tau) - want_lse[i]).exp() * (y64[j][k] - from[k])
                        })
                        .sum();
                    err_disp = err_disp.max((disp[i * d + k].as_f64() - want).abs());
                    scale_disp = scale_disp.max(want.abs());
                }
            }
            let scale = scale_of(&want_lse, &[]);
            let err = max_abs_err(&lse, &want_lse);
            assert!(
                err / scale < tol && err_disp / scale_disp < tol,
                "seed {seed}: lse {err:e} of {scale:e}, displacement {err_disp:e} of {scale_disp:e}"
            );
            // Not covered: the caller runs the fused pass.
            assert!(!pass(tau, &g, Displacement::Unit, &mut lse, &mut disp));
            assert!(!pass(0.07, &g, Displacement::Mean, &mut lse, &mut disp));
            let mut lost = g.clone();
            lost[m / 3] = T::of(0.0); // a zero-weight column (−∞ at the build) gains mass
            assert!(!pass(tau, &lost, Displacement::Mean, &mut lse, &mut disp));
        }
    }
    run::<f64>(1e-11);
    run::<f32>(2e-5);
}
