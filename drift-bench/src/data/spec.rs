//! A data set as it is named on the command line and in a sweep file (`eight_gaussians`,
//! `mixture:16:10`, `file:my.csv:label=last`), and how each is loaded.

use super::{digits, mixtures, shapes, user_file, Dataset, LabelColumn, DATASET_HELP};
use anyhow::{bail, Context, Result};
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use std::fmt;
use std::path::PathBuf;
use std::str::FromStr;

/// Which data set to use. The syntax of every kind is in [`DATASET_HELP`].
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum DataSpec {
    /// `eight_gaussians`: 8 Gaussians on a circle ([`mixtures::eight_gaussians`]).
    EightGaussians,
    /// `grid25`: 25 Gaussians on a 5 × 5 grid ([`mixtures::grid25`]).
    Grid25,
    /// `two_moons`: scikit-learn's two moons ([`shapes::two_moons`]).
    TwoMoons,
    /// `checkerboard`: the 4 × 4 checkerboard ([`shapes::checkerboard`]).
    Checkerboard,
    /// `spiral`: two spiral arms ([`shapes::spiral`]).
    Spiral,
    /// `unequal_modes`: two Gaussians of masses 0.8 and 0.2 ([`mixtures::unequal_modes`]).
    UnequalModes,
    /// `mixture:D:K`: `K` Gaussians in `D` dimensions ([`mixtures::mixture`]).
    Mixture {
        /// Dimension `D`.
        dim: usize,
        /// Number of modes `K`.
        modes: usize,
    },
    /// `digits`: the embedded handwritten digits ([`digits::digits`]).
    Digits,
    /// `file:PATH`, `file:PATH:label=C` or `file:PATH:label=none`: a user's `.npy` or `.csv` file
    /// ([`user_file::load_file`]); `file:PATH:standardise` (before any `:label=`) puts each feature
    /// at mean 0 and standard deviation 1 ([`super::standardise`]).
    File {
        /// The file.
        path: PathBuf,
        /// Its label column (`.csv` only).
        label_column: LabelColumn,
        /// Whether each feature is standardised over the file's rows.
        standardise: bool,
    },
}

/// The names of the kinds without parameters, with their variants.
const FIXED: [(&str, DataSpec); 7] = [
    ("eight_gaussians", DataSpec::EightGaussians),
    ("grid25", DataSpec::Grid25),
    ("two_moons", DataSpec::TwoMoons),
    ("checkerboard", DataSpec::Checkerboard),
    ("spiral", DataSpec::Spiral),
    ("unequal_modes", DataSpec::UnequalModes),
    ("digits", DataSpec::Digits),
];

impl DataSpec {
    /// Parses a data set's name (see [`DATASET_HELP`]).
    ///
    /// ```
    /// use drift_bench::data::{DataSpec, LabelColumn};
    /// assert_eq!(DataSpec::parse("grid25").unwrap(), DataSpec::Grid25);
    /// assert_eq!(
    ///     DataSpec::parse("mixture:16:10").unwrap(),
    ///     DataSpec::Mixture { dim: 16, modes: 10 }
    /// );
    /// assert_eq!(
    ///     DataSpec::parse("file:runs/my.csv:label=last").unwrap(),
    ///     DataSpec::File {
    ///         path: "runs/my.csv".into(),
    ///         label_column: LabelColumn::Last,
    ///         standardise: false
    ///     }
    /// );
    /// let s = DataSpec::parse("file:my.csv:standardise:label=last").unwrap();
    /// assert!(matches!(s, DataSpec::File { standardise: true, .. }));
    /// assert!(DataSpec::parse("nine_gaussians").is_err());
    /// ```
    pub fn parse(s: &str) -> Result<DataSpec> {
        let s = s.trim();
        if let Some((_, spec)) = FIXED.iter().find(|(name, _)| *name == s) {
            return Ok(spec.clone());
        }
        if let Some(rest) = s.strip_prefix("mixture:") {
            let parts: Vec<&str> = rest.split(':').collect();
            let number = |t: &str, what: &str| {
                t.trim()
                    .parse::<usize>()
                    .with_context(|| format!("data set `{s}`: {what} `{t}` is not a whole number"))
            };
            let [d, k] = parts.as_slice() else {
                bail!("data set `{s}`: expected mixture:D:K (dimension D, number of modes K), e.g. mixture:16:10");
            };
            let (dim, modes) = (
                number(d, "the dimension")?,
                number(k, "the number of modes")?,
            );
            if dim < 2 || modes < 1 {
                bail!("data set `{s}`: mixture:D:K needs a dimension D >= 2 and K >= 1 modes");
            }
            return Ok(DataSpec::Mixture { dim, modes });
        }
        if let Some(rest) = s.strip_prefix("file:") {
            // The options come last (`:standardise`, then `:label=`), so a path may itself hold
            // colons.
            let (rest, standardise_last) = strip_standardise(rest);
            let (path, label_column) = match rest.rfind(":label=") {
                Some(at) => (
                    &rest[..at],
                    LabelColumn::parse(&rest[at + ":label=".len()..])
                        .with_context(|| format!("data set `{s}`"))?,
                ),
                None => (rest, LabelColumn::None),
            };
            let (path, standardise_first) = strip_standardise(path);
            if path.is_empty() {
                bail!("data set `{s}`: no file name after `file:`");
            }
            return Ok(DataSpec::File {
                path: PathBuf::from(path),
                label_column,
                standardise: standardise_first || standardise_last,
            });
        }
        bail!("unknown data set `{s}`; the data sets are:\n{DATASET_HELP}")
    }

