//! A k-nearest-neighbour classifier (exact, brute force) and the class statistics built on it:
//! which classes a generated sample holds, and how often it holds the class it was asked for.

use super::input::{dist_sq, rows};
use anyhow::{bail, Result};
use rayon::prelude::*;

/// A fitted k-nearest-neighbour classifier: the labelled training points themselves (held-in data),
/// searched exhaustively at prediction time.
#[derive(Clone, Debug, PartialEq)]
pub struct NearestNeighbours {
    points: Vec<f64>,
    labels: Vec<usize>,
    dim: usize,
    k: usize,
    classes: usize,
}

impl NearestNeighbours {
    /// Keeps the training `points` (row-major, `dim` columns) and their `labels` (one per point, each
    /// below `classes`) for a vote among the `k` nearest.
    ///
    /// Errors: a bad point set; a label count other than the point count; a label `≥ classes`;
    /// `classes = 0`; `k = 0` or `k` above the number of points.
    pub fn fit(
        points: &[f64],
        labels: &[usize],
        dim: usize,
        k: usize,
        classes: usize,
    ) -> Result<Self> {
        let n = rows("nearest neighbours training points", points, dim)?;
        if labels.len() != n {
            bail!(
                "nearest neighbours: {} labels for {n} training points",
                labels.len()
            );
        }
        if classes == 0 {
            bail!("nearest neighbours: needs at least one class");
        }
        if let Some(i) = labels.iter().position(|&l| l >= classes) {
            bail!(
                "nearest neighbours: training point {i} has label {}, but there are {classes} classes",
                labels[i]
            );
        }
        if k == 0 || k > n {
            bail!("nearest neighbours: k = {k} must be between 1 and the {n} training points");
        }
        Ok(Self {
            points: points.to_vec(),
            labels: labels.to_vec(),
            dim,
            k,
            classes,
        })
    }

    /// The point dimension.
    pub fn dim(&self) -> usize {
        self.dim
    }

    /// The number of neighbours that vote.
    pub fn k(&self) -> usize {
        self.k
    }

    /// The number of classes.
    pub fn classes(&self) -> usize {
        self.classes
    }

    /// The class of each sample (row-major, the classifier's `dim` columns): the majority label among
    /// its `k` nearest training points in Euclidean distance. Neighbours at equal distance are taken
    /// in training order; a tie between classes in the vote goes to the class of the nearest
    /// neighbour among the tied classes. Exact brute force over all training points, samples in
    /// parallel (the answer does not depend on the thread count).
    ///
    /// Errors: a bad sample set (empty, not whole rows of the classifier's dimension, non-finite).
    pub fn predict(&self, samples: &[f64]) -> Result<Vec<usize>> {
        rows("nearest neighbours samples", samples, self.dim)?;
        Ok(samples
            .par_chunks_exact(self.dim)
            .map(|s| self.classify(s))
            .collect())
    }

    /// The accuracy of the classifier on a labelled test split (points never fitted on):
    /// `accuracy(predict(test_points), test_labels)`.
    ///
    /// Errors: as [`predict`](Self::predict) and [`accuracy`].
    pub fn held_out_accuracy(&self, test_points: &[f64], test_labels: &[usize]) -> Result<f64> {
        accuracy(&self.predict(test_points)?, test_labels)
    }

    fn classify(&self, sample: &[f64]) -> usize {
        let mut by_distance: Vec<(f64, usize)> = self
            .points
            .chunks_exact(self.dim)
            .map(|p| dist_sq(sample, p))
            .enumerate()
            .map(|(i, d)| (d, i))
            .collect();
        // Distance first, training index second: a total order, so the k nearest are well defined.
        let order = |a: &(f64, usize), b: &(f64, usize)| a.0.total_cmp(&b.0).then(a.1.cmp(&b.1));
        if self.k < by_distance.len() {
            by_distance.select_nth_unstable_by(self.k - 1, order);
        }
        let nearest = &mut by_distance[..self.k];
        nearest.sort_unstable_by(order);
        let mut votes = vec![0usize; self.classes];
        for &(_, i) in nearest.iter() {
            votes[self.labels[i]] += 1;
        }
        let most = votes.iter().copied().max().unwrap_or(0);
        // The nearest neighbour whose class has the most votes decides among tied classes.
        nearest
            .iter()
            .map(|&(_, i)| self.labels[i])
            .find(|&c| votes[c] == most)
            .expect("some neighbour's class has the most votes")
    }
}

