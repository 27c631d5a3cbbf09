//! Scores of a set of samples `X` against data `Y` (both row-major `f64` with `dim` columns), the
//! metrics every comparison run reports:
//!
//! - distances between the two distributions: the exact `W2²` by optimal assignment
//!   ([`w2_squared_exact`]), the sliced W2 ([`sliced_w2`]), the squared MMD with a Gaussian kernel
//!   ([`mmd_squared`], bandwidth by [`median_bandwidth`]) and the energy distance
//!   ([`energy_distance`]); [`HeldOutReference`] prepares held-out data once for many sample sets;
//! - for mixtures with known modes: which modes are reached, and how the mass is shared between
//!   them ([`mode_coverage`], [`mode_masses`]);
//! - for labelled data: a nearest-neighbour classifier ([`NearestNeighbours`]) and the class
//!   histogram, class coverage and accuracy of its predictions.
//!
//! Each item's documentation gives its exact formula. Apart from [`sliced_w2`] and
//! [`mode_coverage`] (which keep their unchecked signatures), every function checks its input and
//! returns an error naming the problem (an empty set, a length that is not whole rows, a NaN or
//! infinite coordinate) instead of panicking or returning NaN. The pairwise sums are spread over
//! rayon's threads in a way that gives the same bits on any number of threads.

mod coverage;
mod energy;
mod exact_w2;
mod input;
mod knn;
mod mmd;
mod pairs;
mod reference;
mod sliced;

pub use coverage::{mode_coverage, mode_masses, ModeCoverage, ModeMasses};
pub use energy::energy_distance;
pub use exact_w2::{w2_squared_exact, w2_squared_exact_subsampled};
pub use knn::{accuracy, class_histogram, classes_covered, NearestNeighbours};
pub use mmd::{median_bandwidth, mmd_squared, MEDIAN_BANDWIDTH_POINTS};
pub use reference::HeldOutReference;
pub use sliced::{sliced_w2, sliced_w2_checked};
