//! The row-reduction cases every backend must pass, and two user kernels: one with a CUDA
//! expression, one without (CPU only).

use crate::{Gaussian, InverseMultiquadric, Laplace};
use drift_api::kit::Displacement;
use drift_api::Kernel;
use serde::{Deserialize, Serialize};

/// A user kernel fused through its CUDA expression, RON name `conformance.cauchy` (Cauchy:
/// `log k = −log(1 + d²/τ)`).
#[derive(Debug, Serialize, Deserialize)]
pub struct Cauchy;
#[typetag::serde(name = "conformance.cauchy")]
impl Kernel for Cauchy {
    fn log_weight_f64(&self, d: &mut [f64], t: f64) {
        d.iter_mut().for_each(|v| *v = -(*v / t).ln_1p())
    }
    fn cuda_log_weight(&self) -> Option<String> {
        Some("-log1p(d2 / tau)".into())
    }
}

/// A user kernel with no CUDA expression, CPU only: RON name `conformance.cpu_only`.
#[derive(Debug, Serialize, Deserialize)]
pub struct CpuOnly;
#[typetag::serde(name = "conformance.cpu_only")]
impl Kernel for CpuOnly {
    fn log_weight_f64(&self, d: &mut [f64], t: f64) {
        d.iter_mut().for_each(|v| *v = -*v / t)
    }
}

/// One reduction variant.
pub struct Case {
    /// What the failure messages call the case.
    pub name: &'static str,
    /// Rows (generated samples).
    pub n: usize,
    /// Columns (targets).
    pub m: usize,
    /// Dimension.
    pub dim: usize,
    /// The kernel.
    pub kernel: Box<dyn Kernel>,
    /// Temperature.
    pub tau: f64,
    /// What the reduction accumulates besides the log-sum-exp.
    pub displacement: Displacement,
    /// Column potentials added to the log-weights.
    pub potentials: bool,
    /// Displacements measured from a separate origin per row instead of the row point.
    pub origin: bool,
    /// The self problem: the columns are the rows, `j = i` skipped.
    pub mask: bool,
    /// Side of the cube the points fill.
    pub spread: f64,
}

fn case(name: &'static str, n: usize, m: usize, dim: usize, kernel: Box<dyn Kernel>) -> Case {
    Case {
        name,
        n,
        m,
        dim,
        kernel,
        tau: 0.5,
        displacement: Displacement::None,
        potentials: false,
        origin: false,
        mask: false,
        spread: 1.0,
    }
}

/// Every variant: sizes that span several row blocks and column tiles of both backends, N ≠ M
/// both ways, D = 1, 3 and 64, every displacement, potentials, the mask, τ = 1e-4, and passes
/// large enough for the CPU backend to skip tiles.
pub fn cases() -> Vec<Case> {
    use Displacement::{Mean, Unit};
    vec![
        case("lse gaussian", 300, 700, 3, Box::new(Gaussian)),
        Case {
            displacement: Mean,
            tau: 0.3,
            ..case("mean laplace", 300, 700, 3, Box::new(Laplace))
        },
        Case {
            displacement: Mean,
            origin: true,
            ..case(
                "mean+origin imq",
                260,
                530,
                3,
                Box::new(InverseMultiquadric { beta: 0.5 }),
            )
        },
        Case {
            displacement: Unit,
            tau: 0.2,
            ..case("unit laplace", 300, 700, 3, Box::new(Laplace))
        },
        Case {
            displacement: Mean,
            potentials: true,
            ..case("mean gaussian potentials", 300, 700, 3, Box::new(Gaussian))
        },
        Case {
            displacement: Mean,
            potentials: true,
            mask: true,
            ..case("mask self problem", 333, 333, 3, Box::new(Gaussian))
        },
        Case {
            displacement: Unit,
            mask: true,
            ..case("unit masked", 200, 200, 2, Box::new(Laplace))
        },
        Case {
            displacement: Mean,
            ..case("d = 1", 200, 513, 1, Box::new(Gaussian))
        },
        Case {
            displacement: Mean,
            tau: 5.0,
            ..case("d = 64", 150, 300, 64, Box::new(Gaussian))
        },
        Case {
            displacement: Mean,
            tau: 20.0,
            origin: true,
            potentials: true,
            ..case("d = 64 origin potentials", 140, 270, 64, Box::new(Laplace))
        },
        Case {
            displacement: Mean,
            origin: true,
            tau: 1e-4,
            spread: 0.05,
            ..case("tau = 1e-4", 257, 300, 2, Box::new(Gaussian))
        },
        Case {
            displacement: Mean,
            ..case("user cauchy", 300, 400, 3, Box::new(Cauchy))
        },
        // Past 2^20 pairs in low dimensions the CPU backend skips the tiles that cannot count
        // (`drift_ops::tile_skip`): a low temperature on the unit square leaves most of them.
        Case {
            tau: 0.01,
            ..case(
                "tiles skipped: lse laplace",
                1100,
                1000,
                2,
                Box::new(Laplace),
            )
        },
        Case {
            displacement: Mean,
            potentials: true,
            origin: true,
            tau: 0.01,
            ..case(
                "tiles skipped: mean+origin",
                1100,
                1000,
                2,
                Box::new(Gaussian),
            )
        },
        Case {
            displacement: Mean,
            potentials: true,
            mask: true,
            tau: 0.01,
            ..case(
                "tiles skipped: masked self",
                1024,
                1024,
                3,
                Box::new(Gaussian),
            )
        },
        Case {
            displacement: Mean,
            tau: 0.002,
            ..case(
                "tiles skipped: imq",
                1000,
                1100,
                2,
                Box::new(InverseMultiquadric { beta: 40.0 }),
            )
        },
        Case {
            displacement: Mean,
            ..case("N > M", 700, 130, 3, Box::new(Gaussian))
        },
        Case {
            displacement: Unit,
            ..case("one row", 1, 5, 3, Box::new(Laplace))
        },
        Case {
            displacement: Mean,
            mask: true,
            ..case("every pair masked", 1, 1, 3, Box::new(Gaussian))
        },
    ]
}
