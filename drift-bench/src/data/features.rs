//! Per-feature scales of a user's file: a sweep measures distances with one scalar scale for all
//! coordinates, so a feature of magnitude 1e3 beside features of 1e-1 makes the data effectively
//! one-dimensional. `file:PATH:standardise` puts every feature at mean 0 and standard deviation 1;
//! without it, the report says when one feature carries most of the variance.

use super::{user_file, DataSpec};

/// The share of the total variance above which one feature is said to dominate the data.
pub const DOMINANT_SHARE: f64 = 0.9;

/// Each feature's (column's) mean and population standard deviation over the rows of `points`
/// (row-major, `dim` columns), in two passes for accuracy. Empty when `dim` is 0 or there is no
/// row.
pub fn feature_moments(points: &[f64], dim: usize) -> Vec<(f64, f64)> {
    let n = points.len().checked_div(dim).unwrap_or(0);
    if n == 0 {
        return Vec::new();
    }
    let mut mean = vec![0.0; dim];
    for row in points.chunks_exact(dim) {
        for (m, v) in mean.iter_mut().zip(row) {
            *m += v;
        }
    }
    mean.iter_mut().for_each(|m| *m /= n as f64);
    let mut var = vec![0.0; dim];
    for row in points.chunks_exact(dim) {
        for ((s, v), m) in var.iter_mut().zip(row).zip(&mean) {
            *s += (v - m) * (v - m);
        }
    }
    mean.into_iter()
        .zip(var)
        .map(|(m, s)| (m, (s / n as f64).sqrt()))
        .collect()
}

/// Puts every feature of `points` at mean 0 and standard deviation 1 (over its rows); a constant
/// feature becomes 0 (its deviation is not divided by, there is none). Returns the moments used.
///
/// ```
/// let mut p = vec![1.0, 100.0, 3.0, 300.0];
/// drift_bench::data::standardise(&mut p, 2);
/// assert_eq!(p, vec![-1.0, -1.0, 1.0, 1.0]);
/// ```
pub fn standardise(points: &mut [f64], dim: usize) -> Vec<(f64, f64)> {
    let moments = feature_moments(points, dim);
    if moments.is_empty() {
        return moments;
    }
    for row in points.chunks_exact_mut(dim) {
        for (v, &(m, s)) in row.iter_mut().zip(&moments) {
            *v = if s > 0.0 && s.is_finite() {
                (*v - m) / s
            } else {
                0.0
            };
        }
    }
    moments
}

/// The feature that carries more than [`DOMINANT_SHARE`] of the total variance of `points`, with
/// its share; `None` when no feature does, for one-feature data, or when the variance is zero or
/// not finite.
///
/// ```
/// let p = [0.0, 0.1, 1000.0, 0.2, 2000.0, 0.0];
/// let (feature, share) = drift_bench::data::dominant_feature(&p, 2).unwrap();
/// assert_eq!(feature, 0);
/// assert!(share > 0.99);
/// ```
pub fn dominant_feature(points: &[f64], dim: usize) -> Option<(usize, f64)> {
    if dim < 2 {
        return None;
    }
    let var: Vec<f64> = feature_moments(points, dim)
        .iter()
        .map(|(_, s)| s * s)
        .collect();
    let total: f64 = var.iter().sum();
    if !(total > 0.0 && total.is_finite()) {
        return None;
    }
    let (k, v) = var.iter().enumerate().max_by(|a, b| a.1.total_cmp(b.1))?;
    let share = v / total;
    (share > DOMINANT_SHARE).then_some((k, share))
}

/// What the report says about a data set read from a file, given its points as the sweep uses them
/// (`points`, `dim` columns): a first line read as a header; each feature standardised, when
/// `:standardise` asks for it; otherwise one feature carrying most of the variance, with how to
/// standardise. Empty for the other data sets.
pub fn file_notes(spec: &DataSpec, points: &[f64], dim: usize) -> Vec<String> {
    let DataSpec::File {
        path,
        label_column,
        standardise,
    } = spec
    else {
        return Vec::new();
    };
    let name = spec.name();
    let mut notes = Vec::new();
    if let Some(line) = user_file::dropped_header(path, *label_column) {
        notes.push(format!(
            "`{name}`: the first line `{}` holds no number, so it was read as a column header, not as data",
            line.replace('`', "'")
        ));
    }
    if *standardise {
        notes.push(format!(
            "`{name}`: every feature standardised to mean 0 and standard deviation 1 over the file's \
             rows before the split (`:standardise`); samples and metrics are in these units"
        ));
    } else if let Some((k, share)) = dominant_feature(points, dim) {
        let mut as_standardised = spec.clone();
        if let DataSpec::File { standardise, .. } = &mut as_standardised {
            *standardise = true;
        }
        notes.push(format!(
            "`{name}`: feature {k} (0-based) carries {:.1}% of the variance, so one scale for all \
             coordinates makes the data nearly one-dimensional; `{as_standardised}` puts every \
             feature at mean 0 and standard deviation 1",
            100.0 * share
        ));
    }
    notes
}
