//! A data set made ready for the runs of a study: drawn, split into the part the drifts see and a
//! held-out part for the metrics, and normalised so that temperatures are relative.
//!
//! The runs work in normalised coordinates `x' = (x − ȳ)/s`, where `ȳ` is the mean of the seen
//! data and `s` their scale: the mean distance between two of their points
//! ([`crate::data::data_scale`]). There the mean distance between data points is 1 for every data
//! set, so a temperature means the same everywhere: a Laplace kernel's length `τ·s`, a Gaussian
//! kernel's `τ = 2σ²` in units of `s²`. Samples are mapped back to data units before any metric.

use crate::compare::record::DatasetSummary;
use crate::data::{self, DataSpec, Dataset, MixtureTruth};
use crate::metrics::{HeldOutReference, NearestNeighbours};
use anyhow::{Context as _, Result};

/// Neighbours of the held-in classifier's vote.
pub const CLASSIFIER_NEIGHBOURS: usize = 5;

/// A data set ready for the runs.
#[derive(Debug)]
pub struct PreparedData {
    /// The data set's name in the results.
    pub name: String,
    /// Dimension.
    pub dim: usize,
    /// The seen part, normalised (row-major): the drifts' targets.
    pub train: Vec<f64>,
    /// Labels of the seen part, when the data are labelled.
    pub train_labels: Option<Vec<usize>>,
    /// Number of classes, when labelled.
    pub classes: Option<usize>,
    /// The held-out part in data units, prepared for the metrics.
    pub test: HeldOutReference,
    /// Labels of the held-out part.
    pub test_labels: Option<Vec<usize>>,
    /// Mean of the seen part (data units).
    pub mean: Vec<f64>,
    /// Scale `s` of the seen part.
    pub scale: f64,
    /// Mixture modes and weights, when known.
    pub mixture: Option<MixtureTruth>,
    /// A nearest-neighbour classifier fitted on the seen part (data units), when labelled.
    pub classifier: Option<NearestNeighbours>,
    /// The classifier's accuracy on the held-out part: how far its class histograms can be trusted.
    pub classifier_accuracy: Option<f64>,
    /// `(height, width)` of image data.
    pub image_shape: Option<(usize, usize)>,
}

impl PreparedData {
    /// Draws (generated sets: `points` points), splits (`test_fraction` held out, stratified by
    /// class) and normalises the data set `spec`, all from `seed`.
    pub fn new(spec: &DataSpec, points: usize, test_fraction: f64, seed: u64) -> Result<Self> {
        let name = spec.name();
        let data: Dataset = spec
            .load(points, seed)
            .with_context(|| format!("data set `{name}`"))?;
        let split = data::split(&data, test_fraction, seed.wrapping_add(1))
            .with_context(|| format!("data set `{name}`"))?;
        let dim = data.dim;
        let (train, test) = (split.train, split.test);
        let n = train.len();
        let mut mean = vec![0.0; dim];
        for p in train.points.chunks_exact(dim) {
            for (m, v) in mean.iter_mut().zip(p) {
                *m += v / n as f64;
            }
        }
        let scale = train.scale(seed)?;
        let train_labels = train.labels.as_ref().map(|l| l.classes.clone());
        let classes = train.labels.as_ref().map(|l| l.names.len());
        let test_labels = test.labels.as_ref().map(|l| l.classes.clone());
        let (classifier, classifier_accuracy) = match (&train_labels, classes, &test_labels) {
            (Some(labels), Some(k), Some(test_labels)) => {
                let c =
                    NearestNeighbours::fit(&train.points, labels, dim, CLASSIFIER_NEIGHBOURS, k)?;
                let acc = c.held_out_accuracy(&test.points, test_labels)?;
                (Some(c), Some(acc))
            }
            _ => (None, None),
        };
        let mut prepared = PreparedData {
            name,
            dim,
            train: Vec::new(),
            train_labels,
            classes,
            test: HeldOutReference::new(test.points, dim, seed)
                .with_context(|| format!("data set `{}`", spec.name()))?,
            test_labels,
            mean,
            scale,
            mixture: data.mixture.clone(),
            classifier,
            classifier_accuracy,
            image_shape: data.image_shape,
        };
        prepared.train = prepared.to_normalised(&train.points);
        Ok(prepared)
    }

    /// Number of held-out points.
    pub fn test_len(&self) -> usize {
        self.test.len()
    }

    /// Maps normalised coordinates back to data units.
    pub fn to_data_units(&self, normalised: &[f64]) -> Vec<f64> {
        normalised
            .chunks_exact(self.dim)
            .flat_map(|p| p.iter().zip(&self.mean).map(|(v, m)| v * self.scale + m))
            .collect()
    }

    /// Maps data units to normalised coordinates.
    pub fn to_normalised(&self, points: &[f64]) -> Vec<f64> {
        points
            .chunks_exact(self.dim)
            .flat_map(|p| p.iter().zip(&self.mean).map(|(v, m)| (v - m) / self.scale))
            .collect()
    }

    /// What the report needs of it.
    pub fn summary(&self) -> DatasetSummary {
        DatasetSummary {
            name: self.name.clone(),
            dim: self.dim,
            reference: self.test.points().to_vec(),
            image_shape: self.image_shape,
            scale: self.scale,
        }
    }
}
