//! A report folder reproduces itself: `report.md` and every row of `results.csv`/`results.json`
//! record the study's settings, the exact command, the version and the operator with every
//! default, and a row (or the whole sweep) run again from them alone gives the same metrics.

mod common;

use common::*;
use drift_bench::compare::rerun::study_of_record;
use drift_bench::compare::{RunRecord, Sweep};
use std::path::Path;

/// The records of a report folder's `results.json`.
fn records(dir: &Path) -> Vec<RunRecord> {
    serde_json::from_str(&std::fs::read_to_string(dir.join("results.json")).unwrap()).unwrap()
}

/// Every metric but the timings, which are the only numbers allowed to differ between two runs.
fn metrics(r: &RunRecord) -> String {
    let mut m = r.metrics.clone();
    m.ms_per_step = None;
    format!("{:?} {:?}", r.status, m)
}

/// The fenced RON block of `report.md`.
fn sweep_block(md: &str) -> String {
    let start = md.find("```ron\n").expect("a RON block") + "```ron\n".len();
    let end = start + md[start..].find("\n```").unwrap();
    md[start..end].to_string()
}

#[test]
fn a_report_records_everything_and_reruns_its_rows() {
    let dir = scratch("reproduce");
    let out = dir.join("rep");
    let args = [
        "compare",
        "-o",
        "one_sided",
        "-o",
        r#"gauss={"deng_alg2": (temperature: 1.0, kernel: {"gaussian": ()})}"#,
        "-d",
        "eight_gaussians",
        "-t",
        "0.1,1",
        "--seeds",
        "0,1",
        "--mode",
        "flow,train",
        "--points",
        "90",
        "--steps",
        "4",
        "--eta",
        "0.4",
        "--train-steps",
        "3",
        "--batch",
        "16",
        "--hidden",
        "8",
        "--data-seed",
        "5",
        "--test-fraction",
        "0.25",
        "--start",
        "gaussian:1.5",
        "--quiet",
        "--out",
        s(&out),
    ];
    ok(&args);
    let runs = records(&out);
    assert_eq!(runs.len(), 16);
    for r in &runs {
        let st = &r.key.settings;
        assert_eq!(st.study, 1);
        assert_eq!(st.data, "eight_gaussians");
        assert_eq!((st.points, st.data_seed, st.test_fraction), (90, 5, 0.25));
        assert_eq!((st.precision.as_str(), st.backend.as_str()), ("f32", "cpu"));
        assert_eq!(st.version, env!("CARGO_PKG_VERSION"));
        assert!(
            st.command
                .starts_with("drift-bench compare -o one_sided -o 'gauss="),
            "{}",
            st.command
        );
        assert!(
            st.command.ends_with(&format!("--quiet --out {}", s(&out))),
            "{}",
            st.command
        );
        match r.key.mode {
            drift_bench::compare::Mode::Flow => {
                assert_eq!((st.flow_steps, st.eta), (Some(4), Some(0.4)));
                assert_eq!(st.start.as_deref(), Some("gaussian:1.5"));
                assert_eq!(st.train_steps, None);
            }
            drift_bench::compare::Mode::Train => {
                assert_eq!(
                    (st.train_steps, st.batch, st.hidden),
                    (Some(3), Some(16), Some(8))
                );
                assert_eq!(st.learning_rate, Some(1e-3));
                assert_eq!(st.flow_steps, None);
            }
        }
        // The operator with every default written out: what `operator_ron` leaves implicit.
        let want = if r.key.operator == "one_sided" {
            "laplace"
        } else {
            "gaussian"
        };
        assert!(
            st.operator_expanded.contains(want) && st.operator_expanded.contains("mask_self"),
            "{}",
            st.operator_expanded
        );
    }
    let csv = std::fs::read_to_string(out.join("results.csv")).unwrap();
    let header = csv.lines().next().unwrap();
    for column in [
        "study",
        "data",
        "data_seed",
        "test_fraction",
        "precision",
        "flow_steps",
        "eta",
        "start",
        "train_steps",
        "learning_rate",
        "version",
        "command",
        "operator_expanded",
    ] {
        assert!(header.split(',').any(|h| h == column), "{column}: {header}");
    }
    // report.md: the exact command, the version, every study setting, the operators.
    let md = std::fs::read_to_string(out.join("report.md")).unwrap();
    assert!(
        md.contains(&format!(
            "Made by:\n\n```text\n{}\n```",
            runs[0].key.settings.command
        )),
        "{md}"
    );
    assert!(
        md.contains(&format!("drift-bench {}", env!("CARGO_PKG_VERSION"))),
        "{md}"
    );
    assert!(md.contains("## Settings"), "{md}");
    assert!(md.contains("| 1 | eight_gaussians | flow, train | 90 | 5 | 0.25 | f32 | cpu | 4 | 0.4 | 0 | gaussian:1.5 | 3 | 16 | 8 |"), "{md}");

    // One row, run again from its record alone (the third: one_sided, T = 1, seed 0, flow).
    let row = &runs[2];
    let sweep = Sweep {
        studies: vec![study_of_record(row).unwrap()],
        jobs: 1,
    };
    let file = dir.join("row.ron");
    std::fs::write(&file, ron::to_string(&sweep).unwrap()).unwrap();
    let again = dir.join("again");
    ok(&["compare", s(&file), "--quiet", "--out", s(&again)]);
    let rerun = records(&again);
    assert_eq!(rerun.len(), 1);
    assert_eq!(
        (
            rerun[0].key.mode,
            rerun[0].key.temperature,
            rerun[0].key.seed
        ),
        (row.key.mode, row.key.temperature, row.key.seed)
    );
    assert_eq!(metrics(&rerun[0]), metrics(row));

    // The whole sweep, from the RON block of report.md.
    let whole = dir.join("sweep.ron");
    std::fs::write(&whole, sweep_block(&md)).unwrap();
    let all = dir.join("all");
    ok(&["compare", s(&whole), "--quiet", "--out", s(&all)]);
    let rerun = records(&all);
    assert_eq!(rerun.len(), runs.len());
    for (a, b) in rerun.iter().zip(&runs) {
        assert_eq!(
            (&a.key.operator, a.key.mode, a.key.temperature, a.key.seed),
            (&b.key.operator, b.key.mode, b.key.temperature, b.key.seed)
        );
        assert_eq!(
            a.key.settings.operator_expanded,
            b.key.settings.operator_expanded
        );
        assert_eq!(
            metrics(a),
            metrics(b),
            "{} {:?}",
            a.key.operator,
            a.key.mode
        );
    }
}

#[test]
fn a_preset_report_names_its_preset_and_marks_untrained_rows() {
    // `drift-bench` alone runs the `default` preset, noted the same way; `quick` takes seconds.
    let dir = scratch("preset-note");
    let out = dir.join("rep");
    let stdout = ok(&["compare", "--preset", "quick", "--quiet", "--out", s(&out)]);
    let md = std::fs::read_to_string(out.join("report.md")).unwrap();
    assert!(
        md.contains("The sweep is the `quick` preset (`drift-bench compare --preset quick`)"),
        "{md}"
    );
    // Its 10 training steps cannot learn: the table says so, in the terminal and the report.
    for text in [&stdout, &md] {
        assert!(text.contains("| train† |"), "{text}");
        assert!(
            text.contains("† 10 training step(s): too few for a generator to learn"),
            "{text}"
        );
    }
}
