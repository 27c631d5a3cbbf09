//! The checks a reduction passes before anything is sent to the device (the CPU backend's, so
//! that both backends fail alike on bad input).

use drift_api::{Displacement, DriftError, Real, Result, RowReduction};

pub(crate) fn check_len(what: &str, found: usize, expected: usize) -> Result<()> {
    if found == expected {
        Ok(())
    } else {
        Err(DriftError::ShapeMismatch {
            what: what.into(),
            expected,
            found,
        })
    }
}

pub(crate) fn check_mask(mask_diagonal: bool, rows: usize, cols: usize) -> Result<()> {
    if mask_diagonal && rows != cols {
        return Err(DriftError::invalid(
            "mask_diagonal",
            format!("needs a square self problem, got {rows} rows and {cols} columns"),
        ));
    }
    Ok(())
}

/// Shapes, the mask and the displacement buffer of `r`.
pub(crate) fn check_reduction<T: Real>(r: &RowReduction<'_, T>) -> Result<()> {
    r.rows.check_same_dim(r.cols)?;
    let (n, m, dim) = (r.rows.len(), r.cols.len(), r.rows.dim());
    crate::source::check_dim(dim)?;
    check_len("lse", r.lse.len(), n)?;
    if let Some(g) = r.col_potential {
        check_len("column potential", g.len(), m)?;
    }
    if let Some(o) = r.origin {
        check_len("origin", o.len(), dim)?;
    }
    check_mask(r.mask_diagonal, n, m)?;
    match (r.displacement, r.disp.as_deref()) {
        (Displacement::None, _) => Ok(()),
        (_, Some(disp)) => check_len("displacement", disp.len(), n * dim),
        (_, None) => Err(DriftError::invalid(
            "disp",
            "an output buffer is required when a displacement is requested",
        )),
    }
}
