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
    whole: Option<Whole>,
}

/// The whole set that a shard of it stands for ([`PointCloud::shard`]): its total weight (a
/// point without an explicit weight weighs 1, so an unweighted set of `M` points weighs `M`) and
/// its number of points of positive weight.
///
/// A process holding one shard of a data set split by columns knows its own part
/// ([`Whole::of_part`]); the sum of every process's part is the whole
/// (`drift_api::kit::ColumnSplit::whole` completes it through the processes' collective).
///
/// ```
/// use drift_api::kit::Whole;
/// let part = Whole::of_part(Some(&[0.5f64, 0.0, 2.0][..]), 3);
/// assert_eq!((part.weight, part.support), (2.5, 2));
/// assert_eq!(Whole::of_part::<f64>(None, 4), Whole { weight: 4.0, support: 4 });
/// ```
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Whole {
    /// The total weight of the whole set.
    pub weight: f64,
    /// Its number of points of positive weight.
    pub support: usize,
}

impl Whole {
    /// What `len` points with `weights` (1 each when absent) add to a whole.
    pub fn of_part<T: Real>(weights: Option<&[T]>, len: usize) -> Self {
        match weights {
            None => Whole {
                weight: len as f64,
                support: len,
            },
            Some(w) => Whole {
                weight: w.iter().map(|v| v.as_f64()).sum(),
                support: w.iter().filter(|v| **v > T::zero()).count(),
            },
        }
    }
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
            whole: None,
        })
    }

    /// One process's shard of a larger set (`Y` split by columns over processes): the points
    /// `data` (possibly none) with their `weights` (1 each when absent), standing for `whole`.
    /// Its [`log_weights`](PointCloud::log_weights), [`probabilities`](PointCloud::probabilities)
    /// and [`support_len`](PointCloud::support_len) answer for the whole set (a weight `w_j` is
    /// `w_j / whole.weight` of it), so that an operator normalising `Y`'s weights sees the
    /// weights of the whole problem; [`len`](PointCloud::len), [`data`](PointCloud::data) and
    /// [`weights`](PointCloud::weights) are the shard's own. Copies
    /// ([`map_coords`](PointCloud::map_coords), [`converted`](PointCloud::converted)) stay
    /// shards of the same whole. Only a backend that completes reductions over the processes
    /// (`drift_ops::ColumnShards`) runs a problem on a shard.
    ///
    /// ```
    /// use drift_api::{kit::Whole, PointCloud};
    /// // Points 2 and 3 of an unweighted set of 4.
    /// let y = PointCloud::shard("y", vec![2.0f64, 3.0], 1, None, Whole { weight: 4.0, support: 4 })
    ///     .unwrap();
    /// assert_eq!((y.len(), y.support_len()), (2, 4));
    /// assert_eq!(y.probabilities(), vec![0.25, 0.25]);
    /// // A process may hold no points at all.
    /// let none = PointCloud::<f64>::shard("y", vec![], 1, None, Whole { weight: 4.0, support: 4 });
    /// assert!(none.unwrap().is_empty());
    /// ```
    pub fn shard(
        name: impl Into<String>,
        data: Vec<T>,
        dim: usize,
        weights: Option<Vec<T>>,
        whole: Whole,
    ) -> Result<Self> {
        let name = name.into();
        if !(whole.weight.is_finite() && whole.weight > 0.0) {
            return Err(DriftError::ZeroTotalWeight { what: name });
        }
        // The checks of `new`, on the points with one placeholder point added when there are none.
        let placeholder = data.is_empty() && dim > 0;
        let mut checked = data;
        if placeholder {
            checked.resize(dim, T::zero());
        }
        let mut cloud = PointCloud::new(name, checked, dim)?;
        if placeholder {
            cloud.data.clear();
        }
        if let Some(w) = weights {
            cloud.check_weights(&w)?;
            cloud.weights = Some(w);
        }
        let part = Whole::of_part(cloud.weights(), cloud.len());
        if part.support > whole.support {
            return Err(DriftError::invalid(
                format!("{}.whole", cloud.name),
                format!(
                    "the shard has {} points of positive weight, its whole {}",
                    part.support, whole.support
                ),
            ));
        }
        cloud.whole = Some(whole);
        Ok(cloud)
    }

    /// The whole set this cloud is a shard of ([`PointCloud::shard`]), or `None` for a complete set.
    pub fn whole(&self) -> Option<Whole> {
        self.whole
    }

    /// Attaches per-point weights (relative masses, normalised internally).
    pub fn with_weights(mut self, weights: Vec<T>) -> Result<Self> {
        self.check_weights(&weights)?;
        let total: f64 = weights.iter().map(|w| w.as_f64()).sum();
        if self.whole.is_none() && (total <= 0.0 || !total.is_finite()) {
            return Err(DriftError::ZeroTotalWeight {
                what: self.name.clone(),
            });
        }
        self.weights = Some(weights);
        Ok(self)
    }

    /// One weight per point, each finite and non-negative.
    fn check_weights(&self, weights: &[T]) -> Result<()> {
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
        Ok(())
    }

    /// Name used in error messages.
    pub fn name(&self) -> &str {
        &self.name
    }
    /// Number of points.
    pub fn len(&self) -> usize {
        self.data.len() / self.dim
    }
    /// Whether the set has no points: only a [shard](PointCloud::shard) can (construction
    /// rejects empty sets).
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
        if let Some(whole) = self.whole {
            return whole.support;
        }
        match &self.weights {
            None => self.len(),
            Some(w) => w.iter().filter(|v| **v > T::zero()).count(),
        }
    }
    /// Normalised log-weights `log a_i` (summing to one in probability space); `-inf` for zero
    /// weights. A shard's are normalised over its whole set.
    pub fn log_weights(&self) -> Vec<T> {
        let n = self.len();
        let whole = self.whole.map(|w| w.weight);
        match &self.weights {
            None => vec![T::of(-whole.unwrap_or(n as f64).ln()); n],
            Some(w) => {
                let total: f64 = whole.unwrap_or_else(|| w.iter().map(|v| v.as_f64()).sum());
                w.iter().map(|v| T::of((v.as_f64() / total).ln())).collect()
            }
        }
    }
    /// Normalised weights `a_i`, summing to one.
    pub fn probabilities(&self) -> Vec<T> {
        self.log_weights().into_iter().map(|l| l.exp()).collect()
    }
    /// A copy with every coordinate mapped through `f` (weights, and the whole of a shard, kept).
    /// Fails if `f` produces non-finite values.
    pub fn map_coords(&self, f: impl Fn(usize, T) -> T) -> Result<Self> {
        let data = self
            .data
            .iter()
            .enumerate()
            .map(|(k, v)| f(k % self.dim, *v))
            .collect();
        self.with_data(data)
    }

    /// A copy in precision `U` (weights, and the whole of a shard, kept).
    ///
    /// ```
    /// let x = drift_api::PointCloud::new("x", vec![0.5f32, 1.0], 1).unwrap();
    /// assert_eq!(x.converted::<f64>().unwrap().data(), &[0.5, 1.0]);
    /// ```
    pub fn converted<U: Real>(&self) -> Result<PointCloud<U>> {
        let data = self.data.iter().map(|v| U::of(v.as_f64())).collect();
        let weights = self
            .weights
            .as_ref()
            .map(|w| w.iter().map(|v| U::of(v.as_f64())).collect());
        let mut out = PointCloud {
            name: self.name.clone(),
            data: Vec::new(),
            dim: self.dim,
            weights: None,
            whole: self.whole,
        }
        .with_data(data)?;
        out.weights = weights;
        Ok(out)
    }

    /// This set's name, dimension, weights and whole with other coordinates (checked as by `new`).
    fn with_data(&self, data: Vec<T>) -> Result<Self> {
        let mut out = match (self.whole, data.is_empty()) {
            (Some(whole), true) => {
                PointCloud::shard(self.name.clone(), data, self.dim, None, whole)?
            }
            _ => PointCloud::new(self.name.clone(), data, self.dim)?,
        };
        out.weights = self.weights.clone();
        out.whole = self.whole;
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
