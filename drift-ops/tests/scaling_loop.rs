//! The Sinkhorn loop a prepared pair set runs (`PreparedPairs::scaling_loop`, which a device backend
//! runs on the device): the host default against a dense f64 loop written from its documented
//! contract, and the Sinkhorn coupling handing every single-pair-set loop to the preparation.

mod common;

use common::*;
use drift_api::kit::pairs::Prepared;
use drift_api::kit::scaling::scaling_loop_on_host;
use drift_api::kit::{
    prepare_pairs, Backend, PairPath, PairSet, PreparedPairs, ReductionJob, RowUpdate, ScalingLoop,
    ScalingOutcome,
};
use drift_api::{operator_from_str, Context, Negatives, PointCloud, Result};
use drift_ops::CpuBackend;
use std::sync::Mutex;

/// The contract of `ScalingLoop`, densely: `ell[b][i][j]` the log-kernel of block `b`, the loop
/// as documented.
fn dense_loop(
    ell: &[Vec<Vec<f64>>],
    log_a: &[f64],
    log_b: &[Vec<f64>],
    symmetric: bool,
    start: Vec<Vec<f64>>,
    (counted, cap, tol): (usize, usize, f64),
) -> (Vec<f64>, Vec<Vec<f64>>, f64, usize) {
    let sc = |t: f64, c: f64| if c == f64::NEG_INFINITY { c } else { t - c };
    // LSE over every block's columns of g_bj + ell_bij, per row.
    let row_lse = |g: &[Vec<f64>]| -> Vec<f64> {
        (0..log_a.len())
            .map(|i| {
                lse(ell
                    .iter()
                    .zip(g)
                    .flat_map(|(e, gb)| e[i].iter().zip(gb).map(|(l, gj)| l + gj)))
            })
            .collect()
    };
    let col_lse = |b: usize, f: &[f64]| -> Vec<f64> {
        (0..ell[b][0].len())
            .map(|j| lse(ell[b].iter().zip(f).map(|(r, fi)| r[j] + fi)))
            .collect()
    };
    let l1 = |p: &[f64], c: &[f64], t: &[f64]| -> f64 {
        (0..p.len())
            .map(|k| ((p[k] + c[k]).exp() - t[k].exp()).abs())
            .sum()
    };
    let (mut state, mut k) = (start, counted);
    loop {
        let (out, next, err) = if symmetric {
            let f = &state[0];
            let c = row_lse(&state);
            let err = l1(f, &c, log_a);
            let next = (0..f.len())
                .map(|i| 0.5 * sc(f[i] + log_a[i], c[i]))
                .collect();
            (f.clone(), vec![next], err)
        } else {
            let f: Vec<f64> = row_lse(&state)
                .iter()
                .zip(log_a)
                .map(|(c, a)| sc(*a, *c))
                .collect();
            let (mut next, mut err) = (Vec::new(), 0.0);
            for (b, lb) in log_b.iter().enumerate() {
                let c = col_lse(b, &f);
                err += l1(&state[b], &c, lb);
                next.push(c.iter().zip(lb).map(|(c, b)| sc(*b, *c)).collect());
            }
            (f, next, err)
        };
        if err <= tol || k >= cap {
            return (out, state, err, k);
        }
        state = next;
        k += 1;
    }
}

fn max_diff(a: &[f64], b: &[f64]) -> f64 {
    a.iter()
        .zip(b)
        .map(|(x, y)| (x - y).abs())
        .fold(0.0, f64::max)
}

