//! `drift-bench list`: every registered kernel, coupling and operator, with its parameters.

use anyhow::Result;
use drift_api::registry::{self, Kind};
use std::io::Write;

/// Prints the registry grouped by kind (in the order of [`Kind::ALL`]: kernels, couplings,
/// operators): each name with its one-line summary and parameters, and its example RON value when
/// `examples` is set. The names are those of every crate linked into the running binary.
///
/// ```
/// let mut out = Vec::new();
/// drift_bench::list::run(false, &mut out).unwrap();
/// let out = String::from_utf8(out).unwrap();
/// assert!(out.starts_with("kernels (") && out.contains("one_sided"));
/// ```
pub fn run(examples: bool, out: &mut impl Write) -> Result<()> {
    let entries = registry::entries();
    let width = entries.iter().map(|r| r.name.len()).max().unwrap_or(0);
    for (k, kind) in Kind::ALL.into_iter().enumerate() {
        let of_kind: Vec<_> = entries.iter().filter(|r| r.kind == kind).collect();
        if k > 0 {
            writeln!(out)?;
        }
        writeln!(out, "{}s ({}):", kind.as_str(), of_kind.len())?;
        for r in of_kind {
            writeln!(out, "  {:<width$}  {}", r.name, r.summary)?;
            let params = if r.params.is_empty() {
                "(none)"
            } else {
                r.params
            };
            writeln!(out, "  {:<width$}    params: {params}", "")?;
            if examples {
                writeln!(out, "  {:<width$}    example: {}", "", r.example)?;
            }
        }
    }
    Ok(())
}
