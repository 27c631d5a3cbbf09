//! The reference point that barycentres are measured from.

use drift_api::{PointCloud, Real};

/// The coordinate-wise median of the data: the point both sides of a field measure their barycentres
/// from, so that `V_i = (bar⁺_i − o) − (bar⁻_i − o)` is formed from quantities on the data's scale.
///
/// The median, not the mean: one far outlier (in the data, or among the particles) must not drag the
/// reference point away from where the mass is, or the two barycentres would cancel again. In f64:
/// it is one of the data's coordinates, so exact in the data's precision too.
pub fn data_origin<T: Real>(y: &PointCloud<T>) -> Vec<f64> {
    let (m, d) = (y.len(), y.dim());
    let mut column = Vec::with_capacity(m);
    (0..d)
        .map(|k| {
            column.clear();
            column.extend((0..m).map(|j| y.point(j)[k].as_f64()));
            let mid = column.len() / 2;
            let (_, median, _) = column.select_nth_unstable_by(mid, f64::total_cmp);
            *median
        })
        .collect()
}
