//! Point sets: `n` points of dimension `d`, row-major, with optional per-point weights.

use crate::error::{DriftError, Result};
use crate::real::{ByPrecision, PerPrecision, Real, Tagged};

/// A validated set of `n` points in `d` dimensions, stored row-major, with optional non-negative weights.
///
/// Construction checks the shape, that every coordinate is finite, and that weights are finite,
/// non-negative and not all zero, so the numerical code never sees bad input. Weights are relative
/// masses: [`PointCloud::log_weights`] normalises them to sum to one (uniform `1/n` when absent).
/// Zero weights are valid: such a point carries no mass (no other point's field depends on it, so
/// removing it leaves every other field unchanged) but still gets a field of its own, the limit of
/// its field as its weight goes to zero.
///
/// ```
/// use drift_api::PointCloud;
/// let p = PointCloud::new("x", vec![0.0f64, 0.0, 1.0, 2.0], 2).unwrap();
/// assert_eq!((p.len(), p.dim()), (2, 2));
/// assert_eq!(p.point(1), &[1.0, 2.0]);
/// assert!(PointCloud::new("x", vec![0.0f64, f64::NAN], 2).is_err());
/// ```
#[derive(Clone, Debug, PartialEq)]
pub struct PointCloud<T> {
    name: String,
    data: Vec<T>,
    dim: usize,
    weights: Option<Vec<T>>,
}

impl<T: Real> PointCloud<T> {
    /// Builds an unweighted point set from row-major coordinates; `name` is used in error messages.
    pub fn new(name: impl Into<String>, data: Vec<T>, dim: usize) -> Result<Self> {
        let name = name.into();
        if dim == 0 || data.is_empty() {
            return Err(DriftError::EmptyPointSet {
                what: name,
                points: data.len().checked_div(dim).unwrap_or(0),
                dim,
            });
        }
        if !data.len().is_multiple_of(dim) {
            return Err(DriftError::ShapeMismatch {
                what: name,
                expected: (data.len() / dim + 1) * dim,
                found: data.len(),
            });
        }
        if let Some(k) = data.iter().position(|v| !v.is_finite()) {
            return Err(DriftError::NonFiniteCoordinate {
                what: name,
                point: k / dim,
                coord: k % dim,
                value: data[k].as_f64(),
            });
        }
        Ok(PointCloud {
            name,
            data,
            dim,
            weights: None,
        })
    }

    /// Attaches per-point weights (relative masses, normalised internally).
    pub fn with_weights(mut self, weights: Vec<T>) -> Result<Self> {
        if weights.len() != self.len() {
            return Err(DriftError::ShapeMismatch {
                what: format!("{}.weights", self.name),
                expected: self.len(),
                found: weights.len(),
            });
        }
        if let Some(k) = weights
            .iter()
            .position(|w| !w.is_finite() || *w < T::zero())
        {
            return Err(DriftError::InvalidWeight {
                what: self.name.clone(),
                point: k,
                value: weights[k].as_f64(),
            });
        }
        let total: f64 = weights.iter().map(|w| w.as_f64()).sum();
        if total <= 0.0 || !total.is_finite() {
            return Err(DriftError::ZeroTotalWeight {
                what: self.name.clone(),
            });
        }
        self.weights = Some(weights);
        Ok(self)
    }

