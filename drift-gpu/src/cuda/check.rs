//! The checks a reduction passes before anything is sent to the device (the CPU backend's, so
//! that both backends fail alike on bad input).

use drift_api::kit::{Displacement, RowReduction};
use drift_api::{DriftError, Real, Result};

pub(crate) use drift_api::kit::{check_len, check_square_mask as check_mask};

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
