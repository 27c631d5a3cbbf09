//! The comparative demo: every built-in drift flows a lopsided particle blob toward the 8-Gaussians
//! ring at a low and a high temperature, and a table shows which operators reach the far modes.

use crate::invalid_arg::{count_at_least, count_at_most, finite_at_least, InvalidArg};
use crate::{
    lopsided_start, mode_coverage, run_flow, sliced_w2, FlowConfig, FlowOutcome, GaussianMixture,
};
use anyhow::{Context as _, Result};
use drift_api::{DriftOperator, Kernel, PointCloud, Real};
use drift_ops::{DengAlg2, Gaussian, Laplace, OneSided, Sinkhorn, SinkhornDrift, SinkhornProxy};
use std::io::Write;

/// Number of random directions of the sliced Wasserstein distance.
const DIRECTIONS: usize = 128;
/// A mode's capture radius, in standard deviations of the mode.
const CAPTURE_STDS: f64 = 4.0;
/// The share of all particles a mode must hold to count as reached.
const MIN_SHARE: f64 = 0.02;

/// The most Sinkhorn iterations a coupling solve accepts (the solver's own limit).
const MAX_SINKHORN_ITERS: usize = 1_000_000;

/// Settings of the demo (filled from the command line, or by a program).
#[derive(Clone, Debug)]
pub struct DemoConfig {
    /// Flow steps per run.
    pub steps: usize,
    /// Step size.
    pub eta: f64,
    /// Number of particles `N`.
    pub particles: usize,
    /// Number of data points `M`.
    pub data: usize,
    /// Seed of the data, the initial particles and the SW2 directions.
    pub seed: u64,
    /// Sinkhorn iteration cap per coupling solve.
    pub sinkhorn_iters: usize,
    /// Sinkhorn tolerance on the L1 marginal error.
    pub sinkhorn_tol: f64,
    /// Which kernels to run.
    pub kernels: Vec<KernelChoice>,
    /// Run the flows in single precision (the metrics are always computed in f64).
    pub f32: bool,
}

/// A kernel of the demo with its low and high temperature.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum KernelChoice {
    /// `ℓ = −‖x − y‖²/τ`, τ ∈ {0.02, 1}.
    Gaussian,
    /// `ℓ = −‖x − y‖/τ`, τ ∈ {0.05, 1}.
    Laplace,
}

impl DemoConfig {
    /// Checks every setting, naming a bad one by its command-line option and value
    /// (`--eta -1: must be finite and > 0`).
    pub fn check(&self) -> Result<(), InvalidArg> {
        finite_at_least("--eta", self.eta, 0.0, false)?;
        count_at_least("--particles", self.particles, 2)?;
        count_at_least("--data", self.data, 1)?;
        finite_at_least("--sinkhorn-tol", self.sinkhorn_tol, 0.0, true)?;
        count_at_most("--sinkhorn-iters", self.sinkhorn_iters, MAX_SINKHORN_ITERS)?;
        count_at_least("--kernel", self.kernels.len(), 1)?;
        Ok(())
    }
}

impl KernelChoice {
    fn name(self) -> &'static str {
        match self {
            KernelChoice::Gaussian => "gaussian",
            KernelChoice::Laplace => "laplace",
        }
    }
    fn kernel(self) -> Box<dyn Kernel> {
        match self {
            KernelChoice::Gaussian => Box::new(Gaussian),
            KernelChoice::Laplace => Box::new(Laplace),
        }
    }
    /// Low and high temperature: at the low one the row-normalised drifts act as nearest-neighbour
    /// forces (the Gaussian's `τ = 0.02` is `σ = 0.1`, a mode's width; the Laplace length scale is `τ`).
    fn temperatures(self) -> [f64; 2] {
        match self {
            KernelChoice::Gaussian => [0.02, 1.0],
            KernelChoice::Laplace => [0.05, 1.0],
        }
    }
}

const OPERATORS: [&str; 4] = ["one_sided", "deng_alg2", "sinkhorn_proxy", "sinkhorn_drift"];

fn operator(
    name: &str,
    kernel: KernelChoice,
    tau: f64,
    cfg: &DemoConfig,
) -> Box<dyn DriftOperator> {
    let k = kernel.kernel();
    match name {
        "one_sided" => Box::new(OneSided {
            kernel: k,
            ..OneSided::new(tau)
        }),
        "deng_alg2" => Box::new(DengAlg2 {
            kernel: k,
            ..DengAlg2::new(tau)
        }),
        "sinkhorn_proxy" => Box::new(SinkhornProxy {
            kernel: k,
            ..SinkhornProxy::new(tau)
        }),
        "sinkhorn_drift" => Box::new(SinkhornDrift {
            kernel: k,
            // Warm-started across flow steps: the potentials move little from one step to the next.
            sinkhorn: Sinkhorn::new(cfg.sinkhorn_iters, cfg.sinkhorn_tol).with_warm_start(true),
            ..SinkhornDrift::new(tau)
        }),
        other => unreachable!("the demo has no operator {other:?}"),
    }
}