    /// The data set's name as [`DataSpec::parse`] reads it back: `eight_gaussians`,
    /// `mixture:16:10`, `file:my.csv:label=last`. (The loaded [`Dataset::name`] is the same, except
    /// for a file, whose data set is named by the file's stem.)
    pub fn name(&self) -> String {
        if let Some((name, _)) = FIXED.iter().find(|(_, spec)| spec == self) {
            return (*name).to_string();
        }
        match self {
            DataSpec::Mixture { dim, modes } => format!("mixture:{dim}:{modes}"),
            DataSpec::File {
                path,
                label_column,
                standardise,
            } => {
                let option = if *standardise { ":standardise" } else { "" };
                match label_column {
                    LabelColumn::None => format!("file:{}{option}", path.display()),
                    c => format!("file:{}{option}:label={c}", path.display()),
                }
            }
            _ => unreachable!("every fixed kind is in FIXED"),
        }
    }

    /// Fails, saying how to name the labels, when this is a `.csv` file named without `label=`
    /// whose columns look like class labels ([`user_file::label_like_column`]): read as a
    /// coordinate, a label column silently adds a dimension. `label=none` says that every column
    /// is a coordinate. Other data sets, and files that cannot be read (loading says why), pass.
    pub fn check_label_column(&self) -> Result<()> {
        let DataSpec::File {
            path,
            label_column: LabelColumn::None,
            standardise,
        } = self
        else {
            return Ok(());
        };
        let Some(like) = user_file::label_like_column(path) else {
            return Ok(());
        };
        let which = match like.label_column() {
            LabelColumn::First => "the first".to_string(),
            LabelColumn::Last => "the last".to_string(),
            _ => format!("0-based index {}", like.column),
        };
        let as_labels = DataSpec::File {
            path: path.clone(),
            label_column: like.label_column(),
            standardise: *standardise,
        };
        let as_coordinates = DataSpec::File {
            path: path.clone(),
            label_column: LabelColumn::NoLabels,
            standardise: *standardise,
        };
        bail!(
            "data set `{self}`: column {} ({which} of {}) looks like class labels: {}. Without \
             `:label=` it would run as a coordinate (dimension {} instead of {}). Say \
             `{as_labels}` to use it as the classes (`:label=first|last|N` picks the column), or \
             `{as_coordinates}` to keep every column a coordinate",
            like.column,
            like.columns,
            like.why,
            like.columns,
            like.columns - 1
        )
    }

    /// Loads the data set: a generated one draws `n` points with `seed`; the digits and files hold
    /// all their rows whatever `n`. Errors name the data set and the problem (a generated set needs
    /// at least 4 points).
    pub fn load(&self, n: usize, seed: u64) -> Result<Dataset> {
        let generated = !matches!(self, DataSpec::Digits | DataSpec::File { .. });
        if generated && n < user_file::MIN_POINTS {
            bail!(
                "data set {}: {n} points asked for, at least {} are needed",
                self.name(),
                user_file::MIN_POINTS
            );
        }
        Ok(match self {
            DataSpec::EightGaussians => mixtures::eight_gaussians(n, seed),
            DataSpec::Grid25 => mixtures::grid25(n, seed),
            DataSpec::UnequalModes => mixtures::unequal_modes(n, seed),
            DataSpec::Mixture { dim, modes } => mixtures::mixture(*dim, *modes, n, seed)?,
            DataSpec::TwoMoons => shapes::two_moons(n, seed),
            DataSpec::Checkerboard => shapes::checkerboard(n, seed),
            DataSpec::Spiral => shapes::spiral(n, seed),
            DataSpec::Digits => digits::digits()?,
            DataSpec::File {
                path,
                label_column,
                standardise,
            } => {
                let mut data = user_file::load_file(path, *label_column)?;
                if *standardise {
                    super::standardise(&mut data.points, data.dim);
                }
                data
            }
        })
    }
}

/// `text` without a trailing `:standardise`, and whether it had one.
fn strip_standardise(text: &str) -> (&str, bool) {
    match text.strip_suffix(":standardise") {
        Some(rest) => (rest, true),
        None => (text, false),
    }
}

