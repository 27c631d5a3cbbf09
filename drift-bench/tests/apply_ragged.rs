//! `drift-bench apply` on ragged batches: `(total, D)` sides with integer offsets files, one
//! batched call, `(total, D)` out. The field equals the library's on `BatchSets::ragged` bit for
//! bit; a ragged batch of equal sizes equals the dense `(B, n, D)` command bit for bit; bad offsets,
//! shapes and weights name the argument and the values.

mod common;

use common::*;
use drift_api::batch::{apply_drift_batch, BatchProblem};
use drift_api::kit::{BatchSets, ProblemBatch};
use drift_api::Context;
use drift_bench::array::{Shape, Values};
use drift_bench::gaussian_blob;
use drift_ops as _;
use std::path::{Path, PathBuf};

/// The problems' sizes: generated samples, data, negatives.
const N: [usize; 3] = [5, 3, 7];
const M: [usize; 3] = [6, 9, 4];
const K: [usize; 3] = [2, 4, 3];
const D: usize = 3;

fn offsets(sizes: &[usize]) -> Vec<usize> {
    std::iter::once(0)
        .chain(sizes.iter().scan(0, |acc, n| {
            *acc += n;
            Some(*acc)
        }))
        .collect()
}

fn offsets_file(dir: &Path, name: &str, descr: &str, sizes: &[usize]) -> PathBuf {
    let path = dir.join(name);
    let o: Vec<i64> = offsets(sizes).iter().map(|&v| v as i64).collect();
    write_ints(&path, descr, &format!("({},)", o.len()), &o);
    path
}

/// Blobs of `sizes[b]` points around a centre per problem, back to back, in f32.
fn points(sizes: &[usize], shift: f64, seed: u64) -> Vec<f32> {
    let mut data = Vec::new();
    for (b, &n) in sizes.iter().enumerate() {
        data.extend(gaussian_blob(
            n,
            &[b as f64 + shift; D],
            1.0,
            seed + b as u64,
        ));
    }
    cast::<f32>(&data)
}

fn values(path: &Path) -> Vec<f32> {
    match read_npy(path).into_values() {
        Values::F32(v) => v,
        Values::F64(_) => panic!("expected an f32 field"),
    }
}

fn op_file(dir: &Path, name: &str, text: &str) -> PathBuf {
    let path = dir.join(name);
    std::fs::write(&path, text).unwrap();
    path
}

const OPS: [&str; 3] = [
    r#"{"deng_official": ()}"#,
    r#"{"sinkhorn_drift": (temperature: 0.5, sinkhorn: (max_iters: 50, tol: 1e-6))}"#,
    r#"{"multi_temperature": (operator: {"one_sided": (temperature: 1.0)})}"#,
];

/// The ragged batch's files: points, offsets (in `descr`), data and negative weights.
struct Ragged {
    args: Vec<String>,
    x: Vec<f32>,
    y: Vec<f32>,
    k: Vec<f32>,
    wy: Vec<f32>,
    wk: Vec<f32>,
}

fn ragged(dir: &Path, descr: &str) -> Ragged {
    ragged_first(dir, descr, 3)
}

/// The first `problems` problems of the ragged batch (the same points and weights), in files named
/// after `problems`.
fn ragged_first(dir: &Path, descr: &str, problems: usize) -> Ragged {
    let (ns, ms, ks) = (&N[..problems], &M[..problems], &K[..problems]);
    let (x, y, k) = (
        points(ns, 0.0, 1),
        points(ms, 0.4, 20),
        points(ks, -0.3, 40),
    );
    let total = |s: &[usize]| s.iter().sum::<usize>();
    let wy: Vec<f32> = (0..total(ms)).map(|i| 0.5 + (i % 3) as f32).collect();
    let wk: Vec<f32> = (0..total(ks)).map(|i| 1.0 + 0.25 * i as f32).collect();
    let suffix = if problems == 3 {
        String::new()
    } else {
        problems.to_string()
    };
    let file = |name: &str, shape: Shape, v: &[f32]| {
        let p = dir.join(format!("{name}{suffix}.npy"));
        write_npy::<f32>(&p, shape, v);
        s(&p).to_string()
    };
    let offsets = |name: &str, sizes| {
        let name = format!("{name}{suffix}.npy");
        s(&offsets_file(dir, &name, descr, sizes)).to_string()
    };
    let args = [
        ("--x", file("x", Shape::Matrix(total(ns), D), &x)),
        ("--y", file("y", Shape::Matrix(total(ms), D), &y)),
        ("--negatives", file("k", Shape::Matrix(total(ks), D), &k)),
        ("--y-weights", file("wy", Shape::Vector(total(ms)), &wy)),
        (
            "--negative-weights",
            file("wk", Shape::Vector(total(ks)), &wk),
        ),
        ("--x-offsets", offsets("xo", ns)),
        ("--y-offsets", offsets("yo", ms)),
        ("--negative-offsets", offsets("ko", ks)),
    ]
    .into_iter()
    .flat_map(|(a, v)| [a.to_string(), v])
    .collect();
    Ragged {
        args,
        x,
        y,
        k,
        wy,
        wk,
    }
}

