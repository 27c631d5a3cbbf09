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
    /// The operator written back as RON with every parameter, defaults included (what ran).
    pub expanded: String,
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
    let expanded = expanded_ron(operator.as_ref())?;
    Ok(ResolvedOperator {
        label: label.map_or(default_label, str::to_string),
        ron,
        expanded,
        operator,
    })
}

/// `op` written back as RON, with every parameter (defaults included) written out.
///
/// ```
/// use drift_ops as _;
/// let op = drift_api::operator_from_str(r#"{"one_sided": (temperature: 1.0)}"#, "doc").unwrap();
/// let ron = drift_bench::compare::operator_spec::expanded_ron(op.as_ref()).unwrap();
/// assert!(ron.contains("laplace") && ron.contains("mask_self"), "{ron}");
/// ```
pub fn expanded_ron(op: &dyn DriftOperator) -> Result<String> {
    ron::to_string(&op).context("cannot write the operator back as RON")
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

/// `label=rest` when the part before `=` is a plain label (letters, digits, `_`, `-`, `.`, `#`: the
/// suffix of a repeated label) and the rest is not empty.
fn split_label(spec: &str) -> (Option<&str>, &str) {
    match spec.split_once('=') {
        Some((label, rest))
            if !label.is_empty()
                && !rest.trim().is_empty()
                && label
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || "_-.#".contains(c)) =>
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

/// When `label` (without a `#2` suffix) is the name of a registered operator but `expanded` (an
/// operator's RON with every default, [`expanded_ron`]) is not that operator at its registry
/// defaults and temperature 1: the parameters that differ, as `path: value (default: value)`.
/// `None` when the label is no registered name or the operator is the registry's.
///
/// A label that is a registered name reads as "that operator as `-o NAME` runs it"; the report
/// lists these differences beside the label so that two operators under one name are never taken
/// for each other.
///
/// ```
/// use drift_ops as _;
/// use drift_bench::compare::operator_spec::{differences_from_registry, resolve};
/// let op = resolve(r#"one_sided={"one_sided": (temperature: 1.0, kernel: {"gaussian": ()})}"#).unwrap();
/// let diff = differences_from_registry(&op.label, &op.expanded).unwrap();
/// assert!(diff[0].starts_with("kernel"), "{diff:?}");
/// let op = resolve("one_sided").unwrap();
/// assert_eq!(differences_from_registry(&op.label, &op.expanded), None);
/// ```
pub fn differences_from_registry(label: &str, expanded: &str) -> Option<Vec<String>> {
    let name = label.split('#').next().unwrap_or(label);
    if name.is_empty() || !name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') {
        return None;
    }
    let (_, registry) = by_name(name).ok()?;
    let registry = expanded_ron(registry.as_ref()).ok()?;
    let (ours, theirs): (ron::Value, ron::Value) = (
        ron::from_str(expanded).ok()?,
        ron::from_str(&registry).ok()?,
    );
    let mut out = Vec::new();
    diff_values("", &ours, &theirs, &mut out);
    (!out.is_empty()).then_some(out)
}

/// Appends the paths where `a` and `b` differ, with both values.
fn diff_values(path: &str, a: &ron::Value, b: &ron::Value, out: &mut Vec<String>) {
    let show = |v: &ron::Value| ron::to_string(v).unwrap_or_else(|_| format!("{v:?}"));
    match (a, b) {
        (ron::Value::Map(x), ron::Value::Map(y))
            if x.keys().all(|k| matches!(k, ron::Value::String(_))) && x.keys().eq(y.keys()) =>
        {
            for ((key, va), vb) in x.iter().zip(y.values()) {
                let ron::Value::String(key) = key else {
                    continue;
                };
                // The outer operator name is not a parameter.
                let inner = if path.is_empty() && x.len() == 1 {
                    String::new()
                } else if path.is_empty() {
                    key.clone()
                } else {
                    format!("{path}.{key}")
                };
                diff_values(&inner, va, vb, out);
            }
        }
        _ if a == b => {}
        _ => out.push(format!(
            "{}: {} (default: {})",
            if path.is_empty() { "operator" } else { path },
            show(a),
            show(b)
        )),
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
