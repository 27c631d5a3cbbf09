//! The `drift-bench` binary: `list`, `validate`, `apply` (bit for bit against the library), errors,
//! and the default `demo`.

mod common;

use common::*;
use drift_api::{apply_drift, Context, DriftProblem, Negatives, PointCloud, Real};
use drift_bench::array::Shape;
use drift_bench::gaussian_blob;
use std::path::{Path, PathBuf};

#[test]
fn list_shows_every_kind_with_parameters() {
    let out = ok(&["list"]);
    for needle in [
        "kernels (",
        "couplings (",
        "operators (",
        "sinkhorn_drift",
        "gaussian",
        "sinkhorn",
        "params: max_iters: usize = 100",
    ] {
        assert!(out.contains(needle), "missing {needle:?} in\n{out}");
    }
    // The built-ins only: a plugin's names are listed by a binary that links it.
    assert!(!out.contains("example."), "{out}");
    assert!(!out.contains("example: "));
    let out = ok(&["list", "--examples"]);
    assert!(out.contains(r#"example: {"sinkhorn_drift""#), "{out}");
    // Every registered name is listed.
    for r in drift_api::registry::entries() {
        assert!(out.contains(r.name), "{}", r.name);
    }
}

#[test]
fn validate_accepts_every_shipped_ron_file() {
    let mut files: Vec<PathBuf> = std::fs::read_dir(plugins())
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "ron"))
        .collect();
    files.sort();
    assert!(files.len() >= 10, "{files:?}");
    let mut args = vec!["validate"];
    args.extend(files.iter().map(|p| s(p)));
    let out = ok(&args);
    for f in &files {
        assert!(out.contains(&format!("ok {}\n", f.display())), "{out}");
    }
}

#[test]
fn validate_reports_located_errors_and_fails() {
    let dir = scratch("validate");
    let bad = dir.join("bad.ron");
    std::fs::write(
        &bad,
        "{\"one_sided\": (\n  temperature: 0.05,\n  kernl: {\"laplace\": ()},\n)}\n",
    )
    .unwrap();
    let good = plugins().join("one_sided.ron");
    let out = run(&["validate", s(&good), s(&bad)]);
    let (stdout, stderr) = text(&out);
    assert_eq!(out.status.code(), Some(1), "{stdout}{stderr}");
    assert!(
        stdout.contains(&format!("ok {}", good.display())),
        "{stdout}"
    );
    let located = format!("{}:3:", bad.display());
    assert!(stderr.contains(&located), "{stderr}");
    assert!(stderr.contains("kernl"), "{stderr}");
    assert!(stderr.contains("1 of 2 files failed"), "{stderr}");
}

#[test]
fn a_plugin_name_without_its_crate_is_explained() {
    let plugin = plugins().join("example-plugin/mean_shift.ron");
    let out = run(&["validate", s(&plugin)]);
    let (stdout, stderr) = text(&out);
    assert_eq!(out.status.code(), Some(1), "{stdout}{stderr}");
    // Located at the name's opening quote.
    let src = std::fs::read_to_string(&plugin).unwrap();
    let (line, column) = src
        .lines()
        .enumerate()
        .find_map(|(i, l)| l.find("\"example.mean_shift\"").map(|c| (i + 1, c + 1)))
        .unwrap();
    let located = format!(
        "{}:{line}:{column}: unknown operator \"example.mean_shift\"; the known operators are ",
        plugin.display()
    );
    assert!(stderr.contains(&located), "{stderr}");
    assert!(
        stderr.contains("\"sinkhorn_drift\"") && !stderr.contains("r#"),
        "{stderr}"
    );
    assert!(
        stderr.contains("use the_crate as _;") && stderr.contains("drift_bench::cli::main()"),
        "{stderr}"
    );
}

#[test]
fn the_command_line_runs_in_process_without_exiting() {
    use drift_bench::cli::run_with_args;
    use std::process::ExitCode;
    assert_eq!(
        run_with_args(["drift-bench", "--version"]),
        ExitCode::SUCCESS
    );
    // A command line that does not parse, and a command that fails.
    assert_eq!(run_with_args(["drift-bench", "lst"]), ExitCode::from(2));
    let missing = scratch("in-process").join("missing.ron");
    assert_eq!(
        run_with_args(["drift-bench", "validate", s(&missing)]),
        ExitCode::FAILURE
    );
}

