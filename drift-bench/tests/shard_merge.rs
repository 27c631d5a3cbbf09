//! A sweep split with `compare --shard I/N` and put together with `drift-bench merge` gives the
//! report of the whole sweep run by one process: the same `results.json`, `results.csv`,
//! `report.md` and figures, timings and command lines aside. `merge` refuses a missing shard, a
//! shard given twice and shards of different sweeps, writing nothing; a Slurm job array's
//! variables pick the shard when `--shard` is not given.

mod common;

use common::{scratch, BIN};
use serde_json::Value;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

/// The Slurm variables a test must not inherit.
const SLURM: [&str; 4] = [
    "SLURM_ARRAY_TASK_ID",
    "SLURM_ARRAY_TASK_COUNT",
    "SLURM_ARRAY_TASK_MIN",
    "SLURM_ARRAY_TASK_STEP",
];

/// The sweep: two operators, two temperatures, flow and (a few steps of) training.
const SWEEP: [&str; 22] = [
    "compare",
    "-o",
    "one_sided",
    "-o",
    "sinkhorn_drift",
    "-d",
    "eight_gaussians",
    "-t",
    "0.1,1",
    "--steps",
    "10",
    "--mode",
    "flow,train",
    "--train-steps",
    "5",
    "--batch",
    "16",
    "--hidden",
    "8",
    "--points",
    "200",
    "--quiet",
];

/// Runs the binary with `args` (and `env` set, no other Slurm variable).
fn run_with(args: &[&str], env: &[(&str, &str)]) -> Output {
    let mut command = Command::new(BIN);
    command.args(args);
    for name in SLURM {
        command.env_remove(name);
    }
    command.envs(env.iter().copied());
    command.output().unwrap()
}

fn ok(args: &[&str]) -> String {
    let out = run_with(args, &[]);
    let text = |b: &[u8]| String::from_utf8_lossy(b).into_owned();
    assert!(
        out.status.success(),
        "{args:?}:\n{}\n{}",
        text(&out.stdout),
        text(&out.stderr)
    );
    text(&out.stdout)
}

/// Runs a command that must fail with status 1 and an `error:` line, without a panic; returns the
/// error.
fn fails(args: &[&str]) -> String {
    let out = run_with(args, &[]);
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    assert_eq!(out.status.code(), Some(1), "{args:?}: {stderr}");
    assert!(
        stderr.starts_with("error: ") && !stderr.contains("panicked"),
        "{stderr}"
    );
    stderr
}

fn s(p: &Path) -> &str {
    p.to_str().unwrap()
}

/// The sweep `SWEEP` + `extra`, with `--out out`.
fn compare(extra: &[&str], out: &Path) {
    let mut args: Vec<&str> = SWEEP.to_vec();
    args.extend_from_slice(extra);
    args.extend_from_slice(&["--out", s(out)]);
    ok(&args);
}

/// The sweep with `extra` run as `n` shards into `dir/{name}{i}`; returns the folders.
fn shards(dir: &Path, name: &str, n: usize, extra: &[&str]) -> Vec<PathBuf> {
    (0..n)
        .map(|i| {
            let out = dir.join(format!("{name}{i}"));
            let shard = format!("{i}/{n}");
            let mut args = extra.to_vec();
            args.extend_from_slice(&["--shard", &shard]);
            compare(&args, &out);
            out
        })
        .collect()
}

fn merge(folders: &[&PathBuf], out: &Path) -> Vec<String> {
    let mut args = vec!["merge".to_string()];
    args.extend(folders.iter().map(|f| s(f).to_string()));
    args.extend(["--out".to_string(), s(out).to_string()]);
    args
}

/// `results.json` without the fields that time the runs or name their command line.
fn timeless_json(dir: &Path) -> Value {
    let text = std::fs::read_to_string(dir.join("results.json")).unwrap();
    let mut runs: Value = serde_json::from_str(&text).unwrap();
    for run in runs.as_array_mut().unwrap() {
        let run = run.as_object_mut().unwrap();
        for key in ["seconds", "ms_per_step", "command"] {
            assert!(run.remove(key).is_some(), "no {key} in {run:?}");
        }
    }
    runs
}

/// The fields of an RFC 4180 file, by row.
fn csv_rows(text: &str) -> Vec<Vec<String>> {
    let (mut rows, mut row, mut field) = (Vec::new(), Vec::new(), String::new());
    let (mut quoted, mut chars) = (false, text.chars().peekable());
    while let Some(c) = chars.next() {
        match (quoted, c) {
            (true, '"') if chars.peek() == Some(&'"') => {
                chars.next();
                field.push('"');
            }
            (true, '"') => quoted = false,
            (true, c) => field.push(c),
            (false, '"') => quoted = true,
            (false, ',') => row.push(std::mem::take(&mut field)),
            (false, '\n') => {
                row.push(std::mem::take(&mut field));
                rows.push(std::mem::take(&mut row));
            }
            (false, c) => field.push(c),
        }
    }
    rows
}

