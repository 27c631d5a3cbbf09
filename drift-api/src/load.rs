//! Reading operator trees from RON: parse, validate the whole tree, and locate every problem.

use crate::error::{DriftError, Result};
use crate::operator::DriftOperator;
use crate::registry::{self, Kind, MAX_OPERATOR_FILE_BYTES};
use std::path::Path;

mod wording;

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
/// Errors carry the origin, line and column: for syntax errors and unknown fields (with the valid
/// ones) the parser's position; for an unknown kernel, coupling or operator name the position of
/// the name, with the known names of its kind and how a plugin crate's names become known; for
/// values that parse but fail validation (a negative temperature, say) the position of the
/// offending field. Names are printed as the file writes them (never in the raw form `r#name`).
/// Never panics, whatever the input. A leading byte-order mark is ignored; names and strings from
/// the source are echoed in errors up to 80 characters.
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
        .map_err(|e| parse_error(src, origin, &e))?;
    op.validate().map_err(|e| locate(src, origin, e))?;
    Ok(op)
}

/// Reads, parses and validates an operator tree from a RON file of at most
/// [`MAX_OPERATOR_FILE_BYTES`].
pub fn load_operator(path: impl AsRef<Path>) -> Result<Box<dyn DriftOperator>> {
    use std::io::Read;
    let path = path.as_ref();
    let origin = path.display().to_string();
    let cannot_read = |e: std::io::Error| DriftError::Spec {
        origin: origin.clone(),
        line: 0,
        column: 0,
        message: format!("cannot read the file: {e}"),
    };
    let mut bytes = Vec::new();
    std::fs::File::open(path)
        .map_err(cannot_read)?
        .take(MAX_OPERATOR_FILE_BYTES + 1)
        .read_to_end(&mut bytes)
        .map_err(cannot_read)?;
    if bytes.len() as u64 > MAX_OPERATOR_FILE_BYTES {
        return Err(DriftError::Spec {
            origin: origin.clone(),
            line: 0,
            column: 0,
            message: format!(
                "the file is longer than {} MiB, the most an operator file may hold",
                MAX_OPERATOR_FILE_BYTES >> 20
            ),
        });
    }
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

/// A located parse error. A name that no linked crate registered gets its own message (see
/// [`unknown_name`]), located at the name; every other error keeps the parser's position.
fn parse_error(src: &str, origin: &str, e: &ron::error::SpannedError) -> DriftError {
    let spec = |(line, column), message| DriftError::Spec {
        origin: origin.to_string(),
        line,
        column,
        message,
    };
    // The span runs from the parser's cursor before the token it failed on to the cursor after
    // it; its end is where the error was found.
    let position = (e.span.end.line, e.span.end.col);
    match UnknownName::of(&e.code).and_then(|u| u.kind().map(|kind| (u, kind))) {
        Some((unknown, kind)) => spec(
            name_start(src, position, &unknown.found).unwrap_or(position),
            unknown_name(&unknown, kind),
        ),
        None => {
            // Where the parser stopped at the end of the source (trailing blanks aside).
            let end = line_col(src, src.trim_end().len());
            spec(position, parse_message(&e.code, position >= end))
        }
    }
}

/// The message of a parse error. The parser's own wording is kept, except where it would repeat an
/// unbounded piece of the source (a name, a string, a number), write a name in the parser's raw
/// identifier syntax (`r#name`) instead of as the file spells it, or point at a remedy that only the
/// author of a program can apply (the recursion limit), and a few messages keep the wording of
/// earlier ron versions ([`wording`]). Errors raised inside an operator's fields reach us as plain
/// text (typetag buffers them), so the text is what gets shortened.
fn parse_message(code: &ron::Error, at_end: bool) -> String {
    let text = wording::message(code, at_end);
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
    // This one message suggests the raw syntax itself (`r#name` is how RON writes a field name
    // that is not an identifier), so its `r#` is kept.
    let raw = if text.starts_with("Found invalid std identifier") {
        Raw::Keep
    } else {
        Raw::Strip
    };
    shorten(&text, raw)
}

/// A name the parser did not find among the variants it expected: with typetag, a kernel,
/// coupling or operator name that no linked crate registered.
#[derive(Debug, PartialEq)]
struct UnknownName {
    /// The name as the file spells it (unescaped).
    found: String,
    /// Every name that would have been accepted there.
    expected: Vec<String>,
}

impl UnknownName {
    /// The unknown name of a parse error, if it is one. At the top of a file the parser reports it
    /// as a value; inside an operator's fields it arrives as ron's text (typetag passes on only the
    /// message), which [`UnknownName::parse`] reads back.
    fn of(code: &ron::Error) -> Option<UnknownName> {
        match code {
            ron::Error::NoSuchEnumVariant {
                expected,
                found,
                outer: None,
            } => Some(UnknownName {
                found: found.clone(),
                expected: expected.iter().map(|n| n.to_string()).collect(),
            }),
            ron::Error::Message(text) => UnknownName::parse(text),
            _ => None,
        }
    }

    /// Reads back ron's `Unexpected enum variant named ID, expected one of ID, ID, or ID instead`
    /// (or `expected ID instead`, `expected either ID or ID instead`, `there are no variants`;
    /// `Unexpected variant named ID in enum ID, ...` when ron knew the enum's name).
    ///
    /// Only an error raised below the top level arrives as text: typetag deserialises an
    /// operator's fields through `erased_serde`, which carries an error of the format (ron's
    /// structured [`ron::Error`]) upwards as its message alone.
    fn parse(text: &str) -> Option<UnknownName> {
        let rest = text
            .strip_prefix("Unexpected enum variant named ")
            .or_else(|| text.strip_prefix("Unexpected variant named "))?;
        let (found, mut rest) = identifier(rest)?;
        if let Some(r) = rest.strip_prefix(" in enum ") {
            rest = identifier(r)?.1;
        }
        let rest = rest.strip_prefix(", ")?;
        if rest == "there are no variants" {
            return Some(UnknownName {
                found,
                expected: Vec::new(),
            });
        }
        let rest = rest.strip_prefix("expected ")?;
        let expected = if let Some(r) = rest.strip_prefix("either ") {
            let (a, r) = identifier(r)?;
            let (b, r) = identifier(r.strip_prefix(" or ")?)?;
            (r == " instead").then_some(vec![a, b])?
        } else if let Some(mut r) = rest.strip_prefix("one of ") {
            // `A, B, ..., or Z instead`: at least three names.
            let mut names = Vec::new();
            loop {
                let (name, after) = identifier(r)?;
                names.push(name);
                if let Some(last) = after.strip_prefix(", or ") {
                    let (name, after) = identifier(last)?;
                    names.push(name);
                    (after == " instead" && names.len() >= 3).then_some(())?;
                    break names;
                }
                r = after.strip_prefix(", ")?;
            }
        } else {
            let (a, r) = identifier(rest)?;
            (r == " instead").then_some(vec![a])?
        };
        Some(UnknownName { found, expected })
    }

    /// The kind whose registered names the expected ones are (the most of them, if names of
    /// several kinds appear), or `None` when none of them is registered: the enum is then not one
    /// of the registries'.
    fn kind(&self) -> Option<Kind> {
        let entries = registry::entries();
        Kind::ALL
            .into_iter()
            .map(|kind| {
                let known = entries
                    .iter()
                    .filter(|r| r.kind == kind && self.expected.iter().any(|n| n == r.name))
                    .count();
                (known, kind)
            })
            .filter(|(known, _)| *known > 0)
            .max_by_key(|(known, _)| *known)
            .map(|(_, kind)| kind)
    }
}

/// One name as ron's messages print it, and the text after it: `` `name` ``, `` `r#name` `` (a name
/// that is not an identifier) or `"name"_[invalid identifier]` (one with other characters than
/// letters, digits and `_.+-`, escaped as a Rust string).
fn identifier(text: &str) -> Option<(String, &str)> {
    if let Some(rest) = text.strip_prefix('`') {
        let end = rest.find('`')?;
        let name = &rest[..end];
        return Some((
            name.strip_prefix("r#").unwrap_or(name).to_string(),
            &rest[end + 1..],
        ));
    }
    let rest = text.strip_prefix('"')?;
    let mut name = String::new();
    let mut chars = rest.char_indices();
    while let Some((i, c)) = chars.next() {
        match c {
            '"' => {
                let after = rest[i + 1..].strip_prefix("_[invalid identifier]")?;
                return Some((name, after));
            }
            '\\' => name.push(unescape(&mut chars)?),
            c => name.push(c),
        }
    }
    None
}

/// The character of an escape as Rust's `{:?}` writes strings (`\n`, `\"`, `\u{301}`, ...), the
/// backslash already read from `chars`.
fn unescape(chars: &mut std::str::CharIndices<'_>) -> Option<char> {
    Some(match chars.next()?.1 {
        'n' => '\n',
        'r' => '\r',
        't' => '\t',
        '0' => '\0',
        'u' => {
            if chars.next()?.1 != '{' {
                return None;
            }
            let digits: String = chars
                .by_ref()
                .map(|(_, c)| c)
                .take_while(|c| *c != '}')
                .collect();
            char::from_u32(u32::from_str_radix(&digits, 16).ok()?)?
        }
        other => other,
    })
}

/// The message for a name no linked crate registered: which kind of name it is, the names of that
/// kind that would have been accepted, and how a plugin's names come to be known.
fn unknown_name(unknown: &UnknownName, kind: Kind) -> String {
    let (head, note) = cut(&unknown.found);
    let known: Vec<String> = unknown.expected.iter().map(|n| format!("{n:?}")).collect();
    format!(
        "unknown {kind} {head:?}{note}; the known {kind}s are {known}. A name from a plugin crate \
         is known only to a binary that links that crate: add the crate as a dependency and write \
         `use the_crate as _;` in the binary's main.rs (with `fn main() -> std::process::ExitCode \
         {{ drift_bench::cli::main() }}` it is then the whole drift-bench command line)",
        kind = kind.as_str(),
        known = known.join(", "),
    )
}

/// Where the name of an unknown-name error starts. The parser reports the position just after the
/// name's closing quote; when the source there ends with the name in plain quotes, the error points
/// at its opening quote instead. `None` (keep the parser's position) for a name written with
/// escapes or as a raw string.
fn name_start(src: &str, (line, column): (usize, usize), name: &str) -> Option<(usize, usize)> {
    let line_start = if line <= 1 {
        0
    } else {
        src.match_indices('\n').nth(line - 2)?.0 + 1
    };
    // Columns count characters, as the parser's positions do.
    let skip = column.checked_sub(1)?;
    let end = match src[line_start..].char_indices().nth(skip) {
        Some((at, _)) => line_start + at,
        None => (src[line_start..].chars().count() == skip).then_some(src.len())?,
    };
    let quoted = format!("\"{name}\"");
    let start = end.checked_sub(quoted.len())?;
    (src.get(start..end)? == quoted).then(|| line_col(src, start))
}

/// Whether a backticked name keeps ron's raw identifier prefix `r#`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Raw {
    /// As ron wrote it.
    Keep,
    /// Without `r#`: the name as the file spells it.
    Strip,
}

/// `text` with every backticked piece cut by [`echo`] (and its `r#` dropped as `raw` says) and
/// every other run of more than [`ECHO_LIMIT`] non-blank characters cut by [`truncate`].
fn shorten(text: &str, raw: Raw) -> String {
    let mut out = String::new();
    let mut rest = text;
    while let Some(open) = rest.find('`') {
        let Some(close) = rest[open + 1..].find('`') else {
            break;
        };
        let piece = &rest[open + 1..open + 1 + close];
        let piece = match raw {
            Raw::Strip => piece.strip_prefix("r#").unwrap_or(piece),
            Raw::Keep => piece,
        };
        out.push_str(&shorten_runs(&rest[..open]));
        out.push_str(&echo(piece));
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
