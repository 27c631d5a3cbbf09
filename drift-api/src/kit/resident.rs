//! Point sets a backend keeps on its device for the length of one drift evaluation.
//!
//! A drift evaluation runs many reductions over the same few point sets: a Sinkhorn drift prepares
//! `(X, Y)`, `(X, X)` and `(Y, Y)`, iterates on them and runs its displacement passes; a
//! composition or guidance runs several operators on `X`, `Y` and the negatives. A device backend
//! should move those points to its memory once. [`apply_drift`](crate::apply_drift) therefore opens
//! a *residency scope* over the problem's sets ([`Backend::keep_resident`]): the backend may copy
//! them once, and every reduction, preparation or sliced job inside the scope that names one of them
//! finds it there ([`ResidentMap::get`]). Sets made inside the evaluation (a rescaled or widened
//! copy) are registered by the scope of the evaluation that uses them. The CPU backend computes on
//! the host copies and keeps the default, which only runs the body.
//!
//! A set is recognised by the address, length and dimension of its coordinates. That is sound
//! because the scope borrows every set it registers until it returns: while an entry exists, its
//! memory can be neither freed nor changed, so no other set can have the same address and length.

use crate::error::{DriftError, Result};
use crate::kit::backend::Backend;
use crate::points::PointCloud;
use crate::real::{ByPrecision, PerPrecision, Real};
use std::sync::Mutex;

/// The kind of the point-set lists of a residency scope, for [`ResidentSets`].
#[derive(Debug)]
pub struct ResidentLists<'a>(std::marker::PhantomData<&'a ()>);

impl<'a> PerPrecision for ResidentLists<'a> {
    type Of<T: Real> = &'a [&'a PointCloud<T>];
}

/// The point sets of one drift evaluation, tagged with their precision, as the object-safe
/// [`Backend::keep_resident`] receives them.
pub type ResidentSets<'a> = ByPrecision<ResidentLists<'a>>;

/// The evaluation a residency scope runs ([`Backend::keep_resident`]).
pub type ResidentBody<'b> = dyn FnMut() -> Result<()> + 'b;

/// Runs `body` inside a residency scope of `backend` over `sets` and returns what it returns.
///
/// A backend that breaks the contract of [`Backend::keep_resident`] (never running the body, or
/// running it twice) gets an error naming it instead of a silently missing or repeated result.
///
/// ```
/// # use drift_api::{kit::resident::with_resident, PointCloud};
/// # #[derive(Debug)] struct Host;
/// # impl drift_api::kit::Backend for Host {
/// #   fn name(&self) -> &str { "host" }
/// #   fn row_reduce(&self, _: drift_api::kit::ReductionJob<'_>) -> drift_api::Result<()> { Ok(()) }
/// # }
/// let x = PointCloud::new("x", vec![0.0f32, 1.0], 1).unwrap();
/// let n = with_resident(&Host, &[&x], || Ok(x.len())).unwrap();
/// assert_eq!(n, 2);
/// ```
pub fn with_resident<T: Real, R>(
    backend: &dyn Backend,
    sets: &[&PointCloud<T>],
    body: impl FnOnce() -> Result<R>,
) -> Result<R> {
    let mut body = Some(body);
    let mut result = None;
    let broken = |how: &str| {
        DriftError::Custom(
            format!(
                "backend `{}` {how} the evaluation of its residency scope \
                 (`keep_resident` must run it once)",
                backend.name()
            )
            .into(),
        )
    };
    backend.keep_resident(T::tag::<ResidentLists<'_>>(sets), &mut || {
        let run = body.take().ok_or_else(|| broken("ran twice"))?;
        // The body's own error is returned as it is, after the scope has released its sets.
        result = Some(run());
        Ok(())
    })?;
    result.ok_or_else(|| broken("never ran"))?
}

/// What identifies a resident set: the address, length in bytes and dimension of its coordinates.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct SetKey {
    address: usize,
    bytes: usize,
    dim: usize,
}

impl SetKey {
    fn of<T: Real>(set: &PointCloud<T>) -> Self {
        let data = set.data();
        SetKey {
            address: data.as_ptr() as usize,
            bytes: std::mem::size_of_val(data),
            dim: set.dim(),
        }
    }
}

/// One resident set: its key, its device copy and how many open scopes hold it.
#[derive(Debug)]
struct Entry<V> {
    key: SetKey,
    holders: usize,
    value: V,
}

