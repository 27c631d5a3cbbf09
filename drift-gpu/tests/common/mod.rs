//! The conformance suite shared by every backend: each reduction variant against a dense f64
//! reference written here, in both precisions (f32 within 1e-4 relative, f64 within 1e-10).

use drift_api::kit::{prepare_pairs, reduce, Backend, Displacement, PairSet, RowReduction};
use drift_api::{DriftError, Kernel, PointCloud, Real};
use drift_ops::{Gaussian, InverseMultiquadric, Laplace};
use serde::{Deserialize, Serialize};

pub mod sliced;

/// A user kernel fused through its CUDA expression (Cauchy: `log k = −log(1 + d²/τ)`).
#[derive(Debug, Serialize, Deserialize)]
pub struct Cauchy;
#[typetag::serde(name = "test.conformance_cauchy")]
impl Kernel for Cauchy {
    fn log_weight_f64(&self, d: &mut [f64], t: f64) {
        d.iter_mut().for_each(|v| *v = -(*v / t).ln_1p())
    }
    fn cuda_log_weight(&self) -> Option<String> {
        Some("-log1p(d2 / tau)".into())
    }
}

/// A user kernel with no CUDA expression: CPU only.
#[derive(Debug, Serialize, Deserialize)]
pub struct CpuOnly;
#[typetag::serde(name = "test.cpu_only")]
impl Kernel for CpuOnly {
    fn log_weight_f64(&self, d: &mut [f64], t: f64) {
        d.iter_mut().for_each(|v| *v = -*v / t)
    }
}

