//! The Sinkhorn loop a prepared pair set runs (`PreparedPairs::scaling_loop`, which a device backend
//! runs on the device): the host default against a dense f64 loop written from its documented
//! contract, and the Sinkhorn coupling handing every single-pair-set loop to the preparation.

mod common;

use common::*;
use drift_api::pairs::Prepared;
use drift_api::scaling::scaling_loop_on_host;
use drift_api::{
    operator_from_str, prepare_pairs, Backend, Context, Negatives, PairPath, PairSet, PointCloud,
    PreparedPairs, ReductionJob, Result, RowUpdate, ScalingLoop, ScalingOutcome,
};
use drift_ops::CpuBackend;
use std::sync::Mutex;

/// The contract of `ScalingLoop`, densely: `ell[i][j]` the log-kernel, the loop as documented.
fn dense_loop(
    ell: &[Vec<f64>],
    log_a: &[f64],
    log_b: &[f64],
    symmetric: bool,
    start: Vec<f64>,
    (counted, cap, tol): (usize, usize, f64),
) -> (Vec<f64>, Vec<f64>, f64, usize) {
    let sc = |t: f64, c: f64| if c == f64::NEG_INFINITY { c } else { t - c };
    let row_lse = |g: &[f64]| -> Vec<f64> {
        ell.iter()
            .map(|r| lse(r.iter().zip(g).map(|(l, gj)| l + gj)))
            .collect()
    };
    let col_lse = |f: &[f64]| -> Vec<f64> {
        (0..ell[0].len())
            .map(|j| lse(ell.iter().zip(f).map(|(r, fi)| r[j] + fi)))
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
            let c = row_lse(&state);
            let err = l1(&state, &c, log_a);
            let next = (0..state.len())
                .map(|i| 0.5 * sc(state[i] + log_a[i], c[i]))
                .collect();
            (state.clone(), next, err)
        } else {
            let f: Vec<f64> = row_lse(&state)
                .iter()
                .zip(log_a)
                .map(|(c, a)| sc(*a, *c))
                .collect();
            let c = col_lse(&f);
            let err = l1(&state, &c, log_b);
            let next = c.iter().zip(log_b).map(|(c, b)| sc(*b, *c)).collect();
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
    let tau = 0.3;
    for symmetric in [false, true] {
        let cols = if symmetric { &x } else { &y };
        let (xs, ys) = (x.to_lib::<f64>("x"), cols.to_lib::<f64>("y"));
        let pairs = prepare_pairs(
            &CpuBackend,
            PairSet {
                rows: &xs,
                cols: &ys,
                kernel: &drift_ops::Gaussian,
                mask_diagonal: false,
            },
        )
        .unwrap();
        let ell: Vec<Vec<f64>> = x
            .pts
            .iter()
            .map(|p| {
                cols.pts
                    .iter()
                    .map(|q| K::Gaussian.ell(dist2(p, q), tau))
                    .collect()
            })
            .collect();
        // Stopped by the tolerance, by the cap, and by a cap already reached.
        for (counted, cap, tol) in [(0, 500, 1e-9), (3, 10, 0.0), (4, 4, 0.0)] {
            let start = cols.log_w.clone();
            let got = pairs
                .scaling_loop(ScalingLoop {
                    tau,
                    row_log_weights: &x.log_w,
                    col_log_weights: &cols.log_w,
                    symmetric,
                    start: start.clone(),
                    counted,
                    cap,
                    tol,
                })
                .unwrap();
            let (f, g, error, iterations) = dense_loop(
                &ell,
                &x.log_w,
                &cols.log_w,
                symmetric,
                start,
                (counted, cap, tol),
            );
            let what = format!("symmetric {symmetric}, counted {counted}, cap {cap}, tol {tol}");
            assert_eq!(got.iterations, iterations, "{what}");
            assert!(max_diff(&got.f, &f) < 1e-11, "{what}: f");
            assert!(max_diff(&got.g, &g) < 1e-11, "{what}: g");
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
    loops: &'a Mutex<Vec<bool>>,
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
    fn keep_next_row_pass(&self) {
        self.inner.keep_next_row_pass()
    }
    fn displacement_pass(&self, pass: drift_api::PairDisplacement<'_, f64>) -> Result<bool> {
        self.inner.displacement_pass(pass)
    }
    fn scaling_loop(&self, l: ScalingLoop<'_, f64>) -> Result<ScalingOutcome<f64>> {
        self.loops.lock().unwrap().push(l.symmetric);
        scaling_loop_on_host(self, l)
    }
}

#[derive(Debug, Default)]
struct Watching {
    loops: Mutex<Vec<bool>>,
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
fn sinkhorn_couplings_hand_single_pair_set_loops_to_the_preparation() {
    let mut r = rng(5);
    let x = Cloud::random(&mut r, 40, 2, 0.0, false).to_lib::<f64>("x");
    let y = Cloud::random(&mut r, 30, 2, 0.5, false).to_lib::<f64>("y");
    let u = Cloud::random(&mut r, 6, 2, -0.5, false).to_lib::<f64>("u");
    let spec = r#"{"sinkhorn_drift": (temperature: 0.1, sinkhorn: (max_iters: 30, tol: 1e-7))}"#;
    let op = operator_from_str(spec, "loop.ron").unwrap();
    // Attraction (asymmetric) and repulsion (symmetric); with negatives the repulsion has two
    // column blocks and its loop stays with the coupling.
    for (negatives, loops) in [(None, vec![false, true]), (Some(&u), vec![false])] {
        let run = |backend: &dyn Backend| {
            let mut out = vec![0.0; 80];
            let negatives = negatives.map(|u: &PointCloud<f64>| Negatives::new(u, 0.5));
            drift_ops::drift_into(
                backend,
                op.as_ref(),
                &x,
                &y,
                &Context::default(),
                negatives,
                &mut out,
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