/// Samples per class: `h[c] = #{i : predicted[i] = c}` for `c < classes`.
///
/// Errors: a label `≥ classes`.
pub fn class_histogram(predicted: &[usize], classes: usize) -> Result<Vec<usize>> {
    let mut h = vec![0usize; classes];
    for (i, &c) in predicted.iter().enumerate() {
        match h.get_mut(c) {
            Some(slot) => *slot += 1,
            None => bail!("class histogram: sample {i} has class {c}, but there are {classes}"),
        }
    }
    Ok(h)
}

/// Classes holding at least `min_fraction` of all samples of the histogram and at least one:
/// `#{c : h[c] ≥ 1 and h[c] ≥ min_fraction · Σ h}`.
pub fn classes_covered(hist: &[usize], min_fraction: f64) -> usize {
    let total: usize = hist.iter().sum();
    let threshold = min_fraction * total as f64;
    hist.iter()
        .filter(|&&c| c > 0 && c as f64 >= threshold)
        .count()
}

/// The fraction of samples whose predicted class is the intended one:
/// `#{i : predicted[i] = intended[i]} / n`.
///
/// Errors: lengths that differ, or no samples.
pub fn accuracy(predicted: &[usize], intended: &[usize]) -> Result<f64> {
    if predicted.len() != intended.len() {
        bail!(
            "accuracy: {} predictions for {} intended classes",
            predicted.len(),
            intended.len()
        );
    }
    if predicted.is_empty() {
        bail!("accuracy: no samples");
    }
    let right = predicted
        .iter()
        .zip(intended)
        .filter(|(p, i)| p == i)
        .count();
    Ok(right as f64 / predicted.len() as f64)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::datasets::gaussian_blob;

    /// Two clusters on a line: class 0 around 0, class 1 around 10, and one class-1 point at 1
    /// inside class 0's cluster.
    fn line() -> NearestNeighbours {
        let points = [0.0, 0.5, -0.5, 1.0, 9.5, 10.0, 10.5];
        let labels = [0, 0, 0, 1, 1, 1, 1];
        NearestNeighbours::fit(&points, &labels, 1, 3, 2).unwrap()
    }

    #[test]
    fn votes_on_hand_placed_points() {
        let knn = line();
        // 0.9: neighbours 1.0 (1), 0.5 (0), 0.0 (0) → class 0 by two votes to one.
        // 8.0: neighbours 9.5, 10.0, 10.5 → class 1. 1.2: 1.0 (1), 0.5 (0), 0.0 (0) → 0.
        assert_eq!(
            knn.predict(&[0.9, 8.0, 1.2, -3.0]).unwrap(),
            vec![0, 1, 0, 0]
        );
        // With k = 1 the stray class-1 point wins near itself.
        let one = NearestNeighbours::fit(&[0.0, 0.5, 1.0], &[0, 0, 1], 1, 1, 2).unwrap();
        assert_eq!(one.predict(&[0.9, 0.6]).unwrap(), vec![1, 0]);
        assert_eq!((knn.dim(), knn.k(), knn.classes()), (1, 3, 2));
    }

    #[test]
    fn a_tied_vote_goes_to_the_nearer_neighbour() {
        // k = 2, one neighbour of each class: the nearer one's class wins, whichever it is.
        let knn = NearestNeighbours::fit(&[0.0, 4.0], &[1, 0], 1, 2, 2).unwrap();
        assert_eq!(knn.predict(&[1.0, 3.0]).unwrap(), vec![1, 0]);
        // k = 4, all four points vote, 2 for class 0 and 2 for class 2: the nearest point decides.
        let points = [0.0, 1.0, 2.0, 3.0];
        let knn = NearestNeighbours::fit(&points, &[0, 2, 2, 0], 1, 4, 3).unwrap();
        assert_eq!(knn.predict(&[1.4]).unwrap(), vec![2]);
        assert_eq!(knn.predict(&[0.4]).unwrap(), vec![0]);
        // Neighbours at equal distance are taken in training order: at 2, points 1 and 3 are
        // equally far, k = 1 takes point 1.
        let knn = NearestNeighbours::fit(&[1.0, 3.0], &[1, 0], 1, 1, 2).unwrap();
        assert_eq!(knn.predict(&[2.0]).unwrap(), vec![1]);
    }

    #[test]
    fn one_neighbour_on_its_own_training_points_is_always_right() {
        let mut points = Vec::new();
        let mut labels = Vec::new();
        for c in 0..4 {
            let centre = [c as f64, (c * c) as f64, 0.0];
            points.extend(gaussian_blob(50, &centre, 1.0, c as u64));
            labels.extend(std::iter::repeat_n(c, 50));
        }
        let knn = NearestNeighbours::fit(&points, &labels, 3, 1, 4).unwrap();
        assert_eq!(knn.held_out_accuracy(&points, &labels).unwrap(), 1.0);
    }

    #[test]
    fn histogram_coverage_and_accuracy() {
        let predicted = [0, 2, 2, 2, 0, 2, 2, 2, 2, 3];
        let h = class_histogram(&predicted, 5).unwrap();
        assert_eq!(h, vec![2, 0, 7, 1, 0]);
        assert_eq!(classes_covered(&h, 0.0), 3);
        assert_eq!(classes_covered(&h, 0.1), 3); // 1 of 10 is enough
        assert_eq!(classes_covered(&h, 0.15), 2);
        assert_eq!(classes_covered(&h, 0.8), 0);
        assert_eq!(classes_covered(&[0, 0], 0.0), 0);
        let intended = [0, 2, 1, 2, 0, 0, 2, 2, 2, 2];
        assert!((accuracy(&predicted, &intended).unwrap() - 0.7).abs() < 1e-15);
    }

    #[test]
    fn bad_input_is_refused() {
        let e = |r: Result<NearestNeighbours>| r.unwrap_err().to_string();
        let p = [0.0, 1.0];
        assert_eq!(
            e(NearestNeighbours::fit(&p, &[0], 1, 1, 2)),
            "nearest neighbours: 1 labels for 2 training points"
        );
        assert!(e(NearestNeighbours::fit(&p, &[0, 2], 1, 1, 2)).contains("label 2"));
        assert!(e(NearestNeighbours::fit(&p, &[0, 1], 1, 3, 2)).contains("k = 3"));
        assert!(e(NearestNeighbours::fit(&p, &[0, 1], 1, 0, 2)).contains("k = 0"));
        assert!(e(NearestNeighbours::fit(&p, &[0, 0], 1, 1, 0)).contains("one class"));
        assert!(e(NearestNeighbours::fit(&[], &[], 1, 1, 1)).contains("empty"));
        let knn = line();
        assert!(knn.predict(&[]).unwrap_err().to_string().contains("empty"));
        assert!(knn
            .predict(&[f64::NAN])
            .unwrap_err()
            .to_string()
            .contains("NaN"));
        assert!(class_histogram(&[0, 3], 3)
            .unwrap_err()
            .to_string()
            .contains("class 3"));
        assert!(accuracy(&[0], &[0, 1]).is_err());
        assert!(accuracy(&[], &[]).is_err());
    }
}
