//! Per-feature standardisation of a user's file (`file:PATH:standardise`), and the report's note
//! when, without it, one feature carries most of the variance.

use drift_bench::data::{
    dominant_feature, feature_moments, standardise, DataSpec, LabelColumn, DOMINANT_SHARE,
};
use std::path::{Path, PathBuf};
use std::process::Command;

/// A folder of its own under the temporary folder.
fn scratch(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("drift-std-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// 60 rows: a feature of magnitude ~1e3 beside two of ~1e-1.
fn heterogeneous_csv(dir: &Path) -> PathBuf {
    let path = dir.join("mixed.csv");
    let mut text = String::from("big,small,tiny\n");
    for i in 0..60 {
        let t = i as f64;
        text.push_str(&format!(
            "{},{},{}\n",
            1000.0 * (t * 0.37).sin(),
            0.1 * (t * 1.3).cos(),
            0.05 * ((t * 0.71).sin() + (i % 3) as f64)
        ));
    }
    std::fs::write(&path, text).unwrap();
    path
}

#[test]
fn the_option_is_parsed_named_and_round_trips_in_either_order() {
    for (text, label) in [
        ("file:a:b.csv:standardise", LabelColumn::None),
        ("file:a:b.csv:standardise:label=last", LabelColumn::Last),
        ("file:a:b.csv:label=last:standardise", LabelColumn::Last),
    ] {
        let spec = DataSpec::parse(text).unwrap();
        assert_eq!(
            spec,
            DataSpec::File {
                path: "a:b.csv".into(),
                label_column: label,
                standardise: true
            },
            "{text}"
        );
        assert_eq!(DataSpec::parse(&spec.name()).unwrap(), spec);
    }
    assert_eq!(
        DataSpec::parse("file:a.csv:standardise:label=2")
            .unwrap()
            .name(),
        "file:a.csv:standardise:label=2"
    );
    assert!(matches!(
        DataSpec::parse("file:a.csv").unwrap(),
        DataSpec::File {
            standardise: false,
            ..
        }
    ));
    assert!(DataSpec::parse("file::standardise").is_err());
}

#[test]
fn standardised_features_have_mean_zero_and_deviation_one() {
    let dir = scratch("moments");
    let path = heterogeneous_csv(&dir);
    let raw = DataSpec::parse(&format!("file:{}", path.display()))
        .unwrap()
        .load(0, 0)
        .unwrap();
    let spec = DataSpec::parse(&format!("file:{}:standardise", path.display())).unwrap();
    let data = spec.load(0, 0).unwrap();
    assert_eq!((data.len(), data.dim), (60, 3));
    for k in 0..3 {
        // A straightforward reference: the column's mean and population deviation.
        let column: Vec<f64> = raw.points.iter().skip(k).step_by(3).copied().collect();
        let mean = column.iter().sum::<f64>() / 60.0;
        let sd = (column.iter().map(|v| (v - mean).powi(2)).sum::<f64>() / 60.0).sqrt();
        for (i, v) in column.iter().enumerate() {
            let got = data.points[3 * i + k];
            assert!(((v - mean) / sd - got).abs() < 1e-12, "{k} {i}: {got}");
        }
    }
    for (m, s) in feature_moments(&data.points, 3) {
        assert!(m.abs() < 1e-12 && (s - 1.0).abs() < 1e-12, "{m} {s}");
    }
    // A constant feature becomes 0, not NaN.
    let mut p = vec![1.0, 5.0, 2.0, 5.0, 3.0, 5.0];
    standardise(&mut p, 2);
    assert_eq!(
        p.iter().skip(1).step_by(2).copied().collect::<Vec<_>>(),
        [0.0; 3]
    );
    assert!(p.iter().all(|v| v.is_finite()));
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn a_dominant_feature_is_found_only_above_the_share() {
    // Variances 100 and 1: a share of 100/101 > 0.9.
    let p = [10.0, 1.0, -10.0, -1.0];
    let (k, share) = dominant_feature(&p, 2).unwrap();
    assert_eq!(k, 0);
    assert!((share - 100.0 / 101.0).abs() < 1e-12);
    // Variances 8 and 1: a share of 8/9 < 0.9.
    let s = 8f64.sqrt();
    assert_eq!(dominant_feature(&[s, 1.0, -s, -1.0], 2), None);
    const { assert!(8.0 / 9.0 < DOMINANT_SHARE && 100.0 / 101.0 > DOMINANT_SHARE) };
    assert_eq!(dominant_feature(&[1.0, 2.0, 3.0], 1), None);
    assert_eq!(dominant_feature(&[1.0, 1.0, 1.0, 1.0], 2), None);
}

/// Runs a tiny comparison on `data` into `out` and returns report.md and results.csv.
fn compare(data: &str, out: &Path) -> (String, String) {
    let run = Command::new(env!("CARGO_BIN_EXE_drift-bench"))
        .args(["compare", "-o", "one_sided", "-d", data, "-t", "1"])
        .args(["--steps", "2", "--mode", "flow", "--quiet", "--out"])
        .arg(out)
        .output()
        .unwrap();
    assert!(
        run.status.success(),
        "{}",
        String::from_utf8_lossy(&run.stderr)
    );
    (
        std::fs::read_to_string(out.join("report.md")).unwrap(),
        std::fs::read_to_string(out.join("results.csv")).unwrap(),
    )
}

#[test]
fn the_report_names_a_dominant_feature_and_records_standardisation() {
    let dir = scratch("report");
    let path = heterogeneous_csv(&dir);
    let (report, _) = compare(
        &format!("file:{}:label=none", path.display()),
        &dir.join("raw"),
    );
    assert!(
        report.contains("feature 0 (0-based) carries") && report.contains(":standardise"),
        "{report}"
    );
    let (report, results) = compare(
        &format!("file:{}:standardise", path.display()),
        &dir.join("std"),
    );
    assert!(
        report.contains("every feature standardised to mean 0 and standard deviation 1"),
        "{report}"
    );
    assert!(!report.contains("(0-based) carries"), "{report}");
    assert!(results.contains("mixed.csv:standardise"), "{results}");
    std::fs::remove_dir_all(&dir).unwrap();
}