#[test]
fn the_host_loop_follows_its_documented_contract() {
    let mut r = rng(17);
    let x = Cloud::random(&mut r, 30, 2, 0.0, true);
    let y = Cloud::random(&mut r, 25, 2, 0.4, true);
    let u = Cloud::random(&mut r, 7, 2, -0.3, true);
    let tau = 0.3;
    let lib = |c: &Cloud| c.to_lib::<f64>("p");
    let (xs, ys, us) = (lib(&x), lib(&y), lib(&u));
    // Symmetric (x against itself), one block (x against y), two blocks (x against y and u).
    for (symmetric, blocks) in [
        (true, vec![(&x, &xs)]),
        (false, vec![(&y, &ys)]),
        (false, vec![(&y, &ys), (&u, &us)]),
    ] {
        let pairs: Vec<_> = blocks
            .iter()
            .map(|(_, cols)| {
                let set = PairSet {
                    rows: &xs,
                    cols,
                    kernel: &drift_ops::Gaussian,
                    mask_diagonal: false,
                };
                prepare_pairs(&CpuBackend, set).unwrap()
            })
            .collect();
        let refs: Vec<&dyn PreparedPairs<f64>> = pairs.iter().map(|p| p.as_ref()).collect();
        let ell: Vec<Vec<Vec<f64>>> = blocks
            .iter()
            .map(|(cols, _)| {
                x.pts
                    .iter()
                    .map(|p| {
                        cols.pts
                            .iter()
                            .map(|q| K::Gaussian.ell(dist2(p, q), tau))
                            .collect()
                    })
                    .collect()
            })
            .collect();
        // The blocks share the column mass (0.7 and 0.3 with two), so the problem is balanced.
        let shares: &[f64] = if blocks.len() == 2 {
            &[0.7, 0.3]
        } else {
            &[1.0]
        };
        let log_b: Vec<Vec<f64>> = blocks
            .iter()
            .zip(shares)
            .map(|((c, _), share)| c.log_w.iter().map(|w| w + share.ln()).collect())
            .collect();
        // Stopped by the tolerance, by the cap, and by a cap already reached.
        for (counted, cap, tol) in [(0, 500, 1e-9), (3, 10, 0.0), (4, 4, 0.0)] {
            let start = if symmetric {
                vec![x.log_w.clone()]
            } else {
                log_b.clone()
            };
            let got = refs[0]
                .scaling_loop(
                    &refs,
                    ScalingLoop {
                        tau,
                        row_log_weights: &x.log_w,
                        col_log_weights: log_b.iter().map(|l| l.as_slice()).collect(),
                        symmetric,
                        start: start.clone(),
                        counted,
                        cap,
                        tol,
                    },
                )
                .unwrap();
            let (f, g, error, iterations) = dense_loop(
                &ell,
                &x.log_w,
                &log_b,
                symmetric,
                start,
                (counted, cap, tol),
            );
            let what = format!(
                "symmetric {symmetric}, {} block(s), counted {counted}, cap {cap}, tol {tol}",
                blocks.len()
            );
            assert_eq!(got.iterations, iterations, "{what}");
            assert!(max_diff(&got.f, &f) < 1e-11, "{what}: f");
            assert_eq!(got.g.len(), g.len(), "{what}");
            for (a, b) in got.g.iter().zip(&g) {
                assert!(max_diff(a, b) < 1e-11, "{what}: g");
            }
            assert!((got.error - error).abs() < 1e-11, "{what}: error");
            if tol > 0.0 {
                assert!(got.error <= tol && iterations < cap, "{what}: converged");
            }
        }
    }
}

fn dist2(p: &[f64], q: &[f64]) -> f64 {
    p.iter().zip(q).map(|(a, b)| (a - b) * (a - b)).sum()
}

/// Fused pairs whose Sinkhorn loop is recorded (then run by the host default).
#[derive(Debug)]
struct Watched<'a> {
    inner: Prepared<'a, f64>,
    loops: &'a Mutex<Vec<(bool, usize)>>,
}

