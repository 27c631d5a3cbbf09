//! The report folder of a small synthetic sweep: every promised file is there, the pictures decode,
//! `results.csv` agrees with `results.json`, and the summary table names every cell.

use drift_bench::compare::record::{Mode, RunRecord, RunStatus};
use drift_bench::report::{summary_table, write_report};
use serde_json::Value;

mod fixtures;

use fixtures::*;

#[test]
fn report_writes_every_promised_file() {
    let (runs, datasets) = sweep();
    let dir = fresh_dir("files").join("nested");
    let start = std::time::Instant::now();
    let files = write_report(&dir, &runs, &datasets, &options()).unwrap();
    let elapsed = start.elapsed();

    let mut promised: Vec<String> = vec![
        "results.csv".into(),
        "results.json".into(),
        "report.md".into(),
    ];
    let flow_metrics = [
        "w2_sq",
        "sliced_w2",
        "mmd_sq",
        "energy",
        "modes_covered",
        "mode_mass_error",
        "ms_per_step",
    ];
    let train_metrics = ["w2_sq", "classes_covered", "accuracy", "ms_per_step"];
    let mut figures = vec![
        "ring_flow_samples".to_string(),
        "tiny_digits_train_images".to_string(),
    ];
    figures.extend(flow_metrics.iter().map(|m| format!("ring_flow_{m}")));
    figures.extend(
        train_metrics
            .iter()
            .map(|m| format!("tiny_digits_train_{m}")),
    );
    for f in &figures {
        promised.push(format!("{f}.png"));
        promised.push(format!("{f}.svg"));
    }
    let written: Vec<String> = files
        .files
        .iter()
        .map(|p| p.file_name().unwrap().to_string_lossy().into_owned())
        .collect();
    let mut sorted_promised = promised.clone();
    sorted_promised.sort();
    let mut sorted_written = written.clone();
    sorted_written.sort();
    assert_eq!(sorted_written, sorted_promised, "files written");
    let mut on_disk: Vec<String> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    on_disk.sort();
    assert_eq!(
        on_disk, sorted_promised,
        "files in the folder (no temporary file left)"
    );
    assert_eq!(files.report_md(), dir.join("report.md"));
    eprintln!(
        "report of {} runs: {} figures (PNG + SVG) in {:.3} s",
        runs.len(),
        figures.len(),
        elapsed.as_secs_f64()
    );

    for f in &figures {
        let (w, h, varied) = decode_png(&dir.join(format!("{f}.png")));
        assert!(w > 0 && h > 0, "{f}.png is empty");
        assert!(varied, "{f}.png has a single colour");
        let svg = std::fs::read_to_string(dir.join(format!("{f}.svg"))).unwrap();
        assert!(
            svg.starts_with("<svg") || svg.starts_with("<?xml"),
            "{f}.svg"
        );
        assert!(svg.trim_end().ends_with("</svg>"), "{f}.svg is not closed");
    }
    // The images are embedded in the SVG, not drawn pixel by pixel.
    let images = std::fs::read_to_string(dir.join("tiny_digits_train_images.svg")).unwrap();
    assert!(images.contains("data:image/png;base64,"));

    let md = std::fs::read_to_string(dir.join("report.md")).unwrap();
    assert!(md.starts_with("# Test sweep\n"));
    assert!(md.contains(&options().command));
    assert!(md.contains("- Temperatures are relative to the data's scale."));
    for f in &figures {
        assert!(
            md.contains(&format!("]({f}.png) ([SVG]({f}.svg))")),
            "report.md links {f}"
        );
    }
    assert!(md.contains("diverged at step 17"));
    assert!(md.contains(FAILURE), "report.md gives the failure message");
    std::fs::remove_dir_all(dir.parent().unwrap()).unwrap();
}