/// The bookkeeping of residency scopes for a backend: which sets are resident and their device
/// copies `V` (for CUDA, a shared device buffer). Scopes nest and may run on several threads; a set
/// registered by several open scopes is copied once and dropped when the last of them returns.
///
/// ```
/// use drift_api::{kit::resident::ResidentMap, PointCloud};
/// let map: ResidentMap<usize> = ResidentMap::new();
/// let x = PointCloud::new("x", vec![0.0f64, 1.0], 1).unwrap();
/// let mut copies = 0;
/// let inside = map
///     .scope(&[&x, &x], |s| { copies += 1; Ok(s.len()) }, || Ok(map.get(&x)))
///     .unwrap();
/// assert_eq!((inside, copies), (Some(2), 1));
/// assert_eq!(map.get(&x), None); // released when the scope returned
/// ```
#[derive(Debug)]
pub struct ResidentMap<V> {
    entries: Mutex<Vec<Entry<V>>>,
}

impl<V> Default for ResidentMap<V> {
    fn default() -> Self {
        ResidentMap {
            entries: Mutex::new(Vec::new()),
        }
    }
}

impl<V: Clone> ResidentMap<V> {
    /// An empty map.
    pub fn new() -> Self {
        Self::default()
    }

    /// Registers `sets` (copying each one not yet resident with `copy`), runs `body`, and releases
    /// them again, also when `copy` or `body` fails or panics.
    pub fn scope<T: Real, R>(
        &self,
        sets: &[&PointCloud<T>],
        mut copy: impl FnMut(&PointCloud<T>) -> Result<V>,
        body: impl FnOnce() -> Result<R>,
    ) -> Result<R> {
        let mut held = Held {
            map: self,
            keys: Vec::with_capacity(sets.len()),
        };
        for set in sets {
            let key = SetKey::of(set);
            if held.keys.contains(&key) {
                continue;
            }
            if !self.hold(key) {
                // Copied outside the lock: an upload takes time, and other threads' lookups go on.
                let value = copy(set)?;
                self.insert(key, value);
            }
            held.keys.push(key);
        }
        body()
    }

    /// The device copy of `set`, if an open scope holds it.
    pub fn get<T: Real>(&self, set: &PointCloud<T>) -> Option<V> {
        let key = SetKey::of(set);
        self.lock()
            .iter()
            .find(|e| e.key == key)
            .map(|e| e.value.clone())
    }

    /// How many sets are resident now.
    pub fn len(&self) -> usize {
        self.lock().len()
    }

    /// Whether no set is resident.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Vec<Entry<V>>> {
        self.entries.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Adds a holder to an existing entry; `false` when there is none.
    fn hold(&self, key: SetKey) -> bool {
        match self.lock().iter_mut().find(|e| e.key == key) {
            Some(e) => {
                e.holders += 1;
                true
            }
            None => false,
        }
    }

    /// Adds an entry with one holder, or a holder to the entry another thread added meanwhile
    /// (whose copy is then the one kept).
    fn insert(&self, key: SetKey, value: V) {
        let mut entries = self.lock();
        match entries.iter_mut().find(|e| e.key == key) {
            Some(e) => e.holders += 1,
            None => entries.push(Entry {
                key,
                holders: 1,
                value,
            }),
        }
    }
}

/// The keys one scope holds, released on drop (so on errors and unwinding too).
struct Held<'m, V> {
    map: &'m ResidentMap<V>,
    keys: Vec<SetKey>,
}

