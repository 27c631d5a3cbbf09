//! What `drift-bench apply` prints: the report tree, the timings and a summary of the field.

use crate::array::Array;
use drift_api::DriftReport;
use std::io::Write;
use std::time::Duration;

/// The report tree: each operator with its drift norm and the couplings it solved.
pub(crate) fn print_report(
    out: &mut impl Write,
    r: &DriftReport,
    depth: usize,
) -> std::io::Result<()> {
    let indent = "  ".repeat(depth);
    writeln!(
        out,
        "{indent}operator {}: drift norm λ = {:.6e}",
        r.operator, r.drift_norm
    )?;
    for c in &r.couplings {
        writeln!(
            out,
            "{indent}  {} coupling {}: {} iterations, marginal error {}, {}{}",
            if c.term.is_empty() { "-" } else { &c.term },
            c.coupling,
            c.iterations,
            c.marginal_error.map_or("-".into(), |e| format!("{e:.3e}")),
            if c.converged {
                "converged"
            } else {
                "NOT converged"
            },
            // Which path the passes took: distances cached within the budget, or recomputed.
            c.path.map_or(String::new(), |p| format!(", pairs {p}"))
        )?;
    }
    if let Some(p) = &r.precision {
        if p.promoted() {
            writeln!(
                out,
                "{indent}  computed in f64: log-weights up to {:.3e} are beyond what f32 resolves",
                p.log_weight_scale
            )?;
        }
        if !p.trusted() {
            writeln!(
                out,
                "{indent}  WARNING: log-weights up to {:.3e}; kernel weights may be off by {:.1e} relative (raise the temperature or rescale the data)",
                p.log_weight_scale, p.weight_error_bound
            )?;
        }
    }
    for p in &r.parts {
        print_report(out, p, depth + 1)?;
    }
    Ok(())
}

/// `elapsed` is the first evaluation; with `--repeat K > 1`, a `timing` line adds the median and
/// the minimum over the K evaluations, in seconds.
pub(crate) fn print_elapsed(out: &mut impl Write, times: &[Duration]) -> std::io::Result<()> {
    let Some(first) = times.first() else {
        return Ok(());
    };
    writeln!(out, "elapsed {:.3} ms", first.as_secs_f64() * 1e3)?;
    if times.len() > 1 {
        let (median, min) = median_and_min(times);
        writeln!(
            out,
            "timing: {} evaluations, median {median:.6} s, min {min:.6} s",
            times.len()
        )?;
    }
    Ok(())
}

/// The median (the mean of the two middle values for an even count) and the minimum, in seconds.
fn median_and_min(times: &[Duration]) -> (f64, f64) {
    let mut s: Vec<f64> = times.iter().map(Duration::as_secs_f64).collect();
    s.sort_by(f64::total_cmp);
    let n = s.len();
    let median = if n % 2 == 1 {
        s[n / 2]
    } else {
        0.5 * (s[n / 2 - 1] + s[n / 2])
    };
    (median, s[0])
}

pub(crate) fn print_summary(out: &mut impl Write, v: &Array, show: usize) -> std::io::Result<()> {
    let rows = v.shape().rows();
    let shown = show.min(rows);
    writeln!(
        out,
        "V: shape {}{}",
        v.shape(),
        if shown < rows {
            format!(", first {shown} rows:")
        } else {
            ":".into()
        }
    )?;
    for i in 0..shown {
        let row: Vec<String> = v.row(i).iter().map(|c| format!("{c:>13.6e}")).collect();
        writeln!(out, "  {}", row.join(" "))?;
    }
    Ok(())
}
