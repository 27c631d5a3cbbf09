//! A new row weighting: the repulsion gated by a ratio of density estimates.

use drift_api::RowSides;
use serde::{Deserialize, Serialize};

/// RON name `example.density_gate`: `α⁺ = 1` and `α⁻ = min(1, q̂(x)/p̂(x))`, with `q̂` and `p̂` the
/// kernel density estimates of the particles and of the data at the particle. Where the particles
/// crowd more than the data they repel each other fully; where they are sparser than the data the
/// repulsion fades, and the attraction alone fills the gap.
///
/// ```
/// use drift_api::{RowSide, RowSides, Weighting};
/// let side = |log_density: f64| RowSide { mass: 1.0, log_density };
/// let gate = drift_example_plugin::DensityGate;
/// let sparse = RowSides { attraction: side(-1.0), repulsion: side(-3.0) };
/// assert_eq!(gate.alphas_f64(sparse), (1.0, (-2.0f64).exp()));
/// let crowded = RowSides { attraction: side(-3.0), repulsion: side(-1.0) };
/// assert_eq!(gate.alphas_f64(crowded), (1.0, 1.0));
/// ```
#[derive(Clone, Copy, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DensityGate;

drift_api::weighting!(
    DensityGate = "example.density_gate",
    summary: "Repulsion gated by the density ratio min(1, q/p) (example plugin)",
    params: "",
    example: r#"()"#,
    impl {
        fn alphas_f64(&self, row: RowSides<f64>) -> (f64, f64) {
            let log_ratio = row.repulsion.log_density - row.attraction.log_density;
            (1.0, log_ratio.min(0.0).exp())
        }
        fn equal_sides(&self) -> bool {
            false
        }
        fn needs_densities(&self) -> bool {
            true
        }
    }
);