impl FromStr for DataSpec {
    type Err = anyhow::Error;
    fn from_str(s: &str) -> Result<Self> {
        DataSpec::parse(s)
    }
}

impl fmt::Display for DataSpec {
    /// [`DataSpec::name`].
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.name())
    }
}

impl Serialize for DataSpec {
    /// As its name, a string.
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&self.name())
    }
}

impl<'de> Deserialize<'de> for DataSpec {
    /// From its name, a string.
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let s = String::deserialize(deserializer)?;
        DataSpec::parse(&s).map_err(|e| serde::de::Error::custom(format!("{e:#}")))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn all() -> Vec<DataSpec> {
        let mut v: Vec<DataSpec> = FIXED.iter().map(|(_, s)| s.clone()).collect();
        v.push(DataSpec::Mixture { dim: 16, modes: 10 });
        v.push(DataSpec::File {
            path: "a:b/c.csv".into(),
            label_column: LabelColumn::Index(3),
            standardise: false,
        });
        v.push(DataSpec::File {
            path: "x.npy".into(),
            label_column: LabelColumn::None,
            standardise: false,
        });
        v.push(DataSpec::File {
            path: "a:b/c.csv".into(),
            label_column: LabelColumn::Last,
            standardise: true,
        });
        v.push(DataSpec::File {
            path: "x.npy".into(),
            label_column: LabelColumn::None,
            standardise: true,
        });
        v
    }

    #[test]
    fn parse_round_trips_the_name() {
        for spec in all() {
            assert_eq!(
                DataSpec::parse(&spec.name()).unwrap(),
                spec,
                "{}",
                spec.name()
            );
            assert_eq!(spec.to_string().parse::<DataSpec>().unwrap(), spec);
        }
    }

    #[test]
    fn serde_as_a_string() {
        #[derive(Serialize, Deserialize)]
        struct Sweep {
            datasets: Vec<DataSpec>,
        }
        let sweep: Sweep =
            ron::from_str(r#"(datasets: ["eight_gaussians", "file:my.csv:label=first"])"#).unwrap();
        assert_eq!(sweep.datasets[0], DataSpec::EightGaussians);
        assert_eq!(sweep.datasets[1].name(), "file:my.csv:label=first");
        let text = ron::to_string(&sweep).unwrap();
        assert!(text.contains("\"file:my.csv:label=first\""), "{text}");
        let e = ron::from_str::<Sweep>(r#"(datasets: ["moons"])"#)
            .err()
            .unwrap()
            .to_string();
        assert!(e.contains("unknown data set `moons`"), "{e}");
    }

    #[test]
    fn bad_names_say_what_is_wrong() {
        for (s, want) in [
            ("mixture:16", "expected mixture:D:K"),
            ("mixture:x:3", "the dimension `x`"),
            ("mixture:1:3", "D >= 2"),
            ("mixture:4:0", "K >= 1"),
            ("file:", "no file name"),
            (
                "file:a.csv:label=middle",
                "label=first, label=last or label=N",
            ),
            ("gaussians", "unknown data set `gaussians`"),
        ] {
            let e = format!("{:#}", DataSpec::parse(s).unwrap_err());
            assert!(e.contains(want), "{s}: {e}");
        }
    }

    #[test]
    fn every_generator_is_seeded_and_shaped() {
        for spec in all()
            .into_iter()
            .filter(|s| !matches!(s, DataSpec::Digits | DataSpec::File { .. }))
        {
            let a = spec.load(300, 1).unwrap();
            let dim = if let DataSpec::Mixture { dim, .. } = spec {
                dim
            } else {
                2
            };
            assert_eq!(
                (a.len(), a.dim, a.points.len()),
                (300, dim, 300 * dim),
                "{spec}"
            );
            assert_eq!(a.name, spec.name());
            assert!(a.labels.is_none() && a.image_shape.is_none());
            let mixture = matches!(
                spec,
                DataSpec::EightGaussians
                    | DataSpec::Grid25
                    | DataSpec::UnequalModes
                    | DataSpec::Mixture { .. }
            );
            assert_eq!(a.mixture.is_some(), mixture, "{spec}");
            if let Some(t) = &a.mixture {
                assert!((t.weights.iter().sum::<f64>() - 1.0).abs() < 1e-12);
                assert!(t.centres.iter().all(|c| c.len() == dim));
            }
            assert!(a.points.iter().all(|v| v.is_finite()));
            assert_eq!(spec.load(300, 1).unwrap(), a, "{spec}");
            assert_ne!(spec.load(300, 2).unwrap().points, a.points, "{spec}");
        }
        assert!(DataSpec::Spiral
            .load(3, 0)
            .unwrap_err()
            .to_string()
            .contains("at least 4"));
    }
}