/// `results.csv` without its timing and command columns.
fn timeless_csv(dir: &Path) -> Vec<Vec<String>> {
    let rows = csv_rows(&std::fs::read_to_string(dir.join("results.csv")).unwrap());
    let drop: Vec<usize> = ["seconds", "ms_per_step", "command"]
        .iter()
        .map(|h| rows[0].iter().position(|c| c == h).expect(h))
        .collect();
    rows.into_iter()
        .map(|r| {
            r.into_iter()
                .enumerate()
                .filter(|(i, _)| !drop.contains(i))
                .map(|(_, f)| f)
                .collect()
        })
        .collect()
}

/// `report.md` without the command block, the wall-time note and the ms/step column of tables.
fn timeless_md(dir: &Path) -> String {
    let md = std::fs::read_to_string(dir.join("report.md")).unwrap();
    let mut out = Vec::new();
    let (mut lines, mut ms_column) = (md.lines(), None);
    while let Some(line) = lines.next() {
        if line == "Made by:" {
            // The blank line, the fence, the commands, the closing fence.
            lines.next();
            assert_eq!(lines.next(), Some("```text"));
            for l in lines.by_ref() {
                if l == "```" {
                    break;
                }
            }
            continue;
        }
        if line.contains("Total wall time") {
            continue;
        }
        if line.starts_with('|') {
            let mut cells: Vec<&str> = line.split('|').map(str::trim).collect();
            if let Some(i) = cells.iter().position(|c| *c == "ms/step") {
                ms_column = Some(i);
            }
            if let Some(i) = ms_column.filter(|i| *i < cells.len()) {
                cells.remove(i);
            }
            out.push(cells.join("|"));
        } else {
            ms_column = None;
            out.push(line.to_string());
        }
    }
    out.join("\n")
}

fn file_names(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    names
}

#[test]
fn shards_merge_into_the_report_of_the_whole_sweep() {
    let dir = scratch("shard-merge");
    let whole = dir.join("whole");
    compare(&[], &whole);
    let parts = shards(&dir, "part", 3, &[]);
    let merged = dir.join("merged");
    // In any order.
    let args = merge(&[&parts[2], &parts[0], &parts[1]], &merged);
    let said = ok(&args.iter().map(String::as_str).collect::<Vec<_>>());
    assert!(said.contains("3 shards of sweep"), "{said}");

    assert_eq!(timeless_json(&merged), timeless_json(&whole));
    assert_eq!(timeless_csv(&merged), timeless_csv(&whole));
    assert_eq!(timeless_md(&merged), timeless_md(&whole));
    let names = file_names(&whole);
    assert_eq!(file_names(&merged), names);
    let figures: Vec<&String> = names.iter().filter(|n| n.ends_with(".png")).collect();
    assert!(figures.iter().any(|n| n.contains("samples")), "{names:?}");
    for name in names
        .iter()
        .filter(|n| n.ends_with(".png") || n.ends_with(".svg"))
    {
        if !name.contains("ms_per_step") {
            let read = |d: &Path| std::fs::read(d.join(name)).unwrap();
            assert!(read(&merged) == read(&whole), "{name} differs");
        }
    }
    // The merged report shows how it was made: the shards' commands and the merge's.
    let md = std::fs::read_to_string(merged.join("report.md")).unwrap();
    assert!(
        md.contains("--shard 0/3") && md.contains("drift-bench merge"),
        "{md}"
    );

    // A shard folder: its runs (every third, from its index), its manifest and a short report.
    let part: Value =
        serde_json::from_str(&std::fs::read_to_string(parts[1].join("shard.json")).unwrap())
            .unwrap();
    let indices: Vec<u64> = part["runs"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["index"].as_u64().unwrap())
        .collect();
    assert_eq!(indices, [1, 4, 7]);
    assert_eq!(part["total_runs"], 8);
    assert_eq!(part["shard"]["count"], 3);
    let whole_runs = timeless_json(&whole);
    let part_runs = timeless_json(&parts[1]);
    for (k, i) in indices.iter().enumerate() {
        assert_eq!(part_runs[k], whole_runs[*i as usize]);
    }
    let shard_md = std::fs::read_to_string(parts[1].join("report.md")).unwrap();
    assert!(shard_md.contains("shard 1/3") && shard_md.contains("drift-bench merge"));
    // A shard folder can be run again in place.
    compare(&["--shard", "1/3"], &parts[1]);
}

