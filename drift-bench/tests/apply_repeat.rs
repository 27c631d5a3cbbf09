//! `drift-bench apply --repeat K`: K evaluations timed alone, the same field as one evaluation.

mod common;

use common::*;
use drift_bench::apply::{self, ApplyArgs};
use drift_bench::array::{Shape, Values};
use drift_bench::gaussian_blob;

/// Two small point sets in `.npy` files and a Sinkhorn drift (a coupling with iterations, so that
/// a state left over from one evaluation would show in the next).
fn inputs(name: &str) -> (std::path::PathBuf, [std::path::PathBuf; 3]) {
    let dir = scratch(name);
    let (x, y, op) = (dir.join("x.npy"), dir.join("y.npy"), dir.join("op.ron"));
    write_npy::<f64>(
        &x,
        Shape::Matrix(12, 3),
        &gaussian_blob(12, &[0.0; 3], 1.0, 1),
    );
    write_npy::<f64>(
        &y,
        Shape::Matrix(9, 3),
        &gaussian_blob(9, &[0.5; 3], 1.0, 2),
    );
    std::fs::write(
        &op,
        r#"{"sinkhorn_drift": (temperature: 0.5, sinkhorn: (max_iters: 5, tol: 0.0))}"#,
    )
    .unwrap();
    (dir, [op, x, y])
}

fn values(path: &std::path::Path) -> Vec<f64> {
    match read_npy(path).into_values() {
        Values::F64(v) => v,
        Values::F32(v) => v.into_iter().map(f64::from).collect(),
    }
}

#[test]
fn repeat_times_every_evaluation_and_keeps_the_field() {
    let (dir, [op, x, y]) = inputs("repeat");
    let (once, many) = (dir.join("once.npy"), dir.join("many.npy"));
    let out = ok(&apply_args(&op, &x, &y, &["--out", s(&once)]));
    assert!(out.contains("elapsed "), "{out}");
    assert!(
        !out.contains("timing:"),
        "one evaluation prints no timing line:\n{out}"
    );

    let out = ok(&apply_args(
        &op,
        &x,
        &y,
        &["--out", s(&many), "--repeat", "4"],
    ));
    let line = out
        .lines()
        .find(|l| l.starts_with("timing: 4 evaluations, median "))
        .unwrap_or_else(|| panic!("no timing line in\n{out}"));
    // `timing: 4 evaluations, median M s, min m s` with 0 < m <= M.
    let numbers: Vec<f64> = line
        .split_whitespace()
        .filter_map(|w| w.parse().ok())
        .collect();
    assert_eq!(numbers.len(), 3, "{line}");
    let (median, min) = (numbers[1], numbers[2]);
    assert!(min > 0.0 && min <= median, "{line}");
    // Each evaluation starts from a zero field: accumulating would give 4 V.
    assert_eq!(values(&once), values(&many));
}

#[test]
fn repeat_is_documented_and_checked() {
    let help = ok(&["apply", "--help"]);
    assert!(help.contains("--repeat <K>"), "{help}");
    assert!(help.contains("median and minimum time"), "{help}");

    let (_, [op, x, y]) = inputs("repeat-bad");
    let out = run(&apply_args(&op, &x, &y, &["--repeat", "0"]));
    let (_, err) = text(&out);
    assert!(!out.status.success());
    assert!(
        err.contains("--repeat") && !err.contains("panicked"),
        "{err}"
    );

    // A program filling the fields gets the same check.
    let args = ApplyArgs {
        repeat: 0,
        ..ApplyArgs::new(op, x, y)
    };
    let e = apply::run(&args, &mut Vec::new(), &mut Vec::new()).unwrap_err();
    assert!(e.to_string().contains("--repeat"), "{e}");
}
