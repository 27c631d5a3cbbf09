//! A small synthetic sweep, and readers of what the report writes.

use drift_bench::compare::record::{
    DatasetSummary, Mode, RunKey, RunMetrics, RunOutput, RunRecord, RunStatus,
};
use drift_bench::report::ReportOptions;
use serde_json::Value;
use std::path::{Path, PathBuf};

pub(crate) const OPERATORS: [&str; 2] = ["one_sided", "sinkhorn_drift"];
pub(crate) const FLOW_TEMPERATURES: [f64; 3] = [0.01, 0.1, 1.0];
pub(crate) const TRAIN_TEMPERATURES: [f64; 2] = [0.02, 0.5];
pub(crate) const FAILURE: &str = "coupling failed: \"mass\" lost, at step 3";

/// A small deterministic generator, so that the test needs no random crate state.
pub(crate) struct Lcg(pub(crate) u64);
impl Lcg {
    pub(crate) fn next(&mut self) -> f64 {
        self.0 = self
            .0
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        (self.0 >> 11) as f64 / (1u64 << 53) as f64
    }
}

/// `n` points near a circle of radius 1.
pub(crate) fn ring(n: usize, noise: f64, rng: &mut Lcg) -> Vec<f64> {
    (0..n)
        .flat_map(|i| {
            let a = std::f64::consts::TAU * i as f64 / n as f64;
            [
                a.cos() + noise * (rng.next() - 0.5),
                a.sin() + noise * (rng.next() - 0.5),
            ]
        })
        .collect()
}

pub(crate) fn key(op: &str, dataset: &str, dim: usize, mode: Mode, t: f64, seed: u64) -> RunKey {
    RunKey {
        operator: op.to_string(),
        operator_ron: format!("Operator(\n    name: \"{op}\",\n    temperature: 0.05,\n)"),
        dataset: dataset.to_string(),
        dim,
        mode,
        temperature: t,
        seed,
        settings: Default::default(),
    }
}

/// 2 operators × 3 temperatures × 2 seeds of flow on a 2-D ring (one run diverged, one failed),
/// and 2 operators × 2 temperatures of class-conditional training on 8×8 images.
pub(crate) fn sweep() -> (Vec<RunOutput>, Vec<DatasetSummary>) {
    let mut rng = Lcg(7);
    let mut runs = Vec::new();
    for (o, op) in OPERATORS.iter().enumerate() {
        for &t in &FLOW_TEMPERATURES {
            for seed in 0..2u64 {
                let quality = (1.0 + o as f64) * t + 0.001 * seed as f64;
                let mut metrics = RunMetrics {
                    w2_sq: Some(0.5 * quality),
                    sliced_w2: Some(quality.sqrt()),
                    mmd_sq: Some(quality * quality),
                    mmd_bandwidth: Some(0.3),
                    energy: Some(0.1 * quality),
                    modes_covered: Some(if t < 0.05 && o == 0 {
                        3 + seed as usize
                    } else {
                        8
                    }),
                    modes_total: Some(8),
                    mode_mass_error: Some(0.05 + 0.1 * seed as f64),
                    mode_shares: Some(vec![1.0, 0.1, 0.0, 0.125, 0.2, 0.3, 0.05, 0.025]),
                    near_fraction: Some(0.9),
                    ms_per_step: Some(1.5 + o as f64),
                    drift_norm: Some(0.01),
                    sinkhorn_iters: (o == 1).then_some(40.0 + seed as f64),
                    sinkhorn_error: (o == 1).then_some(1e-4),
                    ..RunMetrics::default()
                };
                let mut samples = ring(150, 0.2 + t, &mut rng);
                let status = if o == 0 && t == 0.01 && seed == 1 {
                    RunStatus::Diverged { step: 17 }
                } else if o == 1 && t == 1.0 && seed == 0 {
                    RunStatus::Failed {
                        message: FAILURE.to_string(),
                    }
                } else {
                    RunStatus::Ok
                };
                if status != RunStatus::Ok {
                    samples.clear();
                    metrics = RunMetrics {
                        ms_per_step: metrics.ms_per_step,
                        ..RunMetrics::default()
                    };
                }
                runs.push(RunOutput {
                    record: RunRecord {
                        key: key(op, "ring", 2, Mode::Flow, t, seed),
                        status,
                        metrics,
                        seconds: 0.25 + seed as f64,
                    },
                    samples,
                    sample_classes: None,
                });
            }
        }
    }
    for (o, op) in OPERATORS.iter().enumerate() {
        for &t in &TRAIN_TEMPERATURES {
            let n = 30;
            let samples: Vec<f64> = (0..n * 64).map(|_| 16.0 * rng.next()).collect();
            runs.push(RunOutput {
                record: RunRecord {
                    key: key(op, "tiny digits", 64, Mode::Train, t, 0),
                    status: RunStatus::Ok,
                    metrics: RunMetrics {
                        w2_sq: Some(30.0 + t),
                        classes_covered: Some(10 - o),
                        classes_total: Some(10),
                        class_histogram: Some(vec![3; 10]),
                        accuracy: Some(0.9 - 0.1 * t),
                        ms_per_step: Some(4.0),
                        ..RunMetrics::default()
                    },
                    seconds: 2.0,
                },
                samples,
                sample_classes: Some((0..n).map(|i| i % 10).collect()),
            });
        }
    }
    let datasets = vec![
        DatasetSummary {
            name: "ring".to_string(),
            dim: 2,
            reference: ring(200, 0.1, &mut rng),
            image_shape: None,
            scale: 1.3,
        },
        DatasetSummary {
            name: "tiny digits".to_string(),
            dim: 64,
            reference: (0..40 * 64).map(|i| ((i % 64) / 4) as f64).collect(),
            image_shape: Some((8, 8)),
            scale: 20.0,
        },
    ];
    (runs, datasets)
}

