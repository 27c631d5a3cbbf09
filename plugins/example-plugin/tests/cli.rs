//! The `example-drift` binary is the whole drift-bench command line with the plugin's names next to
//! the built-ins; the plain `drift-bench` binary does not know them.

use drift_api::PointCloud;
// Linked so that this test, too, can load the plugin's file (for the library's reference field).
use drift_example_plugin as _;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

const BIN: &str = env!("CARGO_BIN_EXE_example-drift");

/// The plugin's RON file, which mixes its operator and kernel with a built-in.
fn mean_shift_ron() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("mean_shift.ron")
}

/// Runs `bin` with `args`; its status must be success. Returns standard output.
fn ok(bin: &Path, args: &[&str]) -> String {
    let out: Output = Command::new(bin).args(args).output().unwrap();
    let (stdout, stderr) = (
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr),
    );
    assert!(
        out.status.success(),
        "{} {args:?} failed:\n{stdout}\n{stderr}",
        bin.display()
    );
    stdout.into_owned()
}

fn s(p: &Path) -> &str {
    p.to_str().unwrap()
}

#[test]
fn list_shows_the_plugin_next_to_the_built_ins() {
    let out = ok(Path::new(BIN), &["list"]);
    for name in [
        "example.student_t",
        "example.density_gate",
        "example.gated_repulsion",
        "example.mean_shift",
        "example.warmup",
        "one_sided",
        "gaussian",
    ] {
        assert!(out.contains(name), "missing {name:?} in\n{out}");
    }
}

#[test]
fn the_plain_drift_bench_does_not_know_the_plugin() {
    // Built into the same folder when the workspace is built; without it there is nothing to run.
    let plain =
        Path::new(BIN).with_file_name(format!("drift-bench{}", std::env::consts::EXE_SUFFIX));
    if !plain.exists() {
        eprintln!("skipped: {} is not built", plain.display());
        return;
    }
    let out = ok(&plain, &["list"]);
    assert!(out.contains("one_sided"), "{out}");
    assert!(
        !out.contains("example."),
        "drift-bench links no plugin (a stale build? rebuild it):\n{out}"
    );
}

#[test]
fn validate_accepts_the_plugin_files() {
    let template = Path::new(env!("CARGO_MANIFEST_DIR")).join("template.ron");
    for ron in [mean_shift_ron(), template] {
        let out = ok(Path::new(BIN), &["validate", s(&ron)]);
        assert_eq!(out, format!("ok {}\n", ron.display()));
    }
}

#[test]
fn apply_runs_the_template_with_guidance_negatives() {
    let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("example-drift-template");
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let (x, y, u) = (dir.join("x.csv"), dir.join("y.csv"), dir.join("u.csv"));
    std::fs::write(&x, "0,0\n0.5,0.1\n-0.3,0.4\n0.2,-0.2\n").unwrap();
    std::fs::write(&y, "1,1\n2,0\n1.5,0.5\n1.2,0.8\n").unwrap();
    std::fs::write(&u, "-1,-1\n-0.5,0.2\n").unwrap();
    let template = Path::new(env!("CARGO_MANIFEST_DIR")).join("template.ron");
    let args = [
        "apply",
        "--op",
        s(&template),
        "--x",
        s(&x),
        "--y",
        s(&y),
        "--show",
        "4",
    ];
    let plain = ok(Path::new(BIN), &args);
    let guided = ok(
        Path::new(BIN),
        &[&args[..], &["--negatives", s(&u)]].concat(),
    );
    assert!(plain.contains("operator example.warmup"), "{plain}");
    assert!(guided.contains("example.gated_repulsion"), "{guided}");
    assert_ne!(plain, guided, "the negatives change the field");
}

#[test]
fn apply_computes_the_plugin_operator_as_the_library_does() {
    let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("example-drift-apply");
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let (x, y, v) = (dir.join("x.csv"), dir.join("y.csv"), dir.join("v.csv"));
    let (xs, ys) = (
        [0.0, 0.0, 0.5, 0.1, -0.3, 0.4],
        [1.0, 1.0, 2.0, 0.0, 1.5, 0.5],
    );
    let csv = |v: &[f64]| {
        v.chunks(2)
            .map(|r| format!("{},{}\n", r[0], r[1]))
            .collect::<String>()
    };
    std::fs::write(&x, csv(&xs)).unwrap();
    std::fs::write(&y, csv(&ys)).unwrap();
    let ron = mean_shift_ron();
    let args = ["apply", "--op", s(&ron), "--x", s(&x), "--y", s(&y)];

    let summary = ok(Path::new(BIN), &args);
    assert!(summary.contains("operator example.mean_shift"), "{summary}");
    assert!(summary.contains("V: shape (3, 2)"), "{summary}");

    let out = ok(Path::new(BIN), &[&args[..], &["--out", s(&v)]].concat());
    assert!(out.contains("wrote V"), "{out}");
    // The CSV holds each value in its shortest form that reads back to the same float, so the
    // comparison with the library is exact.
    let got: Vec<f64> = std::fs::read_to_string(&v)
        .unwrap()
        .lines()
        .flat_map(|l| {
            l.split(',')
                .map(|c| c.parse::<f64>().unwrap())
                .collect::<Vec<_>>()
        })
        .collect();
    let op = drift_api::load_operator(&ron).unwrap();
    let x = PointCloud::new("x", xs.to_vec(), 2).unwrap();
    let y = PointCloud::new("y", ys.to_vec(), 2).unwrap();
    let (want, _) = drift_ops::drift(op.as_ref(), &x, &y).unwrap();
    assert_eq!(got, want);
}
