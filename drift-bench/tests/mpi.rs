//! `mpirun -np 4 drift-bench apply|compare` (the `mpi` feature): a batch split over the ranks
//! gives the field of one process (f64 to 1e-12, f32 to 1e-5 relative), batch-wide statistics
//! included, a ragged batch (offsets) too; a single problem split by rows gives the same field (f64 to 1e-12); ranks that disagree on their inputs stop
//! before any work (`mpi_faults.rs`, with the other faults); `compare` over 4 ranks writes the
//! `results.json` of one process, timings and commands aside.
//!
//! Skipped (with a message) where `mpirun` is missing, unless `CI=true`, where that fails.
#![cfg(feature = "mpi")]

mod common;
mod mpi_support;

use common::*;
use drift_bench::array::Shape;
use drift_bench::gaussian_blob;
use mpi_support::*;
use serde_json::Value;
use std::path::Path;

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
    // The Sinkhorn drift reports its couplings problem by problem (on its fused batched path
    // too); Algorithm 2's closed-form plan has no per-problem couplings to report.
    assert_eq!(problem_lines(&single).len(), 1, "{single}");
}

/// A ragged batch of 6 problems of different sizes in f64: every side `(total, 2)` with its
/// offsets (int64), random negative weights `(total,)`.
fn ragged_inputs(dir: &Path) -> Vec<String> {
    let sides = [
        ("x", [5, 3, 7, 4, 6, 2], 0.0, 1),
        ("y", [6, 9, 4, 5, 3, 8], 0.4, 20),
        ("k", [2, 4, 3, 1, 2, 5], -0.3, 40),
    ];
    let mut args = Vec::new();
    for (name, sizes, shift, seed) in sides {
        let mut data = Vec::new();
        let mut offsets = vec![0i64];
        for (b, &n) in sizes.iter().enumerate() {
            data.extend(gaussian_blob(
                n,
                &[b as f64 + shift; 2],
                1.0,
                seed + b as u64,
            ));
            offsets.push(offsets[b] + n as i64);
        }
        let total = data.len() / 2;
        let (points, offs) = (
            dir.join(format!("{name}.npy")),
            dir.join(format!("{name}o.npy")),
        );
        write_npy::<f64>(&points, Shape::Matrix(total, 2), &data);
        write_ints(&offs, "<i8", "(7,)", &offsets);
        let (arg, offsets_arg) = match name {
            "x" => ("--x", "--x-offsets"),
            "y" => ("--y", "--y-offsets"),
            _ => ("--negatives", "--negative-offsets"),
        };
        args.extend([arg, s(&points), offsets_arg, s(&offs)].map(String::from));
        if name == "k" {
            let w = dir.join("wk.npy");
            let weights: Vec<f64> = (0..total).map(|i| 0.5 + 0.3 * i as f64).collect();
            write_npy::<f64>(&w, Shape::Vector(total), &weights);
            args.extend(["--negative-weights".to_string(), s(&w).into()]);
        }
    }
    args
}

#[test]
fn a_ragged_batch_split_over_four_ranks_gives_the_field_of_one_process() {
    if !have_mpirun() {
        return;
    }
    let dir = scratch("mpi-ragged");
    let inputs = ragged_inputs(&dir);
    for op in [
        r#"{"deng_official": ()}"#,
        r#"{"guidance": (alpha: 2.0, operator: {"sinkhorn_drift": (temperature: 0.5)})}"#,
    ] {
        let (one, four, [single, split]) = one_and_four(&dir, op, &inputs);
        assert_eq!(read_npy(&dir.join("v4.npy")).shape(), Shape::Matrix(27, 2));
        assert_close(&one, &four, 1e-12);
        let sizes = "B 6 ragged problems: X 2..7 x 2 (27 in all), Y 3..9 x 2 (35 in all), 1..5 \
                     negatives (17 in all), f64";
        assert!(single.contains(sizes), "{single}");
        assert!(
            split.contains(&format!("{sizes} over 4 MPI ranks")),
            "{split}"
        );
        assert_eq!(problem_lines(&split), problem_lines(&single), "{op}");
    }
}

#[test]
fn a_single_problem_split_by_rows_over_four_ranks_gives_the_field_of_one_process() {
    if !have_mpirun() {
        return;
    }
    let dir = scratch("mpi-single");
    let (x, y, u) = (dir.join("x.npy"), dir.join("y.npy"), dir.join("u.npy"));
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
    write_npy::<f64>(
        &u,
        Shape::Matrix(5, 2),
        &gaussian_blob(5, &[0.5, 0.0], 1.0, 3),
    );
    // The pair cache off in both runs, so that both take the fused passes the split takes.
    let inputs = ["--x", s(&x), "--y", s(&y), "--pair-cache-mb", "0"].map(String::from);
    let with_negatives = [&inputs[..], &["--negatives".into(), s(&u).into()]].concat();
    let cases = [
        (
            r#"{"sinkhorn_drift": (temperature: 0.3, sinkhorn: (max_iters: 400, tol: 1e-9))}"#,
            &inputs[..],
        ),
        (
            r#"{"guidance": (alpha: 2.0, operator: {"sinkhorn_drift": (temperature: 0.3)})}"#,
            &with_negatives[..],
        ),
        (r#"{"deng_alg2": (temperature: 0.4)}"#, &inputs[..]),
        (
            r#"{"multi_temperature": (operator: {"feature_scale": (operator: {"one_sided": (temperature: 1.0)})})}"#,
            &inputs[..],
        ),
        (r#"{"mmd": (temperature: 0.5)}"#, &inputs[..]),
    ];
    for (op, inputs) in cases {
        let (one, four, [_, split]) = one_and_four(&dir, op, inputs);
        assert_close(&one, &four, 1e-12);
        assert_eq!(split.matches("split the rows").count(), 1, "{op}: {split}");
        assert_eq!(split.matches("\noperator ").count(), 1, "{op}: {split}");
    }
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
