//! The registry and the RON loader: every registered name parses from its example, validates,
//! round-trips and runs; bad files give located errors; arbitrary bytes never panic the loader.

use drift_api::registry::{entries, names, Kind};
use drift_api::{
    apply_drift, operator_from_str, Context, Coupling, DriftError, DriftOperator, DriftProblem,
    Kernel, Negatives, PointCloud, Weighting,
};
use proptest::prelude::*;

fn roundtrip<T: ?Sized + serde::Serialize>(
    parse: impl Fn(&str) -> Result<Box<T>, ron::error::SpannedError>,
    example: &str,
) -> Box<T>
where
    Box<T>: serde::Serialize,
{
    let value = parse(example).unwrap_or_else(|e| panic!("{example}: {e}"));
    let once = ron::to_string(&value).unwrap();
    let again = parse(&once).unwrap_or_else(|e| panic!("{once}: {e}"));
    assert_eq!(once, ron::to_string(&again).unwrap(), "{example}");
    value
}

#[test]
fn every_registered_name_parses_validates_and_round_trips() {
    let all = entries();
    assert!(all.len() >= 26, "only {} registrations", all.len());
    let mut seen = std::collections::HashSet::new();
    for r in &all {
        assert!(seen.insert((r.kind, r.name)), "{} registered twice", r.name);
        assert!(
            r.name
                .chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_' || c == '.'),
            "{} is not snake_case",
            r.name
        );
        assert!(r.example.contains(&format!("\"{}\"", r.name)), "{}", r.name);
        match r.kind {
            Kind::Kernel => {
                let k = roundtrip(|s| ron::from_str::<Box<dyn Kernel>>(s), r.example);
                k.validate().unwrap();
            }
            Kind::Coupling => {
                let c = roundtrip(|s| ron::from_str::<Box<dyn Coupling>>(s), r.example);
                c.validate().unwrap();
            }
            Kind::Weighting => {
                let w = roundtrip(|s| ron::from_str::<Box<dyn Weighting>>(s), r.example);
                w.validate().unwrap();
            }
            Kind::Operator => {
                roundtrip(|s| ron::from_str::<Box<dyn DriftOperator>>(s), r.example);
                operator_from_str(r.example, r.name).unwrap();
            }
        }
    }
}

/// Operators whose field has no notion of guidance negatives: giving them some is an error.
const IGNORE_NEGATIVES: [&str; 2] = ["sliced_wasserstein", "example.mean_shift"];

#[test]
fn every_registered_operator_runs_on_a_small_input() {
    let x = PointCloud::new("x", (0..40).map(|k| (k as f64 * 0.7).sin()).collect(), 2).unwrap();
    let y = PointCloud::new("y", (0..30).map(|k| (k as f64 * 0.3).cos()).collect(), 2).unwrap();
    let u = PointCloud::new("u", vec![0.5, 0.5, -0.5, 0.2], 2).unwrap();
    for r in entries().into_iter().filter(|r| r.kind == Kind::Operator) {
        let op = operator_from_str(r.example, r.name).unwrap();
        let run = |negatives: Option<Negatives<'_, f64>>| {
            let mut out = vec![0.0; 40];
            apply_drift(
                op.as_ref(),
                DriftProblem {
                    backend: &drift_ops::CpuBackend,
                    x: &x,
                    y: &y,
                    context: &Context::default(),
                    out: &mut out,
                    scale: 1.0,
                    negatives,
                },
            )
            .map(|_| out)
        };
        // Negatives reach every operator of the tree; one that cannot use them (alone or inside a
        // composition) makes the whole evaluation fail, naming it.
        match run(Some(Negatives::new(&u, 0.5))) {
            Ok(out) => {
                assert!(!IGNORE_NEGATIVES.contains(&r.name), "{}", r.name);
                assert!(out.iter().all(|v| v.is_finite()), "{}", r.name);
            }
            Err(DriftError::NegativesIgnored { operator }) => {
                assert!(IGNORE_NEGATIVES.contains(&operator.as_str()), "{}", r.name)
            }
            Err(e) => panic!("{}: {e}", r.name),
        }
        if r.name == "guidance" {
            continue; // needs negatives
        }
        let out = run(None).unwrap_or_else(|e| panic!("{}: {e}", r.name));
        assert!(out.iter().all(|v| v.is_finite()), "{}", r.name);
    }
}

fn error_of(src: &str) -> String {
    operator_from_str(src, "spec.ron").unwrap_err().to_string()
}

