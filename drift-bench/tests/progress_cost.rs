//! The progress bar's cost model: slower runs count more, and the units it hands out keep the
//! costs' ratios, total about what they promise and never overflow.

use drift_bench::compare::cost::{
    expected_iterations, step_cost, step_units, RunShape, RUN_OVERHEAD, STEP_OVERHEAD, TOTAL_UNITS,
};

/// Steps of the runs below, and the fixed cost of each of their steps.
const STEPS: usize = 40;
const FIXED: f64 = STEP_OVERHEAD + RUN_OVERHEAD / STEPS as f64;
use drift_bench::compare::{Mode, Study};
use drift_bench::generator::Features;

const KERNEL: &str = r#"{"one_sided": (temperature: 1.0, kernel: {"gaussian": ()})}"#;
const SINKHORN: &str =
    r#"{"sinkhorn_drift": (temperature: 1.0, sinkhorn: (max_iters: 100, tol: 0.001))}"#;
const SCALED: &str =
    r#"{"sinkhorn_divergence": (sinkhorn: (max_iters: 100, epsilon_scaling: Some(0.5)))}"#;

fn shape(ron: &str, temperature: f64) -> RunShape<'_> {
    RunShape {
        operator_ron: ron,
        temperature,
        data_points: 960,
        particles: 240,
        dim: 2,
        classes: 1,
    }
}

fn study() -> Study {
    Study::new(vec!["one_sided".into()], vec!["eight_gaussians".into()])
}

#[test]
fn sinkhorn_costs_more_at_low_temperature_and_kernels_do_not_depend_on_it() {
    let s = study();
    let cost = |ron, t| step_cost(&s, Mode::Flow, STEPS, &shape(ron, t));
    assert_eq!(cost(KERNEL, 0.005), cost(KERNEL, 1.0));
    assert!(cost(SINKHORN, 0.005) > cost(SINKHORN, 0.5));
    assert!(cost(SINKHORN, 0.5) > cost(SINKHORN, 1.0));
    assert!(cost(SINKHORN, 1.0) > cost(KERNEL, 1.0));
    // Below the temperature where the cap binds, the cap decides.
    assert_eq!(cost(SINKHORN, 0.01), cost(SINKHORN, 0.001));
    // ε-scaling runs its schedule at every temperature.
    assert_eq!(cost(SCALED, 0.005), cost(SCALED, 1.0));
    assert_eq!(expected_iterations(KERNEL, 0.1), 0.0);
    assert_eq!(expected_iterations(SINKHORN, 0.005), 100.0);
    assert_eq!(expected_iterations(SINKHORN, 1.0), 10.0);
    assert_eq!(expected_iterations(SINKHORN, 100.0), 3.0);
    assert_eq!(expected_iterations(SCALED, 0.005), 50.0);
    // The iterations weigh less against the kernel's pass in high dimension (measured: about 10
    // kernel steps in 2-D, about 3 in 64-D).
    let ratio = |dim| {
        let at = |ron| {
            step_cost(
                &s,
                Mode::Flow,
                STEPS,
                &RunShape {
                    dim,
                    ..shape(ron, 0.005)
                },
            ) - FIXED
        };
        at(SINKHORN) / at(KERNEL)
    };
    assert!(
        ratio(2) > 10.0 && ratio(64) < 4.0,
        "{} {}",
        ratio(2),
        ratio(64)
    );
}

#[test]
fn flow_cost_grows_with_points_squared_and_dimension() {
    let s = study();
    // The pairs' part, without the fixed cost of a step.
    let base = step_cost(&s, Mode::Flow, STEPS, &shape(KERNEL, 1.0)) - FIXED;
    let doubled = -FIXED
        + step_cost(
            &s,
            Mode::Flow,
            STEPS,
            &RunShape {
                data_points: 1920,
                particles: 480,
                ..shape(KERNEL, 1.0)
            },
        );
    assert!((doubled / base - 4.0).abs() < 1e-12, "{}", doubled / base);
    let wide = -FIXED
        + step_cost(
            &s,
            Mode::Flow,
            STEPS,
            &RunShape {
                dim: 64,
                ..shape(KERNEL, 1.0)
            },
        );
    assert!((wide / base - 72.0 / 10.0).abs() < 1e-12);
}

#[test]
fn a_digits_training_step_costs_more_than_a_mixture_flow_step_and_the_encoder_more_still() {
    let mut s = study();
    s.train.batch = 32;
    let digits = RunShape {
        data_points: 1437,
        particles: 360,
        dim: 64,
        classes: 10,
        ..shape(KERNEL, 1.0)
    };
    // The 2-D mixture's flows come first in the default grid, the digits' generators last.
    let flow = step_cost(&s, Mode::Flow, STEPS, &shape(KERNEL, 1.0));
    let raw = step_cost(&s, Mode::Train, 300, &digits);
    s.train.features = Features::Encoder;
    let encoder = step_cost(&s, Mode::Train, 300, &digits);
    // Measured: about 3 ms a step against 0.4 to 0.8 ms.
    assert!(raw > 4.0 * flow, "training {raw} against flow {flow}");
    assert!(encoder > 2.0 * raw);
    // A wider network costs more.
    s.train.hidden *= 2;
    assert!(step_cost(&s, Mode::Train, 300, &digits) > encoder);
}

#[test]
fn units_keep_the_ratios_and_total_what_they_promise() {
    let runs = [(1.0, 40), (3.0, 40), (10.0, 300)];
    let units = step_units(&runs);
    // Rounded to whole units: the ratios hold to a unit in about 3e5.
    assert!((units[1] as f64 / units[0] as f64 - 3.0).abs() < 1e-5);
    assert!((units[2] as f64 / units[0] as f64 - 10.0).abs() < 1e-5);
    let total: u64 = units.iter().zip(&runs).map(|(u, r)| u * r.1 as u64).sum();
    assert!((total as f64 / TOTAL_UNITS - 1.0).abs() < 1e-6, "{total}");
}

#[test]
fn units_survive_extreme_and_invalid_costs() {
    let runs = [
        (1e-300, 1),
        (1e300, 1_000_000),
        (f64::NAN, 10),
        (0.0, 10),
        (-1.0, 10),
        (f64::INFINITY, 10),
    ];
    let units = step_units(&runs);
    assert!(units.iter().all(|&u| u >= 1));
    // Invalid costs count as the cheapest run.
    assert_eq!(units[2], units[0]);
    assert_eq!(units[3], units[0]);
    let total = units.iter().zip(&runs).try_fold(0u64, |acc, (u, r)| {
        acc.checked_add(u.checked_mul(r.1 as u64)?)
    });
    assert!(total.is_some(), "the total overflows");
    assert!(step_units(&[]).is_empty());
}
