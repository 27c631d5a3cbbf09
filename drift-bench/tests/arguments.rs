//! Arguments are checked before any computation, with errors that name the argument and its value
//! in a short form; CSV inputs are read strictly (a header must look like one or be declared).

mod common;

use common::*;
use std::path::Path;

/// Writes X and Y as small CSV files in `dir`, Y with the given text.
fn csv_inputs(dir: &Path, y: &str) {
    std::fs::write(dir.join("x.csv"), "0,0\n1,0\n0,1\n").unwrap();
    std::fs::write(dir.join("y.csv"), y).unwrap();
}

#[test]
fn a_negative_weight_reaches_the_range_check() {
    let dir = scratch("negative-weight");
    csv_inputs(&dir, "2,2\n3,2\n");
    let op = plugins().join("one_sided.ron");
    let (x, y) = (dir.join("x.csv"), dir.join("y.csv"));
    let stderr = fails(&apply_args(&op, &x, &y, &["--negative-weight", "-1"]));
    assert!(
        stderr.contains("--negative-weight -1: must be finite and >= 0"),
        "{stderr}"
    );
    let stderr = fails(&apply_args(&op, &x, &y, &["--negative-weight", "-1e308"]));
    assert!(stderr.contains("--negative-weight -1e308:"), "{stderr}");
    assert!(stderr.len() < 120, "{stderr}");
}

#[test]
fn demo_options_are_checked_before_any_flow() {
    let base = ["--steps", "1", "--particles", "8", "--data", "8"];
    for (arg, value) in [
        ("--sinkhorn-tol", "NaN"),
        ("--sinkhorn-tol", "-1e-300"),
        ("--eta", "-1e300"),
        ("--eta", "inf"),
    ] {
        let out = run(&[&["demo"], &base[..], &[arg, value]].concat());
        let (stdout, stderr) = text(&out);
        assert_eq!(
            out.status.code(),
            Some(1),
            "{arg} {value}: {stdout}{stderr}"
        );
        assert!(
            stdout.is_empty(),
            "{arg} {value}: ran before failing:\n{stdout}"
        );
        assert!(stderr.contains(&format!("{arg} {value}:")), "{stderr}");
        assert!(stderr.len() < 120, "{stderr}");
    }
    let stderr = fails(&["demo", "--particles", "1"]);
    assert!(stderr.contains("--particles 1:"), "{stderr}");
}

#[test]
fn a_csv_header_must_look_like_one_or_be_declared() {
    let dir = scratch("csv-header");
    let op = plugins().join("one_sided.ron");
    let (x, y) = (dir.join("x.csv"), dir.join("y.csv"));

    // One non-numeric cell is a bad value, not a header.
    csv_inputs(&dir, "NA,1\n2,2\n3,2\n");
    let stderr = fails(&apply_args(&op, &x, &y, &[]));
    assert!(
        stderr.contains(&format!("--y {}:1:1: field 1: \"NA\"", y.display())),
        "{stderr}"
    );
    csv_inputs(&dir, "1,1\n2,2x\n");
    let stderr = fails(&apply_args(&op, &x, &y, &[]));
    assert!(
        stderr.contains(&format!("--y {}:2:3: field 2: \"2x\"", y.display())),
        "{stderr}"
    );

    // A header whose cells are all non-numeric is recognised; a declared one is skipped.
    csv_inputs(&dir, "a,b\n2,2\n3,2\n");
    assert!(ok(&apply_args(&op, &x, &y, &[])).contains("Y 2 x 2"));
    csv_inputs(&dir, "a,1\n2,2\n3,2\n");
    std::fs::write(&x, "x0,x1\n0,0\n1,0\n0,1\n").unwrap();
    assert!(ok(&apply_args(&op, &x, &y, &["--header"])).contains("X 3 x 2, Y 2 x 2"));

    // A byte-order mark is not part of the first cell.
    std::fs::write(&x, "\u{feff}0,0\n1,0\n0,1\n").unwrap();
    csv_inputs(&dir, "\u{feff}1,1\n2,2\n3,2\n");
    std::fs::write(&x, "\u{feff}0,0\n1,0\n0,1\n").unwrap();
    assert!(ok(&apply_args(&op, &x, &y, &[])).contains("X 3 x 2, Y 3 x 2"));
}

#[test]
fn the_pair_cache_budget_is_a_number_of_mib() {
    for value in ["-1", "NaN", "inf", "lots"] {
        let arg = format!("--pair-cache-mb={value}");
        let out = run(&["list", &arg]);
        let (_, stderr) = text(&out);
        assert_eq!(out.status.code(), Some(2), "{value}: {stderr}");
        assert!(
            stderr.contains(&format!("'{value}' for '--pair-cache-mb <MB>'"))
                && stderr.contains("expected a number of MiB >= 0"),
            "{stderr}"
        );
    }
    let out = run(&["list", "--pair-cache-mb", "0"]);
    assert!(out.status.success(), "{}", text(&out).1);
}

#[test]
fn asking_for_the_gpu_without_one_is_an_error_before_any_work() {
    let dir = scratch("no-gpu");
    csv_inputs(&dir, "2,2\n3,2\n");
    let op = plugins().join("one_sided.ron");
    let (x, y) = (dir.join("x.csv"), dir.join("y.csv"));
    let stderr = fails(&apply_args(&op, &x, &y, &["--backend", "cuda"]));
    assert!(stderr.contains("no device:"), "{stderr}");
    let out = dir.join("report");
    let report = out.to_str().unwrap();
    let stderr = fails(&[
        "compare",
        "--quiet",
        "--out",
        report,
        "-o",
        "one_sided",
        "-d",
        "eight_gaussians",
        "-t",
        "1",
        "--steps",
        "2",
        "--backend",
        "cuda",
    ]);
    assert!(stderr.contains("no device:"), "{stderr}");
    assert!(
        !out.exists(),
        "no report folder for a sweep that cannot run"
    );
}
