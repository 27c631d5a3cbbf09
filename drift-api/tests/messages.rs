//! Errors of the RON loader and of validation stay short and actionable whatever the input: numbers
//! are printed short, echoed names are truncated, the nesting limit is stated, and a byte-order
//! mark is not an error.

use drift_api::kit::{fmt_num, try_vec};
use drift_api::{
    check_param, check_temperature, operator_from_str, DriftError, DriftJob, DriftOperator,
    DriftReport, Kernel, PointCloud, Result,
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
    assert!(e.contains(&format!("\"{}…\"", "x".repeat(80))), "{e}");
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

/// Stands in for the built-in `guidance` (drift-api's tests do not link drift-ops): an operator
/// holding another, as a user's file nests them.
#[derive(Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct Guidance {
    operator: Box<dyn DriftOperator>,
    alpha: f64,
}

#[typetag::serde(name = "guidance")]
impl DriftOperator for Guidance {
    fn drift(&self, job: DriftJob<'_>) -> Result<DriftReport> {
        self.operator.drift(job)
    }
    fn validate(&self) -> Result<()> {
        self.operator.validate()
    }
}

/// An operator with a kernel, to nest an unknown kernel name.
#[derive(Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct WithKernel {
    kernel: Box<dyn Kernel>,
    temperature: f64,
}

#[typetag::serde(name = "messages.with_kernel")]
impl DriftOperator for WithKernel {
    fn drift(&self, _: DriftJob<'_>) -> Result<DriftReport> {
        Ok(DriftReport::default())
    }
    fn validate(&self) -> Result<()> {
        check_temperature("with_kernel.temperature", self.temperature)
    }
}

/// A kernel giving every pair the same weight.
#[derive(Debug, Serialize, Deserialize)]
struct Flat;

#[typetag::serde(name = "messages.flat")]
impl Kernel for Flat {
    fn log_weight_f64(&self, sq_dist: &mut [f64], _tau: f64) {
        sq_dist.fill(0.0);
    }
}

// Registered so that an unknown name's kind is recognised (by the registered names among the
// ones the parser expected).
drift_api::register!(Operator, "guidance", summary: "guidance", params: "operator: operator, alpha: f64",
    example: r#"{"guidance": (operator: {"messages.toy": (temperature: 1.0)}, alpha: 2.0)}"#);
drift_api::register!(Operator, "messages.with_kernel", summary: "with a kernel",
    params: "kernel: kernel, temperature: f64",
    example: r#"{"messages.with_kernel": (kernel: {"messages.flat": ()}, temperature: 1.0)}"#);
drift_api::register!(Kernel, "messages.flat", summary: "flat kernel", params: "",
    example: r#"{"messages.flat": ()}"#);

/// The line and column of a located error `a.ron:LINE:COL: ...`.
fn location(e: &str) -> (usize, usize) {
    let mut parts = e
        .strip_prefix("a.ron:")
        .unwrap_or_else(|| panic!("not located: {e}"))
        .split(':');
    let mut number = || {
        parts
            .next()
            .and_then(|n| n.parse().ok())
            .unwrap_or_else(|| panic!("not located: {e}"))
    };
    (number(), number())
}

/// The column of the opening quote of `"name"` in the one-line `src`.
fn column_of(src: &str, name: &str) -> usize {
    src.find(&format!("\"{name}\"")).unwrap() + 1
}

#[test]
fn an_unknown_operator_in_a_composition_is_named_located_and_explained() {
    let src =
        r#"{"guidance": (operator: {"mine.gated_repulsion": (temperature: 0.1)}, alpha: 2.0)}"#;
    let e = err(src);
    assert_eq!(
        location(&e),
        (1, column_of(src, "mine.gated_repulsion")),
        "{e}"
    );
    assert!(
        e.contains(": unknown operator \"mine.gated_repulsion\"; the known operators are "),
        "{e}"
    );
    for name in [
        "guidance",
        "messages.toy",
        "messages.wrap",
        "messages.with_kernel",
    ] {
        assert!(
            e.contains(&format!("\"{name}\"")),
            "{name} missing from {e}"
        );
    }
    assert!(!e.contains("r#") && !e.contains("messages.flat"), "{e}");
    assert!(
        e.contains("use the_crate as _;") && e.contains("drift_bench::cli::main()"),
        "{e}"
    );
    assert!(!e.contains('\n'), "one line: {e}");

    // On a later line, and at the top of a file, where the parser reports it differently.
    let e = err("{\"guidance\": (\n  operator: {\"mine.gated_repulsion\": (temperature: 0.1)},\n  alpha: 2.0)}");
    assert_eq!(location(&e), (2, 14), "{e}");
    assert!(
        e.contains("unknown operator \"mine.gated_repulsion\""),
        "{e}"
    );
    let e = err("\n  {\"mine.gated_repulsion\": (temperature: 0.1)}");
    assert_eq!(location(&e), (2, 4), "{e}");
    assert!(
        e.contains(
            "unknown operator \"mine.gated_repulsion\"; the known operators are \"guidance\""
        ),
        "{e}"
    );
}

#[test]
fn an_unknown_kernel_lists_the_kernels() {
    let src = r#"{"messages.with_kernel": (kernel: {"mine.tent": ()}, temperature: 0.1)}"#;
    let e = err(src);
    assert_eq!(location(&e), (1, column_of(src, "mine.tent")), "{e}");
    assert!(
        e.contains("unknown kernel \"mine.tent\"; the known kernels are \"messages.flat\""),
        "{e}"
    );
    assert!(
        !e.contains("messages.toy") && !e.contains("guidance"),
        "operators are not listed: {e}"
    );
    assert!(e.contains("use the_crate as _;"), "{e}");
}

#[test]
fn names_that_are_not_identifiers_are_printed_as_written() {
    // A name with a space: the parser escapes it, the message prints it as the file has it.
    let e = err(
        "{\"guidance\": (operator: {\"mine gated\\\"x\\\"\": (temperature: 0.1)}, alpha: 2.0)}",
    );
    assert!(e.contains(r#"unknown operator "mine gated\"x\"""#), "{e}");
    assert!(!e.contains("invalid identifier"), "{e}");
    // An unknown field written in RON's raw syntax is echoed without it.
    let e = err(r#"{"messages.toy": (r#temp.x: 0.1)}"#);
    assert!(
        e.contains("`temp.x`") && e.contains("`temperature`") && !e.contains("r#"),
        "{e}"
    );
    let e = err(r#"{"guidance": (operator: {"messages.toy": (r#temp.x: 0.1)}, alpha: 2.0)}"#);
    assert!(e.contains("`temp.x`") && !e.contains("r#"), "{e}");
}

#[test]
fn an_unknown_name_after_wider_characters_is_located_in_characters() {
    // A comment with characters of two and three bytes before the name on its line.
    let src = "{\"guidance\": /* é€ */ (operator: {\"mine.né\": (temperature: 0.1)}, alpha: 2.0)}";
    let e = err(src);
    let column = src[..src.find("\"mine.né\"").unwrap()].chars().count() + 1;
    assert_eq!(location(&e), (1, column), "{e}");
    assert!(e.contains("unknown operator \"mine.né\""), "{e}");
}
