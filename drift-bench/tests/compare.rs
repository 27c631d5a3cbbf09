//! `drift-bench compare` end to end: a short sweep writes every file it promises, the CSV and JSON
//! agree, the figures decode, the same seed gives the same numbers whatever the number of jobs, a
//! diverging run is recorded and the sweep goes on, and bad input fails before anything runs.

use drift_api::{DriftError, DriftJob, DriftOperator, DriftProblem, DriftReport, Real, Result};
use drift_bench::compare::{run_sweep, Mode, RunRecord, RunStatus, Study, Sweep};
use drift_ops::engine::add_field;
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};
use std::process::ExitCode;

/// A test operator: pulls every particle toward the origin, and from step `after` on returns NaN.
#[derive(Debug, Serialize, Deserialize)]
struct Explode {
    after: u64,
}

impl Explode {
    fn run<T: Real>(&self, mut p: DriftProblem<'_, T>) -> Result<DriftReport> {
        let nan = p.context.step >= self.after;
        let disp: Vec<T> =
            p.x.data()
                .iter()
                .map(|&v| if nan { T::of(f64::NAN) } else { -v })
                .collect();
        let norm = add_field(&mut p, &disp, "test.explode")?;
        Ok(DriftReport::of("test.explode", Vec::new(), norm))
    }
}

#[typetag::serde(name = "test.explode")]
impl DriftOperator for Explode {
    fn drift(&self, job: DriftJob<'_>) -> Result<DriftReport> {
        drift_api::by_precision!(job, p => self.run(p))
    }
}

/// A test operator that only handles planar data.
#[derive(Debug, Serialize, Deserialize)]
struct PlanarOnly {}

impl PlanarOnly {
    fn run<T: Real>(&self, mut p: DriftProblem<'_, T>) -> Result<DriftReport> {
        if p.x.dim() != 2 {
            return Err(DriftError::InvalidParameter {
                what: "test.planar_only".into(),
                reason: format!("needs 2-D points, got dimension {}", p.x.dim()),
            });
        }
        let disp = vec![T::zero(); p.out.len()];
        let norm = add_field(&mut p, &disp, "test.planar_only")?;
        Ok(DriftReport::of("test.planar_only", Vec::new(), norm))
    }
}

#[typetag::serde(name = "test.planar_only")]
impl DriftOperator for PlanarOnly {
    fn drift(&self, job: DriftJob<'_>) -> Result<DriftReport> {
        drift_api::by_precision!(job, p => self.run(p))
    }
}