fn apply(op: &Path, args: &[String], extra: &[&str]) -> String {
    let mut all = vec!["apply", "--op", s(op)];
    all.extend(args.iter().map(String::as_str));
    all.extend_from_slice(extra);
    ok(&all)
}

fn apply_fails(op: &Path, args: &[String], extra: &[&str]) -> String {
    let mut all = vec!["apply", "--op", s(op)];
    all.extend(args.iter().map(String::as_str));
    all.extend_from_slice(extra);
    fails(&all)
}

/// The library's field on the same batch.
fn library(text: &str, r: &Ragged) -> Vec<f32> {
    let op = drift_api::operator_from_str(text, "test").unwrap();
    let sets = |what, data, sizes: &[usize]| BatchSets::ragged(what, data, offsets(sizes), D);
    let batch = ProblemBatch::new(
        sets("x", &r.x, &N).unwrap(),
        sets("y", &r.y, &M).unwrap().with_weights(&r.wy).unwrap(),
    )
    .unwrap()
    .with_negatives(sets("k", &r.k, &K).unwrap().with_weights(&r.wk).unwrap())
    .unwrap();
    let backend = drift_bench::backend_kind::BackendKind::Cpu.open().unwrap();
    let context = Context::at(0, 0.0);
    let mut out = vec![0f32; batch.field_len()];
    apply_drift_batch(
        op.as_ref(),
        BatchProblem::new(backend.as_ref(), &batch, &context, &mut out),
    )
    .unwrap();
    out
}

#[test]
fn a_ragged_batch_equals_the_library_bit_for_bit() {
    let dir = scratch("apply-ragged-library");
    let mut fields = Vec::new();
    for descr in ["<i8", "<i4", "<u8"] {
        let r = ragged(&dir, descr);
        for (k, text) in OPS.iter().enumerate() {
            let op = op_file(&dir, "op.ron", text);
            let v = dir.join(format!("v{k}.npy"));
            apply(&op, &r.args, &["--out", s(&v)]);
            assert_eq!(read_npy(&v).shape(), Shape::Matrix(15, D));
            let (cli, lib) = (values(&v), library(text, &r));
            assert_eq!(to_bits(&cli), to_bits(&lib), "{text} ({descr} offsets)");
            fields.push(cli);
        }
    }
    // Batch-wide statistics: problem 0 alone has another field.
    let op = op_file(&dir, "op.ron", OPS[0]);
    let alone = dir.join("alone.npy");
    apply(
        &op,
        &ragged_first(&dir, "<i8", 1).args,
        &["--out", s(&alone)],
    );
    assert_eq!(read_npy(&alone).shape(), Shape::Matrix(N[0], D));
    assert_ne!(
        values(&alone),
        fields[0][..N[0] * D],
        "the scale is the batch's"
    );
}

