//! The cached and the fused pair paths: both match a dense f64 reference of the row and column
//! log-sum-exps, agree with each other, and give the same Sinkhorn operators.

mod common;

use common::*;
use drift_api::kit::{FusedPairs, PairPath, PairSet, PreparedPairs};
use drift_api::{PointCloud, Real};
use drift_ops::cached::CachedPairs;
use drift_ops::{pair_cache, CpuBackend, SinkhornDivergence, SinkhornDrift};
use proptest::prelude::*;
use rand::Rng;

/// `(row_lse, col_lse)` of the dense log-kernel with potentials, the masked pairs left out.
fn dense(
    k: K,
    tau: f64,
    x: &[Vec<f64>],
    y: &[Vec<f64>],
    mask: bool,
    f: &[f64],
    g: &[f64],
) -> (Vec<f64>, Vec<f64>) {
    let ell = |i: usize, j: usize| {
        if mask && i == j {
            f64::NEG_INFINITY
        } else {
            let d2: f64 = x[i].iter().zip(&y[j]).map(|(a, b)| (a - b) * (a - b)).sum();
            k.ell(d2, tau)
        }
    };
    let rows = (0..x.len())
        .map(|i| lse((0..y.len()).map(|j| g[j] + ell(i, j))))
        .collect();
    let cols = (0..y.len())
        .map(|j| lse((0..x.len()).map(|i| f[i] + ell(i, j))))
        .collect();
    (rows, cols)
}

/// Largest `|got − want|` over entries, `−∞` having to match exactly.
fn max_abs_err<T: Real>(got: &[T], want: &[f64]) -> f64 {
    got.iter()
        .zip(want)
        .map(|(a, b)| {
            let a = a.as_f64();
            if *b == f64::NEG_INFINITY || a == f64::NEG_INFINITY {
                if a == *b {
                    0.0
                } else {
                    f64::INFINITY
                }
            } else {
                (a - b).abs()
            }
        })
        .fold(0.0, f64::max)
}

struct Case {
    k: K,
    tau: f64,
    x: Cloud,
    y: Cloud,
    mask: bool,
    f: Vec<f64>,
    g: Vec<f64>,
}

fn case(seed: u64, n: usize, m: usize, d: usize, k: K, tau: f64, mask: bool) -> Case {
    let mut r = rng(seed);
    let x = Cloud::random(&mut r, n, d, 0.0, false);
    let y = if mask {
        x.clone()
    } else {
        Cloud::random(&mut r, m, d, 0.3, false)
    };
    // Potentials of the size a converging Sinkhorn produces, with a zero-weight point (−∞) on
    // each side.
    let mut pot = |len: usize| -> Vec<f64> {
        let mut p: Vec<f64> = (0..len)
            .map(|_| r.gen_range(-2.0..2.0) / tau.sqrt())
            .collect();
        if len > 3 {
            p[len / 3] = f64::NEG_INFINITY;
        }
        p
    };
    let (f, g) = (pot(n), pot(y.n()));
    Case {
        k,
        tau,
        x,
        y,
        mask,
        f,
        g,
    }
}

/// A case's points in precision `T`: the rows, and the columns (the rows again when masked).
struct Clouds<T> {
    x: PointCloud<T>,
    y: PointCloud<T>,
    mask: bool,
}

impl<T: Real> Clouds<T> {
    fn of(c: &Case) -> Self {
        Clouds {
            x: c.x.to_lib::<T>("x"),
            y: c.y.to_lib::<T>("y"),
            mask: c.mask,
        }
    }

    fn cols(&self) -> &PointCloud<T> {
        if self.mask {
            &self.x
        } else {
            &self.y
        }
    }

    fn set<'a>(&'a self, kernel: &'a dyn drift_api::Kernel) -> PairSet<'a, T> {
        PairSet {
            rows: &self.x,
            cols: self.cols(),
            kernel,
            mask_diagonal: self.mask,
        }
    }

    /// The rows and columns as rounded to `T`, in f64 for the reference.
    fn points64(&self) -> (Vec<Vec<f64>>, Vec<Vec<f64>>) {
        (points(&self.x), points(self.cols()))
    }
}

/// The scale of a reference's log-sum-exps, `1 + max |finite value|`, that errors are relative to.
fn scale_of(rows: &[f64], cols: &[f64]) -> f64 {
    1.0 + rows
        .iter()
        .chain(cols)
        .filter(|v| v.is_finite())
        .fold(0.0f64, |a, v| a.max(v.abs()))
}

