//! Every composition under `plugins/` loads, validates and runs on a small random input.

mod common;

use drift_api::{
    apply_drift, load_operator, Context, DriftError, DriftProblem, Negatives, PointCloud,
};

/// Files whose operator has no notion of guidance negatives: giving it some is an error.
const IGNORE_NEGATIVES: [&str; 2] = ["sliced_wasserstein.ron", "mean_shift.ron"];

#[test]
fn every_plugin_file_loads_validates_and_applies() {
    let files = common::plugin_files();
    assert!(
        files.len() >= 14,
        "only {} RON files in plugins/",
        files.len()
    );
    let x = PointCloud::new("x", (0..64).map(|k| (k as f32 * 0.37).sin()).collect(), 2).unwrap();
    let y = PointCloud::new(
        "y",
        (0..80).map(|k| (k as f32 * 0.19).cos() + 0.3).collect(),
        2,
    )
    .unwrap();
    let u = PointCloud::new("u", vec![0.5f32, -0.5, 0.2, 0.1], 2).unwrap();
    for file in files {
        let op = load_operator(&file).unwrap_or_else(|e| panic!("{e}"));
        let name = file.file_name().unwrap().to_string_lossy().to_string();
        let needs_negatives = name.contains("guided");
        for (step, guided) in [(0u64, true), (5, true), (0, needs_negatives)] {
            let mut out = vec![0.0f32; 64];
            let result = apply_drift(
                op.as_ref(),
                DriftProblem {
                    backend: &drift_ops::CpuBackend,
                    x: &x,
                    y: &y,
                    context: &Context::at(step, step as f64 * 0.1),
                    out: &mut out,
                    scale: 1.0,
                    negatives: guided.then(|| Negatives::new(&u, 1.0)),
                },
            );
            if guided && IGNORE_NEGATIVES.contains(&name.as_str()) {
                assert!(
                    matches!(result, Err(DriftError::NegativesIgnored { .. })),
                    "{name}: {result:?}"
                );
                continue;
            }
            let report = result.unwrap_or_else(|e| panic!("{}: {e}", file.display()));
            assert!(out.iter().all(|v| v.is_finite()), "{}", file.display());
            assert!(report.drift_norm > 0.0, "{}", file.display());
        }
    }
}
