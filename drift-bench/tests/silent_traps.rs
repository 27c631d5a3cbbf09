//! The silent traps of issue 26: a `.csv` whose label column would run as a coordinate, training
//! rows too short to learn shown as results, and one label for two different operators.

mod common;

use common::*;
use drift_bench::compare::operator_spec::{differences_from_registry, resolve};
use drift_bench::compare::presets::preset;
use drift_bench::compare::{Mode, RunKey, RunMetrics, RunRecord, RunSettings, RunStatus};
use drift_bench::report::summary_table;
use std::path::Path;

/// A tiny comparison of `one_sided` on `data` into `out`.
fn tiny<'a>(data: &'a str, out: &'a str) -> Vec<&'a str> {
    vec![
        "compare",
        "-o",
        "one_sided",
        "-d",
        data,
        "-t",
        "1",
        "--steps",
        "2",
        "--quiet",
        "--out",
        out,
    ]
}

/// 2-D points on a noisy circle, with `label(i)` appended to each line as a last column.
fn labelled_csv(path: &Path, header: Option<&str>, label: impl Fn(usize) -> String) {
    let mut text = header.map(|h| format!("{h}\n")).unwrap_or_default();
    for i in 0..40 {
        let t = i as f64 * 0.37;
        text.push_str(&format!(
            "{:.5},{:.5},{}\n",
            t.cos() * (1.0 + 0.01 * i as f64),
            t.sin(),
            label(i)
        ));
    }
    std::fs::write(path, text).unwrap();
}

/// Runs a command that must stop before any run: status 1, nothing on standard output, no report
/// folder. Returns standard error.
fn refused_before_any_run(args: &[&str], out: &Path) -> String {
    let output = run(args);
    let (stdout, stderr) = text(&output);
    assert_eq!(
        output.status.code(),
        Some(1),
        "{args:?}:\n{stdout}\n{stderr}"
    );
    assert!(stdout.is_empty(), "nothing runs: {stdout}");
    assert!(!out.exists(), "no report folder");
    stderr
}

#[test]
fn a_label_looking_column_needs_label_or_label_none() {
    let dir = scratch("label-trap");
    let out = dir.join("rep");
    // Integer classes in the last column, no header.
    let ints = dir.join("ints.csv");
    labelled_csv(&ints, None, |i| (i % 3).to_string());
    let data = format!("file:{}", ints.display());
    let e = refused_before_any_run(&tiny(&data, s(&out)), &out);
    assert!(
        e.contains("column 2 (the last of 3) looks like class labels"),
        "{e}"
    );
    assert!(e.contains("3 distinct whole numbers"), "{e}");
    assert!(e.contains(&format!("{data}:label=last")), "{e}");
    assert!(e.contains(&format!("{data}:label=none")), "{e}");
    // A header that names a label column, with text labels.
    let named = dir.join("named.csv");
    labelled_csv(&named, Some("x,y,Class"), |i| {
        ["cat", "dog"][i % 2].to_string()
    });
    let named_data = format!("file:{}", named.display());
    let e = refused_before_any_run(&tiny(&named_data, s(&out)), &out);
    assert!(e.contains("its header is \"class\""), "{e}");
    // Or a label column that is not last.
    let middle = dir.join("middle.csv");
    let rows: String = (0..20)
        .map(|i| {
            format!(
                "{:.3},{},{:.3}\n",
                i as f64 * 0.1,
                i % 2,
                (i * i) as f64 * 0.01
            )
        })
        .collect();
    std::fs::write(&middle, format!("a,target,b\n{rows}")).unwrap();
    let middle_data = format!("file:{}", middle.display());
    let e = refused_before_any_run(&tiny(&middle_data, s(&out)), &out);
    assert!(e.contains(&format!("{middle_data}:label=1")), "{e}");

    // Said either way, the comparison runs: three coordinates, or two and the classes.
    let none = format!("{data}:label=none");
    ok(&tiny(&none, s(&out)));
    let csv = std::fs::read_to_string(out.join("results.csv")).unwrap();
    assert!(csv.lines().nth(1).unwrap().contains(",3,flow,"), "{csv}");
    let last = format!("{data}:label=last");
    ok(&tiny(&last, s(&out)));
    let csv = std::fs::read_to_string(out.join("results.csv")).unwrap();
    assert!(csv.lines().nth(1).unwrap().contains(",2,flow,"), "{csv}");
    // Coordinates that are no labels pass without `:label=`.
    let plain = dir.join("plain.csv");
    labelled_csv(&plain, None, |i| format!("{:.4}", (i as f64 * 1.3).sin()));
    ok(&tiny(&format!("file:{}", plain.display()), s(&out)));
}