    /// Name used in error messages.
    pub fn name(&self) -> &str {
        &self.name
    }
    /// Number of points.
    pub fn len(&self) -> usize {
        self.data.len() / self.dim
    }
    /// Always false: empty sets are rejected at construction.
    pub fn is_empty(&self) -> bool {
        self.data.is_empty()
    }
    /// Dimension of the points.
    pub fn dim(&self) -> usize {
        self.dim
    }
    /// All coordinates, row-major.
    pub fn data(&self) -> &[T] {
        &self.data
    }
    /// Coordinates of point `i`.
    pub fn point(&self, i: usize) -> &[T] {
        &self.data[i * self.dim..(i + 1) * self.dim]
    }
    /// The raw weights, if any were given.
    pub fn weights(&self) -> Option<&[T]> {
        self.weights.as_deref()
    }
    /// Whether the points carry explicit weights.
    pub fn is_weighted(&self) -> bool {
        self.weights.is_some()
    }
    /// Whether point `i` carries mass: its weight is positive (always true when unweighted).
    ///
    /// A zero-weight point is valid: it influences no other point, but still gets a field.
    pub fn has_mass(&self, i: usize) -> bool {
        self.weights.as_ref().is_none_or(|w| w[i] > T::zero())
    }
    /// The number of points that carry mass (positive weight): the sample size wherever an operator
    /// counts points (relative masses, joint shares, guidance weights), so that adding zero-weight
    /// points changes nothing for the others. Equals [`PointCloud::len`] without zero weights.
    ///
    /// ```
    /// use drift_api::PointCloud;
    /// let p = PointCloud::new("x", vec![0.0f64, 1.0, 2.0], 1).unwrap();
    /// assert_eq!(p.support_len(), 3);
    /// let p = p.with_weights(vec![0.0, 2.0, 0.0]).unwrap();
    /// assert_eq!((p.len(), p.support_len()), (3, 1));
    /// assert!(p.has_mass(1) && !p.has_mass(0));
    /// ```
    pub fn support_len(&self) -> usize {
        match &self.weights {
            None => self.len(),
            Some(w) => w.iter().filter(|v| **v > T::zero()).count(),
        }
    }
    /// Normalised log-weights `log a_i` (summing to one in probability space); `-inf` for zero weights.
    pub fn log_weights(&self) -> Vec<T> {
        let n = self.len();
        match &self.weights {
            None => vec![T::of(-(n as f64).ln()); n],
            Some(w) => {
                let total: f64 = w.iter().map(|v| v.as_f64()).sum();
                w.iter().map(|v| T::of((v.as_f64() / total).ln())).collect()
            }
        }
    }
    /// Normalised weights `a_i`, summing to one.
    pub fn probabilities(&self) -> Vec<T> {
        self.log_weights().into_iter().map(|l| l.exp()).collect()
    }
    /// A copy with every coordinate mapped through `f` (weights kept). Fails if `f` produces non-finite values.
    pub fn map_coords(&self, f: impl Fn(usize, T) -> T) -> Result<Self> {
        let data = self
            .data
            .iter()
            .enumerate()
            .map(|(k, v)| f(k % self.dim, *v))
            .collect();
        let mut out = PointCloud::new(self.name.clone(), data, self.dim)?;
        out.weights = self.weights.clone();
        Ok(out)
    }
    /// Errors unless `other` has the same dimension.
    pub fn check_same_dim(&self, other: &Self) -> Result<()> {
        if self.dim == other.dim {
            Ok(())
        } else {
            Err(DriftError::DimensionMismatch {
                left: self.name.clone(),
                left_dim: self.dim,
                right: other.name.clone(),
                right_dim: other.dim,
            })
        }
    }
    /// Consumes the set, returning its coordinates.
    pub fn into_data(self) -> Vec<T> {
        self.data
    }
}

/// The kind of [`PointCloud`]s, for [`Points`].
#[derive(Debug)]
pub struct Clouds;

impl PerPrecision for Clouds {
    type Of<T: Real> = PointCloud<T>;
}

impl<T: Real> Tagged<T> for PointCloud<T> {
    type Kind = Clouds;
}

/// A point set whose precision is chosen at run time (for example from the dtype of a `.npy` file).
pub type Points = ByPrecision<Clouds>;

impl Points {
    /// Number of points.
    pub fn len(&self) -> usize {
        match self {
            ByPrecision::F32(p) => p.len(),
            ByPrecision::F64(p) => p.len(),
        }
    }
    /// Always false: empty sets are rejected at construction.
    pub fn is_empty(&self) -> bool {
        false
    }
    /// Dimension.
    pub fn dim(&self) -> usize {
        match self {
            ByPrecision::F32(p) => p.dim(),
            ByPrecision::F64(p) => p.dim(),
        }
    }
}

impl<T: Real> From<PointCloud<T>> for Points {
    fn from(p: PointCloud<T>) -> Self {
        p.tagged()
    }
}