#[test]
fn a_ragged_batch_of_equal_sizes_equals_the_dense_command() {
    let dir = scratch("apply-ragged-dense");
    let (b, n, m, k) = (4, 6, 5, 3);
    let (x, y, z) = (
        points(&[n; 4], 0.0, 3),
        points(&[m; 4], 0.5, 30),
        points(&[k; 4], -0.5, 50),
    );
    let w: Vec<f32> = (0..b * k).map(|i| 0.5 + 0.1 * i as f32).collect();
    let file = |name: &str, shape: Shape, v: &[f32]| {
        let p = dir.join(name);
        write_npy::<f32>(&p, shape, v);
        s(&p).to_string()
    };
    let dense = [
        "--x".into(),
        file("x3.npy", Shape::Batch(b, n, D), &x),
        "--y".into(),
        file("y3.npy", Shape::Batch(b, m, D), &y),
        "--negatives".into(),
        file("k3.npy", Shape::Batch(b, k, D), &z),
        "--negative-weights".into(),
        file("w2.npy", Shape::Matrix(b, k), &w),
    ];
    let ragged = [
        "--x".into(),
        file("x.npy", Shape::Matrix(b * n, D), &x),
        "--y".into(),
        file("y.npy", Shape::Matrix(b * m, D), &y),
        "--negatives".into(),
        file("k.npy", Shape::Matrix(b * k, D), &z),
        "--negative-weights".into(),
        file("w.npy", Shape::Vector(b * k), &w),
        "--x-offsets".into(),
        s(&offsets_file(&dir, "xo.npy", "<i8", &[n; 4])).into(),
        "--y-offsets".into(),
        s(&offsets_file(&dir, "yo.npy", "<i4", &[m; 4])).into(),
        "--negative-offsets".into(),
        s(&offsets_file(&dir, "ko.npy", "<u8", &[k; 4])).into(),
    ];
    for text in OPS {
        let op = op_file(&dir, "op.ron", text);
        let (vd, vr) = (dir.join("vd.npy"), dir.join("vr.npy"));
        apply(&op, &dense, &["--out", s(&vd)]);
        let printed = apply(&op, &ragged, &["--out", s(&vr)]);
        assert_eq!(read_npy(&vd).shape(), Shape::Batch(b, n, D));
        assert_eq!(read_npy(&vr).shape(), Shape::Matrix(b * n, D));
        assert_eq!(to_bits(&values(&vd)), to_bits(&values(&vr)), "{text}");
        assert!(
            printed.contains("B 4 ragged problems: X 6 x 3 (24 in all), Y 5 x 3 (20 in all)"),
            "{printed}"
        );
    }
}

#[test]
fn a_ragged_batch_reports_like_a_dense_one() {
    let dir = scratch("apply-ragged-report");
    let r = ragged(&dir, "<i8");
    let op = op_file(&dir, "op.ron", OPS[0]);
    let out = apply(&op, &r.args, &["--repeat", "3", "--show", "10"]);
    assert!(
        out.contains(
            "B 3 ragged problems: X 3..7 x 3 (15 in all), Y 4..9 x 3 (19 in all), 2..4 \
             negatives (9 in all), f32"
        ),
        "{out}"
    );
    assert!(out.contains("statistics over: Batch"), "{out}");
    assert!(out.contains("  scale "), "{out}");
    assert!(out.contains("temperature 0.02: λ = "), "{out}");
    assert!(out.contains("timing: 3 evaluations"), "{out}");
    // The summary shows problem 0's rows, not more.
    assert!(
        out.contains("V: shape (15, 3), first 5 rows of problem 0:"),
        "{out}"
    );
    // `--help` documents the offsets (the side-by-side harness looks for them).
    let help = ok(&["apply", "--help"]);
    for arg in [
        "--x-offsets",
        "--y-offsets",
        "--negative-offsets",
        "(total, D)",
    ] {
        assert!(help.contains(arg), "{arg}: {help}");
    }
}

/// `args` with the value after `arg` replaced by `value` (or `arg value` added).
fn with(args: &[String], arg: &str, value: &str) -> Vec<String> {
    let mut out = args.to_vec();
    match out.iter().position(|a| a == arg) {
        Some(k) => out[k + 1] = value.into(),
        None => out.extend([arg.to_string(), value.into()]),
    }
    out
}

/// `args` without `arg` and its value.
fn without(args: &[String], arg: &str) -> Vec<String> {
    let k = args.iter().position(|a| a == arg).unwrap();
    [&args[..k], &args[k + 2..]].concat()
}

