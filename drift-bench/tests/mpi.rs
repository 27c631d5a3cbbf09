//! `mpirun -np 4 drift-bench apply|compare` (the `mpi` feature): a batch split over the ranks
//! gives the field of one process (f64 to 1e-12, f32 to 1e-5 relative), batch-wide statistics
//! included; a single problem runs on rank 0 alone; ranks that disagree on their inputs stop
//! before any work, naming the rank and the input (also when each reads only its part of a file);
//! a rank that hangs before the work is named after the deadline; a rank killed mid-run ends the
//! job within 60 s; `compare` over 4 ranks writes the `results.json` of one process, timings and
//! commands aside.
//!
//! Skipped (with a message) where `mpirun` is missing, unless `CI=true`, where that fails.
#![cfg(feature = "mpi")]

mod common;

use common::*;
use drift_bench::array::{Shape, Values};
use drift_bench::gaussian_blob;
use serde_json::Value;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::time::{Duration, Instant};

const RANKS: &str = "4";

/// True when `mpirun` runs; false (after saying so) when it is missing outside CI.
fn have_mpirun() -> bool {
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
fn mpirun(program: &[&str], args: &[&str]) -> Output {
    Command::new("mpirun")
        .args(["--allow-run-as-root", "--oversubscribe", "-np", RANKS])
        .args(program)
        .args(args)
        // Four ranks share the machine's cores: one thread each keeps them from fighting.
        .env("RAYON_NUM_THREADS", "1")
        .output()
        .unwrap()
}

fn succeeded(out: &Output, what: &str) -> String {
    let (stdout, stderr) = text(out);
    assert!(out.status.success(), "{what} failed:\n{stdout}\n{stderr}");
    stdout
}

fn values(path: &Path) -> Vec<f64> {
    match read_npy(path).into_values() {
        Values::F64(v) => v,
        Values::F32(v) => v.into_iter().map(f64::from).collect(),
    }
}

/// `(b, n, 3)` blobs, one centre per problem, in f32 or f64.
fn batch_file(dir: &Path, name: &str, shape: (usize, usize), shift: f64, f32: bool) -> PathBuf {
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
fn batch_inputs(dir: &Path, f32: bool) -> Vec<String> {
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

/// The field of `op` on `inputs` by one process and by 4 ranks, and what each printed.
fn one_and_four(dir: &Path, op: &str, inputs: &[String]) -> (Vec<f64>, Vec<f64>, [String; 2]) {
    let op_file = dir.join("op.ron");
    std::fs::write(&op_file, op).unwrap();
    let (one, four) = (dir.join("v1.npy"), dir.join("v4.npy"));
    let args = |out: &Path| {
        let mut a = vec!["apply".to_string(), "--op".into(), s(&op_file).into()];
        a.extend(inputs.iter().cloned());
        a.extend(["--out".to_string(), s(out).into()]);
        a
    };
    let single = args(&one);
    let printed = ok(&single.iter().map(String::as_str).collect::<Vec<_>>());
    let split = args(&four);
    let split: Vec<&str> = split.iter().map(String::as_str).collect();
    let stdout = succeeded(&mpirun(&[BIN], &split), "mpirun apply");
    assert_eq!(read_npy(&four).shape(), read_npy(&one).shape());
    (values(&one), values(&four), [printed, stdout])
}

/// The report's problem-by-problem lines (exact counts and the worst marginal error).
fn problem_lines(printed: &str) -> Vec<&str> {
    printed
        .lines()
        .filter(|l| l.contains("problem by problem"))
        .collect()
}

fn assert_close(a: &[f64], b: &[f64], relative: f64) {
    assert_eq!(a.len(), b.len());
    for (k, (p, q)) in a.iter().zip(b).enumerate() {
        assert!(
            (p - q).abs() <= relative * p.abs().max(q.abs()).max(1e-3),
            "value {k}: {p} by one process, {q} by 4 ranks"
        );
    }
}

/// The inputs cut to the problems `range` (`<name>` to `<cut>-<name>`).
fn cut_inputs(dir: &Path, inputs: &[String], range: std::ops::Range<usize>) -> Vec<String> {
    inputs
        .iter()
        .map(|a| {
            if !a.ends_with(".npy") {
                return a.clone();
            }
            let path = Path::new(a);
            let cut = dir.join(format!(
                "cut-{}",
                path.file_name().unwrap().to_str().unwrap()
            ));
            let part = drift_bench::mpi::slice_array(&read_npy(path), &range).unwrap();
            std::fs::write(&cut, drift_bench::npy::to_bytes(&part)).unwrap();
            s(&cut).to_string()
        })
        .collect()
}

/// The field of `op` on `inputs` by one process.
fn single(dir: &Path, op: &str, inputs: &[String]) -> Vec<f64> {
    let op_file = dir.join("op-single.ron");
    std::fs::write(&op_file, op).unwrap();
    let out = dir.join("v-single.npy");
    let mut a = vec!["apply".to_string(), "--op".into(), s(&op_file).into()];
    a.extend(inputs.iter().cloned());
    a.extend(["--out".to_string(), s(&out).into()]);
    ok(&a.iter().map(String::as_str).collect::<Vec<_>>());
    values(&out)
}

#[test]
fn a_batch_split_over_four_ranks_gives_the_field_of_one_process() {
    if !have_mpirun() {
        return;
    }
    let dir = scratch("mpi-batch-f64");
    let inputs = batch_inputs(&dir, false);
    let op = r#"{"deng_official": ()}"#;
    let (one, four, [_, stdout]) = one_and_four(&dir, op, &inputs);
    assert_close(&one, &four, 1e-12);
    assert!(
        stdout.contains("B 6 problems") && stdout.contains("over 4 MPI ranks"),
        "{stdout}"
    );
    // The scale's two sums, λ_R's three temperatures and count, the drift norm's two sums.
    assert!(
        stdout.contains("all-reduced 8 f64 values in 3 calls"),
        "{stdout}"
    );
    // The batch-wide scale and λ_R matter: rank 0's problem alone has another field, so a rank
    // that used its own problems' statistics would fail the comparison above.
    let alone = single(&dir, op, &cut_inputs(&dir, &inputs, 0..1));
    let moved = alone
        .iter()
        .zip(&one[..alone.len()])
        .map(|(a, b)| (a - b).abs())
        .fold(0.0, f64::max);
    assert!(moved > 1e-6, "problem 0 alone moved by {moved}");
}

#[test]
fn a_composed_per_problem_operator_in_f32_splits_too() {
    if !have_mpirun() {
        return;
    }
    let dir = scratch("mpi-batch-f32");
    let inputs = batch_inputs(&dir, true);
    let op = r#"{"weighted": (terms: [
        (weight: 1.0, operator: {"deng_alg2": (temperature: 0.5)}),
        (weight: 0.5, operator: {"sinkhorn_drift": (temperature: 0.5, sinkhorn: (max_iters: 200, tol: 1e-6))}),
    ])}"#;
    let (one, four, [single, split]) = one_and_four(&dir, op, &inputs);
    assert_close(&one, &four, 1e-5);
    // Rank 0 prints the whole batch's problem-by-problem lines, not its own problems'.
    assert_eq!(problem_lines(&split), problem_lines(&single));
    assert_eq!(problem_lines(&single).len(), 2, "{single}");
}

