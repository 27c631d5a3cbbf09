//! A Matérn-3/2 kernel, written once over the precision with `drift_api::math`.

use drift_api::{math, Real};
use serde::{Deserialize, Serialize};

/// Matérn kernel of smoothness 3/2: `k(r) = (1 + s) e^{−s}` with `s = √3 r / τ` and `r = ‖x − y‖`, so
/// `log k = ln(1 + s) − s`. Between Laplace (smoothness 1/2) and the Gaussian (infinitely smooth):
/// once differentiable at `r = 0`, with exponential tails. RON name `example.matern32`:
/// `{"example.matern32": ()}`.
///
/// ```
/// use drift_api::Kernel;
/// let mut d2 = [0.0f64, 3.0];
/// drift_example_plugin::Matern32.log_weight_f64(&mut d2, 3.0); // s = √3 · √3 / 3 = 1 at d² = 3
/// assert_eq!(d2[0], 0.0);
/// assert!((d2[1] - (2f64.ln() - 1.0)).abs() < 1e-15);
/// ```
#[derive(Clone, Copy, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Matern32;

/// Distances per pass (the CPU backend's tile): `1 + s` is kept in a stack buffer this long, as `ln`
/// works in place and `s` is still needed after it.
const CHUNK: usize = 256;

impl Matern32 {
    /// `log k` for a tile of squared distances, in either precision.
    fn log_weight<T: Real>(&self, d2: &mut [T], tau: T) {
        let c = T::of(3f64.sqrt()) / tau;
        math::sqrt(d2);
        let mut one_plus_s = [T::zero(); CHUNK];
        for chunk in d2.chunks_mut(CHUNK) {
            let u = &mut one_plus_s[..chunk.len()];
            for (v, u) in chunk.iter_mut().zip(u.iter_mut()) {
                *v *= c;
                *u = T::one() + *v;
            }
            math::ln(u);
            for (v, ln_u) in chunk.iter_mut().zip(u.iter()) {
                // At an infinite distance ln(1 + s) − s is inf − inf; the weight is 0 there.
                *v = if *v == T::infinity() {
                    T::neg_infinity()
                } else {
                    *ln_u - *v
                };
            }
        }
    }
}

drift_api::kernel!(
    Matern32 = "example.matern32",
    summary: "Matern-3/2 kernel: log k = ln(1 + s) - s, s = sqrt(3) |x - y| / tau (example plugin)",
    params: "",
    example: r#"()"#,
    impl {
        drift_api::log_weight_in_both_precisions!(log_weight);

        /// `d/ds (ln(1 + s) − s) = −s/(1 + s) ≤ 0`: fused passes may skip far tiles.
        fn decreases_with_distance(&self) -> bool {
            true
        }

        fn cuda_log_weight(&self) -> Option<String> {
            Some("log1p(sqrt(3.0 * d2) / tau) - sqrt(3.0 * d2) / tau".into())
        }
    }
);
