//! `mpirun -np 4 drift-bench apply --split columns` (the `mpi` feature): a single problem whose
//! data Y is split by columns over the ranks (each reads all of X and its range of Y's points and
//! weights) gives the field of one process holding everything (f64 to 1e-12, f32 to 1e-5
//! relative), a Sinkhorn drift stopped by its tolerance and weighted Y included; one Sinkhorn
//! iteration moves `2N + 1` values (row maxima, shifted sums, the marginal error); what cannot be
//! split by columns, or not without MPI, stops with an error naming `--split`.
//!
//! Skipped (with a message) where `mpirun` is missing, unless `CI=true`, where that fails.
#![cfg(feature = "mpi")]

mod common;
mod mpi_support;

use common::*;
use drift_bench::array::Shape;
use drift_bench::gaussian_blob;
use mpi_support::*;
use std::path::{Path, PathBuf};

/// The input files of one problem: X (9, 2), Y (11, 2) with weights (11,) (shares of 2, 3, 3 and
/// 3 points over 4 ranks), negatives (5, 2), and Y again as `.csv`; in f32 when `f32`.
struct Problem {
    x: PathBuf,
    y: PathBuf,
    y_csv: PathBuf,
    y_weights: PathBuf,
    negatives: PathBuf,
}

impl Problem {
    fn new(dir: &Path, f32: bool) -> Problem {
        let write = |name: &str, shape: Shape, data: &[f64]| {
            let path = dir.join(name);
            match f32 {
                true => write_npy::<f32>(&path, shape, &cast::<f32>(data)),
                false => write_npy::<f64>(&path, shape, data),
            }
            path
        };
        let y = gaussian_blob(11, &[1.0, 0.5], 1.0, 2);
        let y_csv = dir.join("y.csv");
        let lines: Vec<String> = y.chunks(2).map(|p| format!("{},{}", p[0], p[1])).collect();
        std::fs::write(&y_csv, lines.join("\n") + "\n").unwrap();
        let weights: Vec<f64> = (0..11).map(|k| 0.3 + (k % 4) as f64 * 0.5).collect();
        Problem {
            x: write(
                "x.npy",
                Shape::Matrix(9, 2),
                &gaussian_blob(9, &[0.0, 0.0], 1.0, 1),
            ),
            y: write("y.npy", Shape::Matrix(11, 2), &y),
            y_csv,
            y_weights: write("wy.npy", Shape::Vector(11), &weights),
            negatives: write(
                "u.npy",
                Shape::Matrix(5, 2),
                &gaussian_blob(5, &[0.5, 0.0], 1.0, 3),
            ),
        }
    }
}

/// `apply` of `op` on `inputs` (the arguments after `--op`), by one process and by 4 ranks
/// splitting Y by columns: both fields and what the ranks printed.
fn one_and_four(dir: &Path, op: &str, inputs: &[&str]) -> (Vec<f64>, Vec<f64>, String) {
    let op_file = dir.join("op.ron");
    std::fs::write(&op_file, op).unwrap();
    let (one, four) = (dir.join("v1.npy"), dir.join("v4.npy"));
    let args = |out: &Path| {
        let mut a = vec!["apply", "--op", s(&op_file)];
        a.extend_from_slice(inputs);
        // The pair cache off in both runs, so that both take the fused passes.
        a.extend(["--pair-cache-mb", "0", "--out", s(out)]);
        a.iter().map(|a| a.to_string()).collect::<Vec<_>>()
    };
    let single = args(&one);
    ok(&single.iter().map(String::as_str).collect::<Vec<_>>());
    let mut split = args(&four);
    split.extend(["--split".into(), "columns".into()]);
    let split: Vec<&str> = split.iter().map(String::as_str).collect();
    let stdout = succeeded(&mpirun(&[BIN], &split), "mpirun apply --split columns");
    assert_eq!(read_npy(&four).shape(), read_npy(&one).shape());
    (values(&one), values(&four), stdout)
}

fn assert_close(op: &str, one: &[f64], four: &[f64], relative: f64) {
    assert_eq!(one.len(), four.len());
    let scale = one.iter().fold(0.0f64, |m, v| m.max(v.abs()));
    for (k, (p, q)) in one.iter().zip(four).enumerate() {
        assert!(
            (p - q).abs() <= relative * scale,
            "{op}, value {k}: {p} by one process, {q} by 4 ranks split by columns"
        );
    }
}