#[test]
fn a_single_problem_runs_on_rank_0_alone_and_says_so() {
    if !have_mpirun() {
        return;
    }
    let dir = scratch("mpi-single");
    let x = dir.join("x.npy");
    let y = dir.join("y.npy");
    write_npy::<f64>(
        &x,
        Shape::Matrix(9, 2),
        &gaussian_blob(9, &[0.0, 0.0], 1.0, 1),
    );
    write_npy::<f64>(
        &y,
        Shape::Matrix(11, 2),
        &gaussian_blob(11, &[1.0, 0.5], 1.0, 2),
    );
    let inputs = ["--x", s(&x), "--y", s(&y)].map(String::from).to_vec();
    let op = r#"{"sinkhorn_drift": (temperature: 0.3)}"#;
    let (one, four, _) = one_and_four(&dir, op, &inputs);
    assert_eq!(one, four, "rank 0 runs what one process runs");
    let out = mpirun(&[BIN], &apply_args(&dir.join("op.ron"), &x, &y, &[]));
    let (stdout, stderr) = text(&out);
    assert!(out.status.success(), "{stderr}");
    assert_eq!(
        stderr.matches("is not split over the 4 MPI ranks").count(),
        1,
        "{stderr}"
    );
    assert_eq!(
        stdout.matches("operator sinkhorn_drift").count(),
        1,
        "{stdout}"
    );
}

