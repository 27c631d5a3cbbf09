//! The checker CI runs after the default comparison (`scripts/check-readme-table.py`): the README's
//! table passes when its metrics equal a fresh report's, timings aside, and fails on any metric,
//! row or column that differs.

use std::path::{Path, PathBuf};
use std::process::Command;

const HEADER: &str =
    "| dataset | mode | study | operator | T | runs | W2² | modes | ms/step | Sinkhorn it. |\n\
                      | --- | --- | --: | --- | --: | --- | --: | --: | --: | --: |";

fn row(operator: &str, t: &str, w2: &str, ms: &str) -> String {
    format!("| digits | train | 2 | {operator} | {t} | 1 ok | {w2} | - | {ms} | 39.7‡ |")
}

/// A fresh report: three rows, padded as the command pads them.
fn report() -> String {
    format!(
        "# drift-bench compare\n\n## Summary\n\n{HEADER}\n{}\n{}\n{}\n\nT: temperature\n",
        row("sinkhorn_drift   ", "0.005", "  485", "5.38"),
        row("sinkhorn_drift   ", "0.1", "517", "3.43"),
        row("one_sided", "1", "663", "2.99"),
    )
}

fn readme(rows: &[String]) -> String {
    format!(
        "# drift\n\nWhat it showed:\n\n{HEADER}\n{}\n\nmore text\n",
        rows.join("\n")
    )
}

/// Runs the checker on `readme` against `report()`; its exit code and what it printed.
fn check(name: &str, readme: &str) -> (i32, String) {
    let dir = std::env::temp_dir().join(format!("drift-readme-{name}-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let (a, b) = (dir.join("README.md"), dir.join("report.md"));
    std::fs::write(&a, readme).unwrap();
    std::fs::write(&b, report()).unwrap();
    let script: PathBuf =
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../scripts/check-readme-table.py");
    let out = Command::new("python3")
        .arg(&script)
        .args([&a, &b])
        .output()
        .expect("python3 runs the checker (CI has it)");
    std::fs::remove_dir_all(&dir).unwrap();
    let text =
        String::from_utf8_lossy(&out.stdout).to_string() + &String::from_utf8_lossy(&out.stderr);
    (out.status.code().unwrap_or(-1), text)
}

#[test]
fn equal_metrics_pass_whatever_the_timings() {
    let rows = [
        row("sinkhorn_drift", "0.005", "485", "99.9"),
        row("one_sided", "1", "663", "0.1"),
    ];
    let (code, text) = check("pass", &readme(&rows));
    assert_eq!(code, 0, "{text}");
    assert!(text.contains("2 rows equal"), "{text}");
}

#[test]
fn a_changed_metric_a_missing_row_or_a_new_column_fails() {
    let (code, text) = check(
        "metric",
        &readme(&[row("sinkhorn_drift", "0.1", "518", "3.43")]),
    );
    assert_eq!(code, 1, "{text}");
    assert!(
        text.contains("sinkhorn_drift | 0.1: W2² is 518 in the README, 517 in a fresh run"),
        "{text}"
    );
    let (code, text) = check("row", &readme(&[row("mmd", "0.1", "517", "3.43")]));
    assert_eq!(code, 1, "{text}");
    assert!(text.contains("mmd | 0.1: no such row"), "{text}");
    let marks = readme(&[row("sinkhorn_drift", "0.005", "485", "5.38").replace("39.7‡", "39.7")]);
    let (code, text) = check("mark", &marks);
    assert_eq!(code, 1, "{text}");
    let other_columns =
        readme(&[row("one_sided", "1", "663", "2.99")]).replace("| modes |", "| classes |");
    let (code, text) = check("columns", &other_columns);
    assert_eq!(code, 1, "{text}");
    assert!(text.contains("columns differ"), "{text}");
    let (code, text) = check("empty", "# drift\n\nno table\n");
    assert_eq!(code, 2, "{text}");
    assert!(text.contains("no results table"), "{text}");
}
