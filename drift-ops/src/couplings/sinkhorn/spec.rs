//! The schedule a [`Sinkhorn`] solver runs, and the RON form of the solver, which reads the
//! schedule's former spelling (`geomloss: bool`) too.

use super::{default_max_iters, default_tol, Sinkhorn};
use serde::{Deserialize, Serialize};

/// The loop a [`Sinkhorn`] solver runs.
///
/// ```
/// use drift_ops::{Schedule, Sinkhorn};
/// let new: Sinkhorn = ron::from_str("(schedule: GeomLoss, epsilon_scaling: Some(0.81))").unwrap();
/// let old: Sinkhorn = ron::from_str("(geomloss: true, epsilon_scaling: Some(0.81))").unwrap();
/// assert_eq!(new.schedule, Schedule::GeomLoss);
/// assert_eq!(new, old);
/// ```
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub enum Schedule {
    /// Iterate to `tol` (after the ε-scaling stages, if `epsilon_scaling` is set), at most
    /// `max_iters` times.
    #[default]
    Standard,
    /// GeomLoss' `sinkhorn_loop`: one averaged update per temperature of its fixed ε-scaling
    /// list, no tolerance loop (see [`Sinkhorn`]).
    GeomLoss,
}

/// The RON form of [`Sinkhorn`], which also reads the schedule's former spelling.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct SinkhornRon {
    #[serde(default = "default_max_iters")]
    max_iters: usize,
    #[serde(default = "default_tol")]
    tol: f64,
    #[serde(default)]
    epsilon_scaling: Option<f64>,
    #[serde(default)]
    warm_start: bool,
    #[serde(default, deserialize_with = "present")]
    schedule: Option<Schedule>,
    /// The former spelling of `schedule`: `true` is `GeomLoss`, `false` `Standard`.
    #[serde(default, deserialize_with = "present")]
    geomloss: Option<bool>,
}

/// A field that is present in the RON text (written without `Some`).
fn present<'de, D: serde::Deserializer<'de>, V: Deserialize<'de>>(
    d: D,
) -> Result<Option<V>, D::Error> {
    V::deserialize(d).map(Some)
}

impl TryFrom<SinkhornRon> for Sinkhorn {
    type Error = String;
    fn try_from(r: SinkhornRon) -> std::result::Result<Self, String> {
        let former = r.geomloss.map(|on| {
            if on {
                Schedule::GeomLoss
            } else {
                Schedule::Standard
            }
        });
        let schedule = match (r.schedule, former) {
            (Some(s), Some(f)) if s != f => {
                return Err(format!(
                    "sinkhorn: `schedule: {s:?}` and its former spelling `geomloss: {}` disagree",
                    f == Schedule::GeomLoss
                ))
            }
            (s, f) => s.or(f).unwrap_or_default(),
        };
        Ok(Sinkhorn {
            max_iters: r.max_iters,
            tol: r.tol,
            epsilon_scaling: r.epsilon_scaling,
            warm_start: r.warm_start,
            schedule,
            ..Sinkhorn::default()
        })
    }
}
