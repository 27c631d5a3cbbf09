//! Large buffers of the batched paths, kept per calling thread for its next call.
//!
//! A training loop evaluates the batched drift on arrays of one size at every step. A fresh
//! buffer of tens of megabytes costs a page fault and the kernel's zeroing of every page on first
//! touch (a tenth of a `32 × 64 × 2048` evaluation); the buffers given back here serve the next
//! call of the same thread instead. At most [`KEPT`] buffers and [`KEPT_BYTES`] are kept per
//! thread.

use drift_api::{Real, Result};
use std::any::Any;
use std::cell::RefCell;

/// Buffers kept per thread.
pub const KEPT: usize = 4;
/// Bytes kept per thread at most.
pub const KEPT_BYTES: usize = 1 << 30;

thread_local! {
    static POOL: RefCell<Vec<Box<dyn Any>>> = const { RefCell::new(Vec::new()) };
}

/// A buffer of `len` values: a kept one of this type if there is one (its values are stale: the
/// caller overwrites what it reads), otherwise a new one of zeros (an allocation failure is a
/// typed error naming `what`).
pub fn take<T: Real>(what: &str, len: usize) -> Result<Vec<T>> {
    // The smallest kept buffer that holds `len` values, else the largest (grown once).
    let kept = POOL.with(|p| {
        let mut pool = p.borrow_mut();
        let capacity = |b: &Box<dyn Any>| b.downcast_ref::<Vec<T>>().map(Vec::capacity);
        let fits = (0..pool.len())
            .filter(|&i| capacity(&pool[i]).is_some_and(|c| c >= len))
            .min_by_key(|&i| capacity(&pool[i]));
        let at = fits.or_else(|| {
            (0..pool.len())
                .filter(|&i| capacity(&pool[i]).is_some())
                .max_by_key(|&i| capacity(&pool[i]))
        })?;
        pool.swap_remove(at).downcast::<Vec<T>>().ok()
    });
    match kept {
        Some(mut v) => {
            v.resize(len, T::zero());
            Ok(*v)
        }
        None => drift_api::kit::try_vec(what, len, T::zero()),
    }
}

/// Keeps `buffer` for this thread's next [`take`], within the limits.
pub fn give_back<T: Real>(buffer: Vec<T>) {
    let bytes = buffer.capacity() * std::mem::size_of::<T>();
    if bytes > KEPT_BYTES {
        return;
    }
    POOL.with(|p| {
        let mut pool = p.borrow_mut();
        if pool.len() < KEPT {
            pool.push(Box::new(buffer));
        }
    });
}

/// Per-problem blocks of `len(b)` values laid end to end: their offsets (`problems + 1`, from 0)
/// and one buffer holding them all when it fits in `max_bytes` (`None` otherwise: the caller
/// recomputes a block where it needs it), so that distances computed in one pass serve the next.
pub fn kept_blocks<T: Real>(
    what: &str,
    problems: usize,
    len: impl Fn(usize) -> usize,
    max_bytes: usize,
) -> Result<(Vec<usize>, Option<Vec<T>>)> {
    let offsets: Vec<usize> = std::iter::once(0)
        .chain((0..problems).scan(0, |acc, b| {
            *acc += len(b);
            Some(*acc)
        }))
        .collect();
    let total = offsets[problems];
    let kept = if total.saturating_mul(std::mem::size_of::<T>()) <= max_bytes {
        Some(take(what, total)?)
    } else {
        None
    };
    Ok((offsets, kept))
}

/// Per-thread scratch kept between parallel splits and calls: rayon's `map_init` builds its
/// state once per split of the work (tens per pass), and a fresh scratch grows (and zeroes) every
/// buffer again; [`pooled`] hands out this thread's kept one instead.
pub struct Pooled<S: 'static> {
    inner: Option<S>,
}

thread_local! {
    static SCRATCH: RefCell<Vec<Box<dyn Any>>> = const { RefCell::new(Vec::new()) };
}

/// Scratch of type `S`: one this thread gave back, else a new one; it goes back to the thread
/// that drops it.
pub fn pooled<S: Default + 'static>() -> Pooled<S> {
    let kept = SCRATCH.with(|p| {
        let mut pool = p.borrow_mut();
        let at = pool.iter().position(|b| b.is::<S>())?;
        pool.swap_remove(at).downcast::<S>().ok()
    });
    Pooled {
        inner: Some(kept.map_or_else(S::default, |b| *b)),
    }
}

impl<S: 'static> std::ops::Deref for Pooled<S> {
    type Target = S;
    fn deref(&self) -> &S {
        self.inner.as_ref().expect("present until dropped")
    }
}

impl<S: 'static> std::ops::DerefMut for Pooled<S> {
    fn deref_mut(&mut self) -> &mut S {
        self.inner.as_mut().expect("present until dropped")
    }
}

impl<S: 'static> Drop for Pooled<S> {
    fn drop(&mut self) {
        if let Some(s) = self.inner.take() {
            // `try_with`: a scratch dropped while the thread exits is simply freed.
            let _ = SCRATCH.try_with(|p| {
                let mut pool = p.borrow_mut();
                if pool.len() < KEPT {
                    pool.push(Box::new(s));
                }
            });
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_buffer_given_back_serves_the_next_take_of_its_type() {
        let mut v = take::<f32>("t", 10).unwrap();
        v[3] = 7.0;
        let ptr = v.as_ptr();
        give_back(v);
        assert!(take::<f64>("t", 4).unwrap().iter().all(|x| *x == 0.0));
        let again = take::<f32>("t", 8).unwrap();
        assert_eq!((again.as_ptr(), again.len(), again[3]), (ptr, 8, 7.0));
    }

    #[test]
    fn a_pooled_scratch_dropped_serves_the_next_of_its_type() {
        let mut s = pooled::<Vec<u8>>();
        s.extend_from_slice(&[1, 2, 3]);
        let ptr = s.as_ptr();
        drop(s);
        assert!(pooled::<Vec<u16>>().is_empty());
        let again = pooled::<Vec<u8>>();
        assert_eq!((again.as_ptr(), again.as_slice()), (ptr, &[1u8, 2, 3][..]));
    }
}
