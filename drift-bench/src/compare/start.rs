//! Where a flow's particles start.

use crate::datasets::gaussian_blob;
use anyhow::{bail, Context as _, Result};
use serde::{Deserialize, Serialize};

/// The start distribution of a particle flow.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum StartSpec {
    /// A data-independent isotropic Gaussian at the data's mean whose root-mean-square distance
    /// between two particles is `width` data scales (per-coordinate standard deviation
    /// `width · s / √(2D)`): it knows the data's mean and scale, nothing of its shape. The default,
    /// with width 1. Command line: `gaussian` or `gaussian:WIDTH`.
    Gaussian {
        /// Root-mean-square distance between two particles, in data scales.
        width: f64,
    },
    /// An isotropic Gaussian blob in data units (the old demo's lopsided start is
    /// `blob:1.386,0.574:0.3` on the 8 Gaussians). Command line: `blob:X,Y,...:STD`.
    Blob {
        /// Centre, in data units (one value per dimension).
        centre: Vec<f64>,
        /// Standard deviation per coordinate, in data units.
        std: f64,
    },
}

impl Default for StartSpec {
    fn default() -> Self {
        StartSpec::Gaussian { width: 1.0 }
    }
}

impl std::str::FromStr for StartSpec {
    type Err = anyhow::Error;

    fn from_str(s: &str) -> Result<Self> {
        let parts: Vec<&str> = s.split(':').collect();
        let number = |v: &str| -> Result<f64> {
            v.trim()
                .parse::<f64>()
                .with_context(|| format!("--start {s}: `{v}` is not a number"))
        };
        let spec = match parts.as_slice() {
            ["gaussian"] => StartSpec::default(),
            ["gaussian", w] => StartSpec::Gaussian { width: number(w)? },
            ["blob", centre, std] => StartSpec::Blob {
                centre: centre.split(',').map(number).collect::<Result<_>>()?,
                std: number(std)?,
            },
            _ => bail!("--start {s}: expected `gaussian`, `gaussian:WIDTH` or `blob:X,Y,...:STD`"),
        };
        spec.check().with_context(|| format!("--start {s}"))?;
        Ok(spec)
    }
}

impl std::fmt::Display for StartSpec {
    /// As `--start` reads it back: `gaussian:WIDTH` or `blob:X,Y,...:STD`, every number in its
    /// shortest exact form.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            StartSpec::Gaussian { width } => write!(f, "gaussian:{width}"),
            StartSpec::Blob { centre, std } => {
                let centre: Vec<String> = centre.iter().map(f64::to_string).collect();
                write!(f, "blob:{}:{std}", centre.join(","))
            }
        }
    }
}

impl StartSpec {
    /// Checks the numbers.
    pub fn check(&self) -> Result<()> {
        match self {
            StartSpec::Gaussian { width } if !(width.is_finite() && *width > 0.0) => {
                bail!("the Gaussian start's width {width} must be finite and > 0")
            }
            StartSpec::Blob { centre, std } => {
                if !(std.is_finite() && *std >= 0.0) {
                    bail!("the blob's std {std} must be finite and >= 0");
                }
                if centre.is_empty() || centre.iter().any(|c| !c.is_finite()) {
                    bail!("the blob's centre {centre:?} must be finite numbers");
                }
                Ok(())
            }
            _ => Ok(()),
        }
    }

    /// `n` particles in data units (row-major, `dim` columns) for data of the given mean and scale.
    pub fn sample(
        &self,
        n: usize,
        dim: usize,
        mean: &[f64],
        scale: f64,
        seed: u64,
    ) -> Result<Vec<f64>> {
        let (centre, std) = match self {
            StartSpec::Gaussian { width } => {
                (mean.to_vec(), width * scale / (2.0 * dim as f64).sqrt())
            }
            StartSpec::Blob { centre, std } => {
                if centre.len() != dim {
                    bail!(
                        "the blob start's centre has {} coordinates but the data have dimension {dim}",
                        centre.len()
                    );
                }
                (centre.clone(), *std)
            }
        };
        Ok(gaussian_blob(n, &centre, std, seed))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn starts_parse_and_sample() {
        let g: StartSpec = "gaussian:2".parse().unwrap();
        assert_eq!(g, StartSpec::Gaussian { width: 2.0 });
        let b: StartSpec = "blob:1,2:0.5".parse().unwrap();
        assert_eq!(b.sample(3, 2, &[0.0, 0.0], 1.0, 0).unwrap().len(), 6);
        assert!(b.sample(3, 3, &[0.0; 3], 1.0, 0).is_err());
        assert!("gaussian:-1".parse::<StartSpec>().is_err());
        assert!("cloud".parse::<StartSpec>().is_err());
        for s in [g.clone(), b.clone(), "blob:-0.1,3e-7:0".parse().unwrap()] {
            assert_eq!(s.to_string().parse::<StartSpec>().unwrap(), s);
        }
        // The Gaussian's root-mean-square pairwise distance is `width` scales.
        let x = g.sample(4000, 8, &[0.0; 8], 3.0, 1).unwrap();
        let p: Vec<&[f64]> = x.chunks(8).collect();
        let msd = (0..2000)
            .map(|i| {
                p[2 * i]
                    .iter()
                    .zip(p[2 * i + 1])
                    .map(|(a, b)| (a - b) * (a - b))
                    .sum::<f64>()
            })
            .sum::<f64>()
            / 2000.0;
        assert!((msd.sqrt() - 6.0).abs() < 0.2, "{}", msd.sqrt());
    }
}
