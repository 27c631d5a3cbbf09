//! The crate's modules import each other in layers, bottom up, with no circle: numbers and points,
//! kernels and weightings, the backend kit, couplings and operators, loading and the registry.
//! The plugin contract above the kit names it only through the types its problems carry.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

/// The top-level module a source file belongs to (`kit/pairs.rs` → `kit`, `lib.rs` → `lib`).
fn module_of(path: &Path, src: &Path) -> String {
    let rel = path.strip_prefix(src).unwrap();
    let first = rel
        .components()
        .next()
        .unwrap()
        .as_os_str()
        .to_string_lossy();
    first.trim_end_matches(".rs").to_string()
}

/// Every `crate::NAME` a file's code (not its comments) refers to.
fn imports(text: &str) -> BTreeSet<String> {
    let mut out = BTreeSet::new();
    for line in text.lines() {
        let code = line.split("//").next().unwrap_or("");
        let mut rest = code;
        while let Some(at) = rest.find("crate::") {
            rest = &rest[at + "crate::".len()..];
            let name: String = rest
                .chars()
                .take_while(|c| c.is_alphanumeric() || *c == '_')
                .collect();
            if !name.is_empty() {
                out.insert(name);
            }
        }
    }
    out
}

fn files(dir: &Path, out: &mut Vec<std::path::PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            files(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

/// The graph of top-level modules: which modules each one's code names.
fn graph() -> BTreeMap<String, BTreeSet<String>> {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut all = Vec::new();
    files(&src, &mut all);
    let modules: BTreeSet<String> = all.iter().map(|p| module_of(p, &src)).collect();
    let mut graph: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for path in &all {
        let from = module_of(path, &src);
        let text = std::fs::read_to_string(path).unwrap();
        let to = graph.entry(from.clone()).or_default();
        for name in imports(&text) {
            if modules.contains(&name) && name != from {
                to.insert(name);
            }
        }
    }
    graph
}

/// The layer of each module; a module may import only modules of lower layers (`lib` re-exports
/// everything and is left out).
fn layer(module: &str) -> usize {
    match module {
        "math" => 0,
        "real" => 1,
        "error" => 2,
        "points" | "kernel" | "weighting" => 3,
        "kit" => 4,
        "coupling" => 5,
        "operator" => 6,
        "registry" => 7,
        "load" | "plugin" => 8,
        other => panic!("module `{other}` has no layer: give it one in this test"),
    }
}

#[test]
fn every_module_imports_only_the_layers_below_it() {
    let mut wrong = Vec::new();
    for (from, to) in graph() {
        if from == "lib" {
            continue;
        }
        for t in to {
            if layer(&t) >= layer(&from) {
                wrong.push(format!("{from} → {t}"));
            }
        }
    }
    assert!(wrong.is_empty(), "imports against the layers: {wrong:?}");
}

#[test]
fn the_kit_imports_nothing_of_the_operator_contract() {
    let kit = &graph()["kit"];
    for upper in ["coupling", "operator", "load", "registry", "plugin"] {
        assert!(!kit.contains(upper), "kit imports {upper}");
    }
}
