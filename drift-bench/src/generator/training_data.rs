//! The data a generator is trained on, checked and split by class.

use anyhow::{bail, ensure, Result};

/// The points a generator learns, in normalised coordinates, with optional class labels.
#[derive(Clone, Copy, Debug)]
pub struct TrainingData<'a> {
    /// Row-major coordinates, `dim` per point.
    pub points: &'a [f64],
    /// Dimension of a point.
    pub dim: usize,
    /// The class of every point, in `0..classes`; `Some` makes the generator class-conditional.
    pub labels: Option<&'a [usize]>,
    /// Number of classes (ignored without labels).
    pub classes: usize,
}

impl TrainingData<'_> {
    /// Number of points.
    pub fn len(&self) -> usize {
        self.points.len().checked_div(self.dim).unwrap_or(0)
    }

    /// True when there are no points.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Number of classes the generator is conditioned on: `classes` with labels, 1 without.
    pub fn conditioning_classes(&self) -> usize {
        if self.labels.is_some() {
            self.classes
        } else {
            1
        }
    }

    /// Checks the shape, the finiteness of the coordinates and the labels (each in range, each
    /// class holding at least one point).
    pub fn validate(&self) -> Result<()> {
        ensure!(self.dim > 0, "training data dimension must be at least 1");
        ensure!(!self.points.is_empty(), "training data has no points");
        ensure!(
            self.points.len().is_multiple_of(self.dim),
            "training data has {} coordinates, not a multiple of the dimension {}",
            self.points.len(),
            self.dim
        );
        if let Some(k) = self.points.iter().position(|v| !v.is_finite()) {
            bail!(
                "training data point {} coordinate {} is not finite ({})",
                k / self.dim,
                k % self.dim,
                self.points[k]
            );
        }
        if let Some(labels) = self.labels {
            ensure!(
                labels.len() == self.len(),
                "training data has {} labels for {} points",
                labels.len(),
                self.len()
            );
            ensure!(
                self.classes > 0,
                "labelled training data needs at least one class"
            );
            let mut counts = vec![0usize; self.classes];
            for (i, &l) in labels.iter().enumerate() {
                ensure!(
                    l < self.classes,
                    "training data point {i} has label {l}, outside 0..{}",
                    self.classes
                );
                counts[l] += 1;
            }
            if let Some(c) = counts.iter().position(|&n| n == 0) {
                bail!("training data class {c} has no points");
            }
        }
        Ok(())
    }

    /// The points of every conditioning class in f32 (all points as one class without labels),
    /// in the order of the data.
    pub fn class_points_f32(&self) -> Vec<Vec<f32>> {
        let mut out = vec![Vec::new(); self.conditioning_classes()];
        for (i, row) in self.points.chunks_exact(self.dim).enumerate() {
            let c = self.labels.map_or(0, |l| l[i]);
            out[c].extend(row.iter().map(|&v| v as f32));
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn classes_split_the_rows_and_bad_labels_are_refused() {
        let points = [0.0, 0.0, 1.0, 1.0, 2.0, 2.0];
        let labels = [1, 0, 1];
        let data = TrainingData {
            points: &points,
            dim: 2,
            labels: Some(&labels),
            classes: 2,
        };
        data.validate().unwrap();
        assert_eq!(
            data.class_points_f32(),
            vec![vec![1.0, 1.0], vec![0.0, 0.0, 2.0, 2.0]]
        );
        let missing = TrainingData { classes: 3, ..data };
        assert!(missing
            .validate()
            .unwrap_err()
            .to_string()
            .contains("class 2"));
        let out_of_range = [0, 5, 1];
        let bad = TrainingData {
            labels: Some(&out_of_range),
            ..data
        };
        assert!(bad.validate().unwrap_err().to_string().contains("label 5"));
        let nan = [0.0, f64::NAN];
        let bad = TrainingData {
            points: &nan,
            dim: 2,
            labels: None,
            classes: 0,
        };
        assert!(bad
            .validate()
            .unwrap_err()
            .to_string()
            .contains("not finite"));
    }
}
