//! Property: `apply` either writes a complete, correct output and exits 0, or exits non-zero and
//! leaves the previous output byte for byte as it was, over bad inputs of every kind and over runs
//! killed (SIGKILL) at a random moment.

mod common;

use common::*;
use drift_api::PointCloud;
use drift_bench::array::{Array, Shape, Values};
use drift_bench::{gaussian_blob, npy};
use proptest::prelude::*;
use std::path::Path;
use std::process::Command;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::OnceLock;
use std::time::Duration;

const N: usize = 800;
const D: usize = 2;
/// Enough Sinkhorn iterations that a run lasts some tens of milliseconds: kills land before,
/// during and after the computation.
const RON: &str = r#"{"sinkhorn_drift": (temperature: 0.5, kernel: {"gaussian": ()}, sinkhorn: (max_iters: 20, tol: 0.0))}"#;
/// What the output file holds before each run.
const PREVIOUS: &[u8] = b"the previous output";

/// One way of running `apply`: good inputs, or one bad input.
#[derive(Clone, Debug)]
enum Case {
    Good,
    /// X's `.npy` cut to this fraction of its length (in thousandths).
    TruncatedNpy(usize),
    /// X's `.npy` with its magic byte at this index replaced by this value (when different).
    BadMagic(usize, u8),
    /// Y as a `.csv` file with one bad cell (at this row) or line.
    BadCsv(usize, &'static str),
    /// Y of another dimension.
    WrongDimension,
    /// The operator file cut to this many bytes.
    TruncatedRon(usize),
    /// An operator with an invalid parameter.
    InvalidRon,
    /// `--out` is X (as `./x.npy`).
    OutIsInput,
    /// `--out` in a folder that does not exist.
    MissingFolder,
}

fn cases() -> impl Strategy<Value = Case> {
    prop_oneof![
        3 => Just(Case::Good),
        1 => (0usize..1000).prop_map(Case::TruncatedNpy),
        1 => (0usize..6, any::<u8>()).prop_map(|(i, b)| Case::BadMagic(i, b)),
        1 => (0usize..N, prop::sample::select(vec!["NA", "1e", "", "0x1", "1,2,3", "\u{feff}1"]))
            .prop_map(|(r, c)| Case::BadCsv(r, c)),
        1 => Just(Case::WrongDimension),
        1 => (0usize..RON.len() - 1).prop_map(Case::TruncatedRon),
        1 => Just(Case::InvalidRon),
        1 => Just(Case::OutIsInput),
        1 => Just(Case::MissingFolder),
    ]
}

fn points(seed: u64, centre: f64, dim: usize) -> Vec<f64> {
    gaussian_blob(N, &vec![centre; dim], 0.7, seed)
}

/// The bytes of the correct output: the library's field on the good inputs.
fn expected() -> &'static [u8] {
    static BYTES: OnceLock<Vec<u8>> = OnceLock::new();
    BYTES.get_or_init(|| {
        let op = drift_api::operator_from_str(RON, "op.ron").unwrap();
        let x = PointCloud::new("x", points(1, 0.0, D), D).unwrap();
        let y = PointCloud::new("y", points(2, 1.0, D), D).unwrap();
        let (v, _) = drift_ops::drift(op.as_ref(), &x, &y).unwrap();
        npy::to_bytes(&Array::new(Shape::Matrix(N, D), Values::F64(v)).unwrap())
    })
}

fn npy_bytes(values: Vec<f64>, dim: usize) -> Vec<u8> {
    npy::to_bytes(&Array::new(Shape::Matrix(N, dim), Values::F64(values)).unwrap())
}

