//! Issue 26, item 5: sizes a user gives that no buffer can hold are typed errors naming the
//! setting and the size, before any run, never a "capacity overflow" panic or an abort; an
//! endless operator file is refused after a bounded read.

mod common;

use common::*;

/// `compare -o one_sided -d DATA --quiet --out OUT` then `extra`: must fail with status 1 and an
/// error holding every `want`, writing no report folder.
fn refused(name: &str, data: &str, extra: &[&str], want: &[&str]) {
    let dir = scratch(name);
    let out = dir.join("report");
    let mut args = vec![
        "compare",
        "-o",
        "one_sided",
        "-d",
        data,
        "--quiet",
        "--out",
        s(&out),
    ];
    args.extend_from_slice(extra);
    let stderr = fails(&args);
    for w in want {
        assert!(stderr.contains(w), "{w:?} not in {stderr}");
    }
    assert!(!out.exists(), "nothing written");
}

const MAX: &str = "18446744073709551615";

#[test]
fn huge_points_particles_and_batch_are_refused_by_name() {
    refused(
        "points",
        "eight_gaussians",
        &["--points", MAX],
        &["--points", MAX],
    );
    refused(
        "particles",
        "eight_gaussians",
        &["--particles", MAX],
        &["--particles", MAX],
    );
    refused(
        "particles-1e11",
        "eight_gaussians",
        &["--particles", "100000000000"],
        &["--particles", "100000000000"],
    );
    refused(
        "batch",
        "eight_gaussians",
        &["--mode", "train", "--batch", MAX],
        &["--batch", MAX],
    );
    refused(
        "hidden",
        "eight_gaussians",
        &["--mode", "train", "--hidden", "10000000000"],
        &["--hidden", "10000000000"],
    );
}

#[test]
fn a_huge_mixture_dimension_is_refused_before_any_run() {
    refused(
        "mixture",
        "mixture:100000000:2",
        &[],
        &["--points", "100000000", "too large"],
    );
}

#[cfg(unix)]
#[test]
fn validate_stops_reading_an_endless_file() {
    let output = run(&["validate", "/dev/zero"]);
    let (_, stderr) = text(&output);
    assert_eq!(output.status.code(), Some(1), "{stderr}");
    assert!(stderr.contains("/dev/zero"), "{stderr}");
    assert!(stderr.contains("longer than 64 MiB"), "{stderr}");
}
