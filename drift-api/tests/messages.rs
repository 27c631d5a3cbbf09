//! Errors of the RON loader and of validation stay short and actionable whatever the input: numbers
//! are printed short, echoed names are truncated, the nesting limit is stated, and a byte-order
//! mark is not an error.

use drift_api::{
    check_param, check_temperature, fmt_num, operator_from_str, try_vec, DriftError, DriftJob,
    DriftOperator, DriftReport, PointCloud, Result,
};
use serde::{Deserialize, Serialize};

/// A leaf operator with one validated temperature.
#[derive(Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct Toy {
    temperature: f64,
    #[serde(default)]
    count: usize,
}

#[typetag::serde(name = "messages.toy")]
impl DriftOperator for Toy {
    fn drift(&self, _: DriftJob<'_>) -> Result<DriftReport> {
        Ok(DriftReport::default())
    }
    fn validate(&self) -> Result<()> {
        check_temperature("toy.temperature", self.temperature)
    }
}

/// An operator wrapping another, to nest specs.
#[derive(Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct Wrap {
    inner: Box<dyn DriftOperator>,
}

#[typetag::serde(name = "messages.wrap")]
impl DriftOperator for Wrap {
    fn drift(&self, job: DriftJob<'_>) -> Result<DriftReport> {
        self.inner.drift(job)
    }
    fn validate(&self) -> Result<()> {
        self.inner.validate()
    }
}

fn err(src: &str) -> String {
    operator_from_str(src, "a.ron").unwrap_err().to_string()
}

#[test]
fn fmt_num_is_short_and_round_trips() {
    for v in [
        0.0,
        -0.0,
        1.0,
        0.05,
        -2.5,
        1e-300,
        -1e300,
        f64::MAX,
        f64::MIN_POSITIVE,
        5e-324,
        1e15,
        1e16,
        123456.789,
        1e-5,
        9.99e-6,
        0.1 + 0.2,
    ] {
        let s = fmt_num(v);
        assert!(s.len() <= 24, "{v:e} printed as {s}");
        assert_eq!(s.parse::<f64>().unwrap().to_bits(), v.to_bits(), "{s}");
    }
    assert_eq!(fmt_num(1e-300), "1e-300");
    assert_eq!(fmt_num(2.5e300), "2.5e300");
    assert_eq!(fmt_num(0.25), "0.25");
    assert_eq!(fmt_num(f64::NAN), "NaN");
    assert_eq!(fmt_num(f64::INFINITY), "inf");
}

