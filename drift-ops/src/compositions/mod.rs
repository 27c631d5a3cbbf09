//! Compositions: operators made of operators (weighted sums, multiple temperatures, feature scale,
//! annealing). They pass temperature changes down through the context and share output buffers.

pub(crate) mod accumulate;
mod annealed;
mod feature_scale;
pub(crate) mod guidance;
pub(crate) mod multi_temperature;
mod weighted;

pub use annealed::{Annealed, Clock};
pub use feature_scale::{mean_distance, FeatureScale};
pub use guidance::Guidance;
pub use multi_temperature::MultiTemperature;
pub use weighted::{Sum, Weighted, WeightedTerm};
