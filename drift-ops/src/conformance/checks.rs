//! One case on a backend against the reference: the plain reduction, the prepared pair set, and
//! the errors every backend must return.

use super::cases::Case;
use super::reference::{compare_field, compare_lse, reference, tolerance, uniform};
use crate::Gaussian;
use drift_api::kit::{prepare_pairs, reduce, Backend, Displacement, PairSet, RowReduction};
use drift_api::{DriftError, PointCloud, Real};

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