/// Runs `apply --op RON` on X, Y written as `.npy` in precision `T` and checks that the written field
/// is the library's `drift_ops::drift` on the same data and operator, bit for bit.
fn apply_matches_library<T: Real>(dir: &Path, ron: &Path, tag: &str) {
    let (n, m, d) = (37, 45, 3);
    let x64 = gaussian_blob(n, &[0.0, 0.5, -0.5], 0.7, 1);
    let y64 = gaussian_blob(m, &[1.0, 0.0, 0.5], 0.5, 2);
    let (xs, ys): (Vec<T>, Vec<T>) = (cast(&x64), cast(&y64));
    let (xp, yp, vp) = (
        dir.join(format!("x-{tag}.npy")),
        dir.join(format!("y-{tag}.npy")),
        dir.join(format!("v-{tag}.npy")),
    );
    write_npy(&xp, Shape::Matrix(n, d), &xs);
    write_npy(&yp, Shape::Matrix(m, d), &ys);
    let stdout = ok(&apply_args(ron, &xp, &yp, &["--out", s(&vp)]));
    assert!(stdout.contains("drift norm λ"), "{stdout}");
    assert!(stdout.contains("elapsed"), "{stdout}");

    let op = drift_api::load_operator(ron).unwrap();
    let x = PointCloud::new("x", xs, d).unwrap();
    let y = PointCloud::new("y", ys, d).unwrap();
    let (v, report) = drift_ops::drift(op.as_ref(), &x, &y).unwrap();
    assert!(
        stdout.contains(&format!("operator {}", report.operator)),
        "{stdout}"
    );
    let got = read_npy(&vp);
    assert_eq!(got.shape(), Shape::Matrix(n, d));
    assert_eq!(got.values().precision(), T::PRECISION);
    let got: Vec<T> = got.values().to_real();
    assert_eq!(to_bits(&got), to_bits(&v), "{tag}: {}", ron.display());
}

