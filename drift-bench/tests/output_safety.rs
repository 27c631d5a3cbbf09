//! `apply` writes its output completely or not at all, never over one of its inputs unless told, and
//! checks the output's folder before computing; a closed standard output changes neither what is
//! written nor the exit status.

mod common;

use common::*;
use drift_bench::array::Shape;
use drift_bench::gaussian_blob;
use std::path::Path;
use std::process::{Command, Output, Stdio};

/// Runs the binary in `dir` with its standard output a pipe whose reading end is closed at once.
fn run_with_closed_stdout(dir: &Path, args: &[&str]) -> Output {
    let mut child = Command::new(BIN)
        .args(args)
        .current_dir(dir)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    drop(child.stdout.take());
    child.wait_with_output().unwrap()
}

/// X and Y as `.npy` files in `dir`, big enough that the operator runs for a moment.
fn inputs(dir: &Path) {
    let (n, d) = (300, 2);
    write_npy(
        &dir.join("x.npy"),
        Shape::Matrix(n, d),
        &gaussian_blob(n, &[0.0, 0.0], 0.5, 1),
    );
    write_npy(
        &dir.join("y.npy"),
        Shape::Matrix(n, d),
        &gaussian_blob(n, &[1.0, 1.0], 0.5, 2),
    );
}

/// The files of `dir`, sorted.
fn listing(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    names
}

#[test]
fn a_closed_stdout_neither_skips_the_output_nor_hides_a_failure() {
    let dir = scratch("closed-stdout");
    inputs(&dir);
    std::fs::write(dir.join("v.npy"), b"stale").unwrap();
    let op = plugins().join("one_sided.ron");
    let out = run_with_closed_stdout(
        &dir,
        &apply_args(&op, "x.npy".as_ref(), "y.npy".as_ref(), &["--out", "v.npy"]),
    );
    let (_, stderr) = text(&out);
    assert!(out.status.success(), "{stderr}");
    assert_eq!(read_npy(&dir.join("v.npy")).shape(), Shape::Matrix(300, 2));

    std::fs::write(dir.join("bad.ron"), "{\"one_sided\": (temperature: -1.0)}").unwrap();
    let out = run_with_closed_stdout(&dir, &["validate", "bad.ron", s(&op)]);
    let (_, stderr) = text(&out);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(stderr.contains("bad.ron:1:"), "{stderr}");
}

#[test]
fn an_output_equal_to_an_input_is_refused_unless_forced() {
    let dir = scratch("out-is-input");
    inputs(&dir);
    let op = plugins().join("one_sided.ron");
    let x_before = std::fs::read(dir.join("x.npy")).unwrap();
    std::fs::write(dir.join("w.npy"), b"").unwrap();
    for (out, arg) in [("./x.npy", "--x"), ("y.npy", "--y")] {
        let args = apply_args(&op, "x.npy".as_ref(), "y.npy".as_ref(), &["--out", out]);
        let res = Command::new(BIN)
            .args(&args)
            .current_dir(&dir)
            .output()
            .unwrap();
        let (_, stderr) = text(&res);
        assert_eq!(res.status.code(), Some(1), "{stderr}");
        assert!(stderr.contains(&format!("--out {out}")), "{stderr}");
        assert!(
            stderr.contains(arg) && stderr.contains("--force"),
            "{stderr}"
        );
    }
    assert_eq!(std::fs::read(dir.join("x.npy")).unwrap(), x_before);
    assert_eq!(listing(&dir), ["w.npy", "x.npy", "y.npy"]);

    // Forced, the input is replaced only once it has been read: the result is the field of the
    // original points.
    let res = Command::new(BIN)
        .args(apply_args(
            &op,
            "x.npy".as_ref(),
            "y.npy".as_ref(),
            &["--out", "x.npy", "--force"],
        ))
        .current_dir(&dir)
        .output()
        .unwrap();
    assert!(res.status.success(), "{}", text(&res).1);
    let v = read_npy(&dir.join("x.npy"));
    assert_eq!(v.shape(), Shape::Matrix(300, 2));
    assert_eq!(listing(&dir), ["w.npy", "x.npy", "y.npy"]);
}

#[test]
fn a_failed_apply_leaves_the_previous_output_and_no_temporary_file() {
    let dir = scratch("failed-apply");
    inputs(&dir);
    std::fs::write(dir.join("bad.npy"), b"\x93NUMPY truncated").unwrap();
    std::fs::write(dir.join("v.npy"), b"previous").unwrap();
    let op = plugins().join("one_sided.ron");
    let res = Command::new(BIN)
        .args(apply_args(
            &op,
            "bad.npy".as_ref(),
            "y.npy".as_ref(),
            &["--out", "v.npy"],
        ))
        .current_dir(&dir)
        .output()
        .unwrap();
    assert_eq!(res.status.code(), Some(1));
    assert_eq!(std::fs::read(dir.join("v.npy")).unwrap(), b"previous");
    assert_eq!(listing(&dir), ["bad.npy", "v.npy", "x.npy", "y.npy"]);
}

#[test]
fn a_missing_output_folder_is_reported_before_computing() {
    let dir = scratch("missing-folder");
    inputs(&dir);
    let op = plugins().join("one_sided.ron");
    let res = Command::new(BIN)
        .args(apply_args(
            &op,
            "x.npy".as_ref(),
            "y.npy".as_ref(),
            &["--out", "nodir/v.npy"],
        ))
        .current_dir(&dir)
        .output()
        .unwrap();
    let (stdout, stderr) = text(&res);
    assert_eq!(res.status.code(), Some(1), "{stderr}");
    assert!(stderr.contains("--out nodir/v.npy"), "{stderr}");
    // Nothing was computed: no diagnostics.
    assert!(stdout.is_empty(), "{stdout}");
    assert!(!dir.join("nodir").exists());
}