#[test]
fn bad_ragged_inputs_name_the_argument_and_the_values() {
    let dir = scratch("apply-ragged-bad");
    let r = ragged(&dir, "<i8");
    let op = op_file(&dir, "op.ron", OPS[0]);
    let ints = |name: &str, descr: &str, v: &[i64]| {
        let p = dir.join(name);
        write_ints(&p, descr, &format!("({},)", v.len()), v);
        s(&p).to_string()
    };
    let cases: Vec<(Vec<String>, Vec<&str>)> = vec![
        (
            with(
                &r.args,
                "--x-offsets",
                &ints("a.npy", "<i8", &[1, 5, 8, 15]),
            ),
            vec!["--x-offsets", "a.npy", "starts at 1", "must be 0"],
        ),
        (
            with(
                &r.args,
                "--y-offsets",
                &ints("b.npy", "<i4", &[0, 6, 3, 19]),
            ),
            vec!["--y-offsets", "offsets[2] = 3 is less than offsets[1] = 6"],
        ),
        (
            with(
                &r.args,
                "--x-offsets",
                &ints("c.npy", "<u8", &[0, 5, 8, 14]),
            ),
            vec!["--x-offsets", "ends at 14", "has 15 rows", "(15, 3)"],
        ),
        (
            with(&r.args, "--y-offsets", &ints("d.npy", "<i8", &[0, 6, 19])),
            vec![
                "--y-offsets",
                "2 problems (3 offsets)",
                "xo.npy holds 3 (4 offsets)",
            ],
        ),
        (
            with(&r.args, "--x-offsets", &ints("e.npy", "<i8", &[0])),
            vec!["--x-offsets", "1 offset(s)", "B + 1"],
        ),
        (
            with(
                &r.args,
                "--x-offsets",
                &ints("f.npy", "<f8", &[0, 5, 8, 15]),
            ),
            vec!["--x-offsets", "expected an integer dtype", "<f8"],
        ),
        (
            with(
                &r.args,
                "--y-offsets",
                &ints("g.npy", "<i8", &[0, 6, 6, 19]),
            ),
            vec!["--y-offsets", "problem 1 is empty", "--y"],
        ),
        (
            without(&r.args, "--y-offsets"),
            vec!["--y ", "y.npy", "--y-offsets is not", "--x-offsets"],
        ),
        (
            without(&r.args, "--negative-offsets"),
            vec!["--negatives", "--negative-offsets is not"],
        ),
        (
            without(&without(&r.args, "--negatives"), "--negative-weights"),
            vec!["--negative-offsets", "no --negatives"],
        ),
        (
            with(&r.args, "--y-weights", &ints("h.npy", "<i8", &[1; 18])),
            vec!["expected dtype <f4 or <f8"],
        ),
    ];
    for (args, wanted) in &cases {
        let e = apply_fails(&op, args, &[]);
        for w in wanted {
            assert!(e.contains(w), "{w:?} not in {e}");
        }
    }
    // Weights of the wrong length, the dense batch's weights, a dimension that differs.
    let file = |name: &str, shape: Shape, n: usize| {
        let p = dir.join(name);
        write_npy::<f32>(&p, shape, &vec![1.0f32; n]);
        s(&p).to_string()
    };
    let e = apply_fails(
        &op,
        &with(
            &r.args,
            "--y-weights",
            &file("w18.npy", Shape::Vector(18), 18),
        ),
        &[],
    );
    assert!(
        e.contains("--y-weights") && e.contains("(18,)") && e.contains("expected (19,)"),
        "{e}"
    );
    let e = apply_fails(
        &op,
        &with(
            &r.args,
            "--negative-weights",
            &file("w33.npy", Shape::Matrix(3, 3), 9),
        ),
        &[],
    );
    assert!(
        e.contains("--negative-weights") && e.contains("(3, 3)") && e.contains("expected (9,)"),
        "{e}"
    );
    let e = apply_fails(
        &op,
        &with(&r.args, "--y", &file("y2.npy", Shape::Matrix(19, 2), 38)),
        &[],
    );
    assert!(
        e.contains("--y") && e.contains("dimension 2") && e.contains("dimension 3"),
        "{e}"
    );
    // A three-dimensional side in a ragged batch, with or without offsets.
    let x3 = file("x3.npy", Shape::Batch(3, 5, D), 45);
    let e = apply_fails(&op, &with(&r.args, "--x", &x3), &[]);
    assert!(
        e.contains("--x ") && e.contains("(3, 5, 3)") && e.contains("give --x as (total, D)"),
        "{e}"
    );
    let y3 = file("y3.npy", Shape::Batch(3, 6, D), 54);
    let e = apply_fails(
        &op,
        &without(&with(&r.args, "--y", &y3), "--y-offsets"),
        &[],
    );
    assert!(
        e.contains("--y ") && e.contains("the batch is ragged") && e.contains("--y-offsets"),
        "{e}"
    );
    // Offsets as text, or of two dimensions.
    let csv = dir.join("o.csv");
    std::fs::write(&csv, "0\n5\n8\n15\n").unwrap();
    let e = apply_fails(&op, &with(&r.args, "--x-offsets", s(&csv)), &[]);
    assert!(
        e.contains("--x-offsets") && e.contains(".npy file of integers"),
        "{e}"
    );
    let two = dir.join("two.npy");
    write_ints(&two, "<i8", "(2, 2)", &[0, 5, 8, 15]);
    let e = apply_fails(&op, &with(&r.args, "--x-offsets", s(&two)), &[]);
    assert!(
        e.contains("--x-offsets") && e.contains("(2, 2)") && e.contains("one-dimensional"),
        "{e}"
    );
}
