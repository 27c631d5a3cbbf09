//! Issue 26, tried as a hostile user would: studies merged into one row, repeated seeds and
//! temperatures, errors found late, silent header lines, BOMs, labels that break tables, a bad
//! environment variable, absurd `--jobs`, and temperature lists that hang the plots.

mod common;

use common::*;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// A command that must fail before any run: status 1, one `error:` line holding every `want`, and
/// no report folder `out`.
fn refused(args: &[&str], out: &Path, want: &[&str]) {
    let output = run(args);
    let (stdout, stderr) = text(&output);
    assert_eq!(
        output.status.code(),
        Some(1),
        "{args:?}:\n{stdout}\n{stderr}"
    );
    assert!(!stderr.contains("panicked"), "{stderr}");
    for w in want {
        assert!(stderr.contains(w), "{w:?} not in {stderr}");
    }
    assert!(!out.exists(), "nothing written");
}

/// `compare -o one_sided -d eight_gaussians` with a few short settings, then `extra`.
fn small<'a>(out: &'a str, extra: &[&'a str]) -> Vec<&'a str> {
    let mut args = vec![
        "compare",
        "-o",
        "one_sided",
        "-d",
        "eight_gaussians",
        "--points",
        "60",
        "--steps",
        "2",
        "--quiet",
        "--out",
        out,
    ];
    args.extend_from_slice(extra);
    args
}

/// The fields of `results.csv` in `dir`, by line (no field of these runs is quoted).
fn csv_column(dir: &Path, name: &str) -> Vec<String> {
    let text = std::fs::read_to_string(dir.join("results.csv")).unwrap();
    let header: Vec<&str> = text.lines().next().unwrap().split(',').collect();
    let j = header.iter().position(|h| *h == name).unwrap();
    text.lines()
        .skip(1)
        .filter(|l| l.starts_with("one_sided,"))
        .map(|l| l.split(',').nth(j).unwrap().to_string())
        .collect()
}

#[test]
fn studies_on_one_data_set_are_never_merged() {
    let dir = scratch("hostile-studies");
    let out = dir.join("rep");
    // Two studies that differ only in their flow steps, and a third in its data seed; the file
    // starts with a byte-order mark, as some editors write it.
    let sweep = dir.join("sweep.ron");
    let study = |steps: usize, extra: &str| {
        format!(
            r#"(operators: ["one_sided"], datasets: ["eight_gaussians"], temperatures: [0.5], points: 60, flow: (steps: {steps}){extra})"#
        )
    };
    std::fs::write(
        &sweep,
        format!(
            "\u{feff}(studies: [{}, {}, {}])",
            study(2, ""),
            study(6, ""),
            study(2, ", data_seed: 3")
        ),
    )
    .unwrap();
    let stdout = ok(&["compare", s(&sweep), "--quiet", "--out", s(&out)]);
    let rows: Vec<&str> = stdout
        .lines()
        .filter(|l| l.starts_with("| eight_gaussians"))
        .collect();
    assert_eq!(rows.len(), 3, "{stdout}");
    for r in &rows {
        assert!(r.contains("1 ok"), "one run per row: {stdout}");
    }
    assert!(stdout.contains("| study |"), "{stdout}");
    // The third study drew its data with another seed: another name.
    assert!(rows[2].starts_with("| eight_gaussians#2"), "{stdout}");
    assert_eq!(csv_column(&out, "study"), ["1", "2", "3"]);
    assert_eq!(csv_column(&out, "flow_steps"), ["2", "6", "2"]);
    assert_eq!(csv_column(&out, "data_seed"), ["0", "0", "3"]);
    // One figure per study, none shared.
    let md = std::fs::read_to_string(out.join("report.md")).unwrap();
    assert!(md.contains("## eight\\_gaussians · flow · study 1"), "{md}");
    assert!(md.contains("## eight\\_gaussians · flow · study 2"), "{md}");
    assert!(out
        .join("eight_gaussians_flow_study1_samples.png")
        .is_file());
    assert!(out
        .join("eight_gaussians_flow_study2_samples.png")
        .is_file());
}

#[test]
fn repeated_seeds_temperatures_and_data_sets_are_refused() {
    let dir = scratch("hostile-repeats");
    let out = dir.join("rep");
    let o = s(&out);
    refused(
        &small(o, &["--seeds", "0,0,0"]),
        &out,
        &["seed 0 is given twice"],
    );
    refused(
        &small(o, &["-t", "0.1,0.5,0.1"]),
        &out,
        &["temperature 0.1 is given twice"],
    );
    refused(
        &small(o, &["--mode", "flow,flow"]),
        &out,
        &["mode flow is given twice"],
    );
    refused(
        &[
            "compare",
            "-o",
            "one_sided",
            "-d",
            "spiral,spiral",
            "--quiet",
            "--out",
            o,
        ],
        &out,
        &["data set `spiral` is given twice"],
    );
}

#[test]
fn late_errors_come_before_the_first_run() {
    let dir = scratch("hostile-late");
    let out = dir.join("rep");
    // A 2-D blob start against a 3-D second data set: named, before any run.
    refused(
        &[
            "compare",
            "-o",
            "one_sided",
            "-d",
            "eight_gaussians,mixture:3:2",
            "--points",
            "60",
            "--start",
            "blob:0,0:0.1",
            "--quiet",
            "--out",
            s(&out),
        ],
        &out,
        &["data set `mixture:3:2` has dimension 3", "2 coordinates"],
    );
    // `annealed` with a floor of 0 fails validation, naming the parameter.
    let op = dir.join("annealed.ron");
    std::fs::write(
        &op,
        r#"{"annealed": (operator: {"one_sided": (temperature: 1.0)}, rate: 0.5, min_factor: 0.0)}"#,
    )
    .unwrap();
    let output = run(&["validate", s(&op)]);
    let (stdout, stderr) = text(&output);
    assert_eq!(output.status.code(), Some(1), "{stdout}\n{stderr}");
    let all = format!("{stdout}{stderr}");
    assert!(
        all.contains("annealed.min_factor") && all.contains("(0, 1]"),
        "{all}"
    );
}

#[test]
fn a_dropped_header_line_is_noted() {
    let dir = scratch("hostile-header");
    let out = dir.join("rep");
    let data = dir.join("pts.csv");
    let mut text = String::from("NA,NA\n");
    for i in 0..30 {
        let t = i as f64 * 0.41;
        text.push_str(&format!("{:.4},{:.4}\n", t.cos() * 1.1, t.sin()));
    }
    std::fs::write(&data, text).unwrap();
    let d = format!("file:{}", data.display());
    let stdout = ok(&[
        "compare",
        "-o",
        "one_sided",
        "-d",
        &d,
        "-t",
        "1",
        "--steps",
        "2",
        "--quiet",
        "--out",
        s(&out),
    ]);
    assert!(
        stdout.contains("note: ") && stdout.contains("the first line NA,NA holds no number"),
        "{stdout}"
    );
    let md = std::fs::read_to_string(out.join("report.md")).unwrap();
    assert!(
        md.contains("the first line `NA,NA` holds no number"),
        "{md}"
    );
}

#[test]
fn labels_with_pipes_or_line_breaks_keep_the_table_whole() {
    let dir = scratch("hostile-pipes");
    let out = dir.join("rep");
    let op = dir.join("a|b.ron");
    std::fs::write(&op, r#"{"one_sided": (temperature: 1.0)}"#).unwrap();
    let stdout = ok(&small(s(&out), &["-o", s(&op), "-t", "1"]));
    let table: Vec<&str> = stdout.lines().filter(|l| l.starts_with('|')).collect();
    assert!(table.iter().any(|l| l.contains("a\\|b")), "{stdout}");
    // Every line has as many cell separators (unescaped pipes) as the header.
    let separators = |l: &str| l.matches('|').count() - l.matches("\\|").count();
    assert!(
        table.iter().all(|l| separators(l) == separators(table[0])),
        "{stdout}"
    );
}

#[test]
fn an_invalid_pair_cache_variable_is_an_error() {
    let dir = scratch("hostile-env");
    let out = dir.join("rep");
    let output = Command::new(BIN)
        .args(small(s(&out), &[]))
        .env("DRIFT_PAIR_CACHE_MB", "lots")
        .output()
        .unwrap();
    let (_, stderr) = text(&output);
    assert_eq!(output.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains("DRIFT_PAIR_CACHE_MB=\"lots\" is not a number of MiB >= 0"),
        "{stderr}"
    );
    assert!(!out.exists());
    // `--pair-cache-mb` overrides it; a valid value runs.
    let output = Command::new(BIN)
        .args(small(s(&out), &["--pair-cache-mb", "16"]))
        .env("DRIFT_PAIR_CACHE_MB", "lots")
        .output()
        .unwrap();
    assert!(output.status.success(), "{:?}", text(&output));
    let output = Command::new(BIN)
        .args(small(s(&out), &[]))
        .env("DRIFT_PAIR_CACHE_MB", "64")
        .output()
        .unwrap();
    assert!(output.status.success(), "{:?}", text(&output));
}

#[test]
fn absurd_jobs_are_capped_and_said() {
    let dir = scratch("hostile-jobs");
    let out = dir.join("rep");
    let clock = Instant::now();
    let stdout = ok(&small(s(&out), &["-t", "0.5,1", "--jobs", "100000"]));
    assert!(clock.elapsed() < Duration::from_secs(60));
    assert!(
        stdout.contains("note: --jobs 100000: running") && stdout.contains("(2 runs"),
        "{stdout}"
    );
}

#[test]
fn temperatures_spanning_past_f64_do_not_hang_the_plots() {
    let dir = scratch("hostile-span");
    let out = dir.join("rep");
    let mut child = Command::new(BIN)
        .args(small(s(&out), &["-t", "1e-300,1,1e300"]))
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let clock = Instant::now();
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        if clock.elapsed() > Duration::from_secs(120) {
            let _ = child.kill();
            panic!("compare still running after 120 s");
        }
        std::thread::sleep(Duration::from_millis(100));
    };
    assert!(status.success());
    let md = std::fs::read_to_string(out.join("report.md")).unwrap();
    assert!(md.contains("eight_gaussians_flow_"), "{md}");
}
