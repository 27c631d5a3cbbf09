//! Faults under `mpirun -np 4` (the `mpi` feature): ranks that disagree on their inputs stop
//! before any work, naming the rank and the input (also when each reads only its part of a file);
//! a rank that hangs before the work is named after the deadline; a rank killed or failing mid-run
//! ends the job within 60 s.
//!
//! Skipped (with a message) where `mpirun` is missing, unless `CI=true`, where that fails.
#![cfg(feature = "mpi")]

mod common;
mod mpi_support;

use common::*;
use mpi_support::*;
use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

#[test]
fn ranks_that_disagree_stop_before_any_work() {
    if !have_mpirun() {
        return;
    }
    let dir = scratch("mpi-mismatch");
    let inputs = batch_inputs(&dir, false);
    let other = batch_file(&dir, "x-other.npy", (6, 4), 0.0, false);
    let op = dir.join("op.ron");
    std::fs::write(&op, r#"{"deng_official": ()}"#).unwrap();
    let out = dir.join("v.npy");
    let mut args = vec!["apply", "--op", s(&op)];
    args.extend(inputs.iter().map(String::as_str));
    args.extend(["--out", s(&out)]);
    // Rank 1 reads another --x: its shape differs, and every rank says so (mpirun ends the job
    // when the first rank exits with an error, so some may be cut short).
    let x = dir.join("x.npy");
    let output = mpirun_with_rank(1, &swapped(&args, s(&x), s(&other)), &args);
    let (_, stderr) = text(&output);
    assert!(!output.status.success());
    let said = "MPI ranks disagree before the work: --x shape is (6, 4, 3) f64 on rank 1 but \
                (6, 5, 3) f64 on rank 0";
    assert!(stderr.contains(said), "{stderr}");
    assert!(!stderr.contains("panicked"), "{stderr}");
    assert!(!out.exists(), "nothing is written");
    // Rank 2 reads another --y of the same shape: no rank reads the whole file, yet the sampled
    // contents differ and every rank stops.
    let (y, y_other) = (
        dir.join("y.npy"),
        batch_file(&dir, "y-other.npy", (6, 7), 0.9, false),
    );
    let output = mpirun_with_rank(2, &swapped(&args, s(&y), s(&y_other)), &args);
    let (_, stderr) = text(&output);
    assert!(!output.status.success());
    assert!(
        stderr.contains("MPI ranks disagree before the work: --y contents (hash) is"),
        "{stderr}"
    );
    assert!(stderr.contains("on rank 2 but"), "{stderr}");
    assert!(!out.exists(), "nothing is written");
    // A --y of fewer problems than --x, on every rank: refused before any rank reads its part.
    let short = batch_file(&dir, "y-short.npy", (5, 7), 0.5, false);
    let output = mpirun(&swapped(&args, s(&y), s(&short)), &[]);
    let (_, stderr) = text(&output);
    assert!(!output.status.success());
    // Every rank fails alike and prints its own error.
    let said = format!(
        "--y {}: holds 5 problems (shape (5, 7, 3)) but --x holds 6",
        s(&short)
    );
    assert!(stderr.contains(&said), "{stderr}");
    // A rank that cannot read its input stops every rank, naming it.
    let missing = dir.join("missing.npy");
    let output = mpirun_with_rank(3, &swapped(&args, s(&y), s(&missing)), &args);
    let (_, stderr) = text(&output);
    assert!(!output.status.success());
    assert!(
        stderr.contains("MPI rank 3 failed before the work: --y"),
        "{stderr}"
    );
    assert!(!out.exists(), "nothing is written");
}

#[test]
fn a_killed_rank_ends_the_job_within_a_minute() {
    if !have_mpirun() {
        return;
    }
    let dir = scratch("mpi-kill");
    let x = batch_file(&dir, "x.npy", (8, 64), 0.0, false);
    let y = batch_file(&dir, "y.npy", (8, 64), 0.5, false);
    std::fs::write(dir.join("op.ron"), r#"{"deng_official": ()}"#).unwrap();
    let op = dir.join("op.ron");
    // Thousands of evaluations, each waiting on every rank: rank 2 is killed in the middle.
    let args = apply_args(&op, &x, &y, &["--repeat", "10000"]);
    let clock = Instant::now();
    let mut killed = vec!["timeout", "-s", "KILL", "3", BIN];
    killed.extend_from_slice(&args);
    let output = mpirun_with_rank(2, &killed, &args);
    let took = clock.elapsed();
    let (stdout, stderr) = text(&output);
    assert!(!output.status.success(), "{stdout}\n{stderr}");
    assert!(
        took >= Duration::from_secs(3),
        "the job ended before the kill: {stderr}"
    );
    assert!(
        took < Duration::from_secs(60),
        "the job took {took:?} to end"
    );
    eprintln!("a killed rank ended the job in {took:?}");
}

/// `mpirun -np 4 apply` of the official loss on a small batch with the variables `env` (which
/// make a rank late), in a scratch folder named `name`: what it printed, how long it took, and
/// where it was to write the field.
fn late_rank(name: &str, env: [&str; 2]) -> (std::process::Output, Duration, std::path::PathBuf) {
    let dir = scratch(name);
    let x = batch_file(&dir, "x.npy", (8, 16), 0.0, false);
    let y = batch_file(&dir, "y.npy", (8, 16), 0.5, false);
    let op = dir.join("op.ron");
    std::fs::write(&op, r#"{"deng_official": ()}"#).unwrap();
    let out = dir.join("v.npy");
    let args = apply_args(&op, &x, &y, &["--out", s(&out)]);
    let clock = Instant::now();
    let output = Command::new("mpirun")
        .args(["--allow-run-as-root", "--oversubscribe", "-np", RANKS])
        .args(["-x", env[0], "-x", env[1]])
        .arg(BIN)
        .args(&args)
        .env("RAYON_NUM_THREADS", "1")
        .output()
        .unwrap();
    (output, clock.elapsed(), out)
}

#[test]
fn a_rank_that_hangs_before_the_work_is_named_after_the_deadline() {
    if !have_mpirun() {
        return;
    }
    // Rank 2 sleeps 30 s before the agreement; the others give up after 3 s.
    let (output, took, out) = late_rank(
        "mpi-late",
        ["DRIFT_MPI_TIMEOUT_S=3", "DRIFT_MPI_TEST_DELAY_RANK=2:30"],
    );
    let (stdout, stderr) = text(&output);
    assert!(!output.status.success(), "{stdout}\n{stderr}");
    assert!(
        stderr.contains("error: MPI rank 0: MPI rank 2 has not reached the start of the work"),
        "{stderr}"
    );
    assert!(stderr.contains("DRIFT_MPI_TIMEOUT_S"), "{stderr}");
    assert!(!stderr.contains("panicked"), "{stderr}");
    assert!(
        took >= Duration::from_secs(3),
        "ended before the deadline: {stderr}"
    );
    assert!(
        took < Duration::from_secs(20),
        "the job took {took:?} to end"
    );
    assert!(!out.exists(), "nothing is written");
    eprintln!("a hung rank was named and the job ended in {took:?}");
}

#[test]
fn a_rank_that_hangs_in_the_middle_of_the_work_ends_the_job_after_the_wait_limit() {
    if !have_mpirun() {
        return;
    }
    // Rank 2 stalls 60 s after the agreement; the others wait at most 3 s in a collective.
    let (output, took, out) = late_rank(
        "mpi-stall",
        ["DRIFT_MPI_WAIT_S=3", "DRIFT_MPI_TEST_STALL_RANK=2:60"],
    );
    let (stdout, stderr) = text(&output);
    assert!(!output.status.success(), "{stdout}\n{stderr}");
    assert!(
        stderr.contains("waited 3.0 s in a collective of the work (DRIFT_MPI_WAIT_S)"),
        "{stderr}"
    );
    assert!(!stderr.contains("panicked"), "{stderr}");
    assert!(
        took >= Duration::from_secs(3),
        "ended before the limit: {stderr}"
    );
    assert!(
        took < Duration::from_secs(30),
        "the job took {took:?} to end"
    );
    assert!(!out.exists(), "nothing is written");
    eprintln!("a rank stalled after the agreement; the job ended in {took:?}");
}

#[test]
fn a_rank_that_fails_mid_run_ends_the_job() {
    if !have_mpirun() {
        return;
    }
    let dir = scratch("mpi-abort");
    let mut inputs = batch_inputs(&dir, false);
    // A NaN in the last problem: only rank 3 (problems 4..6) holds it, the others reach the
    // batch's first all-reduce and wait there for rank 3.
    let x = read_npy(Path::new(&inputs[1]));
    let mut v = values(Path::new(&inputs[1]));
    let last = v.len() - 1;
    v[last] = f64::NAN;
    let bad = dir.join("x-nan.npy");
    write_npy::<f64>(&bad, x.shape(), &v);
    inputs[1] = s(&bad).to_string();
    let op = dir.join("op.ron");
    std::fs::write(&op, r#"{"deng_official": ()}"#).unwrap();
    let out = dir.join("v.npy");
    let mut args = vec!["apply", "--op", s(&op)];
    args.extend(inputs.iter().map(String::as_str));
    args.extend(["--out", s(&out)]);
    let clock = Instant::now();
    let output = mpirun(&[BIN], &args);
    let took = clock.elapsed();
    let (_, stderr) = text(&output);
    assert!(!output.status.success());
    assert!(
        stderr.contains("error: MPI rank 3 of 4: problems 4..6"),
        "{stderr}"
    );
    assert!(stderr.contains("ending the job"), "{stderr}");
    assert!(
        took < Duration::from_secs(60),
        "the job took {took:?} to end"
    );
    assert!(!out.exists(), "nothing is written");
    eprintln!("a failing rank ended the job in {took:?}");
}