fn scratch(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("drift-compare-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    dir
}

fn cli(args: &[&str]) -> ExitCode {
    drift_bench::cli::run_with_args(std::iter::once("drift-bench").chain(args.iter().copied()))
}

fn small_study(operators: &[&str]) -> Study {
    let mut s = Study::new(
        operators.iter().map(|s| s.to_string()).collect(),
        vec!["eight_gaussians".into()],
    );
    s.temperatures = vec![0.05, 0.5];
    s.seeds = vec![3, 4];
    s.points = 120;
    s.flow.steps = 5;
    s.train.steps = 3;
    s.train.batch = 16;
    s.train.hidden = 16;
    s
}

/// The records without their wall times, which are the only numbers allowed to differ.
fn timeless(records: impl IntoIterator<Item = RunRecord>) -> Vec<RunRecord> {
    records
        .into_iter()
        .map(|mut r| {
            r.seconds = 0.0;
            r.metrics.ms_per_step = None;
            r
        })
        .collect()
}

#[test]
fn a_short_sweep_writes_every_promised_file() {
    let dir = scratch("files");
    let out = dir.to_str().unwrap();
    assert_eq!(
        cli(&["compare", "--preset", "quick", "--out", out, "--quiet"]),
        ExitCode::SUCCESS
    );
    for f in ["results.csv", "results.json", "report.md"] {
        assert!(dir.join(f).is_file(), "{f} missing");
    }
    let json: Vec<serde_json::Value> =
        serde_json::from_str(&std::fs::read_to_string(dir.join("results.json")).unwrap()).unwrap();
    let csv = std::fs::read_to_string(dir.join("results.csv")).unwrap();
    // The quick preset: 2 operators × 2 temperatures × 2 seeds × 2 modes on one data set.
    assert_eq!(json.len(), 16);
    let header: Vec<&str> = csv.lines().next().unwrap().split(',').collect();
    let col = |name: &str| {
        header
            .iter()
            .position(|h| *h == name)
            .unwrap_or_else(|| panic!("no column {name}"))
    };
    let (op_col, temp_col, w2_col) = (col("operator"), col("temperature"), col("w2_sq"));
    let rows: Vec<Vec<&str>> = csv
        .lines()
        .skip(1)
        .map(|l| l.split(',').collect())
        .collect();
    assert_eq!(rows.len(), json.len());
    for (row, obj) in rows.iter().zip(&json) {
        // The quick preset's operators are plain names: no commas or quotes in these columns.
        assert_eq!(row[op_col], obj["operator"].as_str().unwrap());
        assert_eq!(
            row[temp_col].parse::<f64>().unwrap(),
            obj["temperature"].as_f64().unwrap()
        );
        let w2: f64 = row[w2_col].parse().unwrap();
        assert_eq!(w2, obj["w2_sq"].as_f64().unwrap());
        assert!(w2.is_finite() && w2 >= 0.0);
    }
    let report = std::fs::read_to_string(dir.join("report.md")).unwrap();
    let (mut png, mut svg) = (0, 0);
    for entry in std::fs::read_dir(&dir).unwrap() {
        let path = entry.unwrap().path();
        match path.extension().and_then(|e| e.to_str()) {
            Some("png") => {
                png += 1;
                check_png(&path);
                let name = path.file_name().unwrap().to_str().unwrap();
                assert!(report.contains(name), "report.md does not link {name}");
            }
            Some("svg") => {
                svg += 1;
                let text = std::fs::read_to_string(&path).unwrap();
                assert!(text.contains("<svg"), "{}", path.display());
            }
            _ => {}
        }
    }
    assert!(png >= 3 && png == svg, "{png} PNGs, {svg} SVGs");
    let _ = std::fs::remove_dir_all(&dir);
}

fn check_png(path: &Path) {
    let decoder = png::Decoder::new(std::io::BufReader::new(std::fs::File::open(path).unwrap()));
    let mut reader = decoder.read_info().unwrap();
    let mut buf = vec![0; reader.output_buffer_size().unwrap()];
    let info = reader.next_frame(&mut buf).unwrap();
    assert!(info.width > 50 && info.height > 50, "{}", path.display());
    let pixels = &buf[..info.buffer_size()];
    assert!(
        pixels.iter().any(|&p| p != pixels[0]),
        "{} is blank",
        path.display()
    );
}

#[test]
fn the_same_seed_gives_the_same_numbers_whatever_the_jobs() {
    let mut study = small_study(&["one_sided", "sinkhorn_drift"]);
    study.modes = vec![Mode::Flow, Mode::Train];
    let sweep = Sweep {
        studies: vec![study],
        jobs: 1,
    };
    let a = run_sweep(&sweep, false).unwrap();
    let b = run_sweep(&sweep, false).unwrap();
    let c = run_sweep(&Sweep { jobs: 2, ..sweep }, false).unwrap();
    let records =
        |r: &drift_bench::compare::SweepResults| timeless(r.runs.iter().map(|o| o.record.clone()));
    assert_eq!(records(&a), records(&b));
    assert_eq!(records(&a), records(&c));
    assert!(a.runs.iter().all(|r| r.record.status == RunStatus::Ok));
    // Different seeds start elsewhere, so they end elsewhere.
    assert_ne!(a.runs[0].samples, a.runs[1].samples);
}

#[test]
fn a_diverging_run_is_recorded_and_the_sweep_goes_on() {
    let sweep = Sweep {
        studies: vec![small_study(&[
            r#"{"test.explode": (after: 2)}"#,
            "one_sided",
        ])],
        jobs: 1,
    };
    let results = run_sweep(&sweep, false).unwrap();
    let (exploded, rest): (Vec<_>, Vec<_>) = results
        .runs
        .iter()
        .partition(|r| r.record.key.operator == "test.explode");
    assert_eq!(exploded.len(), 4);
    for r in exploded {
        assert_eq!(r.record.status, RunStatus::Diverged { step: 2 });
        assert!(r.samples.is_empty() && r.record.metrics.w2_sq.is_none());
    }
    assert!(rest.iter().all(|r| r.record.status == RunStatus::Ok));
    let dir = scratch("diverged");
    let out = dir.to_str().unwrap();
    let code = cli(&[
        "compare",
        "-o",
        r#"{"test.explode": (after: 1)}"#,
        "-o",
        "one_sided",
        "-d",
        "eight_gaussians",
        "-t",
        "0.1",
        "--steps",
        "3",
        "--points",
        "60",
        "--out",
        out,
        "--quiet",
    ]);
    assert_eq!(code, ExitCode::SUCCESS);
    let report = std::fs::read_to_string(dir.join("report.md")).unwrap();
    assert!(report.contains("diverged"), "{report}");
    let _ = std::fs::remove_dir_all(&dir);
}

/// Runs `compare` with `args` and returns its error; the report folder must not exist afterwards
/// (nothing ran).
fn fails_before_running(sweep: Sweep) -> String {
    format!("{:#}", run_sweep(&sweep, false).unwrap_err())
}

#[test]
fn bad_input_fails_before_anything_runs() {
    let one = |s: Study| Sweep {
        studies: vec![s],
        jobs: 1,
    };
    let e = fails_before_running(one(small_study(&["no_such_operator"])));
    assert!(
        e.contains("no_such_operator") && e.contains("one_sided"),
        "{e}"
    );
    let e = fails_before_running(one(small_study(&["missing/operator.ron"])));
    assert!(e.contains("missing/operator.ron"), "{e}");
    let mut s = small_study(&["one_sided"]);
    s.temperatures.clear();
    assert!(fails_before_running(one(s)).contains("temperature list is empty"));
    let mut s = small_study(&[r#"{"test.planar_only": ()}"#]);
    s.datasets = vec!["eight_gaussians".into(), "mixture:5:3".into()];
    let e = fails_before_running(one(s));
    assert!(
        e.contains("test.planar_only") && e.contains("dimension 5"),
        "{e}"
    );
    let mut s = small_study(&["one_sided"]);
    s.datasets = vec!["no_such_data".into()];
    assert!(fails_before_running(one(s)).contains("no_such_data"));

    // A label column with a single class.
    let dir = scratch("labels");
    std::fs::create_dir_all(&dir).unwrap();
    let file = dir.join("one_class.csv");
    std::fs::write(
        &file,
        "0.0,1.0,a\n1.0,0.0,a\n2.0,1.0,a\n0.5,0.5,a\n1.5,0.5,a\n",
    )
    .unwrap();
    let mut s = small_study(&["one_sided"]);
    s.datasets = vec![format!("file:{}:label=last", file.display())];
    let e = fails_before_running(one(s));
    assert!(
        e.contains("one_class.csv") && e.contains("single class"),
        "{e}"
    );

    // From the command line: an error status, and no report folder.
    let out = dir.join("report");
    let code = cli(&[
        "compare",
        "-o",
        "nope",
        "-d",
        "eight_gaussians",
        "--out",
        out.to_str().unwrap(),
        "--quiet",
    ]);
    assert_eq!(code, ExitCode::FAILURE);
    assert!(!out.exists());
    let sweep_file = dir.join("empty.ron");
    std::fs::write(&sweep_file, r#"(studies: [(operators: ["one_sided"], datasets: ["eight_gaussians"], temperatures: [])])"#).unwrap();
    let code = cli(&[
        "compare",
        sweep_file.to_str().unwrap(),
        "--out",
        out.to_str().unwrap(),
    ]);
    assert_eq!(code, ExitCode::FAILURE);
    assert!(!out.exists());
    let _ = std::fs::remove_dir_all(&dir);
}
