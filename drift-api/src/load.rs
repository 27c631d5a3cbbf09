//! Reading operator trees from RON: parse, validate the whole tree, and locate every problem.

use crate::error::{DriftError, Result};
use crate::operator::DriftOperator;
use std::path::Path;

/// The byte-order mark some editors put at the start of a UTF-8 file.
const BOM: &str = "\u{feff}";

/// How deeply RON values (maps, structs, lists, options, named values) may nest; an operator
/// `{"name": (...)}` takes four levels. The limit keeps the parser's recursion far from the end of
/// the stack.
pub const NESTING_LIMIT: usize = 128;

/// The most characters of a name or string from the source that an error repeats.
pub const ECHO_LIMIT: usize = 80;

/// Parses and validates an operator tree from RON source; `origin` names it in errors (a path).
///
/// Errors carry the origin, line and column: for syntax errors, unknown names (with the list of
/// registered ones) and unknown fields (with the valid ones) the parser's position; for values that
/// parse but fail validation (a negative temperature, say) the position of the offending field.
/// Never panics, whatever the input. A leading byte-order mark is ignored; names and strings from
/// the source are echoed in errors up to [`ECHO_LIMIT`] characters.
///
/// ```
/// # use drift_api::{DriftOperator, DriftJob, DriftReport, Result};
/// # #[derive(Debug, serde::Serialize, serde::Deserialize)] #[serde(deny_unknown_fields)]
/// # struct Toy { temperature: f64 }
/// # #[typetag::serde(name = "doc.toy")] impl DriftOperator for Toy {
/// #   fn drift(&self, _: DriftJob<'_>) -> Result<DriftReport> { Ok(DriftReport::default()) }
/// #   fn validate(&self) -> Result<()> { drift_api::check_temperature("toy.temperature", self.temperature) } }
/// let ok = drift_api::operator_from_str(r#"{"doc.toy": (temperature: 0.1)}"#, "a.ron");
/// assert!(ok.is_ok());
/// let err = drift_api::operator_from_str("{\"doc.toy\": (\n  temperature: -1.0)}", "a.ron").unwrap_err();
/// assert!(err.to_string().starts_with("a.ron:2:3:"), "{err}");
/// let err = drift_api::operator_from_str(r#"{"doc.toy": (temprature: 0.1)}"#, "a.ron").unwrap_err();
/// assert!(err.to_string().contains("expected `temperature`"), "{err}");
/// ```
pub fn operator_from_str(src: &str, origin: &str) -> Result<Box<dyn DriftOperator>> {
    // An editor's byte-order mark is not part of the text; positions count from after it, as the
    // editor shows them.
    let src = src.strip_prefix(BOM).unwrap_or(src);
    let op: Box<dyn DriftOperator> = ron::Options::default()
        .with_recursion_limit(NESTING_LIMIT)
        .from_str(src)
        .map_err(|e| DriftError::Spec {
            origin: origin.to_string(),
            line: e.position.line,
            column: e.position.col,
            message: parse_message(&e.code),
        })?;
    op.validate().map_err(|e| locate(src, origin, e))?;
    Ok(op)
}

/// Reads, parses and validates an operator tree from a RON file.
pub fn load_operator(path: impl AsRef<Path>) -> Result<Box<dyn DriftOperator>> {
    let path = path.as_ref();
    let origin = path.display().to_string();
    let bytes = std::fs::read(path).map_err(|e| DriftError::Spec {
        origin: origin.clone(),
        line: 0,
        column: 0,
        message: format!("cannot read the file: {e}"),
    })?;
    // Strip the byte-order mark before decoding, so that the position of an invalid byte is
    // counted as in the text after it.
    let bytes = match bytes.strip_prefix(BOM.as_bytes()) {
        Some(rest) => rest.to_vec(),
        None => bytes,
    };
    let src = String::from_utf8(bytes).map_err(|e| {
        let (line, column) = line_col(
            &String::from_utf8_lossy(e.as_bytes()),
            e.utf8_error().valid_up_to(),
        );
        DriftError::Spec {
            origin: origin.clone(),
            line,
            column,
            message: "the file is not valid UTF-8".into(),
        }
    })?;
    operator_from_str(&src, &origin)
}

/// Turns a validation error into a located one: finds the offending field (the last component of
/// the error's parameter path) in the source, preferring an occurrence whose value matches.
fn locate(src: &str, origin: &str, e: DriftError) -> DriftError {
    let (path, value) = match &e {
        DriftError::InvalidTemperature { what, value } => (what.clone(), Some(*value)),
        DriftError::InvalidParameter { what, .. } => (what.clone(), None),
        _ => (String::new(), None),
    };
    let field = path
        .rsplit('.')
        .next()
        .unwrap_or("")
        .split('[')
        .next()
        .unwrap_or("")
        .to_string();
    let (line, column) = find_field(src, &field, value).unwrap_or((1, 1));
    DriftError::Spec {
        origin: origin.to_string(),
        line,
        column,
        message: e.to_string(),
    }
}

