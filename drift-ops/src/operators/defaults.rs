//! Serde defaults shared by the operator specs.

use crate::kernels::{Gaussian, Laplace};
use drift_api::Kernel;

pub(crate) fn laplace() -> Box<dyn Kernel> {
    Box::new(Laplace)
}
pub(crate) fn gaussian() -> Box<dyn Kernel> {
    Box::new(Gaussian)
}
pub(crate) fn yes() -> bool {
    true
}