/// A command line as one shell word each.
fn shell(words: &[&str]) -> String {
    words
        .iter()
        .map(|w| drift_bench::cli::shell_quote(w))
        .collect::<Vec<_>>()
        .join(" ")
}

/// `mpirun` through `sh`: rank `rank` runs `special`, the others run the binary with `args`.
fn mpirun_with_rank(rank: usize, special: &[&str], args: &[&str]) -> Output {
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
fn swapped<'a>(args: &[&'a str], from: &str, to: &'a str) -> Vec<&'a str> {
    let mut v = vec![BIN];
    v.extend(args.iter().map(|a| if *a == from { to } else { a }));
    v
}

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

#[test]
fn a_rank_that_hangs_before_the_work_is_named_after_the_deadline() {
    if !have_mpirun() {
        return;
    }
    let dir = scratch("mpi-late");
    let x = batch_file(&dir, "x.npy", (8, 16), 0.0, false);
    let y = batch_file(&dir, "y.npy", (8, 16), 0.5, false);
    let op = dir.join("op.ron");
    std::fs::write(&op, r#"{"deng_official": ()}"#).unwrap();
    let out = dir.join("v.npy");
    let args = apply_args(&op, &x, &y, &["--out", s(&out)]);
    // Rank 2 sleeps 30 s before the agreement; the others give up after 3 s.
    let clock = Instant::now();
    let output = Command::new("mpirun")
        .args(["--allow-run-as-root", "--oversubscribe", "-np", RANKS])
        .args([
            "-x",
            "DRIFT_MPI_TIMEOUT_S=3",
            "-x",
            "DRIFT_MPI_TEST_DELAY_RANK=2:30",
        ])
        .arg(BIN)
        .args(&args)
        .env("RAYON_NUM_THREADS", "1")
        .output()
        .unwrap();
    let took = clock.elapsed();
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

/// `results.json` without the fields that time the runs or name their command line.
fn timeless_json(dir: &Path) -> Value {
    let text = std::fs::read_to_string(dir.join("results.json")).unwrap();
    let mut runs: Value = serde_json::from_str(&text).unwrap();
    for run in runs.as_array_mut().unwrap() {
        let run = run.as_object_mut().unwrap();
        for key in ["seconds", "ms_per_step", "command"] {
            assert!(run.remove(key).is_some(), "no {key} in {run:?}");
        }
    }
    runs
}

#[test]
fn compare_over_four_ranks_writes_the_report_of_one_process() {
    if !have_mpirun() {
        return;
    }
    let dir = scratch("mpi-compare");
    let sweep = [
        "compare",
        "-o",
        "one_sided",
        "-o",
        "sinkhorn_drift",
        "-d",
        "eight_gaussians",
        "-t",
        "0.1,1",
        "--seeds",
        "0,1",
        "--steps",
        "8",
        "--points",
        "150",
        "--quiet",
        "--out",
    ];
    let (one, four) = (dir.join("one"), dir.join("four"));
    let mut single = sweep.to_vec();
    single.push(s(&one));
    ok(&single);
    let mut split = sweep.to_vec();
    split.push(s(&four));
    let stdout = succeeded(&mpirun(&[BIN], &split), "mpirun compare");
    assert_eq!(stdout.matches("wrote ").count(), 1, "{stdout}");
    assert!(
        stdout.contains("8 runs (1 studies) over 4 MPI ranks"),
        "{stdout}"
    );
    assert_eq!(timeless_json(&four), timeless_json(&one));
    let report = std::fs::read_to_string(four.join("report.md")).unwrap();
    assert!(report.contains("over 4 MPI ranks"), "{report}");
    // A rank given another sweep stops every rank before the runs, showing where they differ.
    let output = mpirun_with_rank(1, &swapped(&split, "0.1,1", "0.1,2"), &split);
    let (_, stderr) = text(&output);
    assert!(!output.status.success());
    assert!(
        stderr.contains("MPI ranks disagree before the work: the sweep is"),
        "{stderr}"
    );
    assert!(
        stderr.contains("[0.1,2.0]") && stderr.contains("[0.1,1.0]"),
        "{stderr}"
    );
    // --shard under mpirun is refused by every rank, before any run.
    split.extend(["--shard", "0/2"]);
    let output = mpirun(&[BIN], &split);
    let (_, stderr) = text(&output);
    assert!(!output.status.success());
    assert!(
        stderr.contains("--shard 0/2 under an MPI launcher"),
        "{stderr}"
    );
}
