//! The matrices of dropped pair caches, kept for the next cache of the same length.
//!
//! A training loop evaluates a drift on batches of one size at every step, and every Sinkhorn
//! solve builds its pair caches afresh (the `N × M` distances and the scaled matrix of each pair
//! set). Fresh memory costs a page fault and the kernel's zeroing of every page on first touch:
//! about a tenth of a 4096 × 4096 Sinkhorn drift. A matrix given back here when its cache is
//! dropped serves the next request of the same length instead (within one drift too: the
//! repulsion's caches reuse the attraction's).
//!
//! Kept matrices keep their [`Reservation`]s, so cached and kept memory together stay within the
//! [`crate::pair_cache`] budget; a request that does not fit frees the kept ones first, and
//! [`crate::pair_cache::trim`] (or a new budget) frees them all.

use crate::pair_cache::{Budget, Reservation};
use drift_api::{Real, Result};
use std::any::Any;
use std::ops::{Deref, DerefMut};
use std::sync::{Mutex, MutexGuard};

/// At most this many matrices are kept (two pair sets' distances and scaled matrices).
const KEPT: usize = 4;

/// A kept matrix: a `Vec<f32>` or `Vec<f64>` of `len` values with its reservation.
struct Kept {
    values: Box<dyn Any + Send>,
    len: usize,
    /// Dropping it gives the bytes back to the budget.
    reservation: Reservation,
}

static KEPT_MATRICES: Mutex<Vec<Kept>> = Mutex::new(Vec::new());

fn kept() -> MutexGuard<'static, Vec<Kept>> {
    // A panic while the lock was held leaves a valid list: go on with it.
    KEPT_MATRICES
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// A matrix of a pair cache, with its budget reservation; given back to the pool when dropped.
#[derive(Debug)]
pub(crate) struct Matrix<T> {
    values: Vec<T>,
    reservation: Option<Reservation>,
    /// [`keep`] for `T` (a function pointer, so that the drop needs no bound on `T`).
    give_back: fn(Vec<T>, Reservation),
}

impl<T: Real> Matrix<T> {
    /// `len` values (unspecified: a kept matrix holds its last owner's values, so the caller must
    /// write every entry before reading it) and their reservation: a kept matrix of that length if
    /// there is one that `budget` allows, else fresh memory with the bytes `budget` grants, or `Ok(None)` if it grants
    /// none even once the kept matrices are freed.
    pub fn take(what: &str, len: usize, budget: Budget) -> Result<Option<Self>> {
        let reserve = |bytes| budget.reserve(bytes);
        let mut pool = kept();
        // A kept matrix's bytes are already counted: it serves a cache whose budget the process's
        // cached bytes are within (a budget of 0 never takes one).
        let found = pool
            .iter()
            .position(|k| k.len == len && k.values.is::<Vec<T>>())
            .filter(|_| budget.allows_kept() && budget != Budget::Limit(0));
        if let Some(k) = found.map(|i| pool.swap_remove(i)) {
            if let Ok(values) = k.values.downcast::<Vec<T>>() {
                return Ok(Some(Matrix {
                    values: *values,
                    reservation: Some(k.reservation),
                    give_back: keep::<T>,
                }));
            }
        }
        let Some(bytes) = len.checked_mul(std::mem::size_of::<T>()) else {
            return Ok(None);
        };
        let reservation = match reserve(bytes) {
            Some(r) => r,
            None if !pool.is_empty() => {
                pool.clear();
                match reserve(bytes) {
                    Some(r) => r,
                    None => return Ok(None),
                }
            }
            None => return Ok(None),
        };
        drop(pool);
        Ok(Some(Matrix {
            values: drift_api::kit::try_vec(what, len, T::zero())?,
            reservation: Some(reservation),
            give_back: keep::<T>,
        }))
    }
}

impl<T> Matrix<T> {
    /// The bytes reserved for the matrix.
    pub fn bytes(&self) -> usize {
        self.reservation.as_ref().map_or(0, Reservation::bytes)
    }
}

impl<T> Deref for Matrix<T> {
    type Target = [T];
    fn deref(&self) -> &[T] {
        &self.values
    }
}

impl<T> DerefMut for Matrix<T> {
    fn deref_mut(&mut self) -> &mut [T] {
        &mut self.values
    }
}

impl<T> Drop for Matrix<T> {
    fn drop(&mut self) {
        if let Some(reservation) = self.reservation.take() {
            (self.give_back)(std::mem::take(&mut self.values), reservation);
        }
    }
}

/// Keeps a dropped matrix for reuse (the oldest kept one makes room), unless caching is off.
fn keep<T: Real>(values: Vec<T>, reservation: Reservation) {
    if crate::pair_cache::budget() == 0 || values.is_empty() {
        return;
    }
    let mut pool = kept();
    if pool.len() >= KEPT {
        pool.remove(0);
    }
    pool.push(Kept {
        len: values.len(),
        values: Box::new(values),
        reservation,
    });
}

/// Frees every kept matrix.
pub(crate) fn release() {
    kept().clear();
}

/// Bytes held by kept matrices.
pub(crate) fn kept_bytes() -> usize {
    kept().iter().map(|k| k.reservation.bytes()).sum()
}