/// Checks the settings ([`DemoConfig::check`]), then runs every operator × kernel × temperature
/// and prints the table to `out` as rows complete.
pub fn run(cfg: &DemoConfig, out: &mut impl Write) -> Result<()> {
    // A bad value is reported (named, with its value) before the first flow, not after the flows
    // that do not use it.
    cfg.check()?;
    // Every run's operator is built and validated before the first flow: a bad setting fails at
    // once instead of after the flows that do not use it.
    let mut runs = Vec::new();
    for &kernel in &cfg.kernels {
        for tau in kernel.temperatures() {
            for name in OPERATORS {
                let op = operator(name, kernel, tau, cfg);
                op.validate()
                    .with_context(|| format!("{name} ({}, tau {tau})", kernel.name()))?;
                runs.push((kernel, tau, name, op));
            }
        }
    }
    let ring = GaussianMixture::eight_gaussians();
    let dim = ring.dim();
    let y64 = ring.sample(cfg.data, cfg.seed);
    let x64 = lopsided_start(cfg.particles, cfg.seed.wrapping_add(1));
    let radius = CAPTURE_STDS * ring.std;
    let start_sw = sliced_w2(&x64, &y64, dim, DIRECTIONS, cfg.seed);
    let floor = sliced_w2(
        &ring.sample(cfg.data, cfg.seed.wrapping_add(2)),
        &y64,
        dim,
        DIRECTIONS,
        cfg.seed,
    );
    let start_modes = mode_coverage(&x64, dim, &ring.centres, radius, MIN_SHARE).reached;
    let flow = FlowConfig {
        backend: crate::backend_kind::BackendKind::Cpu,
        steps: cfg.steps,
        eta: cfg.eta,
    };

    writeln!(
        out,
        "8 Gaussians (radius 2, std {}), M = {} data points; N = {} particles from a blob (std 0.3) \
         between modes 0 and 1; {} steps of x += {} V(x); seed {}; {}",
        ring.std,
        cfg.data,
        cfg.particles,
        cfg.steps,
        cfg.eta,
        cfg.seed,
        if cfg.f32 { "f32" } else { "f64" }
    )?;
    writeln!(
        out,
        "columns: SW2 = sliced W2 to the data ({DIRECTIONS} directions; start {start_sw:.3}; an independent sample of the mixture scores {floor:.3}); \
          \
         modes = modes holding >= {:.0}% of particles within {CAPTURE_STDS} std ({radius:.2}) of \
         their centre (start {start_modes}/{}); near = % of particles within {CAPTURE_STDS} std of a mode; \
         iters = mean Sinkhorn iterations per coupling solve (warm-started, cap {}, tol {:e}); \
         err = last step's L1 marginal error; time = wall time of the flow",
        MIN_SHARE * 100.0,
        ring.centres.len(),
        cfg.sinkhorn_iters,
        cfg.sinkhorn_tol
    )?;
    writeln!(
        out,
        "{:<15} {:<9} {:>5} {:>7} {:>6} {:>6} {:>7} {:>8} {:>7}",
        "operator", "kernel", "tau", "SW2", "modes", "near%", "iters", "err", "time"
    )?;
    let clock = std::time::Instant::now();
    for (kernel, tau, name, op) in runs {
        let result = if cfg.f32 {
            flow_in::<f32>(op.as_ref(), &x64, &y64, dim, flow)
        } else {
            flow_in::<f64>(op.as_ref(), &x64, &y64, dim, flow)
        }
        .with_context(|| format!("flow of {name} ({}, tau {tau})", kernel.name()))?;
        let sw = sliced_w2(&result.particles, &y64, dim, DIRECTIONS, cfg.seed);
        let cover = mode_coverage(&result.particles, dim, &ring.centres, radius, MIN_SHARE);
        let iters = result
            .mean_iterations()
            .map_or("-".to_string(), |v| format!("{v:.1}"));
        let err = result
            .last_marginal_error
            .map_or("-".to_string(), |v| format!("{v:.1e}"));
        writeln!(
            out,
            "{:<15} {:<9} {:>5} {:>7.3} {:>4}/{} {:>6.1} {:>7} {:>8} {:>6.2}s",
            name,
            kernel.name(),
            tau,
            sw,
            cover.reached,
            ring.centres.len(),
            100.0 * cover.near_fraction,
            iters,
            err,
            result.elapsed.as_secs_f64()
        )?;
        out.flush()?;
    }
    writeln!(out, "total {:.1}s", clock.elapsed().as_secs_f64())?;
    Ok(())
}

/// Runs one flow in precision `T`, returning the outcome with its particles converted to `f64`.
fn flow_in<T: Real>(
    op: &dyn DriftOperator,
    x: &[f64],
    y: &[f64],
    dim: usize,
    flow: FlowConfig,
) -> drift_api::Result<FlowOutcome<f64>> {
    let cast = |v: &[f64]| v.iter().map(|c| T::of(*c)).collect::<Vec<T>>();
    let y = PointCloud::new("data", cast(y), dim)?;
    let out = run_flow(op, cast(x), &y, flow)?;
    Ok(FlowOutcome {
        particles: out.particles.iter().map(|c| c.as_f64()).collect(),
        sinkhorn_iterations: out.sinkhorn_iterations,
        sinkhorn_solves: out.sinkhorn_solves,
        last_marginal_error: out.last_marginal_error,
        last_unconverged: out.last_unconverged,
        last_drift_norm: out.last_drift_norm,
        elapsed: out.elapsed,
    })
}
