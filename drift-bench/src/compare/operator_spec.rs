//! Operators of a sweep as the user names them: a registered name, a RON file, or RON text, with
//! an optional `label=` in front.
//!
//! * `one_sided`: a registered operator (built-in or linked plugin) at temperature 1, i.e.
//!   `{"one_sided": (temperature: 1.0)}`, or `{"name": ()}` for an operator without a
//!   temperature (`sliced_wasserstein`), with every other parameter at its default;
//! * `path/to/op.ron`: the operator tree of a file;
//! * `{"sinkhorn_drift": (temperature: 1.0, sinkhorn: (max_iters: 50))}`: RON text;
//! * `fast=...`: any of the above, labelled `fast` in the results (otherwise the label is the name,
//!   the file's stem, or the text's outer operator name).
//!
//! The sweep's temperature multiplies every kernel temperature of the operator (the context's
//! temperature factor), so operators are best written at temperature 1.

use anyhow::{bail, Context as _, Result};
use drift_api::DriftOperator;
use std::path::Path;

/// One operator of a sweep, resolved and validated.
#[derive(Debug)]
pub struct ResolvedOperator {
    /// The label of its rows in the results.
    pub label: String,
    /// The exact RON it was built from (a file's whole text).
    pub ron: String,
    /// The operator itself.
    pub operator: Box<dyn DriftOperator>,
}

/// Resolves one operator argument (see the module docs); the error names the argument and says
/// what was wrong (with file, line and column for RON).
pub fn resolve(spec: &str) -> Result<ResolvedOperator> {
    let spec = spec.trim();
    if spec.is_empty() {
        bail!("an operator argument is empty: give a registered name, a .ron file or RON text");
    }
    let (label, body) = split_label(spec);
    let (default_label, ron, operator) = if body.starts_with('{') {
        let op = drift_api::operator_from_str(body, "operator text")
            .with_context(|| format!("operator `{body}`"))?;
        (
            outer_name(body).unwrap_or("operator").to_string(),
            body.to_string(),
            op,
        )
    } else if let Some(path) = file_of(body) {
        let op = drift_api::load_operator(path)?;
        let text = std::fs::read_to_string(path)
            .with_context(|| format!("cannot read operator file {}", path.display()))?;
        let stem = path
            .file_stem()
            .map(|s| s.to_string_lossy().into_owned())
            .unwrap_or_else(|| body.to_string());
        (stem, text.trim_end().to_string(), op)
    } else {
        let (ron, op) = by_name(body)?;
        (body.to_string(), ron, op)
    };
    Ok(ResolvedOperator {
        label: label.map_or(default_label, str::to_string),
        ron,
        operator,
    })
}

/// The operator file that an operator argument names (see the module docs), if it names one.
///
/// ```
/// use drift_bench::compare::operator_spec::operator_file;
/// assert_eq!(operator_file("fast=ops/fast.ron"), Some(std::path::Path::new("ops/fast.ron")));
/// assert_eq!(operator_file("one_sided"), None);
/// assert_eq!(operator_file(r#"{"mmd": (temperature: 1.0)}"#), None);
/// ```
pub fn operator_file(spec: &str) -> Option<&Path> {
    file_of(split_label(spec.trim()).1)
}

/// The file that an operator argument without its label names: not RON text, and a `.ron` name
/// or a path.
fn file_of(body: &str) -> Option<&Path> {
    (!body.starts_with('{')
        && (body.ends_with(".ron") || body.contains('/') || body.contains('\\')))
    .then(|| Path::new(body))
}

/// Gives labels that repeat a `#2`, `#3`, ... suffix, so that every operator of a sweep has its
/// own rows and lines.
pub fn make_labels_unique(ops: &mut [ResolvedOperator]) {
    for i in 1..ops.len() {
        let base = ops[i].label.clone();
        let mut k = 1;
        while ops[..i].iter().any(|o| o.label == ops[i].label) {
            k += 1;
            ops[i].label = format!("{base}#{k}");
        }
    }
}

/// `label=rest` when the part before `=` is a plain label (letters, digits, `_`, `-`, `.`) and the
/// rest is not empty.
fn split_label(spec: &str) -> (Option<&str>, &str) {
    match spec.split_once('=') {
        Some((label, rest))
            if !label.is_empty()
                && !rest.trim().is_empty()
                && label
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || "_-.".contains(c)) =>
        {
            (Some(label), rest.trim())
        }
        _ => (None, spec),
    }
}

/// The registered operator `name` at temperature 1, or with no parameters when it takes no
/// temperature. An unknown name gets the loader's error, which lists the known names.
fn by_name(name: &str) -> Result<(String, Box<dyn DriftOperator>)> {
    let quoted = format!("{name:?}");
    let with_temperature = format!("{{{quoted}: (temperature: 1.0)}}");
    if let Ok(op) = drift_api::operator_from_str(&with_temperature, name) {
        return Ok((with_temperature, op));
    }
    let bare = format!("{{{quoted}: ()}}");
    match drift_api::operator_from_str(&bare, name) {
        Ok(op) => Ok((bare, op)),
        Err(e) => Err(anyhow::Error::new(e).context(format!(
            "operator `{name}`: not a registered operator usable with its defaults (give a .ron \
             file or RON text to set its parameters)"
        ))),
    }
}

/// The outer name of RON text `{"name": ...}`.
fn outer_name(text: &str) -> Option<&str> {
    let rest = text.strip_prefix('{')?.trim_start().strip_prefix('"')?;
    rest.split_once('"').map(|(name, _)| name)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_files_and_text_resolve() {
        let op = resolve("one_sided").unwrap();
        assert_eq!(op.label, "one_sided");
        assert_eq!(op.ron, r#"{"one_sided": (temperature: 1.0)}"#);
        let sw = resolve("sliced_wasserstein").unwrap();
        assert_eq!(sw.ron, r#"{"sliced_wasserstein": ()}"#);
        let text = resolve(r#"fast={"sinkhorn_drift": (temperature: 1.0)}"#).unwrap();
        assert_eq!(text.label, "fast");
        let unlabeled = resolve(r#"{"mmd": (temperature: 1.0)}"#).unwrap();
        assert_eq!(unlabeled.label, "mmd");
    }

    #[test]
    fn bad_operators_are_named() {
        let e = format!("{:#}", resolve("no_such_op").unwrap_err());
        assert!(e.contains("no_such_op") && e.contains("one_sided"), "{e}");
        let e = format!("{:#}", resolve("missing/file.ron").unwrap_err());
        assert!(e.contains("missing/file.ron"), "{e}");
        let e = format!(
            "{:#}",
            resolve(r#"{"one_sided": (temperature: -1.0)}"#).unwrap_err()
        );
        assert!(e.contains("temperature"), "{e}");
        assert!(resolve("  ").is_err());
    }

    #[test]
    fn repeated_labels_get_suffixes() {
        let mut ops = vec![
            resolve("mmd").unwrap(),
            resolve("mmd").unwrap(),
            resolve("mmd").unwrap(),
        ];
        make_labels_unique(&mut ops);
        let labels: Vec<_> = ops.iter().map(|o| o.label.as_str()).collect();
        assert_eq!(labels, ["mmd", "mmd#2", "mmd#3"]);
    }
}