impl PreparedPairs<f64> for Watched<'_> {
    fn row_lse(&self, tau: f64, g: Option<&[f64]>, lse: &mut [f64]) -> Result<()> {
        self.inner.row_lse(tau, g, lse)
    }
    fn col_lse(&self, tau: f64, f: Option<&[f64]>, lse: &mut [f64]) -> Result<()> {
        self.inner.col_lse(tau, f, lse)
    }
    fn path(&self) -> PairPath {
        self.inner.path()
    }
    fn sweep(
        &self,
        tau: f64,
        g: Option<&[f64]>,
        update: &RowUpdate<'_, f64>,
        f: &mut [f64],
        col: &mut [f64],
    ) -> Result<()> {
        self.inner.sweep(tau, g, update, f, col)
    }
    fn last_row_lse(&self, tau: f64, g: Option<&[f64]>, lse: &mut [f64]) -> Result<()> {
        self.inner.last_row_lse(tau, g, lse)
    }
    fn last_sweep(
        &self,
        tau: f64,
        g: Option<&[f64]>,
        update: &RowUpdate<'_, f64>,
        f: &mut [f64],
        col: &mut [f64],
    ) -> Result<()> {
        self.inner.last_sweep(tau, g, update, f, col)
    }
    fn displacement_pass(&self, pass: drift_api::kit::PairDisplacement<'_, f64>) -> Result<bool> {
        self.inner.displacement_pass(pass)
    }
    fn scaling_loop(
        &self,
        blocks: &[&dyn PreparedPairs<f64>],
        l: ScalingLoop<'_, f64>,
    ) -> Result<ScalingOutcome<f64>> {
        self.loops.lock().unwrap().push((l.symmetric, blocks.len()));
        scaling_loop_on_host(blocks, l)
    }
}

#[derive(Debug, Default)]
struct Watching {
    loops: Mutex<Vec<(bool, usize)>>,
}

static CPU: CpuBackend = CpuBackend;

impl Backend for Watching {
    fn name(&self) -> &str {
        "watching"
    }
    fn row_reduce(&self, job: ReductionJob<'_>) -> Result<()> {
        CPU.row_reduce(job)
    }
    fn prepare_pairs_f64<'a>(&'a self, set: PairSet<'a, f64>) -> Result<Option<Prepared<'a, f64>>> {
        let inner = prepare_pairs(&CPU, set)?;
        Ok(Some(Box::new(Watched {
            inner,
            loops: &self.loops,
        })))
    }
}

#[test]
fn sinkhorn_couplings_hand_their_final_loops_to_the_preparation() {
    let mut r = rng(5);
    let x = Cloud::random(&mut r, 40, 2, 0.0, false).to_lib::<f64>("x");
    let y = Cloud::random(&mut r, 30, 2, 0.5, false).to_lib::<f64>("y");
    let u = Cloud::random(&mut r, 6, 2, -0.5, false).to_lib::<f64>("u");
    let spec = r#"{"sinkhorn_drift": (temperature: 0.1, sinkhorn: (max_iters: 30, tol: 1e-7))}"#;
    let op = operator_from_str(spec, "loop.ron").unwrap();
    // Attraction (asymmetric) and repulsion (symmetric); with negatives the repulsion's columns
    // are two blocks, the particles and the negatives.
    let loops_of = [
        (None, vec![(false, 1), (true, 1)]),
        (Some(&u), vec![(false, 1), (false, 2)]),
    ];
    for (negatives, loops) in loops_of {
        let run = |backend: &dyn Backend| {
            let mut out = vec![0.0; 80];
            let negatives = negatives.map(|u: &PointCloud<f64>| Negatives::new(u, 0.5));
            drift_api::apply_drift(
                op.as_ref(),
                drift_api::DriftProblem::new(backend, &x, &y, &Context::default(), &mut out)
                    .with_negatives(negatives),
            )
            .unwrap();
            out
        };
        let watching = Watching::default();
        let watched = run(&watching);
        assert_eq!(*watching.loops.lock().unwrap(), loops);
        assert_eq!(watched, run(&CpuBackend), "the field is the CPU's");
    }
}
