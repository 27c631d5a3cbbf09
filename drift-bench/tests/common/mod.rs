//! Helpers shared by the command-line tests: the binary, scratch folders, running it, and `.npy`
//! files.

// Each test file uses a different subset of these helpers.
#![allow(dead_code)]

use drift_api::Real;
use drift_bench::array::{Array, Shape, Values};
use drift_bench::npy;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

pub const BIN: &str = env!("CARGO_BIN_EXE_drift-bench");

pub fn plugins() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../plugins")
}

/// A fresh scratch folder for one test.
pub fn scratch(name: &str) -> PathBuf {
    let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join(format!("cli-{name}"));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

pub fn run(args: &[&str]) -> Output {
    Command::new(BIN).args(args).output().unwrap()
}

pub fn text(out: &Output) -> (String, String) {
    (
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

pub fn ok(args: &[&str]) -> String {
    let out = run(args);
    let (stdout, stderr) = text(&out);
    assert!(out.status.success(), "{args:?} failed:\n{stdout}\n{stderr}");
    stdout
}

/// Runs a command that must fail with status 1 and a one-line `error: ...`; returns stderr.
pub fn fails(args: &[&str]) -> String {
    let out = run(args);
    let (stdout, stderr) = text(&out);
    assert_eq!(out.status.code(), Some(1), "{args:?}:\n{stdout}\n{stderr}");
    assert!(!stderr.contains("panicked"), "{stderr}");
    stderr
}

/// `apply --op OP --x X --y Y` followed by `extra`.
pub fn apply_args<'a>(op: &'a Path, x: &'a Path, y: &'a Path, extra: &[&'a str]) -> Vec<&'a str> {
    let mut args = vec!["apply", "--op", s(op), "--x", s(x), "--y", s(y)];
    args.extend_from_slice(extra);
    args
}

pub fn s(p: &Path) -> &str {
    p.to_str().unwrap()
}

pub fn write_npy<T: Real>(path: &Path, shape: Shape, data: &[T]) {
    let a = Array::new(shape, Values::from_real(data)).unwrap();
    std::fs::write(path, npy::to_bytes(&a)).unwrap();
}

pub fn read_npy(path: &Path) -> Array {
    npy::from_bytes(&std::fs::read(path).unwrap()).unwrap()
}

pub fn cast<T: Real>(v: &[f64]) -> Vec<T> {
    v.iter().map(|c| T::of(*c)).collect()
}

pub fn to_bits<T: Real>(v: &[T]) -> Vec<u64> {
    v.iter().map(|c| c.as_f64().to_bits()).collect()
}

/// A `.npy` file of integers (offsets of a ragged batch) as NumPy writes it, `descr` one of `<i4`,
/// `<i8`, `<u8` (or `<f8`, to be refused), `shape` as in the header (`(4,)`).
pub fn write_ints(path: &Path, descr: &str, shape: &str, values: &[i64]) {
    let dict = format!("{{'descr': '{descr}', 'fortran_order': False, 'shape': {shape}, }}");
    let mut bytes = b"\x93NUMPY\x01\x00\x76\x00".to_vec();
    bytes.extend(format!("{dict:<117}\n").bytes());
    for &v in values {
        match descr {
            "<i4" => bytes.extend((v as i32).to_le_bytes()),
            "<u8" => bytes.extend((v as u64).to_le_bytes()),
            "<f8" => bytes.extend((v as f64).to_le_bytes()),
            _ => bytes.extend(v.to_le_bytes()),
        }
    }
    std::fs::write(path, bytes).unwrap();
}
