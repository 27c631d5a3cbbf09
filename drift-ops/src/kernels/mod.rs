//! Built-in radial kernels. Each is a plain struct implementing [`drift_api::Kernel`], exactly as a
//! user kernel would be.

mod gaussian;
mod inverse_multiquadric;
mod laplace;
mod log_distance;

pub use gaussian::Gaussian;
pub use inverse_multiquadric::InverseMultiquadric;
pub use laplace::Laplace;
pub use log_distance::LogDistance;
