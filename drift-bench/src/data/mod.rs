//! The data sets of a comparison: seeded generators of the usual 2-D test sets and of Gaussian
//! mixtures in any dimension, the handwritten digits embedded in the binary, and a user's `.npy` or
//! `.csv` file; the held-out split the metrics use; and the data's scale that relative temperatures
//! are measured in.
//!
//! A data set is named by a string ([`DataSpec`], the same on the command line and in a RON sweep
//! file, e.g. `datasets: ["eight_gaussians", "file:my.csv:label=last"]`), and loaded as a
//! [`Dataset`]: row-major points with their ground truth, class [`Labels`] for labelled data, the
//! [`MixtureTruth`] (centres, weights, spread) for mixtures. Everything is reproducible: the same
//! seed gives the same points.
//!
//! The names (also [`DATASET_HELP`], which the command line prints):
//!
//! | name | data |
//! |------|------|
//! | `eight_gaussians` | 8 Gaussians on the circle of radius 2, std 0.08, equal weights |
//! | `grid25` | 25 Gaussians at `{-4,-2,0,2,4}²`, std 0.05, equal weights |
//! | `two_moons` | scikit-learn's two moons, Gaussian noise std 0.05 |
//! | `checkerboard` | uniform on the 8 black squares of a 4 × 4 checkerboard on `[-4,4]²` |
//! | `spiral` | two interleaved spiral arms reaching radius π, Gaussian noise std 0.1 |
//! | `unequal_modes` | Gaussians at `(-2,0)` and `(2,0)`, weights 0.8 / 0.2, std 0.2 |
//! | `mixture:D:K` | `K` equal-weight Gaussians in `D ≥ 2` dimensions, centres on the sphere of radius 4 at least 2 apart (fixed for given `D`, `K`), std `0.5/√D` |
//! | `digits` | the 1797 handwritten digits, 8 × 8 pixels 0..16 (64-d), 10 classes (UCI, CC BY 4.0) |
//! | `file:PATH` | a `.npy` array `(N, D)` or a numeric `.csv` table, one point per row |
//! | `file:PATH:label=C` | a `.csv` whose column `C` (`first`, `last` or a 0-based index) holds class labels; `label=none`: every column is a coordinate |
//! | `file:PATH:standardise` | every feature put at mean 0 and standard deviation 1 over the file's rows (also `file:PATH:standardise:label=C`) |
//!
//! A comparison refuses, before any run, a `.csv` named without `label=` whose first or last column
//! takes few distinct whole numbers or whose header names a column like a label (`label`, `class`,
//! `target`, `y`, `category`): say `label=first|last|N`, or `label=none` to keep it a coordinate.
//!
//! Generated sets draw as many points as asked for; the digits and files give all their rows.
//! Synthetic sets carry no labels; the mixtures carry their truth, the other 2-D sets none.

mod dataset;
pub mod digits;
mod features;
mod label_column;
pub mod mixtures;
mod scale;
pub mod shapes;
mod spec;
mod split;
pub mod user_file;

pub use dataset::{Dataset, Labels, MixtureTruth};
pub use features::{dominant_feature, feature_moments, file_notes, standardise, DOMINANT_SHARE};
pub use label_column::LabelColumn;
pub use scale::{data_scale, SCALE_SAMPLE};
pub use spec::DataSpec;
pub use split::{split, Split};

/// The data set names and what each holds, for a command's help.
pub const DATASET_HELP: &str = "\
  eight_gaussians       8 Gaussians on the circle of radius 2, std 0.08, equal weights
  grid25                25 Gaussians at {-4,-2,0,2,4}^2, std 0.05, equal weights
  two_moons             scikit-learn's two moons, Gaussian noise std 0.05
  checkerboard          uniform on the 8 black squares of a 4x4 checkerboard on [-4,4]^2
  spiral                two interleaved spiral arms reaching radius pi, Gaussian noise std 0.1
  unequal_modes         Gaussians at (-2,0) and (2,0), weights 0.8/0.2, std 0.2
  mixture:D:K           K equal-weight Gaussians in D >= 2 dimensions, centres on the sphere of
                        radius 4 at least 2 apart (fixed for given D, K), std 0.5/sqrt(D)
  digits                the 1797 handwritten digits, 8x8 pixels 0..16 (64-d), 10 classes
                        (Alpaydin & Kaynak 1998, UCI ML Repository, CC BY 4.0)
  file:PATH             a .npy array (N, D) or a numeric .csv table, one point per row
  file:PATH:label=C     a .csv whose column C (first, last or a 0-based index) holds class
                        labels (integers or text); label=none: every column is a coordinate
                        (needed when a column looks like labels: few distinct integers, or a
                        header such as label, class, target, y, category)
  file:PATH:standardise[:label=C]
                        every feature at mean 0 and standard deviation 1 over the file's rows
                        (for features of different magnitudes: one scale serves all coordinates)";