/// Writes the inputs of `case` into `dir`; returns `apply`'s arguments (relative to `dir`).
fn prepare(dir: &Path, case: &Case) -> Vec<String> {
    let x = npy_bytes(points(1, 0.0, D), D);
    let mut y_name = "y.npy";
    let mut out = "v.npy";
    std::fs::write(dir.join("op.ron"), RON).unwrap();
    std::fs::write(dir.join("x.npy"), &x).unwrap();
    std::fs::write(dir.join("y.npy"), npy_bytes(points(2, 1.0, D), D)).unwrap();
    match case {
        Case::Good => {}
        Case::TruncatedNpy(k) => {
            std::fs::write(dir.join("x.npy"), &x[..x.len() * k / 1000]).unwrap();
        }
        Case::BadMagic(i, b) => {
            let mut bad = x.clone();
            bad[*i] = if bad[*i] == *b { b.wrapping_add(1) } else { *b };
            std::fs::write(dir.join("x.npy"), bad).unwrap();
        }
        Case::BadCsv(row, cell) => {
            let y = points(2, 1.0, D);
            let mut text = String::new();
            for (r, p) in y.chunks(D).enumerate() {
                if r == *row {
                    text.push_str(&format!("{},{cell}\n", p[0]));
                } else {
                    text.push_str(&format!("{},{}\n", p[0], p[1]));
                }
            }
            std::fs::write(dir.join("y.csv"), text).unwrap();
            y_name = "y.csv";
        }
        Case::WrongDimension => {
            std::fs::write(dir.join("y.npy"), npy_bytes(points(2, 1.0, 3), 3)).unwrap();
        }
        Case::TruncatedRon(k) => std::fs::write(dir.join("op.ron"), &RON[..*k]).unwrap(),
        Case::InvalidRon => std::fs::write(dir.join("op.ron"), RON.replace("0.5", "-0.5")).unwrap(),
        Case::OutIsInput => out = "./x.npy",
        Case::MissingFolder => out = "nodir/v.npy",
    }
    if !matches!(case, Case::OutIsInput | Case::MissingFolder) {
        std::fs::write(dir.join(out), PREVIOUS).unwrap();
    }
    [
        "apply", "--op", "op.ron", "--x", "x.npy", "--y", y_name, "--out", out,
    ]
    .iter()
    .map(|a| a.to_string())
    .collect()
}

/// The visible files of `dir` with their contents (the hidden temporary file a killed run may
/// leave is not among them).
fn snapshot(dir: &Path) -> Vec<(String, Vec<u8>)> {
    let mut files: Vec<(String, Vec<u8>)> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap())
        .filter(|e| e.file_type().unwrap().is_file())
        .map(|e| {
            let name = e.file_name().to_string_lossy().into_owned();
            (name, std::fs::read(e.path()).unwrap())
        })
        .filter(|(name, _)| !name.starts_with('.'))
        .collect();
    files.sort();
    files
}

/// Names and lengths of a snapshot, for failure messages.
fn sizes(files: &[(String, Vec<u8>)]) -> Vec<(&str, usize)> {
    files.iter().map(|(n, b)| (n.as_str(), b.len())).collect()
}

fn check(case: &Case, kill_after_ms: Option<u64>) -> Result<(), TestCaseError> {
    static CASE: AtomicUsize = AtomicUsize::new(0);
    let dir = scratch(&format!(
        "property-{}",
        CASE.fetch_add(1, Ordering::Relaxed)
    ));
    let args = prepare(&dir, case);
    let before = snapshot(&dir);
    let mut child = Command::new(BIN)
        .args(&args)
        .current_dir(&dir)
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    if let Some(ms) = kill_after_ms {
        std::thread::sleep(Duration::from_millis(ms));
        // SIGKILL; a run that already ended is unaffected.
        let _ = child.kill();
    }
    let status = child.wait().unwrap();
    let killed = status.code().is_none();
    let after = snapshot(&dir);
    let all: Vec<String> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    if !killed {
        // No temporary file is left behind by a run that ended by itself.
        prop_assert_eq!(all.len(), after.len(), "{:?}", all);
    }
    let output = after.iter().find(|(n, _)| n == "v.npy").map(|(_, b)| b);
    if status.success() {
        prop_assert!(matches!(case, Case::Good), "{:?} exited 0", case);
        prop_assert!(
            output.map(|b| b.as_slice()) == Some(expected()),
            "wrong output: {:?}",
            sizes(&after)
        );
    } else if killed
        && matches!(case, Case::Good)
        && output.map(|b| b.as_slice()) == Some(expected())
    {
        // Killed after the output was in place: complete.
        let others = |s: &[(String, Vec<u8>)]| -> Vec<(String, Vec<u8>)> {
            s.iter().filter(|(n, _)| n != "v.npy").cloned().collect()
        };
        prop_assert!(others(&after) == others(&before), "{:?}", sizes(&after));
    } else {
        prop_assert!(killed || !matches!(case, Case::Good), "good case failed");
        prop_assert!(
            after == before,
            "{:?} changed the folder: {:?} became {:?}",
            case,
            sizes(&before),
            sizes(&after)
        );
    }
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 40, failure_persistence: None, ..ProptestConfig::default() })]

    #[test]
    fn apply_writes_a_complete_output_or_leaves_the_previous_one(
        case in cases(),
        kill_after_ms in prop::option::weighted(0.5, 0u64..60),
    ) {
        check(&case, kill_after_ms)?;
    }
}
