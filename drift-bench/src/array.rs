//! A dense array of one or two dimensions in `f32` or `f64`: what `.npy` and `.csv` files hold.

use drift_api::{Precision, Real};
use std::fmt;

/// The shape of an [`Array`]: a vector `(n,)`, a row-major matrix `(rows, cols)`, or a batch of
/// matrices `(problems, rows, cols)` (one point set per problem).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Shape {
    /// `(n,)`: as a point set, `n` points of dimension 1.
    Vector(usize),
    /// `(rows, cols)`, row-major.
    Matrix(usize, usize),
    /// `(problems, rows, cols)`, row-major: a batch of point sets of `rows` points each.
    Batch(usize, usize, usize),
}

impl Shape {
    /// Number of values the shape holds, `None` on overflow.
    pub fn count(&self) -> Option<usize> {
        match *self {
            Shape::Vector(n) => Some(n),
            Shape::Matrix(r, c) => r.checked_mul(c),
            Shape::Batch(b, r, c) => b.checked_mul(r)?.checked_mul(c),
        }
    }
    /// Number of rows (points; over every problem of a batch).
    pub fn rows(&self) -> usize {
        match *self {
            Shape::Vector(n) | Shape::Matrix(n, _) => n,
            Shape::Batch(b, n, _) => b * n,
        }
    }
    /// Number of columns (coordinates); 1 for a vector.
    pub fn cols(&self) -> usize {
        match *self {
            Shape::Vector(_) => 1,
            Shape::Matrix(_, c) | Shape::Batch(_, _, c) => c,
        }
    }
}

impl fmt::Display for Shape {
    /// Python's tuple notation, as in a `.npy` header: `(3,)`, `(3, 2)`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Shape::Vector(n) => write!(f, "({n},)"),
            Shape::Matrix(r, c) => write!(f, "({r}, {c})"),
            Shape::Batch(b, r, c) => write!(f, "({b}, {r}, {c})"),
        }
    }
}

/// The values of an array in the precision they are stored in.
#[derive(Clone, Debug, PartialEq)]
pub enum Values {
    /// Single precision (`<f4`).
    F32(Vec<f32>),
    /// Double precision (`<f8`).
    F64(Vec<f64>),
}

impl Values {
    /// Number of values.
    pub fn len(&self) -> usize {
        match self {
            Values::F32(v) => v.len(),
            Values::F64(v) => v.len(),
        }
    }
    /// Whether there are no values.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
    /// The precision of the values.
    pub fn precision(&self) -> Precision {
        match self {
            Values::F32(_) => Precision::F32,
            Values::F64(_) => Precision::F64,
        }
    }
    /// The values converted to `T`, as [`Values::to_real`], with the memory of the converted copy
    /// asked for first: an error instead of an abort when it cannot be had (an f32 file promoted
    /// to f64 needs twice its memory again).
    ///
    /// ```
    /// use drift_bench::array::Values;
    /// let v = Values::F32(vec![0.1, 2.0]);
    /// assert_eq!(v.try_to_real::<f64>().unwrap(), vec![f64::from(0.1f32), 2.0]);
    /// ```
    pub fn try_to_real<T: Real>(&self) -> Result<Vec<T>, OutOfMemory> {
        let mut out = reserve_values::<T>(self.len())?;
        match self {
            Values::F32(v) => out.extend(v.iter().map(|c| T::of(f64::from(*c)))),
            Values::F64(v) => out.extend(v.iter().map(|c| T::of(*c))),
        }
        Ok(out)
    }
    /// The values converted to `T`: exact when widening, rounded to nearest when narrowing.
    /// Aborts when the copy's memory cannot be had: [`Values::try_to_real`] says so instead.
    pub fn to_real<T: Real>(&self) -> Vec<T> {
        match self {
            Values::F32(v) => v.iter().map(|c| T::of(f64::from(*c))).collect(),
            Values::F64(v) => v.iter().map(|c| T::of(*c)).collect(),
        }
    }
    /// Wraps values of a run-time chosen precision without changing them.
    pub fn from_real<T: Real>(v: &[T]) -> Self {
        match T::PRECISION {
            // `as f32` of an f32 widened to f64 is the identity.
            Precision::F32 => Values::F32(v.iter().map(|c| c.as_f64() as f32).collect()),
            Precision::F64 => Values::F64(v.iter().map(|c| c.as_f64()).collect()),
        }
    }
}

/// An empty vector with room for `n` values of `T`, or [`OutOfMemory`] when that memory cannot be
/// had (or its size overflows).
///
/// ```
/// use drift_bench::array::reserve_values;
/// assert!(reserve_values::<f64>(4).unwrap().capacity() >= 4);
/// assert!(reserve_values::<f64>(usize::MAX / 4).is_err());
/// ```
pub fn reserve_values<T>(n: usize) -> Result<Vec<T>, OutOfMemory> {
    let mut v = Vec::new();
    v.try_reserve_exact(n).map_err(|_| OutOfMemory {
        values: n,
        value_bytes: std::mem::size_of::<T>(),
    })?;
    Ok(v)
}

/// Memory for a converted copy of an array's values could not be had.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct OutOfMemory {
    /// Values asked for.
    pub values: usize,
    /// Bytes per value.
    pub value_bytes: usize,
}

impl fmt::Display for OutOfMemory {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let bytes = self.values as f64 * self.value_bytes as f64;
        write!(
            f,
            "cannot allocate {:.3} GB for a copy of {} values of {} bytes (out of memory; use a \
             smaller file, or the file's own precision)",
            bytes / 1e9,
            self.values,
            self.value_bytes
        )
    }
}

impl std::error::Error for OutOfMemory {}

/// The number of values does not match the shape.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LengthMismatch {
    /// The shape.
    pub shape: Shape,
    /// The number of values given.
    pub found: usize,
}

impl fmt::Display for LengthMismatch {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "shape {} does not hold {} values",
            self.shape, self.found
        )
    }
}

impl std::error::Error for LengthMismatch {}

/// A row-major array whose shape matches its number of values.
///
/// ```
/// use drift_bench::array::{Array, Shape, Values};
/// let a = Array::new(Shape::Matrix(2, 2), Values::F32(vec![1.0, 2.0, 3.0, 4.0])).unwrap();
/// assert_eq!(a.row(1), vec![3.0, 4.0]);
/// assert!(Array::new(Shape::Vector(3), Values::F64(vec![1.0])).is_err());
/// ```
#[derive(Clone, Debug, PartialEq)]
pub struct Array {
    shape: Shape,
    values: Values,
}

impl Array {
    /// An array of the given shape; errors unless the shape holds exactly `values.len()` values.
    pub fn new(shape: Shape, values: Values) -> Result<Self, LengthMismatch> {
        if shape.count() != Some(values.len()) {
            return Err(LengthMismatch {
                shape,
                found: values.len(),
            });
        }
        Ok(Array { shape, values })
    }
    /// Its shape.
    pub fn shape(&self) -> Shape {
        self.shape
    }
    /// Its values, row-major.
    pub fn values(&self) -> &Values {
        &self.values
    }
    /// Consumes the array, returning its values.
    pub fn into_values(self) -> Values {
        self.values
    }
    /// Row `i` converted to `f64` (for printing).
    pub fn row(&self, i: usize) -> Vec<f64> {
        let c = self.shape.cols();
        match &self.values {
            Values::F32(v) => v[i * c..(i + 1) * c]
                .iter()
                .map(|x| f64::from(*x))
                .collect(),
            Values::F64(v) => v[i * c..(i + 1) * c].to_vec(),
        }
    }
}
