//! Helpers of the MPI tests: `mpirun` (skipped where it is missing, outside CI), batch inputs,
//! and a job where one rank runs another command line.

// Each MPI test file uses a different subset of these helpers.
#![allow(dead_code)]

use crate::common::*;
use drift_bench::array::{Shape, Values};
use drift_bench::gaussian_blob;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

pub const RANKS: &str = "4";

/// True when `mpirun` runs; false (after saying so) when it is missing outside CI.
pub fn have_mpirun() -> bool {
    let found = Command::new("mpirun")
        .arg("--version")
        .output()
        .is_ok_and(|o| o.status.success());
    if !found {
        assert!(
            std::env::var("CI").as_deref() != Ok("true"),
            "CI=true but mpirun is missing: install openmpi-bin (.ci/mpi.sh does)"
        );
        eprintln!("skipping: mpirun not found (install openmpi-bin to run the MPI tests)");
    }
    found
}

/// `mpirun -np 4` on `program args`, as root too, with more ranks than cores allowed.
pub fn mpirun(program: &[&str], args: &[&str]) -> Output {
    Command::new("mpirun")
        .args(["--allow-run-as-root", "--oversubscribe", "-np", RANKS])
        .args(program)
        .args(args)
        // Four ranks share the machine's cores: one thread each keeps them from fighting.
        .env("RAYON_NUM_THREADS", "1")
        .output()
        .unwrap()
}

pub fn succeeded(out: &Output, what: &str) -> String {
    let (stdout, stderr) = text(out);
    assert!(out.status.success(), "{what} failed:\n{stdout}\n{stderr}");
    stdout
}

pub fn values(path: &Path) -> Vec<f64> {
    match read_npy(path).into_values() {
        Values::F64(v) => v,
        Values::F32(v) => v.into_iter().map(f64::from).collect(),
    }
}

/// `(b, n, 3)` blobs, one centre per problem, in f32 or f64.
pub fn batch_file(dir: &Path, name: &str, shape: (usize, usize), shift: f64, f32: bool) -> PathBuf {
    let (b, n) = shape;
    let mut data = Vec::new();
    for q in 0..b {
        let centre = [0.3 * q as f64 + shift, -0.2 * q as f64, shift];
        data.extend(gaussian_blob(n, &centre, 1.0, 7 + q as u64));
    }
    let path = dir.join(name);
    if f32 {
        write_npy::<f32>(&path, Shape::Batch(b, n, 3), &cast::<f32>(&data));
    } else {
        write_npy::<f64>(&path, Shape::Batch(b, n, 3), &data);
    }
    path
}

/// Inputs of a batch of 6 problems (uneven shares over 4 ranks: 1, 2, 1, 2) with weighted
/// negatives; returns the arguments after `--op`.
pub fn batch_inputs(dir: &Path, f32: bool) -> Vec<String> {
    let x = batch_file(dir, "x.npy", (6, 5), 0.0, f32);
    let y = batch_file(dir, "y.npy", (6, 7), 0.5, f32);
    let n = batch_file(dir, "n.npy", (6, 3), -0.5, f32);
    let w = dir.join("w.npy");
    let weights: Vec<f64> = (0..18).map(|k| 0.5 + (k % 4) as f64).collect();
    write_npy::<f64>(&w, Shape::Matrix(6, 3), &weights);
    [
        "--x",
        s(&x),
        "--y",
        s(&y),
        "--negatives",
        s(&n),
        "--negative-weights",
        s(&w),
    ]
    .map(String::from)
    .to_vec()
}

/// A command line as one shell word each.
pub fn shell(words: &[&str]) -> String {
    words
        .iter()
        .map(|w| drift_bench::cli::shell_quote(w))
        .collect::<Vec<_>>()
        .join(" ")
}

/// `mpirun` through `sh`: rank `rank` runs `special`, the others run the binary with `args`.
pub fn mpirun_with_rank(rank: usize, special: &[&str], args: &[&str]) -> Output {
    let mut plain = vec![BIN];
    plain.extend_from_slice(args);
    let script = format!(
        r#"if [ "$OMPI_COMM_WORLD_RANK" = {rank} ]; then exec {}; else exec {}; fi"#,
        shell(special),
        shell(&plain)
    );
    mpirun(&["sh", "-c", &script], &[])
}

/// The binary with `args`, `from` replaced by `to`.
pub fn swapped<'a>(args: &[&'a str], from: &str, to: &'a str) -> Vec<&'a str> {
    let mut v = vec![BIN];
    v.extend(args.iter().map(|a| if *a == from { to } else { a }));
    v
}