/// Both paths in precision `T` against the dense reference; returns the largest error of each
/// (relative to the scale of the log-weights, `1 + max |ℓ|`).
fn check<T: Real>(c: &Case) -> (f64, f64) {
    let clouds = Clouds::<T>::of(c);
    let kernel = c.k.boxed();
    let set = clouds.set(kernel.as_ref());
    let (x64, y64) = clouds.points64();
    let (f, g): (Vec<T>, Vec<T>) = (
        c.f.iter().map(|v| T::of(*v)).collect(),
        c.g.iter().map(|v| T::of(*v)).collect(),
    );
    // The reference sees the points and potentials as rounded to T.
    let f64_of = |v: &[T]| v.iter().map(|a| a.as_f64()).collect::<Vec<_>>();
    let (want_rows, want_cols) = dense(c.k, c.tau, &x64, &y64, c.mask, &f64_of(&f), &f64_of(&g));
    let scale = scale_of(&want_rows, &want_cols);
    let cached = CachedPairs::new(set).unwrap();
    let fused = FusedPairs::new(&CpuBackend, set);
    assert!(matches!(cached.path(), PairPath::Cached { .. }));
    assert_eq!(fused.path(), PairPath::Fused);
    let mut errs = [0.0f64; 2];
    for (e, pairs) in errs
        .iter_mut()
        .zip([&cached as &dyn PreparedPairs<T>, &fused])
    {
        let mut rows = vec![T::zero(); x64.len()];
        let mut cols = vec![T::zero(); y64.len()];
        pairs.row_lse(T::of(c.tau), Some(&g), &mut rows).unwrap();
        pairs.col_lse(T::of(c.tau), Some(&f), &mut cols).unwrap();
        *e = max_abs_err(&rows, &want_rows).max(max_abs_err(&cols, &want_cols)) / scale;
    }
    (errs[0], errs[1])
}

fn points<T: Real>(p: &PointCloud<T>) -> Vec<Vec<f64>> {
    p.data()
        .chunks_exact(p.dim())
        .map(|c| c.iter().map(|v| v.as_f64()).collect())
        .collect()
}

/// Shapes on every distance path (unrolled, lane-summed, Gram form), partial row blocks, column
/// stripes and chunks, `N != M`, the masked self problem, every kernel, and `tau = 1e-4`.
#[test]
fn cached_and_fused_match_the_dense_reference() {
    let mut seed = 0;
    for (n, m) in [(1, 1), (37, 300), (300, 37), (257, 257)] {
        for d in [1, 2, 7, 40] {
            for k in K::ALL {
                for tau in [1e-4, 0.3] {
                    for mask in [false, true] {
                        if mask && n != m {
                            continue;
                        }
                        seed += 1;
                        let c = case(seed, n, m, d, k, tau, mask);
                        let (cached, fused) = check::<f64>(&c);
                        let what = format!("n {n} m {m} d {d} {k:?} tau {tau} mask {mask}");
                        assert!(cached < 1e-12, "f64 cached {cached:e}: {what}");
                        assert!(fused < 1e-12, "f64 fused {fused:e}: {what}");
                        let (cached, fused) = check::<f32>(&c);
                        assert!(cached < 1e-5, "f32 cached {cached:e}: {what}");
                        assert!(fused < 1e-5, "f32 fused {fused:e}: {what}");
                    }
                }
            }
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(24))]
    /// Random shapes and temperatures: the two paths agree to rounding in f64.
    #[test]
    fn paths_agree_on_random_shapes(
        seed in 0u64..1000, n in 1usize..90, m in 1usize..90, d in 1usize..24,
        log_tau in -4.0f64..1.0, mask in any::<bool>(),
    ) {
        let m = if mask { n } else { m };
        let c = case(seed, n, m, d, K::Gaussian, 10f64.powf(log_tau), mask);
        let (cached, fused) = check::<f64>(&c);
        prop_assert!(cached < 1e-12 && fused < 1e-12, "{cached:e} {fused:e}");
    }
}

/// A mask on a non-square pair set is refused, as by the fused reduction.
#[test]
fn a_mask_needs_a_square_pair_set() {
    let c = case(1, 5, 6, 2, K::Gaussian, 0.5, false);
    let (xl, yl) = (c.x.to_lib::<f64>("x"), c.y.to_lib::<f64>("y"));
    let kernel = c.k.boxed();
    let err = CachedPairs::new(PairSet {
        rows: &xl,
        cols: &yl,
        kernel: kernel.as_ref(),
        mask_diagonal: true,
    })
    .unwrap_err();
    assert!(err.to_string().contains("square"), "{err}");
}