/// The operators of the comparisons, with whether they take the negatives.
const OPERATORS: [(&str, bool); 5] = [
    (
        r#"{"sinkhorn_drift": (temperature: 0.3, sinkhorn: (max_iters: 400, tol: 1e-9))}"#,
        false,
    ),
    (
        r#"{"guidance": (alpha: 2.0, operator: {"sinkhorn_drift": (temperature: 0.3)})}"#,
        true,
    ),
    (r#"{"deng_alg2": (temperature: 0.4)}"#, false),
    (
        r#"{"multi_temperature": (operator: {"feature_scale": (operator: {"one_sided": (temperature: 1.0)})})}"#,
        false,
    ),
    (r#"{"sinkhorn_divergence": (temperature: 0.3)}"#, false),
];

/// Every operator of [`OPERATORS`] on `p`, Y weighted or not, within `relative`.
fn compare_all(dir: &Path, p: &Problem, relative: f64) {
    for (op, negatives) in OPERATORS {
        for weighted in [false, true] {
            let mut inputs = vec!["--x", s(&p.x), "--y", s(&p.y)];
            if weighted {
                inputs.extend(["--y-weights", s(&p.y_weights)]);
            }
            if negatives {
                inputs.extend(["--negatives", s(&p.negatives)]);
            }
            let (one, four, printed) = one_and_four(dir, op, &inputs);
            let what = format!("{op} (weighted y: {weighted})");
            assert_close(&what, &one, &four, relative);
            assert!(
                printed
                    .contains("split the points of Y by columns (rank 0 held points 0..2 of 11)"),
                "{what}: {printed}"
            );
            assert!(printed.contains("Y 11 x 2"), "{what}: {printed}");
            assert_eq!(
                printed.matches("\noperator ").count(),
                1,
                "{what}: {printed}"
            );
        }
    }
}

#[test]
fn a_single_problem_split_by_columns_over_four_ranks_gives_the_field_of_one_process() {
    if !have_mpirun() {
        return;
    }
    let dir = scratch("mpi-columns-f64");
    compare_all(&dir, &Problem::new(&dir, false), 1e-12);
}

#[test]
fn in_f32_too() {
    if !have_mpirun() {
        return;
    }
    let dir = scratch("mpi-columns-f32");
    compare_all(&dir, &Problem::new(&dir, true), 1e-5);
}

#[test]
fn a_csv_y_is_read_whole_and_cut() {
    if !have_mpirun() {
        return;
    }
    let dir = scratch("mpi-columns-csv");
    let p = Problem::new(&dir, false);
    let (op, _) = OPERATORS[0];
    let inputs = [
        "--x",
        s(&p.x),
        "--y",
        s(&p.y_csv),
        "--y-weights",
        s(&p.y_weights),
    ];
    let (one, four, _) = one_and_four(&dir, op, &inputs);
    assert_close(op, &one, &four, 1e-12);
}

/// The `f64` values each rank all-reduced, from the ranks' `mpi:` line.
fn all_reduced(printed: &str) -> u64 {
    let line = printed.lines().find(|l| l.starts_with("mpi:")).unwrap();
    let after = line.split("all-reduced ").nth(1).unwrap();
    after.split(' ').next().unwrap().parse().unwrap()
}

#[test]
fn a_sinkhorn_iteration_moves_two_values_per_row_and_the_marginal_error() {
    if !have_mpirun() {
        return;
    }
    let dir = scratch("mpi-columns-bytes");
    let p = Problem::new(&dir, false);
    let inputs = ["--x", s(&p.x), "--y", s(&p.y)];
    let moved = |iterations: usize| {
        let op = format!(
            r#"{{"sinkhorn_drift": (temperature: 0.3, sinkhorn: (max_iters: {iterations}, tol: 0.0))}}"#
        );
        let (one, four, printed) = one_and_four(&dir, &op, &inputs);
        assert_close(&op, &one, &four, 1e-12);
        all_reduced(&printed)
    };
    let (few, more) = (moved(10), moved(30));
    // N = 9 rows: the row maxima (MPI_MAX), the shifted sums, the column marginal error.
    assert_eq!(more - few, 20 * (2 * 9 + 1), "{few} then {more}");
}

#[test]
fn what_cannot_be_split_by_columns_is_refused_naming_the_argument() {
    if !have_mpirun() {
        return;
    }
    let dir = scratch("mpi-columns-refused");
    let p = Problem::new(&dir, false);
    let op = dir.join("op.ron");
    std::fs::write(&op, OPERATORS[0].0).unwrap();
    let args = apply_args(&op, &p.x, &p.y, &["--split", "columns"]);
    // Without MPI: one process has nothing to split over.
    let stderr = fails(&args);
    assert!(
        stderr.contains("--split columns: splits a single problem over the ranks"),
        "{stderr}"
    );
    let refused = |args: &[&str], wanted: &str| {
        let output = mpirun(&[BIN], args);
        let (stdout, stderr) = text(&output);
        assert!(!output.status.success(), "{stdout}");
        assert!(stderr.contains(wanted), "{stderr}");
        assert!(!stderr.contains("panicked"), "{stderr}");
    };
    // Operators that read Y's points themselves.
    for (name, ron) in [
        ("sliced_wasserstein", r#"{"sliced_wasserstein": ()}"#),
        ("deng_official", r#"{"deng_official": ()}"#),
    ] {
        let other = dir.join(format!("{name}.ron"));
        std::fs::write(&other, ron).unwrap();
        let args = apply_args(&other, &p.x, &p.y, &["--split", "columns"]);
        refused(
            &args,
            &format!("--split columns: the operator {name} cannot run on a rank's shard of --y"),
        );
    }
    // A batch is split by problems (its files in a folder of their own: they are named x.npy too).
    let batch_dir = dir.join("batch");
    std::fs::create_dir_all(&batch_dir).unwrap();
    let inputs = batch_inputs(&batch_dir, false);
    let mut batch = vec!["apply", "--op", s(&op)];
    batch.extend(inputs.iter().map(String::as_str));
    for by in ["columns", "rows"] {
        let mut args = batch.clone();
        args.extend(["--split", by]);
        refused(&args, &format!("--split {by}: --x"));
    }
    // Fewer points of Y than ranks.
    let few = dir.join("few.npy");
    write_npy::<f64>(&few, Shape::Matrix(3, 2), &[0.0, 1.0, 2.0, 3.0, 4.0, 5.0]);
    refused(
        &apply_args(&op, &p.x, &few, &["--split", "columns"]),
        "--y holds 3 points for 4 MPI ranks",
    );
    // Weights of another length than Y.
    let short = dir.join("short.npy");
    write_npy::<f64>(&short, Shape::Vector(10), &[1.0; 10]);
    refused(
        &apply_args(
            &op,
            &p.x,
            &p.y,
            &["--split", "columns", "--y-weights", s(&short)],
        ),
        "holds 10 points (shape (10,)) but --y holds 11",
    );
}

#[test]
fn ranks_given_different_data_stop_before_any_work() {
    if !have_mpirun() {
        return;
    }
    let dir = scratch("mpi-columns-disagree");
    let p = Problem::new(&dir, false);
    let op = dir.join("op.ron");
    std::fs::write(&op, OPERATORS[0].0).unwrap();
    // Y of the same shape, other values: no rank reads all of it, the samples tell them apart.
    let other = dir.join("y-other.npy");
    write_npy::<f64>(
        &other,
        Shape::Matrix(11, 2),
        &gaussian_blob(11, &[1.0, 0.5], 1.0, 9),
    );
    let args = apply_args(&op, &p.x, &p.y, &["--split", "columns"]);
    let output = mpirun_with_rank(2, &swapped(&args, s(&p.y), s(&other)), &args);
    let (_, stderr) = text(&output);
    assert!(!output.status.success());
    assert!(
        stderr.contains("MPI ranks disagree before the work: --y contents (hash)"),
        "{stderr}"
    );
    // One rank splitting by rows, the others by columns.
    let rows = swapped(&args, "columns", "rows");
    let output = mpirun_with_rank(1, &rows, &args);
    let (_, stderr) = text(&output);
    assert!(!output.status.success());
    assert!(
        stderr.contains("MPI ranks disagree before the work"),
        "{stderr}"
    );
}