#[test]
fn unknown_names_list_the_registered_ones() {
    let e = error_of("{\"one_sidd\": (temperature: 0.1)}");
    assert!(e.starts_with("spec.ron:1:"), "{e}");
    assert!(
        e.contains("one_sidd") && e.contains("one_sided") && e.contains("sinkhorn_drift"),
        "{e}"
    );
    let e = error_of("{\"one_sided\": (temperature: 0.1, kernel: {\"gausian\": ()})}");
    assert!(
        e.contains("gausian") && e.contains("gaussian") && e.contains("laplace"),
        "{e}"
    );
    for name in names(Kind::Kernel) {
        assert!(e.contains(name), "{name} missing from {e}");
    }
}

#[test]
fn unknown_fields_list_the_valid_ones() {
    let e =
        error_of("{\"sinkhorn_drift\": (\n    temperature: 0.1,\n    sinkhorn: (max_iter: 3))}");
    assert!(e.starts_with("spec.ron:3:"), "{e}");
    assert!(
        e.contains("max_iter") && e.contains("max_iters") && e.contains("tol"),
        "{e}"
    );
}

#[test]
fn wrong_types_are_located() {
    let e = error_of("{\"one_sided\": (temperature: \"hot\")}");
    assert!(e.starts_with("spec.ron:1:"), "{e}");
    assert!(e.to_lowercase().contains("expected"), "{e}");
    let e = error_of("{\"sinkhorn_k\": (temperature: 0.1, iterations: -3)}");
    assert!(e.starts_with("spec.ron:1:"), "{e}");
}

#[test]
fn invalid_values_are_located_at_their_field() {
    let src = "{\"weighted\": (terms: [\n  (weight: 1.0, operator: {\"one_sided\": (temperature: 0.05)}),\n  (weight: 1.0, operator: {\"mmd\": (temperature: -2.0)}),\n])}";
    let e = error_of(src);
    assert!(e.starts_with("spec.ron:3:"), "{e}");
    assert!(e.contains("temperature") && e.contains("-2"), "{e}");
    let e = error_of("{\"sinkhorn_drift\": (temperature: 0.1, sinkhorn: (tol: -1.0))}");
    assert!(e.contains("spec.ron:1:") && e.contains("tol"), "{e}");
    let e = error_of("{\"multi_temperature\": (operator: {\"one_sided\": (temperature: 1.0)}, temperatures: [])}");
    assert!(e.contains("temperatures"), "{e}");
}

#[test]
fn truncated_files_are_located_errors() {
    let full = r#"{"cross_minus_self": (attraction: (kernel: {"gaussian": ()}, coupling: {"sinkhorn": (max_iters: 50)}, temperature: 0.1), repulsion: (temperature: 0.1))}"#;
    operator_from_str(full, "spec.ron").unwrap();
    for cut in [1, 10, 40, 80, full.len() - 1] {
        let e = error_of(&full[..cut]);
        assert!(e.starts_with("spec.ron:"), "{e}");
    }
    let e = error_of("");
    assert!(e.starts_with("spec.ron:"), "{e}");
}

#[test]
fn unreadable_files_name_the_path() {
    let e = drift_api::load_operator("/nonexistent/op.ron")
        .unwrap_err()
        .to_string();
    assert!(e.starts_with("/nonexistent/op.ron:0:0: cannot read"), "{e}");
    let dir = std::env::temp_dir().join(format!("drift-registry-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let bad = dir.join("bad.ron");
    std::fs::write(&bad, b"{\"one_sided\": (temperature: \xff)}").unwrap();
    let e = drift_api::load_operator(&bad).unwrap_err().to_string();
    assert!(e.contains("bad.ron:1:") && e.contains("UTF-8"), "{e}");
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2000))]

    #[test]
    fn the_loader_never_panics_on_arbitrary_bytes(bytes in proptest::collection::vec(any::<u8>(), 0..200)) {
        let src = String::from_utf8_lossy(&bytes);
        let _ = operator_from_str(&src, "fuzz.ron");
    }

    #[test]
    fn the_loader_never_panics_on_mutated_specs(index in 0usize..1000, cut in 0usize..400, insert in "[(){}\\[\\]:,\"a-z0-9.\\- ]{0,8}") {
        let all = entries();
        let example = all[index % all.len()].example;
        let at = example.char_indices().map(|(i, _)| i).nth(cut % example.chars().count().max(1)).unwrap_or(0);
        let src = format!("{}{}{}", &example[..at], insert, &example[at..]);
        let _ = operator_from_str(&src, "fuzz.ron");
    }
}
