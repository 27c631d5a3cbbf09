//! The engine every kernel drift of the project runs on, public so that a plugin's operator is made
//! of the same pieces as the built-ins:
//!
//! * a [`Term`] (kernel, coupling, temperature, displacement) is evaluated over column blocks by
//!   [`evaluate_term`] into row masses, log-densities and displacements ([`TermOutput`]);
//! * a [`drift_api::Weighting`] combines the attraction and repulsion sides into the field
//!   ([`add_weighted_difference`]), which [`add_field`] adds into the output with its finiteness
//!   check and drift norm `λ`;
//! * [`cross_minus_self`] (the attraction over `Y`, the repulsion over `X`) and [`joint`] (one
//!   coupling over `[Y; X]`) run a whole operator, with the context's temperature factor applied,
//!   guidance negatives joined to the repulsion, and the precision guard ([`run_guarded`]);
//! * [`drift`] and [`drift_with`] run an operator and return its field (through
//!   [`drift_api::apply_drift`], the one way an operator runs); a composition runs its children
//!   the same way and checks them with [`validate_children`].
//!
//! A new cross-minus-self operator is a call of [`cross_minus_self`] with its own terms and
//! weighting:
//!
//! ```
//! use drift_api::{DriftProblem, DriftReport, PointCloud, Real, Result};
//! use drift_ops::engine::{cross_minus_self, TermRef};
//! use drift_ops::{Gaussian, MassProduct, RowNormalised, Sinkhorn};
//!
//! /// A Sinkhorn attraction minus a row-softmax repulsion, weighted by the mass product.
//! fn my_drift<T: Real>(p: DriftProblem<'_, T>) -> Result<DriftReport> {
//!     let sinkhorn = Sinkhorn::new(100, 1e-9);
//!     let attraction = TermRef::mean(&Gaussian, &sinkhorn, 0.5);
//!     let repulsion = TermRef::mean(&Gaussian, &RowNormalised, 0.5);
//!     cross_minus_self(p, "doc.mine", attraction, repulsion, true, &MassProduct)
//! }
//!
//! let x = PointCloud::new("x", vec![0.0f64, 0.3, 0.6], 1).unwrap();
//! let y = PointCloud::new("y", vec![2.0f64, 2.5], 1).unwrap();
//! let mut v = vec![0.0; 3];
//! let context = drift_api::Context::default();
//! let report = my_drift(DriftProblem {
//!     backend: &drift_ops::CpuBackend, x: &x, y: &y, context: &context, out: &mut v, scale: 1.0,
//!     negatives: None,
//! }).unwrap();
//! assert!(v.iter().all(|vi| *vi > 0.0));
//! assert_eq!(report.couplings[0].term, "attraction");
//! ```

mod field;
mod negatives;
mod origin;
mod precision;
mod run;
mod sides;
mod term;

pub use crate::compositions::accumulate::validate_children;
pub use crate::operators::cross_minus_self::{cross_minus_self, require_pairs};
pub use crate::operators::joint::joint;
pub use field::add_field;
pub use negatives::NegativeColumns;
pub use origin::data_origin;
pub use precision::{run_guarded, Engine};
pub use run::{drift, drift_with};
pub use sides::{add_weighted_difference, Side};
pub use term::{evaluate_term, DisplacementKind, Term, TermOutput, TermProblem, TermRef};