/// One reduction variant.
pub struct Case {
    pub name: &'static str,
    pub n: usize,
    pub m: usize,
    pub dim: usize,
    pub kernel: Box<dyn Kernel>,
    pub tau: f64,
    pub displacement: Displacement,
    pub potentials: bool,
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

/// Deterministic uniform numbers in `[0, 1)` (splitmix64).
pub fn uniform(seed: u64, len: usize) -> Vec<f64> {
    let mut rng = drift_ops::random::SplitMix64::new(seed);
    (0..len)
        .map(|_| (rng.next_u64() >> 11) as f64 / (1u64 << 53) as f64)
        .collect()
}

/// The dense f64 reference of one row reduction: `(lse, disp)`.
pub fn reference(
    x: &[f64],
    y: &[f64],
    dim: usize,
    kernel: &dyn Kernel,
    tau: f64,
    g: Option<&[f64]>,
    mask: bool,
    mode: Displacement,
    origin: Option<&[f64]>,
) -> (Vec<f64>, Vec<f64>) {
    let (n, m) = (x.len() / dim, y.len() / dim);
    let (mut lse, mut disp) = (vec![0.0; n], vec![0.0; n * dim]);
    for i in 0..n {
        let xi = &x[i * dim..(i + 1) * dim];
        let d2: Vec<f64> = (0..m)
            .map(|j| (0..dim).map(|k| (y[j * dim + k] - xi[k]).powi(2)).sum())
            .collect();
        let mut s = d2.clone();
        kernel.log_weight_f64(&mut s, tau);
        for j in 0..m {
            s[j] += g.map_or(0.0, |g| g[j]);
            if mask && j == i {
                s[j] = f64::NEG_INFINITY;
            }
        }
        let max = s.iter().cloned().fold(f64::NEG_INFINITY, f64::max);
        if max == f64::NEG_INFINITY {
            lse[i] = f64::NEG_INFINITY;
            continue;
        }
        let sum: f64 = s.iter().map(|v| (v - max).exp()).sum();
        lse[i] = max + sum.ln();
        let from = match (mode, origin) {
            (Displacement::Mean, Some(o)) => o,
            _ => xi,
        };
        for j in 0..m {
            let p = (s[j] - lse[i]).exp();
            let w = match mode {
                Displacement::None => 0.0,
                Displacement::Mean => p,
                Displacement::Unit if d2[j] > 0.0 => p / d2[j].sqrt(),
                Displacement::Unit => 0.0,
            };
            for k in 0..dim {
                disp[i * dim + k] += w * (y[j * dim + k] - from[k]);
            }
        }
    }
    (lse, disp)
}

/// The tolerance of a precision: 1e-4 relative in f32, 1e-10 in f64.
pub fn tolerance<T: Real>() -> f64 {
    if std::mem::size_of::<T>() == 4 {
        1e-4
    } else {
        1e-10
    }
}

/// Log-sum-exps agree: both `−∞`, or within `tol` relative (to at least 1).
pub fn compare_lse(what: &str, got: &[f64], want: &[f64], tol: f64) -> Result<(), String> {
    for (i, (a, b)) in got.iter().zip(want).enumerate() {
        let ok = if b.is_finite() {
            (a - b).abs() <= tol * b.abs().max(1.0)
        } else {
            a == b
        };
        if !ok {
            return Err(format!("{what}: lse[{i}] = {a}, reference {b}"));
        }
    }
    Ok(())
}

/// Displacements agree within `tol` relative to the largest reference coordinate.
pub fn compare_field(what: &str, got: &[f64], want: &[f64], tol: f64) -> Result<(), String> {
    let scale = want.iter().fold(0.0f64, |a, v| a.max(v.abs())).max(1e-300);
    for (i, (a, b)) in got.iter().zip(want).enumerate() {
        let close = (a - b).abs() <= tol * scale;
        if !close {
            return Err(format!(
                "{what}: disp[{i}] = {a}, reference {b} (field scale {scale:e})"
            ));
        }
    }
    Ok(())
}

fn to<T: Real>(v: &[f64]) -> Vec<T> {
    v.iter().map(|&a| T::of(a)).collect()
}
fn back<T: Real>(v: &[T]) -> Vec<f64> {
    v.iter().map(|a| a.as_f64()).collect()
}

/// Runs one case on `backend` in precision `T` and compares with the reference computed from the
/// same (rounded) inputs.
pub fn check_case<T: Real>(backend: &dyn Backend, c: &Case, seed: u64) -> Result<(), String> {
    let what = format!(
        "{} [{}, {}]",
        c.name,
        backend.name(),
        std::any::type_name::<T>()
    );
    let xs: Vec<T> = to(&uniform(seed, c.n * c.dim)
        .iter()
        .map(|v| v * c.spread)
        .collect::<Vec<_>>());
    let ys: Vec<T> = if c.mask {
        xs.clone()
    } else {
        to(&uniform(seed + 1, c.m * c.dim)
            .iter()
            .map(|v| v * c.spread + 0.1 * c.spread)
            .collect::<Vec<_>>())
    };
    let g: Vec<T> = to(&uniform(seed + 2, c.m)
        .iter()
        .map(|v| 4.0 * v - 2.0)
        .collect::<Vec<_>>());
    let origin: Vec<T> = to(&vec![0.5 * c.spread; c.dim]);
    let rows = PointCloud::new("x", xs.clone(), c.dim).map_err(|e| e.to_string())?;
    let cols = PointCloud::new("y", ys.clone(), c.dim).map_err(|e| e.to_string())?;
    let (mut lse, mut disp) = (vec![T::zero(); c.n], vec![T::zero(); c.n * c.dim]);
    let wants_disp = c.displacement != Displacement::None;
    reduce(
        backend,
        RowReduction {
            rows: &rows,
            cols: &cols,
            kernel: c.kernel.as_ref(),
            tau: T::of(c.tau),
            col_potential: c.potentials.then_some(&g[..]),
            mask_diagonal: c.mask,
            displacement: c.displacement,
            origin: c.origin.then_some(&origin[..]),
            lse: &mut lse,
            disp: wants_disp.then_some(&mut disp[..]),
        },
    )
    .map_err(|e| format!("{what}: {e}"))?;
    let (g64, o64) = (back(&g), back(&origin));
    let (want_lse, want_disp) = reference(
        &back(&xs),
        &back(&ys),
        c.dim,
        c.kernel.as_ref(),
        T::of(c.tau).as_f64(),
        c.potentials.then_some(&g64[..]),
        c.mask,
        c.displacement,
        c.origin.then_some(&o64[..]),
    );
    let tol = tolerance::<T>();
    compare_lse(&what, &back(&lse), &want_lse, tol)?;
    if wants_disp {
        compare_field(&what, &back(&disp), &want_disp, tol)?;
    }
    Ok(())
}

/// The row and column passes of a prepared pair set, with potentials, at two temperatures (one
/// preparation serves both, as in ε-scaling).
pub fn check_prepared<T: Real>(backend: &dyn Backend, c: &Case, seed: u64) -> Result<(), String> {
    let what = format!(
        "prepared {} [{}, {}]",
        c.name,
        backend.name(),
        std::any::type_name::<T>()
    );
    let xs: Vec<T> = to(&uniform(seed, c.n * c.dim));
    let ys: Vec<T> = if c.mask {
        xs.clone()
    } else {
        to(&uniform(seed + 1, c.m * c.dim))
    };
    let rows = PointCloud::new("x", xs.clone(), c.dim).map_err(|e| e.to_string())?;
    let cols = PointCloud::new("y", ys.clone(), c.dim).map_err(|e| e.to_string())?;
    let set = PairSet {
        rows: &rows,
        cols: &cols,
        kernel: c.kernel.as_ref(),
        mask_diagonal: c.mask,
    };
    let pairs = prepare_pairs(backend, set).map_err(|e| format!("{what}: {e}"))?;
    let f: Vec<T> = to(&uniform(seed + 3, c.n)
        .iter()
        .map(|v| 2.0 * v - 1.0)
        .collect::<Vec<_>>());
    let g: Vec<T> = to(&uniform(seed + 4, c.m)
        .iter()
        .map(|v| 2.0 * v - 1.0)
        .collect::<Vec<_>>());
    let (x64, y64, f64s, g64) = (back(&xs), back(&ys), back(&f), back(&g));
    let tol = tolerance::<T>();
    // One pass against the reference: `rows` reduced over `cols` with the potential `p`.
    let check = |label: String, got: &[T], rows: &[f64], cols: &[f64], t: T, p: Option<&[f64]>| {
        let (want, _) = reference(
            rows,
            cols,
            c.dim,
            c.kernel.as_ref(),
            t.as_f64(),
            p,
            c.mask,
            Displacement::None,
            None,
        );
        compare_lse(&label, &back(got), &want, tol)
    };
    for tau in [c.tau, c.tau * 0.25] {
        let t = T::of(tau);
        let fail = |e: drift_api::DriftError| format!("{what}: {e}");
        let mut row = vec![T::zero(); c.n];
        pairs.row_lse(t, Some(&g), &mut row).map_err(fail)?;
        check(
            format!("{what} row τ={tau}"),
            &row,
            &x64,
            &y64,
            t,
            Some(&g64),
        )?;
        let mut col = vec![T::zero(); c.m];
        pairs.col_lse(t, Some(&f), &mut col).map_err(fail)?;
        check(
            format!("{what} col τ={tau}"),
            &col,
            &y64,
            &x64,
            t,
            Some(&f64s),
        )?;
        pairs.row_lse(t, None, &mut row).map_err(fail)?;
        check(
            format!("{what} row τ={tau} no potential"),
            &row,
            &x64,
            &y64,
            t,
            None,
        )?;
    }
    Ok(())
}

/// Bad input is a typed error on every backend, never a panic.
pub fn check_errors(backend: &dyn Backend) -> Result<(), String> {
    let x = PointCloud::new("x", uniform(1, 12), 3).unwrap();
    let y = PointCloud::new("y", uniform(2, 15), 3).unwrap();
    let y2 = PointCloud::new("y2", uniform(2, 10), 2).unwrap();
    let job =
        |rows: &PointCloud<f64>, cols: &PointCloud<f64>, lse_len: usize, mask: bool, disp: bool| {
            let mut lse = vec![0.0; lse_len];
            reduce(
                backend,
                RowReduction {
                    rows,
                    cols,
                    kernel: &Gaussian,
                    tau: 1.0,
                    col_potential: None,
                    mask_diagonal: mask,
                    displacement: if disp {
                        Displacement::Mean
                    } else {
                        Displacement::None
                    },
                    origin: None,
                    lse: &mut lse,
                    disp: None,
                },
            )
        };
    let expect = |what: &str, r: drift_api::Result<()>, ok: fn(&DriftError) -> bool| match r {
        Err(e) if ok(&e) => Ok(()),
        other => Err(format!("{}: {what}: got {other:?}", backend.name())),
    };
    expect("short lse", job(&x, &y, 3, false, false), |e| {
        matches!(e, DriftError::ShapeMismatch { .. })
    })?;
    expect("dimension mismatch", job(&x, &y2, 4, false, false), |e| {
        matches!(
            e,
            DriftError::DimensionMismatch { .. } | DriftError::ShapeMismatch { .. }
        )
    })?;
    expect("mask on N != M", job(&x, &y, 4, true, false), |e| {
        matches!(e, DriftError::InvalidParameter { .. })
    })?;
    expect(
        "displacement without buffer",
        job(&x, &y, 4, false, true),
        |e| matches!(e, DriftError::InvalidParameter { .. }),
    )?;
    Ok(())
}

/// Runs every case in both precisions and every prepared-pairs case; returns the failures.
pub fn run_suite(backend: &dyn Backend) -> Vec<String> {
    let mut failures = Vec::new();
    let mut ran = 0;
    for (k, c) in cases().iter().enumerate() {
        let seed = 1000 + 10 * k as u64;
        for r in [
            check_case::<f32>(backend, c, seed),
            check_case::<f64>(backend, c, seed),
        ] {
            ran += 1;
            if let Err(e) = r {
                failures.push(e);
            }
        }
        if c.displacement == Displacement::None || c.mask || c.potentials {
            for r in [
                check_prepared::<f32>(backend, c, seed),
                check_prepared::<f64>(backend, c, seed),
            ] {
                ran += 1;
                if let Err(e) = r {
                    failures.push(e);
                }
            }
        }
    }
    if let Err(e) = check_errors(backend) {
        failures.push(e);
    }
    eprintln!(
        "conformance on {}: {ran} checks, {} failed",
        backend.name(),
        failures.len()
    );
    failures
}