#[test]
fn apply_deng_alg2_and_sinkhorn_drift_match_the_library_bit_for_bit() {
    let dir = scratch("apply-bits");
    let deng = dir.join("deng_alg2.ron");
    std::fs::write(&deng, r#"{"deng_alg2": (temperature: 0.5)}"#).unwrap();
    let sinkhorn = dir.join("sinkhorn_drift.ron");
    std::fs::write(
        &sinkhorn,
        r#"{"sinkhorn_drift": (temperature: 0.5, kernel: {"gaussian": ()}, sinkhorn: (max_iters: 200, tol: 1e-9))}"#,
    )
    .unwrap();
    for (k, ron) in [
        deng,
        sinkhorn,
        plugins().join("deng_alg2_multi_temperature.ron"),
        plugins().join("sinkhorn_drift_laplace.ron"),
    ]
    .iter()
    .enumerate()
    {
        apply_matches_library::<f32>(&dir, ron, &format!("{k}-f32"));
        apply_matches_library::<f64>(&dir, ron, &format!("{k}-f64"));
    }
}

#[test]
fn apply_with_weights_and_negatives_matches_the_library() {
    let dir = scratch("apply-weights");
    let (n, m, u, d) = (20, 25, 10, 2);
    let x = gaussian_blob(n, &[0.0, 0.0], 0.5, 3);
    let y = gaussian_blob(m, &[1.0, 1.0], 0.5, 4);
    let unc = gaussian_blob(u, &[-1.0, 0.0], 0.5, 5);
    let xw: Vec<f64> = (0..n).map(|i| 1.0 + (i % 3) as f64).collect();
    let yw: Vec<f64> = (0..m).map(|j| 0.5 + (j % 4) as f64).collect();
    let paths: Vec<PathBuf> = ["x", "y", "u", "xw", "yw", "v"]
        .iter()
        .map(|f| dir.join(format!("{f}.npy")))
        .collect();
    write_npy(&paths[0], Shape::Matrix(n, d), &x);
    write_npy(&paths[1], Shape::Matrix(m, d), &y);
    write_npy(&paths[2], Shape::Matrix(u, d), &unc);
    write_npy(&paths[3], Shape::Vector(n), &xw);
    write_npy(&paths[4], Shape::Vector(m), &yw);
    let ron = plugins().join("deng_alg2_guided.ron");
    ok(&[
        "apply",
        "--op",
        s(&ron),
        "--x",
        s(&paths[0]),
        "--y",
        s(&paths[1]),
        "--negatives",
        s(&paths[2]),
        "--x-weights",
        s(&paths[3]),
        "--y-weights",
        s(&paths[4]),
        "--out",
        s(&paths[5]),
    ]);
    let op = drift_api::load_operator(&ron).unwrap();
    let xc = PointCloud::new("x", x, d)
        .unwrap()
        .with_weights(xw)
        .unwrap();
    let yc = PointCloud::new("y", y, d)
        .unwrap()
        .with_weights(yw)
        .unwrap();
    let uc = PointCloud::new("u", unc, d).unwrap();
    let mut v = vec![0.0f64; n * d];
    apply_drift(
        op.as_ref(),
        DriftProblem {
            backend: &drift_ops::CpuBackend,
            x: &xc,
            y: &yc,
            context: &Context::default(),
            out: &mut v,
            scale: 1.0,
            negatives: Some(Negatives::new(&uc, 1.0)),
        },
    )
    .unwrap();
    let got: Vec<f64> = read_npy(&paths[5]).values().to_real();
    assert_eq!(to_bits(&got), to_bits(&v));
}

#[test]
fn apply_writes_csv_and_keeps_one_dimensional_shapes() {
    let dir = scratch("apply-csv");
    let x: Vec<f64> = (0..9).map(|i| i as f64 * 0.1).collect();
    let y: Vec<f64> = (0..7).map(|i| 1.0 + i as f64 * 0.2).collect();
    let (xp, yp) = (dir.join("x.npy"), dir.join("y.csv"));
    write_npy(&xp, Shape::Vector(9), &x);
    let mut csv = String::from("value\n");
    y.iter().for_each(|v| csv.push_str(&format!("{v}\n")));
    std::fs::write(&yp, csv).unwrap();
    let ron = plugins().join("one_sided.ron");
    let (vn, vc) = (dir.join("v.npy"), dir.join("v.csv"));
    ok(&apply_args(&ron, &xp, &yp, &["--out", s(&vn)]));
    ok(&apply_args(&ron, &xp, &yp, &["--out", s(&vc)]));
    let op = drift_api::load_operator(&ron).unwrap();
    let (v, _) = drift_ops::drift(
        op.as_ref(),
        &PointCloud::new("x", x, 1).unwrap(),
        &PointCloud::new("y", y, 1).unwrap(),
    )
    .unwrap();
    let npy = read_npy(&vn);
    assert_eq!(npy.shape(), Shape::Vector(9));
    assert_eq!(to_bits::<f64>(&npy.values().to_real()), to_bits(&v));
    let csv = drift_bench::csv::parse(&std::fs::read_to_string(&vc).unwrap()).unwrap();
    assert_eq!(csv.shape(), Shape::Matrix(9, 1));
    assert_eq!(to_bits::<f64>(&csv.values().to_real()), to_bits(&v));
    // Without --out: a summary.
    let out = ok(&apply_args(&ron, &xp, &yp, &["--show", "2"]));
    assert!(out.contains("V: shape (9,), first 2 rows:"), "{out}");
}

#[test]
fn apply_mixed_precisions_compute_in_f64_unless_told() {
    let dir = scratch("apply-mixed");
    let x = gaussian_blob(6, &[0.0, 0.0], 1.0, 6);
    let y = gaussian_blob(7, &[1.0, 0.0], 1.0, 7);
    let (xp, yp, vp) = (dir.join("x.npy"), dir.join("y.npy"), dir.join("v.npy"));
    write_npy(&xp, Shape::Matrix(6, 2), &cast::<f32>(&x));
    write_npy(&yp, Shape::Matrix(7, 2), &y);
    let ron = plugins().join("one_sided.ron");
    let out = run(&apply_args(&ron, &xp, &yp, &["--out", s(&vp)]));
    assert!(out.status.success());
    assert!(text(&out).1.contains("computing in f64"));
    assert_eq!(
        read_npy(&vp).values().precision(),
        drift_api::Precision::F64
    );
    ok(&apply_args(&ron, &xp, &yp, &["--out", s(&vp), "--f32"]));
    assert_eq!(
        read_npy(&vp).values().precision(),
        drift_api::Precision::F32
    );
}

#[test]
fn apply_bad_input_is_a_clear_error() {
    let dir = scratch("apply-errors");
    let ron = plugins().join("one_sided.ron");
    let good = dir.join("good.npy");
    write_npy(
        &good,
        Shape::Matrix(4, 2),
        &[0.0f64, 0.0, 1.0, 0.0, 0.0, 1.0, 1.0, 1.0],
    );
    let bytes = std::fs::read(&good).unwrap();

    let truncated = dir.join("truncated.npy");
    std::fs::write(&truncated, &bytes[..bytes.len() - 3]).unwrap();
    let garbage = dir.join("garbage.npy");
    std::fs::write(&garbage, b"not numpy at all").unwrap();
    let nan = dir.join("nan.npy");
    write_npy(&nan, Shape::Matrix(2, 2), &[0.0f64, 1.0, f64::NAN, 0.0]);
    let wide = dir.join("wide.npy");
    write_npy(&wide, Shape::Matrix(2, 3), &[0.0f64; 6]);
    let ints = dir.join("ints.npy");
    let mut int_bytes = bytes.clone();
    let at = int_bytes.windows(3).position(|w| w == b"<f8").unwrap();
    int_bytes[at..at + 3].copy_from_slice(b"<i8");
    std::fs::write(&ints, int_bytes).unwrap();
    let big = dir.join("big.npy");
    let mut big_bytes = bytes.clone();
    big_bytes[at] = b'>';
    std::fs::write(&big, big_bytes).unwrap();
    let three_d = dir.join("three.npy");
    let mut three = bytes.clone();
    let at = three.windows(8).position(|w| w == b"(4, 2), ").unwrap();
    three[at..at + 8].copy_from_slice(b"(4,2,1),");
    std::fs::write(&three_d, three).unwrap();
    let text = dir.join("points.txt");
    std::fs::write(&text, "0,0\n").unwrap();
    let badw = dir.join("w.npy");
    write_npy(&badw, Shape::Vector(3), &[1.0f64, 1.0, 1.0]);
    let negw = dir.join("negw.npy");
    write_npy(&negw, Shape::Vector(4), &[1.0f64, -1.0, 1.0, 1.0]);

    let apply = |x: &Path, extra: &[&str]| fails(&apply_args(&ron, x, &good, extra));
    let cases: Vec<(String, String)> = vec![
        (
            apply(&truncated, &[]),
            format!("--x {}: truncated .npy file", truncated.display()),
        ),
        (
            apply(&garbage, &[]),
            format!("--x {}: not a .npy file", garbage.display()),
        ),
        (
            apply(&nan, &[]),
            format!(
                "`--x {}` has a non-finite coordinate NaN at point 1, coordinate 0",
                nan.display()
            ),
        ),
        (
            apply(&wide, &[]),
            format!(
                "dimension mismatch: --x {} has dimension 3 but --y {} has dimension 2",
                wide.display(),
                good.display()
            ),
        ),
        (
            apply(&ints, &[]),
            format!(
                "--x {}: expected dtype <f4 or <f8, found <i8",
                ints.display()
            ),
        ),
        (
            apply(&big, &[]),
            format!("--x {}: big-endian dtype >f8", big.display()),
        ),
        (
            // A three-dimensional --x is a batch of problems: --y must be one too.
            apply(&three_d, &[]),
            "shape (4, 2) but --x is a batch of problems: give --y as (B, n, D)".into(),
        ),
        (
            apply(&text, &[]),
            format!("--x {}: unknown extension \".txt\"", text.display()),
        ),
        (
            apply(&good, &["--x-weights", s(&badw)]),
            format!("--x-weights {}: 3 weights for the 4 points", badw.display()),
        ),
        (
            apply(&good, &["--y-weights", s(&negw)]),
            format!(
                "--y-weights {}: point set `--y {}` has an invalid weight -1 at point 1",
                negw.display(),
                good.display()
            ),
        ),
        (
            apply(&good, &["--out", "v.json"]),
            "--out v.json: unknown extension \".json\"".into(),
        ),
        (
            apply(&good, &["--negatives", s(&wide)]),
            "has dimension 2 but --negatives".into(),
        ),
    ];
    for (stderr, needle) in cases {
        assert!(stderr.starts_with("error: "), "{stderr}");
        assert!(stderr.contains(&needle), "expected {needle:?} in {stderr}");
        assert!(!stderr.contains("backtrace"), "{stderr}");
    }
    // A RON problem is reported located, with the --op argument.
    let bad = dir.join("bad.ron");
    std::fs::write(&bad, "{\"one_sided\": (temperature: -1.0)}").unwrap();
    let stderr = fails(&apply_args(&bad, &good, &good, &[]));
    assert!(
        stderr.contains(&format!("--op {}:1:", bad.display())),
        "{stderr}"
    );
}

#[test]
fn the_demo_stays_reachable_and_compare_is_the_default() {
    let out = ok(&[
        "demo",
        "--steps",
        "1",
        "--particles",
        "16",
        "--data",
        "16",
        "--kernel",
        "gaussian",
    ]);
    assert!(out.contains("sinkhorn_drift"), "{out}");
    assert!(out.contains("total"), "{out}");
    let help = ok(&["--help"]);
    assert!(help.contains("the default command"), "{help}");
    assert!(help.contains("compare"), "{help}");
}