#[test]
fn merge_refuses_missing_repeated_and_foreign_shards() {
    let dir = scratch("shard-refusals");
    let parts = shards(&dir, "part", 3, &[]);
    let out = dir.join("merged");
    let try_merge = |folders: &[&PathBuf]| {
        let args = merge(folders, &out);
        let e = fails(&args.iter().map(String::as_str).collect::<Vec<_>>());
        assert!(!out.exists(), "merge wrote {} despite: {e}", out.display());
        e
    };
    let e = try_merge(&[&parts[0], &parts[2]]);
    assert!(e.contains("1 of the sweep's 3 shards missing: 1/3"), "{e}");

    let e = try_merge(&[&parts[0], &parts[1], &parts[1], &parts[2]]);
    assert!(
        e.contains("is given twice") && e.contains(s(&parts[1])),
        "{e}"
    );
    let copy = dir.join("copy");
    std::fs::create_dir_all(&copy).unwrap();
    for name in file_names(&parts[1]) {
        std::fs::copy(parts[1].join(&name), copy.join(&name)).unwrap();
    }
    let e = try_merge(&[&parts[0], &parts[1], &copy, &parts[2]]);
    assert!(
        e.contains("holds shard 1/3, which") && e.contains(s(&copy)),
        "{e}"
    );

    // Another sweep (another seed), the same number of shards.
    let other = shards(&dir, "other", 3, &["--seeds", "1"]);
    let e = try_merge(&[&parts[0], &parts[1], &other[2]]);
    assert!(
        e.contains(&format!(
            "shard folder {}: belongs to another sweep",
            s(&other[2])
        )) && e.contains("fingerprint"),
        "{e}"
    );
    // The same sweep split in 2.
    let halves = shards(&dir, "half", 2, &[]);
    let e = try_merge(&[&parts[0], &parts[1], &halves[1]]);
    assert!(e.contains("2 shards instead of 3"), "{e}");

    // A report folder is no shard folder; a shard whose files disagree is named.
    let whole = dir.join("whole");
    compare(&[], &whole);
    let e = try_merge(&[&parts[0], &whole]);
    assert!(
        e.contains(&format!("shard folder {}: holds no shard.json", s(&whole))),
        "{e}"
    );
    std::fs::write(copy.join("results.json"), "[]").unwrap();
    let e = try_merge(&[&parts[0], &copy, &parts[2]]);
    assert!(
        e.contains(&format!(
            "shard folder {}: results.json holds 0 runs but shard.json 3",
            s(&copy)
        )),
        "{e}"
    );
}

#[test]
fn the_shard_comes_from_the_argument_or_a_slurm_array() {
    let dir = scratch("shard-slurm");
    let out = dir.join("task");
    let mut args: Vec<&str> = SWEEP.to_vec();
    args.extend_from_slice(&["--out", s(&out)]);
    // `--array=1-4`: task 3 is shard 2/4.
    let slurm = [
        ("SLURM_ARRAY_TASK_ID", "3"),
        ("SLURM_ARRAY_TASK_COUNT", "4"),
        ("SLURM_ARRAY_TASK_MIN", "1"),
    ];
    let run = run_with(&args, &slurm);
    let said = String::from_utf8_lossy(&run.stdout);
    assert!(run.status.success(), "{said}");
    assert!(
        said.contains("shard 2/4 from the Slurm job array"),
        "{said}"
    );
    let manifest = || -> Value {
        serde_json::from_str(&std::fs::read_to_string(out.join("shard.json")).unwrap()).unwrap()
    };
    assert_eq!(manifest()["shard"]["index"], 2);
    // `--shard` wins over the variables; `--shard all` writes the whole report.
    let mut given = args.clone();
    given.extend_from_slice(&["--shard", "0/2"]);
    assert!(run_with(&given, &slurm).status.success());
    assert_eq!(manifest()["shard"]["count"], 2);
    let mut all = args.clone();
    all.extend_from_slice(&["--shard", "all"]);
    assert!(run_with(&all, &slurm).status.success());
    assert!(!out.join("shard.json").exists() && out.join("report.md").exists());

    // Bad values name the argument or the variable, before any run.
    for (value, says) in [
        (
            "3/3",
            "--shard 3/3: the shard index must be below the number of shards",
        ),
        (
            "1/0",
            "--shard 1/0: the number of shards must be at least 1",
        ),
        ("one/3", "--shard one/3: expected I/N"),
    ] {
        let mut bad = args.clone();
        bad.extend_from_slice(&["--shard", value]);
        let e = fails(&bad);
        assert!(e.contains(says), "{e}");
    }
    let lone = run_with(&args, &[("SLURM_ARRAY_TASK_ID", "1")]);
    let e = String::from_utf8_lossy(&lone.stderr);
    assert_eq!(lone.status.code(), Some(1), "{e}");
    assert!(e.contains("SLURM_ARRAY_TASK_COUNT is not"), "{e}");
}