#[test]
fn validation_errors_print_numbers_short() {
    let e = check_temperature("tau", -1e-300).unwrap_err().to_string();
    assert_eq!(e, "temperature `tau` must be finite and > 0, got -1e-300");
    let e = check_param("alpha", 1e300, false, "<= 10")
        .unwrap_err()
        .to_string();
    assert_eq!(
        e,
        "invalid parameter `alpha`: must be finite and <= 10, got 1e300"
    );
    let e = PointCloud::new("x", vec![0.0f64, f64::NAN], 1)
        .unwrap_err()
        .to_string();
    assert!(e.len() < 120, "{e}");
    let e = PointCloud::new("x", vec![0.0f64, 1.0], 1)
        .unwrap()
        .with_weights(vec![1.0, -1e-300])
        .unwrap_err()
        .to_string();
    assert!(e.contains("-1e-300"), "{e}");
    // The loader's located message too.
    let e = err(r#"{"messages.toy": (temperature: -1e-300)}"#);
    assert!(
        e.starts_with("a.ron:1:19: ") && e.ends_with("got -1e-300"),
        "{e}"
    );
}

#[test]
fn a_huge_number_in_a_spec_is_printed_short() {
    let big = format!("-1{}.0", "0".repeat(300));
    let e = err(&format!(r#"{{"messages.toy": (temperature: {big})}}"#));
    assert!(e.starts_with("a.ron:1:19: "), "{e}");
    assert!(e.ends_with("got -1e300"), "{e}");
}

#[test]
fn the_nesting_limit_is_stated_where_it_is_exceeded() {
    let depth = 200;
    let src = format!(
        "{}{{\"messages.toy\": (temperature: 1.0)}}{}",
        "{\"messages.wrap\": (inner: ".repeat(depth),
        ")}".repeat(depth)
    );
    let e = err(&src);
    assert!(!e.contains("serde_stacker"), "{e}");
    assert!(
        e.contains("128 levels") && e.contains("about 32 deep"),
        "{e}"
    );
    // Located: the file, line 1, and a column inside the source.
    let column: usize = e
        .strip_prefix("a.ron:1:")
        .and_then(|r| r.split(':').next())
        .and_then(|c| c.parse().ok())
        .unwrap_or_else(|| panic!("not located: {e}"));
    assert!(column > 1 && column <= src.len(), "{e}");
    // The depth the message promises still loads.
    let depth = 128 / 4 - 1;
    let src = format!(
        "{}{{\"messages.toy\": (temperature: 1.0)}}{}",
        "{\"messages.wrap\": (inner: ".repeat(depth),
        ")}".repeat(depth)
    );
    let loaded = operator_from_str(&src, "a.ron");
    assert!(loaded.is_ok(), "{}", loaded.unwrap_err());
}

#[test]
fn long_names_are_truncated_in_errors() {
    let name = "x".repeat(1_000_000);
    let e = err(&format!("{{\"{name}\": (temperature: 1.0)}}"));
    assert!(e.len() < 1000, "{} characters", e.len());
    assert!(e.contains("(1000000 characters)"), "{e}");
    assert!(e.contains(&format!("`{}…`", "x".repeat(80))), "{e}");
    assert!(
        e.contains("messages.toy"),
        "the valid names are listed: {e}"
    );

    let e = err(&format!(
        "{{\"messages.toy\": (temperature: 1.0, {name}: 2)}}"
    ));
    assert!(e.len() < 1000, "{} characters", e.len());
    assert!(e.contains("(1000000 characters)"), "{e}");
    assert!(
        e.contains("`temperature`"),
        "the valid fields are listed: {e}"
    );

    let e = err(&format!("{{\"messages.toy\": (temperature: \"{name}\")}}"));
    assert!(e.len() < 1000, "{} characters", e.len());

    // Short names are echoed whole.
    let e = err(r#"{"messages.toy": (temprature: 1.0)}"#);
    assert!(e.contains("temprature"), "{e}");
}

#[test]
fn a_byte_order_mark_is_ignored_and_positions_stay_right() {
    let op = operator_from_str("\u{feff}{\"messages.toy\": (temperature: 0.5)}", "a.ron");
    assert!(op.is_ok(), "{}", op.unwrap_err());
    // A validation error on line 2 keeps its column, and one on line 1 counts from after the mark.
    let e = err("\u{feff}{\"messages.toy\": (\n  temperature: -1.0)}");
    assert!(e.starts_with("a.ron:2:3: "), "{e}");
    let e = err("\u{feff}{\"messages.toy\": (temperature: -1.0)}");
    assert!(e.starts_with("a.ron:1:19: "), "{e}");
    let e = err("\u{feff}{\"messages.toy\": (temperature: 1.0,, )}");
    assert!(e.starts_with("a.ron:1:"), "{e}");

    let dir = std::env::temp_dir().join(format!("drift-bom-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("bom.ron");
    std::fs::write(&path, "\u{feff}{\"messages.toy\": (temperature: 0.5)}").unwrap();
    let loaded = drift_api::load_operator(&path);
    assert!(loaded.is_ok(), "{}", loaded.unwrap_err());
    // An invalid byte after the mark is located as in the text after it.
    let mut bytes = "\u{feff}{\"messages.toy\": (temperature: 0.5)}"
        .as_bytes()
        .to_vec();
    bytes.insert(5, 0xff);
    std::fs::write(&path, &bytes).unwrap();
    let e = drift_api::load_operator(&path).unwrap_err().to_string();
    assert!(e.contains(":1:3: "), "{e}");
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn an_oversized_buffer_is_a_typed_error() {
    let e = try_vec("field", usize::MAX / 4, 0.0f64).unwrap_err();
    assert!(
        matches!(&e, DriftError::Allocation { what, .. } if what == "field"),
        "{e}"
    );
    assert!(e.to_string().contains("could not be allocated"), "{e}");
    let e = try_vec("field", usize::MAX, 0.0f64).unwrap_err();
    assert!(
        matches!(e, DriftError::Allocation { bytes, .. } if bytes == usize::MAX),
        "{e}"
    );
}