#[test]
fn csv_agrees_with_json() {
    let (runs, datasets) = sweep();
    let dir = fresh_dir("agree");
    write_report(&dir, &runs, &datasets, &options()).unwrap();
    let csv = read_csv(&std::fs::read_to_string(dir.join("results.csv")).unwrap());
    let json: Value =
        serde_json::from_str(&std::fs::read_to_string(dir.join("results.json")).unwrap()).unwrap();
    let json = json.as_array().unwrap();
    assert_eq!(csv.len(), 1 + runs.len(), "a header and one line per run");
    assert_eq!(json.len(), runs.len());
    let header = &csv[0];
    for (row, (file_object, run)) in csv[1..].iter().zip(json.iter().zip(&runs)) {
        assert_eq!(row.len(), header.len());
        // The record as serde encodes it, before any text: the CSV must agree with it exactly...
        let exact = serde_json::to_value(&run.record).unwrap();
        let object = exact.as_object().unwrap();
        // ...and with the file as serde_json reads it back.
        assert_eq!(file_object.as_object().unwrap().len(), object.len());
        let mut compared = 0;
        for (name, cell) in header.iter().zip(row) {
            match name.as_str() {
                "status" => assert_eq!(cell, run.record.status.name()),
                "diverged_step" => match &run.record.status {
                    RunStatus::Diverged { step } => {
                        assert_eq!(cell, &step.to_string());
                        assert_eq!(object["status"]["diverged"]["step"], *step);
                    }
                    _ => assert!(cell.is_empty()),
                },
                "failure" => match &run.record.status {
                    RunStatus::Failed { message } => {
                        assert_eq!(cell, message);
                        assert_eq!(object["status"]["failed"]["message"], *message);
                    }
                    _ => assert!(cell.is_empty()),
                },
                _ => {
                    let value = object
                        .get(name)
                        .unwrap_or_else(|| panic!("JSON lacks {name}"));
                    assert!(
                        agrees(cell, value, true),
                        "{name}: CSV {cell:?}, record {value}"
                    );
                    let read = &file_object[name];
                    assert!(
                        agrees(cell, read, false),
                        "{name}: CSV {cell:?}, file {read}"
                    );
                    compared += 1;
                }
            }
        }
        // Every JSON key but the status has a column.
        assert_eq!(compared, object.len() - 1);
        assert_eq!(
            row[header.iter().position(|h| h == "operator_ron").unwrap()],
            run.record.key.operator_ron
        );
    }
    // Serde reads the JSON back into the same records (numbers to within one unit in the last
    // place, as above).
    let back: Vec<RunRecord> =
        serde_json::from_str(&std::fs::read_to_string(dir.join("results.json")).unwrap()).unwrap();
    for (b, run) in back.iter().zip(&runs) {
        assert_eq!(b.key, run.record.key);
        assert_eq!(b.status, run.record.status);
        assert_eq!(
            b.metrics.class_histogram,
            run.record.metrics.class_histogram
        );
        assert!(within_one_ulp(b.seconds, run.record.seconds));
    }
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn summary_table_names_every_cell_and_marks_failures() {
    let (runs, _) = sweep();
    let records: Vec<RunRecord> = runs.iter().map(|r| r.record.clone()).collect();
    let table = summary_table(&records);
    eprintln!("{table}");
    for op in OPERATORS {
        assert!(table.contains(op));
    }
    let rows: Vec<&str> = table.lines().filter(|l| l.starts_with("| ring")).collect();
    assert_eq!(rows.len(), OPERATORS.len() * FLOW_TEMPERATURES.len());
    for t in FLOW_TEMPERATURES {
        assert!(rows.iter().any(|r| r.contains(&format!(" {t} "))), "T={t}");
    }
    // Sorted by operator in the runs' order, then temperature.
    assert!(rows[0].contains("one_sided") && rows[0].contains(" 0.01 "));
    assert!(rows[0].contains("1 ok, 1 diverged"), "{}", rows[0]);
    assert!(rows[5].contains("sinkhorn_drift") && rows[5].contains("1 ok, 1 failed"));
    // One seed of one_sided at 0.01 covers 3 modes; the diverged one has no count.
    assert!(rows[0].contains("3/8"), "{}", rows[0]);
    // Two finished seeds: a mean and a spread.
    assert!(rows[1].contains(" ± "), "{}", rows[1]);
    let digits: Vec<&str> = table
        .lines()
        .filter(|l| l.starts_with("| tiny digits"))
        .collect();
    assert_eq!(digits.len(), 4);
    assert!(digits[0].contains("10/10") && digits[2].contains("9/10"));
    // Every line of the table has the same width in characters.
    let widths: Vec<usize> = table
        .lines()
        .take_while(|l| l.starts_with('|'))
        .map(|l| l.chars().count())
        .collect();
    assert!(widths.windows(2).all(|w| w[0] == w[1]), "{widths:?}");
}

/// A run whose Sinkhorn coupling stopped at its cap unconverged is marked in its row's Sinkhorn
/// cell, with the worst marginal error under the table; converged runs are not.
#[test]
fn unconverged_sinkhorn_runs_are_marked_with_their_worst_error() {
    let (runs, _) = sweep();
    let mut records: Vec<RunRecord> = runs.iter().map(|r| r.record.clone()).collect();
    let clean = summary_table(&records);
    assert!(!clean.contains('‡'), "{clean}");
    let capped = records
        .iter_mut()
        .find(|r| r.key.operator == "sinkhorn_drift" && r.key.temperature == 0.01)
        .unwrap();
    capped.metrics.sinkhorn_unconverged = Some(2);
    capped.metrics.sinkhorn_error = Some(0.0173);
    let table = summary_table(&records);
    let marked: Vec<&str> = table.lines().filter(|l| l.contains('‡')).collect();
    assert_eq!(marked.len(), 2, "{table}"); // the row and the note
    assert!(marked[0].contains("sinkhorn_drift") && marked[0].contains(" 0.01 "));
    assert!(
        marked[1].contains("worst L1 marginal error 0.017"),
        "{}",
        marked[1]
    );
    // The table keeps its alignment with the mark.
    let widths: Vec<usize> = table
        .lines()
        .take_while(|l| l.starts_with('|'))
        .map(|l| l.chars().count())
        .collect();
    assert!(widths.windows(2).all(|w| w[0] == w[1]), "{widths:?}");
}

#[test]
fn bad_input_is_a_clear_error() {
    let (runs, datasets) = sweep();
    let dir = fresh_dir("bad");
    let err = write_report(&dir, &runs, &datasets[..1], &options()).unwrap_err();
    assert!(
        err.to_string()
            .contains("no data set summary named tiny digits"),
        "{err}"
    );
    let mut odd = runs.clone();
    odd[0].samples.pop();
    let err = write_report(&dir, &odd, &datasets, &options()).unwrap_err();
    assert!(
        err.to_string().contains("not points of dimension 2"),
        "{err}"
    );
    let err = write_report(&dir, &[], &datasets, &options()).unwrap_err();
    assert!(err.to_string().contains("no runs"), "{err}");
    assert!(!dir.exists(), "nothing is written on bad input");
}

/// The time to write a report the size of a default comparison: 7 operators × 6 temperatures × 2
/// seeds of flow on a 2-D set (1000 samples each) and on 64-d images, plus 3 operators × 6
/// temperatures of class-conditional training on the images. A measurement, not a check:
/// `cargo test --release -p drift-bench --test report -- --ignored --nocapture`.
#[test]
#[ignore]
fn timing_of_a_default_sized_report() {
    let (small, datasets) = sweep();
    let ring_run = small
        .iter()
        .find(|r| r.record.status == RunStatus::Ok)
        .unwrap();
    let image_run = small.iter().find(|r| r.record.key.dim == 64).unwrap();
    let operators = [
        "one_sided",
        "algorithm_2",
        "sinkhorn_proxy",
        "sinkhorn_drift",
        "sinkhorn_divergence",
        "mmd",
        "sliced",
    ];
    let temperatures = [0.005, 0.01, 0.03, 0.1, 0.3, 1.0];
    let mut rng = Lcg(11);
    let mut runs = Vec::new();
    for (mode, dataset, ops) in [
        (Mode::Flow, &datasets[0], &operators[..]),
        (Mode::Flow, &datasets[1], &operators[..]),
        (Mode::Train, &datasets[1], &operators[..3]),
    ] {
        for op in ops {
            for &t in &temperatures {
                for seed in 0..2 {
                    let mut run = if dataset.dim == 2 {
                        ring_run.clone()
                    } else {
                        image_run.clone()
                    };
                    run.record.key = key(op, &dataset.name, dataset.dim, mode, t, seed);
                    run.samples = if dataset.dim == 2 {
                        ring(1000, 0.3, &mut rng)
                    } else {
                        (0..1000 * 64).map(|_| 16.0 * rng.next()).collect()
                    };
                    run.sample_classes =
                        (mode == Mode::Train).then(|| (0..1000).map(|i| i % 10).collect());
                    if let Some(w) = run.record.metrics.w2_sq.as_mut() {
                        *w *= 1.0 + rng.next();
                    }
                    runs.push(run);
                }
            }
        }
    }
    let dir = fresh_dir("timing");
    let start = std::time::Instant::now();
    let files = write_report(&dir, &runs, &datasets, &options()).unwrap();
    let elapsed = start.elapsed().as_secs_f64();
    let figures = files
        .files
        .iter()
        .filter(|f| f.extension().is_some_and(|e| e == "png"))
        .count();
    let bytes: u64 = files
        .files
        .iter()
        .map(|f| std::fs::metadata(f).unwrap().len())
        .sum();
    eprintln!(
        "{} runs: {figures} figures (PNG + SVG) and the tables in {elapsed:.2} s ({:.0} ms per figure, {} threads), {:.1} MB",
        runs.len(),
        1000.0 * elapsed / figures as f64,
        rayon::current_num_threads(),
        bytes as f64 / 1e6
    );
    std::fs::remove_dir_all(&dir).unwrap();
}
