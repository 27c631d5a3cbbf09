//! The metrics that the figures plot against temperature, with how to read each from a run.

use crate::compare::record::RunMetrics;

/// One plotted metric.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Metric {
    /// Part of the file name (`w2_sq`, `modes_covered`, ...).
    pub id: &'static str,
    /// The axis label.
    pub label: &'static str,
    /// The value of a run, `None` where it does not apply.
    pub value: fn(&RunMetrics) -> Option<f64>,
    /// The largest possible value, where there is one (number of modes or classes, 1 for a
    /// fraction); the axis then spans 0 to it.
    pub ceiling: fn(&RunMetrics) -> Option<f64>,
    /// Whether a logarithmic axis suits it when its values span orders of magnitude.
    pub log_ok: bool,
    /// Whether its values are counts (its axis then has whole-number ticks only).
    pub integer: bool,
}

fn none(_: &RunMetrics) -> Option<f64> {
    None
}

/// The plotted metrics, in the order the report shows them.
pub(crate) const PLOTTED: [Metric; 9] = [
    Metric {
        id: "w2_sq",
        label: "W2² (exact assignment)",
        value: |m| m.w2_sq,
        ceiling: none,
        log_ok: true,
        integer: false,
    },
    Metric {
        id: "sliced_w2",
        label: "sliced W2",
        value: |m| m.sliced_w2,
        ceiling: none,
        log_ok: true,
        integer: false,
    },
    Metric {
        id: "mmd_sq",
        label: "MMD² (Gaussian kernel)",
        value: |m| m.mmd_sq,
        ceiling: none,
        log_ok: true,
        integer: false,
    },
    Metric {
        id: "energy",
        label: "energy distance",
        value: |m| m.energy,
        ceiling: none,
        log_ok: true,
        integer: false,
    },
    Metric {
        id: "modes_covered",
        label: "modes covered",
        value: |m| m.modes_covered.map(|k| k as f64),
        ceiling: |m| m.modes_total.map(|k| k as f64),
        log_ok: false,
        integer: true,
    },
    Metric {
        id: "mode_mass_error",
        label: "mode mass error (total variation)",
        value: |m| m.mode_mass_error,
        ceiling: none,
        log_ok: false,
        integer: false,
    },
    Metric {
        id: "classes_covered",
        label: "classes covered",
        value: |m| m.classes_covered.map(|k| k as f64),
        ceiling: |m| m.classes_total.map(|k| k as f64),
        log_ok: false,
        integer: true,
    },
    Metric {
        id: "accuracy",
        label: "class accuracy",
        value: |m| m.accuracy,
        ceiling: |m| m.accuracy.map(|_| 1.0),
        log_ok: false,
        integer: false,
    },
    Metric {
        id: "ms_per_step",
        label: "ms per step",
        value: |m| m.ms_per_step,
        ceiling: none,
        log_ok: true,
        integer: false,
    },
];