impl<V> Drop for Held<'_, V> {
    fn drop(&mut self) {
        let mut entries = self.map.entries.lock().unwrap_or_else(|p| p.into_inner());
        for key in &self.keys {
            if let Some(at) = entries.iter().position(|e| e.key == *key) {
                entries[at].holders -= 1;
                if entries[at].holders == 0 {
                    entries.swap_remove(at);
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cloud(name: &str, data: Vec<f64>) -> PointCloud<f64> {
        PointCloud::new(name, data, 1).unwrap()
    }

    #[test]
    fn nested_scopes_copy_a_set_once_and_release_it_with_the_last_holder() {
        let map: ResidentMap<String> = ResidentMap::new();
        let (x, y) = (cloud("x", vec![0.0, 1.0]), cloud("y", vec![2.0]));
        let mut copies = Vec::new();
        map.scope(
            &[&x, &y],
            |s| {
                copies.push(s.name().to_string());
                Ok(s.name().to_string())
            },
            || {
                let mut inner_copies = 0;
                let z = cloud("z", vec![3.0]);
                map.scope(
                    &[&y, &z],
                    |s| {
                        inner_copies += 1;
                        Ok(s.name().to_string())
                    },
                    || {
                        assert_eq!(map.len(), 3);
                        Ok(())
                    },
                )?;
                // Only z was new to the inner scope, and only z left with it.
                assert_eq!(inner_copies, 1);
                assert_eq!(map.get(&y).as_deref(), Some("y"));
                assert_eq!(map.get(&z), None);
                assert_eq!(map.len(), 2);
                Ok(())
            },
        )
        .unwrap();
        assert_eq!(copies, ["x", "y"]);
        assert!(map.is_empty());
    }

    #[test]
    fn a_set_is_known_by_its_own_memory_not_by_equal_values() {
        let map: ResidentMap<()> = ResidentMap::new();
        let (x, twin) = (cloud("x", vec![0.0, 1.0]), cloud("twin", vec![0.0, 1.0]));
        let wider = PointCloud::new("x2", x.data().to_vec(), 2).unwrap();
        map.scope(
            &[&x],
            |_| Ok(()),
            || {
                assert!(map.get(&x).is_some());
                assert!(map.get(&twin).is_none());
                assert!(map.get(&wider).is_none());
                Ok(())
            },
        )
        .unwrap();
    }

    #[test]
    fn failures_and_panics_release_what_the_scope_held() {
        let map: ResidentMap<()> = ResidentMap::new();
        let (x, y) = (cloud("x", vec![0.0]), cloud("y", vec![1.0]));
        // The copy of the second set fails: the first is released, the body never runs.
        let err = map
            .scope(
                &[&x, &y],
                |s| match s.name() {
                    "y" => Err(DriftError::Custom("upload failed".into())),
                    _ => Ok(()),
                },
                || -> Result<()> { panic!("the body must not run") },
            )
            .unwrap_err();
        assert!(err.to_string().contains("upload failed"), "{err}");
        assert!(map.is_empty());
        let body_error = map.scope(
            &[&x],
            |_| Ok(()),
            || -> Result<()> { Err(DriftError::Custom("body failed".into())) },
        );
        assert!(body_error.is_err());
        assert!(map.is_empty());
        let unwound = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            map.scope(&[&x, &y], |_| Ok(()), || -> Result<()> { panic!("inside") })
        }));
        assert!(unwound.is_err());
        assert!(map.is_empty());
    }

    #[test]
    fn scopes_on_several_threads_share_entries() {
        let map: ResidentMap<usize> = ResidentMap::new();
        let x = cloud("x", vec![0.0; 64]);
        let copies = std::sync::atomic::AtomicUsize::new(0);
        std::thread::scope(|s| {
            for _ in 0..4 {
                s.spawn(|| {
                    for _ in 0..200 {
                        map.scope(
                            &[&x],
                            |c| {
                                copies.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                                Ok(c.len())
                            },
                            || {
                                assert_eq!(map.get(&x), Some(64));
                                Ok(())
                            },
                        )
                        .unwrap();
                    }
                });
            }
        });
        assert!(map.is_empty());
        assert!(copies.into_inner() >= 1);
    }

    #[derive(Debug)]
    struct Contract(usize);
    impl Backend for Contract {
        fn name(&self) -> &str {
            "contract"
        }
        fn row_reduce(&self, _: crate::kit::ReductionJob<'_>) -> Result<()> {
            Ok(())
        }
        fn keep_resident(&self, _: ResidentSets<'_>, body: &mut ResidentBody<'_>) -> Result<()> {
            (0..self.0).try_for_each(|_| body())
        }
    }

    #[test]
    fn a_backend_that_skips_or_repeats_the_body_is_named() {
        let x = cloud("x", vec![0.0]);
        assert_eq!(with_resident(&Contract(1), &[&x], || Ok(7)).unwrap(), 7);
        for (runs, how) in [(0, "never ran"), (2, "ran twice")] {
            let err = with_resident(&Contract(runs), &[&x], || Ok(7)).unwrap_err();
            let msg = err.to_string();
            assert!(msg.contains("`contract`") && msg.contains(how), "{msg}");
        }
    }
}