pub(crate) fn fresh_dir(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("drift-report-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    dir
}

pub(crate) fn options() -> ReportOptions {
    ReportOptions {
        title: "Test sweep".to_string(),
        command: "drift-bench compare --operators one_sided,sinkhorn_drift".to_string(),
        notes: vec!["Temperatures are relative to the data's scale.".to_string()],
    }
}

/// Decodes a PNG; returns its size and whether its pixels differ.
pub(crate) fn decode_png(path: &Path) -> (u32, u32, bool) {
    let bytes = std::fs::read(path).unwrap();
    let decoder = png::Decoder::new(std::io::Cursor::new(bytes));
    let mut reader = decoder
        .read_info()
        .unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let mut buf = vec![0; reader.output_buffer_size().unwrap()];
    let info = reader.next_frame(&mut buf).unwrap();
    let bpp = info.line_size / info.width as usize;
    let pixels = &buf[..info.line_size * info.height as usize];
    let varied = pixels.chunks(bpp).any(|p| p != &pixels[..bpp]);
    (info.width, info.height, varied)
}

/// A minimal RFC 4180 reader: records of fields, quoted fields with doubled quotes and line breaks.
pub(crate) fn read_csv(text: &str) -> Vec<Vec<String>> {
    let mut records = Vec::new();
    let mut record = Vec::new();
    let mut field = String::new();
    let mut chars = text.chars().peekable();
    let mut quoted = false;
    while let Some(c) = chars.next() {
        if quoted {
            match c {
                '"' if chars.peek() == Some(&'"') => {
                    chars.next();
                    field.push('"');
                }
                '"' => quoted = false,
                _ => field.push(c),
            }
        } else {
            match c {
                '"' => {
                    assert!(field.is_empty(), "a quote inside an unquoted field");
                    quoted = true;
                }
                ',' => record.push(std::mem::take(&mut field)),
                '\n' => {
                    record.push(std::mem::take(&mut field));
                    records.push(std::mem::take(&mut record));
                }
                _ => field.push(c),
            }
        }
    }
    assert!(
        !quoted && field.is_empty() && record.is_empty(),
        "the file ends inside a record"
    );
    records
}

/// Whether two numbers are equal or neighbours: serde_json's default parser (without its
/// `float_roundtrip` feature) may read a number written exactly one unit in the last place off.
pub(crate) fn within_one_ulp(a: f64, b: f64) -> bool {
    a == b || (a.to_bits() as i64 - b.to_bits() as i64).abs() <= 1
}

/// Whether a CSV cell and a JSON value say the same (`exact`: bit for bit; else within one unit in
/// the last place, for numbers read back by serde_json).
pub(crate) fn agrees(cell: &str, value: &Value, exact: bool) -> bool {
    match value {
        Value::Null => cell.is_empty(),
        Value::String(s) => cell == s,
        Value::Number(n) => match (cell.parse::<f64>(), n.as_f64()) {
            (Ok(a), Some(b)) if exact => a == b,
            (Ok(a), Some(b)) => within_one_ulp(a, b),
            _ => false,
        },
        Value::Array(items) => {
            let joined: Vec<String> = items.iter().map(|v| v.to_string()).collect();
            cell == joined.join(";")
        }
        _ => false,
    }
}
