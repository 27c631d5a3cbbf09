//! A loaded data set: its points and whatever ground truth it has (class labels, mixture modes,
//! image shape).

use anyhow::{bail, Result};

/// A data set of `n` points in `dim` dimensions, with its ground truth when it has one.
#[derive(Clone, Debug, PartialEq)]
pub struct Dataset {
    /// The name results refer to: `eight_gaussians`, `mixture:16:10`, `digits`, a user file's stem.
    pub name: String,
    /// Dimension of the points.
    pub dim: usize,
    /// Row-major coordinates, `n × dim`, in the data's own units.
    pub points: Vec<f64>,
    /// The class of every point, for labelled data (the digits, a CSV file with a label column).
    pub labels: Option<Labels>,
    /// The modes the points were drawn from, for Gaussian mixtures.
    pub mixture: Option<MixtureTruth>,
    /// `(height, width)` when every point is an image with row-major pixels (digits: `(8, 8)`).
    pub image_shape: Option<(usize, usize)>,
}

/// Class labels: one class index per point, and the name of every class.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Labels {
    /// The class of each point, in `0..names.len()`.
    pub classes: Vec<usize>,
    /// The `k` class names (`"0"`..`"9"` for the digits, the file's label values in sorted order).
    pub names: Vec<String>,
}

/// The Gaussian mixture a data set is drawn from: isotropic modes with known centres and masses.
///
/// A mode's own points lie at a distance of about `std · sqrt(dim)` from its centre, so a capture
/// radius that decides whether a sample "found" a mode has to grow with `sqrt(dim)`.
#[derive(Clone, Debug, PartialEq)]
pub struct MixtureTruth {
    /// Mode centres, each of length `dim`.
    pub centres: Vec<Vec<f64>>,
    /// Mode masses, summing to 1.
    pub weights: Vec<f64>,
    /// Standard deviation of every mode, per coordinate.
    pub std: f64,
}

impl Dataset {
    /// Number of points.
    pub fn len(&self) -> usize {
        self.points.len().checked_div(self.dim).unwrap_or(0)
    }

    /// Whether there are no points.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The coordinates of point `i`.
    ///
    /// # Panics
    /// If `i >= self.len()`.
    pub fn row(&self, i: usize) -> &[f64] {
        &self.points[i * self.dim..(i + 1) * self.dim]
    }

    /// The data set of the given rows, in that order (a row may repeat), with the same name, ground
    /// truth and class names.
    ///
    /// # Panics
    /// If a row is out of range.
    pub fn subset(&self, rows: &[usize]) -> Dataset {
        let mut points = Vec::with_capacity(rows.len() * self.dim);
        for &i in rows {
            points.extend_from_slice(self.row(i));
        }
        Dataset {
            name: self.name.clone(),
            dim: self.dim,
            points,
            labels: self.labels.as_ref().map(|l| Labels {
                classes: rows.iter().map(|&i| l.classes[i]).collect(),
                names: l.names.clone(),
            }),
            mixture: self.mixture.clone(),
            image_shape: self.image_shape,
        }
    }

    /// The points of class `c`, row-major; empty for unlabelled data or a class without points.
    pub fn points_of_class(&self, c: usize) -> Vec<f64> {
        let Some(labels) = &self.labels else {
            return Vec::new();
        };
        labels
            .classes
            .iter()
            .enumerate()
            .filter(|&(_, &k)| k == c)
            .flat_map(|(i, _)| self.row(i).iter().copied())
            .collect()
    }

    /// Number of classes, for labelled data.
    pub fn class_count(&self) -> Option<usize> {
        self.labels.as_ref().map(|l| l.names.len())
    }

    /// Points per class (index = class), for labelled data.
    pub fn class_counts(&self) -> Option<Vec<usize>> {
        let labels = self.labels.as_ref()?;
        let mut counts = vec![0; labels.names.len()];
        for &c in &labels.classes {
            counts[c] += 1;
        }
        Some(counts)
    }

    /// The data's scale ([`super::data_scale`]: mean distance between two distinct points), or an
    /// error naming the data set when it is zero (fewer than two points, or all points equal), since
    /// relative temperatures divide by it.
    pub fn scale(&self, seed: u64) -> Result<f64> {
        let s = super::data_scale(&self.points, self.dim, seed);
        if !(s > 0.0 && s.is_finite()) {
            bail!(
                "data set {}: its {} points have no spread (mean distance between two points is {s}), so there is no scale to set temperatures by",
                self.name,
                self.len()
            );
        }
        Ok(s)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn labelled() -> Dataset {
        Dataset {
            name: "t".into(),
            dim: 2,
            points: vec![0.0, 0.0, 1.0, 1.0, 2.0, 2.0, 3.0, 3.0],
            labels: Some(Labels {
                classes: vec![1, 0, 1, 1],
                names: vec!["a".into(), "b".into()],
            }),
            mixture: None,
            image_shape: None,
        }
    }

    #[test]
    fn subset_and_classes() {
        let d = labelled();
        assert_eq!((d.len(), d.is_empty()), (4, false));
        let s = d.subset(&[3, 1]);
        assert_eq!(s.points, vec![3.0, 3.0, 1.0, 1.0]);
        assert_eq!(s.labels.as_ref().unwrap().classes, vec![1, 0]);
        assert_eq!(s.class_count(), Some(2));
        assert_eq!(d.points_of_class(1), vec![0.0, 0.0, 2.0, 2.0, 3.0, 3.0]);
        assert_eq!(d.points_of_class(0), vec![1.0, 1.0]);
        assert_eq!(d.class_counts(), Some(vec![1, 3]));
        assert!(d.subset(&[]).is_empty());
    }

    #[test]
    fn a_set_without_spread_has_no_scale() {
        let mut d = labelled();
        d.points = vec![1.0; 8];
        let e = d.scale(0).unwrap_err().to_string();
        assert!(e.contains("data set t") && e.contains("no spread"), "{e}");
        assert!((labelled().scale(0).unwrap() - 2f64.sqrt() * 10.0 / 6.0).abs() < 1e-12);
    }
}
