//! The row weighting trait: how a cross-minus-self operator weighs its attraction against its
//! repulsion, per particle.

use crate::error::Result;
use crate::real::{ByPrecision, PerPrecision, Real, Tagged};

/// What a [`Weighting`] sees of one particle `x_i`: for each side of the field, the row mass of its
/// plan and, when the weighting asks for it ([`Weighting::needs_densities`]), the kernel density
/// estimate of that side's points at `x_i`.
///
/// The row mass `m_i` of a side is the plan's row sum in the unit its coupling declares
/// ([`crate::RowMasses`]): the share of the row that the side receives for row-normalising and
/// Sinkhorn couplings, the relative plan mass for the two-sided proxy, the kernel density for the
/// unnormalised coupling. `docs/MATH.md` tabulates what each means per coupling.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct RowSides<T> {
    /// The attraction side (the data `Y`).
    pub attraction: RowSide<T>,
    /// The repulsion side (the particles `X`, and guidance negatives when given).
    pub repulsion: RowSide<T>,
}

/// One side of [`RowSides`].
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct RowSide<T> {
    /// The row mass `m_i` of the side's plan.
    pub mass: T,
    /// `log Σ_j w_j k(x_i, y_j)`: the log kernel density estimate of the side's points (weights `w`
    /// summing to the side's share of the columns), at the term's temperature. NaN unless the
    /// weighting asked for densities.
    pub log_density: T,
}

/// Row weights `α⁺_i, α⁻_i` in `V_i = α⁺_i D⁺_i − α⁻_i D⁻_i`: how much of the attraction `D⁺` and of
/// the repulsion `D⁻` each particle feels. Built-ins: `unit`, `mass_product`, `masses`,
/// `f_divergence` (`drift-ops`); a plugin adds its own like a kernel, with `typetag` and
/// [`register!`](crate::register) under a prefixed name, and names it in RON as
/// `weighting: {"acme.gate": ()}`.
///
/// Implement [`Weighting::alphas_f64`]; the `f32` variant defaults to it through a conversion.
/// Say whether the two weights are always equal ([`Weighting::equal_sides`]): then the engine forms
/// the field as `α (B⁺ − B⁻)` from two barycentres, which keeps every digit for particles far from
/// the data.
///
/// ```
/// use drift_api::{RowSides, Weighting};
/// use serde::{Deserialize, Serialize};
///
/// /// Repulsion gated by the density ratio: `α⁺ = 1`, `α⁻ = min(1, p̂(x)/q̂(x))`.
/// #[derive(Debug, Serialize, Deserialize)]
/// struct Gate;
///
/// #[typetag::serde(name = "doc.gate")]
/// impl Weighting for Gate {
///     fn alphas_f64(&self, row: RowSides<f64>) -> (f64, f64) {
///         let log_ratio = row.attraction.log_density - row.repulsion.log_density;
///         (1.0, log_ratio.min(0.0).exp())
///     }
///     fn equal_sides(&self) -> bool { false }
///     fn needs_densities(&self) -> bool { true }
/// }
///
/// let side = |mass: f64, log_density: f64| drift_api::RowSide { mass, log_density };
/// let row = RowSides { attraction: side(1.0, -3.0), repulsion: side(1.0, -1.0) };
/// let (plus, minus) = Gate.alphas_f32(RowSides {
///     attraction: drift_api::RowSide { mass: 1.0f32, log_density: -3.0 },
///     repulsion: drift_api::RowSide { mass: 1.0f32, log_density: -1.0 },
/// });
/// assert_eq!(plus, 1.0);
/// assert!((minus - (-2.0f32).exp()).abs() < 1e-7);
/// assert_eq!(Gate.alphas_f64(row).0, 1.0);
/// ```
#[typetag::serde]
pub trait Weighting: Send + Sync + std::fmt::Debug {
    /// `(α⁺_i, α⁻_i)` for one particle.
    fn alphas_f64(&self, row: RowSides<f64>) -> (f64, f64);

    /// Single-precision variant of [`Weighting::alphas_f64`]; by default computed in `f64`.
    fn alphas_f32(&self, row: RowSides<f32>) -> (f32, f32) {
        let side = |s: RowSide<f32>| RowSide {
            mass: s.mass as f64,
            log_density: s.log_density as f64,
        };
        let (plus, minus) = self.alphas_f64(RowSides {
            attraction: side(row.attraction),
            repulsion: side(row.repulsion),
        });
        (plus as f32, minus as f32)
    }

    /// Whether `α⁺_i = α⁻_i` for every particle (default true). The engine then takes only `α⁺` and
    /// combines barycentres; an operator that returns different weights must say false.
    fn equal_sides(&self) -> bool {
        true
    }

    /// Whether [`RowSide::log_density`] is needed (default false). When a side's coupling weighs its
    /// columns by their weights alone (row-normalising and unnormalised couplings) the density comes
    /// free with the displacement pass; otherwise it costs one more pass over the side's pairs.
    fn needs_densities(&self) -> bool {
        false
    }

    /// Checks the weighting's own parameters; called once before use.
    fn validate(&self) -> Result<()> {
        Ok(())
    }
}

impl<'w> dyn Weighting + 'w {
    /// [`Weighting::alphas_f32`] or [`Weighting::alphas_f64`], whichever `T` is: the call generic
    /// code makes. (The answer is converted through `f64`, which is exact.)
    #[inline]
    pub fn alphas<T: Real>(&self, row: RowSides<T>) -> (T, T) {
        let (plus, minus) = match row.tagged() {
            ByPrecision::F32(row) => {
                let (p, m) = self.alphas_f32(row);
                (p as f64, m as f64)
            }
            ByPrecision::F64(row) => self.alphas_f64(row),
        };
        (T::of(plus), T::of(minus))
    }
}

/// The kind of [`RowSides`].
#[derive(Debug)]
pub struct RowSideKind;

impl PerPrecision for RowSideKind {
    type Of<T: Real> = RowSides<T>;
}

impl<T: Real> Tagged<T> for RowSides<T> {
    type Kind = RowSideKind;
}