fn train_record(operator: &str, steps: usize) -> RunRecord {
    RunRecord {
        key: RunKey {
            operator: operator.to_string(),
            operator_ron: String::new(),
            dataset: "eight_gaussians".into(),
            dim: 2,
            mode: Mode::Train,
            temperature: 0.5,
            seed: 0,
            settings: RunSettings {
                study: 1,
                train_steps: Some(steps),
                ..RunSettings::default()
            },
        },
        status: RunStatus::Ok,
        metrics: RunMetrics {
            modes_covered: Some(0),
            modes_total: Some(8),
            mode_mass_error: Some(1.0),
            ..RunMetrics::default()
        },
        seconds: 0.1,
    }
}

#[test]
fn training_rows_too_short_to_learn_say_so_in_the_table() {
    let table = summary_table(&[train_record("one_sided", 10)]);
    let row = table.lines().find(|l| l.contains("one_sided")).unwrap();
    assert!(row.contains("train†"), "{table}");
    assert!(
        table.contains("† 10 training step(s): too few for a generator to learn"),
        "{table}"
    );
    let table = summary_table(&[train_record("one_sided", 300)]);
    assert!(!table.contains('†'), "{table}");
    // The quick preset's training rows are such rows.
    let quick = preset("quick").unwrap();
    assert!(quick.studies[0].train.steps < drift_bench::report::TRAIN_STEPS_TO_LEARN);
}

#[test]
fn labels_say_what_ran() {
    // No operator of the default comparison is labelled with a registered name while running
    // another kernel than that name's (`-o one_sided` is Laplace, the comparison's Gaussian).
    let sweep = preset("default").unwrap();
    let mut labels = Vec::new();
    for study in &sweep.studies {
        for spec in &study.operators {
            let op = resolve(spec).unwrap();
            if let Some(diff) = differences_from_registry(&op.label, &op.expanded) {
                assert!(
                    diff.iter().all(|d| !d.starts_with("kernel")),
                    "{}: {diff:?}",
                    op.label
                );
            }
            labels.push(op.label);
        }
    }
    assert!(
        labels.contains(&"one_sided_gaussian".to_string()),
        "{labels:?}"
    );
    assert!(
        labels.contains(&"deng_alg2_gaussian".to_string()),
        "{labels:?}"
    );
    assert!(!labels.contains(&"one_sided".to_string()), "{labels:?}");
    // Every study that picks operators by label still finds the renamed ones.
    for study in &sweep.studies {
        if study.modes.contains(&Mode::Train) {
            assert!(
                study
                    .operators
                    .iter()
                    .any(|o| o.starts_with("one_sided_gaussian")),
                "{:?}",
                study.operators
            );
        }
    }

    // A user's label that is a registered name but another operator: the report says how it
    // differs, beside the operator written out with every default.
    let dir = scratch("labels-say");
    let out = dir.join("rep");
    ok(&[
        "compare",
        "-o",
        "one_sided",
        "-o",
        r#"one_sided={"one_sided": (temperature: 1.0, kernel: {"gaussian": ()})}"#,
        "-d",
        "eight_gaussians",
        "-t",
        "1",
        "--steps",
        "2",
        "--points",
        "60",
        "--quiet",
        "--out",
        s(&out),
    ]);
    let md = std::fs::read_to_string(out.join("report.md")).unwrap();
    let lines: Vec<&str> = md
        .lines()
        .filter(|l| l.starts_with("- one\\_sided"))
        .collect();
    assert_eq!(lines.len(), 2, "{md}");
    assert!(
        lines[0].contains("laplace") && !lines[0].contains("registry"),
        "{md}"
    );
    assert!(
        lines[1].starts_with("- one\\_sided\\#2:")
            && lines[1].contains("not `-o one_sided` as the registry defines it: `kernel:"),
        "{md}"
    );
}
