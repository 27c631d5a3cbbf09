//! A rank's share of a batch of problems (or of the points of Y split by columns): contiguous,
//! balanced ranges ([`share`]) and the inputs cut to them ([`slice_inputs`]).

use crate::apply::Inputs;
use crate::array::{Array, LengthMismatch, Shape, Values};
use std::ops::Range;

/// The problems of rank `rank` of `ranks` in a batch of `problems`: contiguous ranges in rank
/// order, covering `0..problems`, whose sizes differ by at most one.
///
/// ```
/// use drift_bench::mpi::share;
/// let parts: Vec<_> = (0..4).map(|r| share(10, r, 4)).collect();
/// assert_eq!(parts, [0..2, 2..5, 5..7, 7..10]);
/// ```
pub fn share(problems: usize, rank: usize, ranks: usize) -> Range<usize> {
    // u128: problems * rank cannot overflow.
    let at = |r: usize| (problems as u128 * r as u128 / ranks.max(1) as u128) as usize;
    at(rank)..at(rank + 1)
}

/// The rows `range` of the leading dimension of a batch input (points `(B, n, D)` or weights
/// `(B, n)`); any other shape is returned as it is (the shape checks refuse it before).
pub fn slice_array(array: &Array, range: &Range<usize>) -> Result<Array, LengthMismatch> {
    match array.shape() {
        Shape::Vector(_) => Ok(array.clone()),
        _ => slice_rows(array, range),
    }
}

/// The rows `range` of the leading dimension of any array: points `(N, D)`, weights `(N,)`,
/// problems of a batch.
pub(crate) fn slice_rows(array: &Array, range: &Range<usize>) -> Result<Array, LengthMismatch> {
    let (shape, per) = match array.shape() {
        Shape::Batch(_, n, d) => (Shape::Batch(range.len(), n, d), n * d),
        Shape::Matrix(_, n) => (Shape::Matrix(range.len(), n), n),
        Shape::Vector(_) => (Shape::Vector(range.len()), 1),
    };
    let values = match array.values() {
        Values::F32(v) => Values::F32(v[range.start * per..range.end * per].to_vec()),
        Values::F64(v) => Values::F64(v[range.start * per..range.end * per].to_vec()),
    };
    Array::new(shape, values)
}

/// Every input cut to the problems `range`.
pub(crate) fn slice_inputs(
    inputs: &Inputs,
    range: &Range<usize>,
) -> Result<Inputs, LengthMismatch> {
    let cut = |a: &Option<Array>| a.as_ref().map(|a| slice_array(a, range)).transpose();
    Ok(Inputs {
        x: slice_array(&inputs.x, range)?,
        y: slice_array(&inputs.y, range)?,
        x_weights: cut(&inputs.x_weights)?,
        y_weights: cut(&inputs.y_weights)?,
        negatives: cut(&inputs.negatives)?,
        negative_weights: cut(&inputs.negative_weights)?,
    })
}