/// Byte offset of `field:` in `src` (as a whole identifier), as a 1-based line and column.
fn find_field(src: &str, field: &str, value: Option<f64>) -> Option<(usize, usize)> {
    if field.is_empty() {
        return None;
    }
    let mut first = None;
    let mut start = 0;
    while let Some(pos) = src[start..].find(field) {
        let at = start + pos;
        start = at + field.len();
        let before_ok = src[..at]
            .chars()
            .next_back()
            .is_none_or(|c| !(c.is_alphanumeric() || c == '_'));
        let rest = src[start..].trim_start();
        if !before_ok || !rest.starts_with(':') {
            continue;
        }
        let here = line_col(src, at);
        first.get_or_insert(here);
        let token: String = rest[1..]
            .trim_start()
            .chars()
            .take_while(|c| !matches!(c, ',' | ')' | ']' | '}') && !c.is_whitespace())
            .collect();
        let parsed = token.parse::<f64>().ok().or(match token.as_str() {
            "inf" => Some(f64::INFINITY),
            "-inf" => Some(f64::NEG_INFINITY),
            "NaN" => Some(f64::NAN),
            _ => None,
        });
        if let (Some(v), Some(p)) = (value, parsed) {
            if v == p || (v.is_nan() && p.is_nan()) {
                return Some(here);
            }
        }
    }
    first
}

fn line_col(src: &str, offset: usize) -> (usize, usize) {
    let before = &src[..offset.min(src.len())];
    let line = before.matches('\n').count() + 1;
    let column = before.chars().rev().take_while(|c| *c != '\n').count() + 1;
    (line, column)
}

/// The message of a parse error. The parser's own wording is kept, except where it would repeat an
/// unbounded piece of the source (a name, a string, a number) or point at a remedy that only the
/// author of a program can apply (the recursion limit). Errors raised inside an operator's fields
/// reach us as plain text (typetag buffers them), so the text is what gets shortened.
fn parse_message(code: &ron::Error) -> String {
    let text = code.to_string();
    if matches!(code, ron::Error::ExceededRecursionLimit)
        || text.starts_with("Exceeded recursion limit")
    {
        return format!(
            "the values here are nested more than {NESTING_LIMIT} levels deep, the most a spec may \
             nest (each `{{\"name\": (...)}}` operator takes four levels, so operators can nest \
             about {} deep)",
            NESTING_LIMIT / 4
        );
    }
    shorten(&text)
}

/// `text` with every backticked piece cut by [`echo`] and every other run of more than
/// [`ECHO_LIMIT`] non-blank characters cut by [`truncate`].
fn shorten(text: &str) -> String {
    let mut out = String::new();
    let mut rest = text;
    while let Some(open) = rest.find('`') {
        let Some(close) = rest[open + 1..].find('`') else {
            break;
        };
        out.push_str(&shorten_runs(&rest[..open]));
        out.push_str(&echo(&rest[open + 1..open + 1 + close]));
        rest = &rest[open + 1 + close + 1..];
    }
    out.push_str(&shorten_runs(rest));
    out
}

/// `text` with every run of more than [`ECHO_LIMIT`] non-blank characters cut by [`truncate`].
fn shorten_runs(text: &str) -> String {
    text.split_inclusive(char::is_whitespace)
        .map(|piece| {
            let word = piece.trim_end_matches(char::is_whitespace);
            truncate(word) + &piece[word.len()..]
        })
        .collect()
}

/// `s` in backticks, cut at [`ECHO_LIMIT`] characters (see [`cut`]).
fn echo(s: &str) -> String {
    let (head, note) = cut(s);
    format!("`{head}`{note}")
}

/// `s` itself, or its first [`ECHO_LIMIT`] characters, an ellipsis and its length.
fn truncate(s: &str) -> String {
    let (head, note) = cut(s);
    head + &note
}

/// `s` and no note when it is short; otherwise its first [`ECHO_LIMIT`] characters with an
/// ellipsis, and a note giving its length.
fn cut(s: &str) -> (String, String) {
    let count = s.chars().count();
    if count <= ECHO_LIMIT {
        (s.to_string(), String::new())
    } else {
        let head: String = s.chars().take(ECHO_LIMIT).collect();
        (head + "…", format!(" ({count} characters)"))
    }
}
