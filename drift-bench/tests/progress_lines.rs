//! Where standard error is not a terminal (a log file, a batch job), `compare` prints a line per
//! finished run instead of its progress bar; `--quiet` prints none.

use std::process::Command;

fn compare(extra: &[&str], out: &std::path::Path) -> String {
    let _ = std::fs::remove_dir_all(out);
    let run = Command::new(env!("CARGO_BIN_EXE_drift-bench"))
        .args([
            "compare",
            "-o",
            "one_sided",
            "-d",
            "eight_gaussians",
            "-t",
            "0.1,1",
        ])
        .args(["--steps", "5", "--mode", "flow", "--out"])
        .arg(out)
        .args(extra)
        .env_remove("SLURM_ARRAY_TASK_ID")
        .env_remove("SLURM_ARRAY_TASK_COUNT")
        .output()
        .unwrap();
    assert!(
        run.status.success(),
        "{}",
        String::from_utf8_lossy(&run.stderr)
    );
    String::from_utf8(run.stderr).unwrap()
}

#[test]
fn a_line_per_finished_run_when_stderr_is_not_a_terminal() {
    let out = std::env::temp_dir().join(format!("drift-progress-{}", std::process::id()));
    let stderr = compare(&[], &out);
    let lines: Vec<&str> = stderr.lines().filter(|l| l.starts_with("run ")).collect();
    assert_eq!(lines.len(), 2, "{stderr}");
    assert!(lines[0].starts_with("run 1/2 done after "), "{}", lines[0]);
    assert!(lines[1].contains("one_sided on eight_gaussians, flow, T 1, seed 0: ok in "));
    // Each line says how much of the expected work (runs weighted by their cost) is done.
    assert!(
        lines[0].contains("% of the expected work done, about "),
        "{}",
        lines[0]
    );
    assert!(
        lines[1].ends_with("; 100% of the expected work done, about 0 s left"),
        "{}",
        lines[1]
    );
    let quiet = compare(&["--quiet"], &out);
    assert!(!quiet.contains("done after"), "{quiet}");
    let _ = std::fs::remove_dir_all(&out);
}