/// Whole Sinkhorn operators give the same field whether the budget lets the pairs be cached or
/// not, and the report says which path ran. (The only test of this binary that changes the
/// process-wide budget.)
#[test]
fn sinkhorn_operators_agree_across_paths_and_report_them() {
    let mut r = rng(7);
    // Dimension 20: the Gram path's displacement pass on the scaled matrix runs too.
    let x = Cloud::random(&mut r, 150, 20, 0.0, true).to_lib::<f64>("x");
    let y = Cloud::random(&mut r, 120, 20, 0.4, false).to_lib::<f64>("y");
    let ops: Vec<Box<dyn drift_api::DriftOperator>> = vec![
        Box::new(SinkhornDrift::new(0.5)),
        Box::new(SinkhornDivergence::new(0.5)),
        // At its iteration cap the fused path computes the displacements in the last row pass.
        Box::new(SinkhornDrift {
            sinkhorn: drift_ops::Sinkhorn::new(3, 0.0),
            ..SinkhornDrift::new(0.5)
        }),
    ];
    let before = pair_cache::budget();
    for op in &ops {
        pair_cache::set_pair_cache_budget(0);
        let (fused, fused_report) = drift_ops::drift(op.as_ref(), &x, &y).unwrap();
        pair_cache::set_pair_cache_budget(1 << 30);
        let (cached, cached_report) = drift_ops::drift(op.as_ref(), &x, &y).unwrap();
        for c in &fused_report.couplings {
            assert_eq!(c.path, Some(PairPath::Fused), "{c:?}");
        }
        for c in &cached_report.couplings {
            assert!(matches!(c.path, Some(PairPath::Cached { .. })), "{c:?}");
        }
        let norm = fused.iter().map(|v| v * v).sum::<f64>().sqrt();
        let diff = fused
            .iter()
            .zip(&cached)
            .map(|(a, b)| (a - b) * (a - b))
            .sum::<f64>()
            .sqrt();
        assert!(diff <= 1e-10 * norm, "{op:?}: {diff:e} against {norm:e}");
        assert_eq!(
            fused_report
                .couplings
                .iter()
                .map(|c| c.iterations)
                .collect::<Vec<_>>(),
            cached_report
                .couplings
                .iter()
                .map(|c| c.iterations)
                .collect::<Vec<_>>()
        );
    }
    pair_cache::set_pair_cache_budget(before);
}

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

/// A fused pair set told that the next row pass is the coupling's last computes the term's
/// displacement in it, and answers the displacement pass with it only for the same temperature
/// and potential, once.
#[test]
fn fused_pairs_answer_the_displacement_pass_from_the_announced_row_pass() {
    use drift_api::kit::{reduce, Displacement, PairDisplacement, RowReduction};
    let mut r = rng(11);
    let x = Cloud::random(&mut r, 70, 3, 0.0, true).to_lib::<f64>("x");
    let y = Cloud::random(&mut r, 50, 3, 0.4, false).to_lib::<f64>("y");
    let kernel = drift_ops::Gaussian;
    let origin = vec![0.1, -0.2, 0.3];
    let set = PairSet {
        rows: &x,
        cols: &y,
        kernel: &kernel,
        mask_diagonal: false,
    };
    let pairs = FusedPairs::new(&CpuBackend, set).with_follow_up(Displacement::Mean, Some(&origin));
    let g: Vec<f64> = (0..50).map(|j| -0.02 * j as f64).collect();
    let (tau, n) = (0.7, 70);
    let mut want = (vec![0.0; n], vec![0.0; n * 3]);
    reduce(
        &CpuBackend,
        RowReduction {
            rows: &x,
            cols: &y,
            kernel: &kernel,
            tau,
            col_potential: Some(&g),
            mask_diagonal: false,
            displacement: Displacement::Mean,
            origin: Some(&origin),
            lse: &mut want.0,
            disp: Some(&mut want.1),
        },
    )
    .unwrap();
    let answer = |g: &[f64], tau: f64| {
        let mut got = (vec![0.0; n], vec![0.0; n * 3]);
        let answered = pairs
            .displacement_pass(PairDisplacement {
                tau,
                col_potential: g,
                displacement: Displacement::Mean,
                origin: Some(&origin),
                lse: &mut got.0,
                disp: &mut got.1,
            })
            .unwrap();
        answered.then_some(got)
    };
    let mut lse = vec![0.0; n];
    // Not announced: nothing kept.
    pairs.row_lse(tau, Some(&g), &mut lse).unwrap();
    assert_eq!(lse, want.0);
    assert!(answer(&g, tau).is_none());
    // Announced: the row pass is the same, and the displacement pass is answered once.
    pairs.keep_next_row_pass();
    pairs.row_lse(tau, Some(&g), &mut lse).unwrap();
    assert_eq!(lse, want.0);
    assert_eq!(answer(&g, tau), Some(want.clone()));
    assert!(answer(&g, tau).is_none());
    // Another potential or temperature is not answered.
    pairs.keep_next_row_pass();
    pairs.row_lse(tau, Some(&g), &mut lse).unwrap();
    let other: Vec<f64> = g.iter().map(|v| v + 1e-3).collect();
    assert!(answer(&other, tau).is_none());
    pairs.keep_next_row_pass();
    pairs.row_lse(tau, Some(&g), &mut lse).unwrap();
    assert!(answer(&g, 0.5).is_none());
}
