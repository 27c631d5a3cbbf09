//! Interoperability with NumPy itself: `numpy.load` reads what `drift-bench` writes, and the reader
//! loads what `numpy.save` writes, value for value. Skipped (with a message) where `python3` has no
//! NumPy; CI installs it.

use drift_bench::array::{Array, Shape, Values};
use drift_bench::{gaussian_blob, npy};
use std::path::{Path, PathBuf};
use std::process::Command;

fn numpy_available() -> bool {
    let found = Command::new("python3")
        .args(["-c", "import numpy"])
        .output()
        .is_ok_and(|o| o.status.success());
    if !found {
        println!("numpy not installed: skipped");
    }
    found
}

fn scratch(name: &str) -> PathBuf {
    let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join(format!("numpy-{name}"));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

fn python(script: &str, args: &[&Path]) -> String {
    let out = Command::new("python3")
        .arg("-c")
        .arg(script)
        .args(args)
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "python failed: {stderr}");
    String::from_utf8(out.stdout).unwrap()
}

/// Parses Python's `repr` of a flat or nested list of floats (`nan`, `inf` included).
fn parse_list(repr: &str) -> Vec<f64> {
    repr.split(['[', ']', ','])
        .map(str::trim)
        .filter(|t| !t.is_empty())
        .map(|t| t.parse::<f64>().unwrap_or_else(|_| panic!("{t:?}")))
        .collect()
}

fn f64_bits(v: &Values) -> Vec<u64> {
    match v {
        Values::F32(v) => v.iter().map(|x| f64::from(*x).to_bits()).collect(),
        Values::F64(v) => v.iter().map(|x| x.to_bits()).collect(),
    }
}

/// `numpy.load` on a file: its dtype, shape and values, as printed by Python.
const LOAD: &str = r#"
import sys, numpy
a = numpy.load(sys.argv[1])
print(a.dtype, a.shape, a.flags['C_CONTIGUOUS'])
print(repr(a.tolist()))
"#;

fn check_numpy_reads(path: &Path, a: &Array) {
    let out = python(LOAD, &[path]);
    let mut lines = out.lines();
    let dtype = match a.values() {
        Values::F32(_) => "float32",
        Values::F64(_) => "float64",
    };
    assert_eq!(
        lines.next().unwrap(),
        format!("{dtype} {} True", a.shape()),
        "{}",
        path.display()
    );
    let values = parse_list(lines.next().unwrap());
    let bits: Vec<u64> = values.iter().map(|x| x.to_bits()).collect();
    assert_eq!(bits, f64_bits(a.values()), "{}", path.display());
}

#[test]
fn numpy_reads_what_drift_bench_writes() {
    if !numpy_available() {
        return;
    }
    let dir = scratch("reads");
    let values: Vec<f64> = gaussian_blob(12, &[0.0, 1.0, -2.0], 3.0, 9);
    let special = vec![0.0, -0.0, 5e-324, f64::MAX, 0.1, 1e-300];
    let arrays = [
        Array::new(Shape::Matrix(12, 3), Values::F64(values.clone())).unwrap(),
        Array::new(
            Shape::Matrix(12, 3),
            Values::F32(values.iter().map(|v| *v as f32).collect()),
        )
        .unwrap(),
        Array::new(Shape::Vector(6), Values::F64(special)).unwrap(),
        Array::new(Shape::Vector(3), Values::F32(vec![1e-45, f32::MAX, -0.5])).unwrap(),
    ];
    for (k, a) in arrays.iter().enumerate() {
        let path = dir.join(format!("a{k}.npy"));
        std::fs::write(&path, npy::to_bytes(a)).unwrap();
        check_numpy_reads(&path, a);
    }

    // The output of `apply`, through the binary.
    let (x, y, v) = (dir.join("x.npy"), dir.join("y.npy"), dir.join("v.npy"));
    std::fs::write(&x, npy::to_bytes(&arrays[1])).unwrap();
    let ys: Vec<f32> = gaussian_blob(10, &[1.0, 1.0, 1.0], 1.0, 10)
        .iter()
        .map(|v| *v as f32)
        .collect();
    let ya = Array::new(Shape::Matrix(10, 3), Values::F32(ys)).unwrap();
    std::fs::write(&y, npy::to_bytes(&ya)).unwrap();
    let ron = Path::new(env!("CARGO_MANIFEST_DIR")).join("../plugins/sinkhorn_drift_gaussian.ron");
    let status = Command::new(env!("CARGO_BIN_EXE_drift-bench"))
        .arg("apply")
        .arg("--op")
        .arg(&ron)
        .arg("--x")
        .arg(&x)
        .arg("--y")
        .arg(&y)
        .arg("--out")
        .arg(&v)
        .output()
        .unwrap();
    assert!(status.status.success(), "{status:?}");
    let written = npy::from_bytes(&std::fs::read(&v).unwrap()).unwrap();
    assert_eq!(written.shape(), Shape::Matrix(12, 3));
    check_numpy_reads(&v, &written);
}

/// Saves arrays with `numpy.save` and prints each file's values.
const SAVE: &str = r#"
import sys, numpy
d = sys.argv[1]
r = numpy.random.default_rng(0)
arrays = {
    'f64': r.normal(size=(7, 3)),
    'f32': r.normal(size=(5, 2)).astype(numpy.float32),
    'vec64': numpy.array([0.0, -0.0, 5e-324, 1.7976931348623157e308, 0.1]),
    'vec32': numpy.array([1e-45, 3.4028235e38, -0.1], dtype=numpy.float32),
    'fortran': numpy.asfortranarray(r.normal(size=(4, 3))),
}
for name, a in arrays.items():
    numpy.save(d + '/' + name + '.npy', a)
    print(name, a.dtype, repr(a.tolist()))
numpy.save(d + '/big.npy', numpy.ones((2, 2), dtype='>f8'))
numpy.save(d + '/ints.npy', numpy.arange(4))
numpy.save(d + '/cube.npy', numpy.zeros((2, 2, 2, 2)))
"#;

#[test]
fn drift_bench_reads_what_numpy_writes() {
    if !numpy_available() {
        return;
    }
    let dir = scratch("writes");
    let out = python(SAVE, &[&dir]);
    let mut seen = 0;
    for line in out.lines() {
        let mut parts = line.splitn(3, ' ');
        let (name, dtype, list) = (
            parts.next().unwrap(),
            parts.next().unwrap(),
            parts.next().unwrap(),
        );
        let a = npy::from_bytes(&std::fs::read(dir.join(format!("{name}.npy"))).unwrap())
            .unwrap_or_else(|e| panic!("{name}: {e}"));
        let expected: Vec<u64> = parse_list(list).iter().map(|x| x.to_bits()).collect();
        assert_eq!(f64_bits(a.values()), expected, "{name}");
        let precision = match dtype {
            "float32" => drift_api::Precision::F32,
            _ => drift_api::Precision::F64,
        };
        assert_eq!(a.values().precision(), precision, "{name}");
        if name.starts_with("vec") {
            assert!(matches!(a.shape(), Shape::Vector(_)), "{name}");
        }
        seen += 1;
    }
    assert_eq!(seen, 5);
    for (name, needle) in [
        ("big", "big-endian dtype >f8"),
        ("ints", "expected dtype <f4 or <f8, found <i8"),
        ("cube", "found (2, 2, 2, 2)"),
    ] {
        let err = npy::from_bytes(&std::fs::read(dir.join(format!("{name}.npy"))).unwrap())
            .unwrap_err()
            .to_string();
        assert!(err.contains(needle), "{name}: {err}");
    }
}
