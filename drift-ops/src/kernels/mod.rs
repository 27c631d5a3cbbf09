//! Built-in radial kernels. Each is a plain struct implementing [`drift_api::Kernel`], exactly as a
//! user kernel would be.

mod gaussian;
mod inverse_multiquadric;
mod laplace;

pub use gaussian::Gaussian;
pub use inverse_multiquadric::InverseMultiquadric;
pub use laplace::Laplace;
