//! `drift-bench apply` on batches: 3-D `.npy` inputs, one batched call, `(B, N, D)` out; a batch of
//! one gives the 2-D command's field bit for bit; bad shapes name the argument and the shapes.

mod common;

use common::*;
use drift_bench::array::{Shape, Values};
use drift_bench::gaussian_blob;
use std::path::{Path, PathBuf};

fn values(path: &Path) -> Vec<f64> {
    match read_npy(path).into_values() {
        Values::F64(v) => v,
        Values::F32(v) => v.into_iter().map(f64::from).collect(),
    }
}

/// `(B, n, 3)` blobs of f32 points, one centre per problem.
fn batch_file(dir: &Path, name: &str, b: usize, n: usize, shift: f64, seed: u64) -> PathBuf {
    let mut data = Vec::new();
    for q in 0..b {
        data.extend(gaussian_blob(
            n,
            &[q as f64 + shift; 3],
            1.0,
            seed + q as u64,
        ));
    }
    let path = dir.join(name);
    write_npy::<f32>(&path, Shape::Batch(b, n, 3), &cast::<f32>(&data));
    path
}

fn op_file(dir: &Path, text: &str) -> PathBuf {
    let path = dir.join("op.ron");
    std::fs::write(&path, text).unwrap();
    path
}

#[test]
fn a_batch_runs_in_one_call_and_writes_b_n_d() {
    let dir = scratch("apply-batch");
    let x = batch_file(&dir, "x.npy", 4, 6, 0.0, 1);
    let y = batch_file(&dir, "y.npy", 4, 9, 0.5, 20);
    let n = batch_file(&dir, "n.npy", 4, 3, -0.5, 40);
    let w = dir.join("w.npy");
    write_npy::<f32>(&w, Shape::Matrix(4, 3), &[2.0f32; 12]);
    let op = op_file(&dir, r#"{"deng_official": ()}"#);
    let v = dir.join("v.npy");
    let out = ok(&apply_args(
        &op,
        &x,
        &y,
        &[
            "--negatives",
            s(&n),
            "--negative-weights",
            s(&w),
            "--out",
            s(&v),
            "--repeat",
            "3",
        ],
    ));
    assert!(
        out.contains("B 4 problems: X 6 x 3, Y 9 x 3, 3 negatives, f32"),
        "{out}"
    );
    assert!(out.contains("statistics over: Batch"), "{out}");
    assert!(out.contains("temperature 0.02: λ = "), "{out}");
    assert!(out.contains("timing: 3 evaluations"), "{out}");
    assert_eq!(read_npy(&v).shape(), Shape::Batch(4, 6, 3));
    assert!(values(&v).iter().all(|c| c.is_finite()));
    // Per-problem statistics differ from the batch's: the scale is the batch's.
    let op = op_file(&dir, r#"{"deng_official": (over: Problem)}"#);
    let v2 = dir.join("v2.npy");
    ok(&apply_args(
        &op,
        &x,
        &y,
        &[
            "--negatives",
            s(&n),
            "--negative-weights",
            s(&w),
            "--out",
            s(&v2),
        ],
    ));
    assert_ne!(values(&v), values(&v2));
}

#[test]
fn a_batch_of_one_equals_the_two_dimensional_command() {
    let dir = scratch("apply-batch-one");
    // The same points as (1, n, 3) and as (n, 3).
    let x3 = batch_file(&dir, "x3.npy", 1, 7, 0.0, 3);
    let y3 = batch_file(&dir, "y3.npy", 1, 5, 0.3, 30);
    let as_matrix = |p: &Path, n: usize| {
        let flat = p.with_extension("2d.npy");
        let Values::F32(v) = read_npy(p).into_values() else {
            unreachable!("written as f32")
        };
        write_npy::<f32>(&flat, Shape::Matrix(n, 3), &v);
        flat
    };
    let (x2, y2) = (as_matrix(&x3, 7), as_matrix(&y3, 5));
    for text in [
        r#"{"sinkhorn_drift": (temperature: 0.5)}"#,
        r#"{"multi_temperature": (operator: {"one_sided": (temperature: 1.0)})}"#,
        r#"{"deng_official": ()}"#,
    ] {
        let op = op_file(&dir, text);
        let (v3, v2) = (dir.join("v3.npy"), dir.join("v2.npy"));
        ok(&apply_args(&op, &x3, &y3, &["--out", s(&v3)]));
        ok(&apply_args(&op, &x2, &y2, &["--out", s(&v2)]));
        assert_eq!(read_npy(&v3).shape(), Shape::Batch(1, 7, 3));
        assert_eq!(values(&v3), values(&v2), "{text}");
    }
}

#[test]
fn bad_batch_shapes_name_the_argument_and_the_shapes() {
    let dir = scratch("apply-batch-bad");
    let x = batch_file(&dir, "x.npy", 4, 6, 0.0, 1);
    let y = batch_file(&dir, "y.npy", 4, 9, 0.5, 20);
    let y3 = batch_file(&dir, "y3.npy", 3, 9, 0.5, 20);
    let op = op_file(&dir, r#"{"deng_official": ()}"#);
    let e = fails(&apply_args(&op, &x, &y3, &[]));
    assert!(
        e.contains("--y") && e.contains("(3, 9, 3)") && e.contains("(4, n, 3)"),
        "{e}"
    );
    let flat = dir.join("flat.npy");
    write_npy::<f32>(&flat, Shape::Matrix(9, 3), &[0.5f32; 27]);
    let e = fails(&apply_args(&op, &x, &flat, &[]));
    assert!(
        e.contains("--y") && e.contains("(9, 3)") && e.contains("(B, n, D)"),
        "{e}"
    );
    let e = fails(&apply_args(&op, &flat, &x, &[]));
    assert!(
        e.contains("--y") && e.contains("give --x as (B, N, D)"),
        "{e}"
    );
    let w = dir.join("w.npy");
    write_npy::<f32>(&w, Shape::Matrix(4, 5), &[1.0f32; 20]);
    let e = fails(&apply_args(&op, &x, &y, &["--y-weights", s(&w)]));
    assert!(
        e.contains("--y-weights") && e.contains("(4, 5)") && e.contains("(4, 9)"),
        "{e}"
    );
    let e = fails(&apply_args(&op, &x, &y, &["--negative-weights", s(&w)]));
    assert!(e.contains("no --negatives"), "{e}");
}
