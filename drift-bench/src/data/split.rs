//! The held-in / held-out split of a data set: the drift sees only the training side, the metrics
//! compare against the test side.

use super::Dataset;
use anyhow::{bail, Result};
use rand::rngs::StdRng;
use rand::seq::SliceRandom;
use rand::SeedableRng;

/// A data set split in two disjoint parts that together hold every point once.
#[derive(Clone, Debug, PartialEq)]
pub struct Split {
    /// The points a drift or generator learns from.
    pub train: Dataset,
    /// The held-out points the metrics compare against.
    pub test: Dataset,
}

/// Splits `data` at random (seeded) so that about `test_fraction` of the points are held out.
///
/// Unlabelled data holds out `round(n · test_fraction)` points. Labelled data is stratified: each
/// class holds out `round(n_c · test_fraction)` of its `n_c` points, but at least one and at most
/// `n_c − 1`, so that every class is on both sides. Each side lists its points in the seeded random
/// order. Errors (naming the data set) when `test_fraction` is not strictly between 0 and 1, when a
/// class has fewer than two points, or when a side would be empty.
///
/// ```
/// use drift_bench::data::{split, DataSpec};
/// let data = DataSpec::EightGaussians.load(100, 1).unwrap();
/// let s = split(&data, 0.2, 7).unwrap();
/// assert_eq!((s.train.len(), s.test.len()), (80, 20));
/// ```
pub fn split(data: &Dataset, test_fraction: f64, seed: u64) -> Result<Split> {
    let name = &data.name;
    if !(test_fraction > 0.0 && test_fraction < 1.0) {
        bail!("data set {name}: the test fraction must be strictly between 0 and 1, got {test_fraction}");
    }
    let n = data.len();
    let mut order: Vec<usize> = (0..n).collect();
    order.shuffle(&mut StdRng::seed_from_u64(seed));
    let mut is_test = vec![false; n];
    match &data.labels {
        None => {
            let held = (n as f64 * test_fraction).round() as usize;
            if held == 0 || held == n {
                let side = if held == 0 { "test" } else { "training" };
                bail!(
                    "data set {name}: holding out {test_fraction} of its {n} points leaves the {side} side empty"
                );
            }
            for &i in &order[..held] {
                is_test[i] = true;
            }
        }
        Some(labels) => {
            let counts = data.class_counts().unwrap_or_default();
            if let Some(c) = counts.iter().position(|&k| k < 2) {
                bail!(
                    "data set {name}: class `{}` has {} point(s); a split needs at least 2 in every class (one on each side)",
                    labels.names[c],
                    counts[c]
                );
            }
            // Held-out points still to pick per class, taken in the shuffled order.
            let mut left: Vec<usize> = counts
                .iter()
                .map(|&k| ((k as f64 * test_fraction).round() as usize).clamp(1, k - 1))
                .collect();
            for &i in &order {
                let c = labels.classes[i];
                if left[c] > 0 {
                    left[c] -= 1;
                    is_test[i] = true;
                }
            }
        }
    }
    let (test, train): (Vec<usize>, Vec<usize>) = order.iter().partition(|&&i| is_test[i]);
    Ok(Split {
        train: data.subset(&train),
        test: data.subset(&test),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::data::Labels;

    fn indexed(classes: Option<Vec<usize>>) -> Dataset {
        // Point i is (i, 0), so a point's coordinates say which row it was.
        let n = classes.as_ref().map_or(50, Vec::len);
        Dataset {
            name: "idx".into(),
            dim: 2,
            points: (0..n).flat_map(|i| [i as f64, 0.0]).collect(),
            labels: classes.map(|classes| Labels {
                names: (0..=*classes.iter().max().unwrap())
                    .map(|c| c.to_string())
                    .collect(),
                classes,
            }),
            mixture: None,
            image_shape: None,
        }
    }

    fn rows(d: &Dataset) -> Vec<usize> {
        d.points.chunks(2).map(|p| p[0] as usize).collect()
    }

    #[test]
    fn unlabelled_split_is_disjoint_covering_and_seeded() {
        let d = indexed(None);
        let s = split(&d, 0.3, 4).unwrap();
        assert_eq!((s.train.len(), s.test.len()), (35, 15));
        let mut all = [rows(&s.train), rows(&s.test)].concat();
        all.sort_unstable();
        assert_eq!(all, (0..50).collect::<Vec<_>>());
        assert_eq!(split(&d, 0.3, 4).unwrap(), s);
        assert_ne!(split(&d, 0.3, 5).unwrap(), s);
    }

    #[test]
    fn labelled_split_is_stratified() {
        // 30 points of class 0, 8 of class 1, 2 of class 2.
        let classes: Vec<usize> = (0..40)
            .map(|i| {
                if i < 30 {
                    0
                } else if i < 38 {
                    1
                } else {
                    2
                }
            })
            .collect();
        let d = indexed(Some(classes.clone()));
        let s = split(&d, 0.25, 1).unwrap();
        assert_eq!(s.test.class_counts().unwrap(), [8, 2, 1]);
        assert_eq!(s.train.class_counts().unwrap(), [22, 6, 1]);
        // Labels travel with their points.
        for part in [&s.train, &s.test] {
            for (r, c) in rows(part)
                .iter()
                .zip(&part.labels.as_ref().unwrap().classes)
            {
                assert_eq!(classes[*r], *c);
            }
        }
        let mut all = [rows(&s.train), rows(&s.test)].concat();
        all.sort_unstable();
        assert_eq!(all, (0..40).collect::<Vec<_>>());
    }

    #[test]
    fn bad_splits_are_errors() {
        let d = indexed(None);
        for f in [0.0, 1.0, -0.1, f64::NAN] {
            assert!(split(&d, f, 0)
                .unwrap_err()
                .to_string()
                .contains("data set idx"));
        }
        let e = split(&d, 0.001, 0).unwrap_err().to_string();
        assert!(e.contains("test side empty"), "{e}");
        let e = split(&indexed(Some(vec![0, 0, 1])), 0.5, 0)
            .unwrap_err()
            .to_string();
        assert!(e.contains("class `1` has 1 point"), "{e}");
    }
}
