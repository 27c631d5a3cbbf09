//! Every type registered by name for RON files says its name in its docs: each
//! `#[typetag::serde(name = "X")]` impl and each `builtin_operator!`, `builtin_weighting!` or
//! `register!` invocation in `drift-ops/src` and in the example plugin must come with a `///` doc
//! line in the same file that contains "RON name `X`".

use std::path::{Path, PathBuf};

/// The macros whose second argument is the registered name: `macro!(Type, "X", ...)`.
const NAME_MACROS: [&str; 3] = ["builtin_operator!(", "builtin_weighting!(", "register!("];
/// The macros that name a piece as `Type = "name"` (`drift_api::operator!` and its kin).
const NAMING_MACROS: [&str; 4] = [
    "::operator!(",
    "::kernel!(",
    "::coupling!(",
    "::weighting!(",
];
const TYPETAG: &str = "#[typetag::serde(name = ";

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    let mut entries: Vec<_> = std::fs::read_dir(dir)
        .unwrap_or_else(|e| panic!("cannot read {}: {e}", dir.display()))
        .map(|e| e.unwrap().path())
        .collect();
    entries.sort();
    for path in entries {
        if path.is_dir() {
            rust_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

/// The string literal at the start of `s`, or `None` for a macro metavariable (`$name`, inside a
/// `macro_rules!` definition). Panics on anything else, so that a new form cannot slip through.
fn literal<'a>(s: &'a str, file: &Path) -> Option<&'a str> {
    if s.starts_with('$') {
        return None;
    }
    let rest = s.strip_prefix('"').unwrap_or_else(|| {
        panic!(
            "{}: expected a name literal at {:?}",
            file.display(),
            &s[..s.len().min(40)]
        )
    });
    let end = rest.find('"').expect("unterminated name literal");
    Some(&rest[..end])
}

/// Whether the match at byte `at` sits in a comment line (docs that mention a macro).
fn in_comment(text: &str, at: usize) -> bool {
    let line_start = text[..at].rfind('\n').map_or(0, |i| i + 1);
    text[line_start..at].trim_start().starts_with("//")
}

/// The names registered in `text`.
fn registered_names(text: &str, file: &Path) -> Vec<String> {
    let mut names = Vec::new();
    for (at, _) in text.match_indices(TYPETAG) {
        if in_comment(text, at) {
            continue;
        }
        if let Some(name) = literal(&text[at + TYPETAG.len()..], file) {
            names.push(name.to_string());
        }
    }
    for pattern in NAME_MACROS {
        for (at, _) in text.match_indices(pattern) {
            if in_comment(text, at) {
                continue;
            }
            let args = &text[at + pattern.len()..];
            let comma = args
                .find(',')
                .unwrap_or_else(|| panic!("{}: `{pattern}` without a comma", file.display()));
            if let Some(name) = literal(args[comma + 1..].trim_start(), file) {
                names.push(name.to_string());
            }
        }
    }
    for pattern in NAMING_MACROS {
        for (at, _) in text.match_indices(pattern) {
            if in_comment(text, at) {
                continue;
            }
            let args = &text[at + pattern.len()..];
            let eq = args
                .find('=')
                .unwrap_or_else(|| panic!("{}: `{pattern}` without `=`", file.display()));
            if let Some(name) = literal(args[eq + 1..].trim_start(), file) {
                names.push(name.to_string());
            }
        }
    }
    names.sort();
    names.dedup();
    names
}

#[test]
fn every_registered_name_is_in_its_types_docs() {
    let manifest = Path::new(env!("CARGO_MANIFEST_DIR"));
    let roots = [
        manifest.join("src"),
        manifest.join("../plugins/example-plugin/src"),
    ];
    let mut files = Vec::new();
    for root in &roots {
        rust_files(root, &mut files);
    }

    let mut checked = Vec::new();
    let mut missing = Vec::new();
    for file in &files {
        let text = std::fs::read_to_string(file).unwrap();
        for name in registered_names(&text, file) {
            let phrase = format!("RON name `{name}`");
            let documented = text
                .lines()
                .any(|l| l.trim_start().starts_with("///") && l.contains(&phrase));
            if !documented {
                missing.push(format!("{}: {phrase}", file.display()));
            }
            checked.push(name);
        }
    }

    assert!(
        missing.is_empty(),
        "registered types whose `///` docs do not say their RON name:\n{}",
        missing.join("\n")
    );
    assert!(
        checked.len() >= 30,
        "only {} registered names found ({checked:?}): the scan is broken",
        checked.len()
    );
    println!("{} registered names documented", checked.len());
}
