//! The kernel trait: a radial log-weight `ℓ(x, y) = log k(x, y)` evaluated a tile at a time.

use crate::error::Result;
use crate::real::{ByPrecision, Real, Tagged};

/// A radial kernel, given by its log-weight as a function of the squared distance and the temperature.
///
/// The backend computes squared distances for a tile of pairs and calls [`Kernel::log_weight_f64`] (or
/// the `f32` variant) once per tile, so there is no virtual call per pair. The kernel is never
/// exponentiated by the caller: every reduction works in the log domain, which keeps very low
/// temperatures finite.
///
/// Implement only [`Kernel::log_weight_f64`]; the `f32` variant defaults to it through a conversion,
/// override it when speed in single precision matters. Register the type with `typetag` under a
/// prefixed snake_case name so that RON files can name it.
///
/// ```
/// use drift_api::Kernel;
/// use serde::{Deserialize, Serialize};
///
/// /// Cauchy kernel `k = 1 / (1 + d²/τ)`.
/// #[derive(Debug, Clone, Serialize, Deserialize)]
/// struct Cauchy;
///
/// #[typetag::serde(name = "doc.cauchy")]
/// impl Kernel for Cauchy {
///     fn log_weight_f64(&self, sq_dist: &mut [f64], tau: f64) {
///         for v in sq_dist.iter_mut() {
///             *v = -(*v / tau).ln_1p();
///         }
///     }
/// }
///
/// let mut tile = [0.0f32, 1.0, 4.0];
/// Cauchy.log_weight_f32(&mut tile, 1.0);
/// assert_eq!(tile[0], 0.0);
/// assert!((tile[1] + 2f32.ln()).abs() < 1e-6);
/// // The temperature at which a pair at distance 1 gets log-weight -1 (e - 1 for this kernel).
/// assert!((Cauchy.temperature_scale(1.0) - 1.0 / (1f64.exp() - 1.0)).abs() < 1e-9);
/// ```
#[typetag::serde]
pub trait Kernel: Send + Sync + std::fmt::Debug {
    /// Replaces every squared distance in `sq_dist` by the log-weight `ℓ` at temperature `tau`.
    fn log_weight_f64(&self, sq_dist: &mut [f64], tau: f64);

    /// Single-precision variant of [`Kernel::log_weight_f64`]; by default computed in `f64`.
    fn log_weight_f32(&self, sq_dist: &mut [f32], tau: f32) {
        let mut buf = [0.0f64; 64];
        for chunk in sq_dist.chunks_mut(64) {
            let b = &mut buf[..chunk.len()];
            for (d, s) in b.iter_mut().zip(chunk.iter()) {
                *d = *s as f64;
            }
            self.log_weight_f64(b, tau as f64);
            for (s, d) in chunk.iter_mut().zip(b.iter()) {
                *s = *d as f32;
            }
        }
    }

    /// The temperature at which two points at `distance` get log-weight `-1`: the natural temperature
    /// unit of the kernel at that length scale (`d` for Laplace, `d²` for Gaussian). Used to start
    /// ε-scaling at the diameter of the data. The default finds it by bisection on `log_weight_f64`.
    fn temperature_scale(&self, distance: f64) -> f64 {
        let at = |tau: f64| {
            let mut v = [distance * distance];
            self.log_weight_f64(&mut v, tau);
            v[0]
        };
        // log-weights rise towards 0 as tau grows: bracket, then bisect in log space.
        let (mut lo, mut hi) = (1e-12f64, 1.0f64);
        while at(hi) < -1.0 && hi < 1e12 {
            hi *= 10.0;
        }
        for _ in 0..200 {
            let mid = (lo * hi).sqrt();
            if at(mid) < -1.0 {
                lo = mid;
            } else {
                hi = mid;
            }
        }
        (lo * hi).sqrt()
    }

    /// Whether the log-weight never increases with the distance, as for every similarity kernel
    /// (Gaussian, Laplace, inverse multiquadric). Then the log-weight at the smallest distance
    /// between two boxes of points bounds every pair between them, and a backend may skip the pairs
    /// of tiles whose bound shows they cannot change a sum at its precision. The default, `false`,
    /// computes every pair; a kernel that answers `true` without being so gets wrong sums.
    fn decreases_with_distance(&self) -> bool {
        false
    }

    /// Checks the kernel's own parameters; called once before use.
    fn validate(&self) -> Result<()> {
        Ok(())
    }

    /// An optional CUDA C expression of the log-weight in the variables `d2` (squared distance) and
    /// `tau`, so that GPU backends can fuse the kernel; `None` keeps the kernel CPU-only.
    fn cuda_log_weight(&self) -> Option<String> {
        None
    }
}

impl<'k> dyn Kernel + 'k {
    /// [`Kernel::log_weight_f32`] or [`Kernel::log_weight_f64`], whichever `T` is: the call generic
    /// code makes.
    #[inline]
    pub fn log_weight<T: Real>(&self, sq_dist: &mut [T], tau: T) {
        match (Tile { sq_dist, tau }).tagged() {
            ByPrecision::F32(t) => self.log_weight_f32(t.sq_dist, t.tau),
            ByPrecision::F64(t) => self.log_weight_f64(t.sq_dist, t.tau),
        }
    }
}

/// The arguments of one log-weight call.
struct Tile<'a, T> {
    sq_dist: &'a mut [T],
    tau: T,
}

crate::per_precision!(
    /// The kind of [`Tile`]s.
    Tiles = Tile
);

/// Implements [`Kernel::log_weight_f64`] and [`Kernel::log_weight_f32`] inside a `Kernel` impl by
/// forwarding both to one method generic over the precision, `fn NAME<T: Real>(&self, sq_dist: &mut
/// [T], tau: T)`: a kernel written once, at full speed in both precisions (with
/// [`crate::math`] for its `exp`, `ln`, `sqrt` and `powf`).
///
/// ```
/// use drift_api::{Kernel, Real};
/// use serde::{Deserialize, Serialize};
///
/// /// `log k = −d⁴/τ²`.
/// #[derive(Debug, Serialize, Deserialize)]
/// struct Quartic;
///
/// impl Quartic {
///     fn log_weight<T: Real>(&self, sq_dist: &mut [T], tau: T) {
///         sq_dist.iter_mut().for_each(|v| *v = -(*v / tau) * (*v / tau));
///     }
/// }
///
/// #[typetag::serde(name = "doc.quartic")]
/// impl Kernel for Quartic {
///     drift_api::log_weight_in_both_precisions!(log_weight);
/// }
///
/// let mut d2 = [2.0f32];
/// Quartic.log_weight_f32(&mut d2, 1.0);
/// assert_eq!(d2[0], -4.0);
/// ```
#[macro_export]
macro_rules! log_weight_in_both_precisions {
    ($method:ident) => {
        fn log_weight_f64(&self, sq_dist: &mut [f64], tau: f64) {
            self.$method(sq_dist, tau)
        }
        fn log_weight_f32(&self, sq_dist: &mut [f32], tau: f32) {
            self.$method(sq_dist, tau)
        }
    };
}
