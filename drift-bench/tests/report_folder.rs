//! `compare --out DIR` never destroys an input inside DIR, checks DIR before the first run, and
//! writes the report folder whole or not at all, one writer at a time: a killed run leaves the old
//! folder whole, two runs into one folder never mix their files, a reused folder keeps no figures
//! of the previous sweep.

mod common;

use common::*;
use drift_bench::report::ReportFolder;
use std::path::Path;
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

/// Runs the binary in `dir`.
fn run_in(dir: &Path, args: &[&str]) -> Output {
    Command::new(BIN)
        .args(args)
        .current_dir(dir)
        .output()
        .unwrap()
}

/// A tiny comparison on `data` into `out` (a second or so).
fn tiny<'a>(data: &'a str, out: &'a str) -> Vec<&'a str> {
    vec![
        "compare",
        "-o",
        "one_sided",
        "-d",
        data,
        "-t",
        "1",
        "--steps",
        "2",
        "--points",
        "60",
        "--quiet",
        "--out",
        out,
    ]
}

/// Runs a command in `dir` that must fail before any run (status 1, nothing on standard output);
/// returns its standard error.
fn refused(dir: &Path, args: &[&str]) -> String {
    let out = run_in(dir, args);
    let (stdout, stderr) = text(&out);
    assert_eq!(out.status.code(), Some(1), "{args:?}:\n{stdout}\n{stderr}");
    assert!(!stderr.contains("panicked"), "{stderr}");
    assert!(stdout.is_empty(), "nothing runs: {stdout}");
    stderr
}

/// The names in `dir`, sorted.
fn listing(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    names
}

/// The names and contents of the files in `dir`, sorted.
fn contents(dir: &Path) -> Vec<(String, Vec<u8>)> {
    listing(dir)
        .into_iter()
        .map(|n| {
            let bytes = std::fs::read(dir.join(&n)).unwrap();
            (n, bytes)
        })
        .collect()
}

/// A numeric CSV of 2-D points.
fn points_csv(n: usize) -> String {
    (0..n)
        .map(|i| {
            let t = i as f64 * 0.7;
            format!("{:.4},{:.4}\n", t.cos() * (1.0 + i as f64 * 0.01), t.sin())
        })
        .collect()
}

/// A folder that looks like an old report: its tables, `report.md` and a figure.
fn old_report(dir: &Path) {
    std::fs::create_dir_all(dir).unwrap();
    for f in [
        "report.md",
        "results.csv",
        "results.json",
        "old_flow_w2_sq.png",
    ] {
        std::fs::write(dir.join(f), format!("old {f}")).unwrap();
    }
}

#[test]
fn an_input_inside_the_report_folder_is_refused_before_any_run() {
    let dir = scratch("folder-inputs");
    std::fs::create_dir(dir.join("rep")).unwrap();
    let data = points_csv(40);
    std::fs::write(dir.join("rep/results.csv"), &data).unwrap();

    // The issue's case: the user's data file has the name of a report file.
    let stderr = refused(&dir, &tiny("file:rep/results.csv", "rep"));
    assert!(
        stderr.contains("--out rep") && stderr.contains("file:rep/results.csv"),
        "{stderr}"
    );
    assert_eq!(
        std::fs::read_to_string(dir.join("rep/results.csv")).unwrap(),
        data
    );
    assert_eq!(listing(&dir.join("rep")), ["results.csv"]);
    // Written otherwise, and under another name.
    std::fs::rename(dir.join("rep/results.csv"), dir.join("rep/mine.csv")).unwrap();
    let stderr = refused(&dir, &tiny("file:./rep/../rep/mine.csv", "rep/."));
    assert!(stderr.contains("file:./rep/../rep/mine.csv"), "{stderr}");
    let absolute = format!("file:{}", dir.join("rep/mine.csv").display());
    let stderr = refused(&dir, &tiny(&absolute, "rep"));
    assert!(stderr.contains(&absolute), "{stderr}");

    // An operator file and a sweep file inside the folder.
    std::fs::write(
        dir.join("rep/op.ron"),
        r#"{"one_sided": (temperature: 1.0)}"#,
    )
    .unwrap();
    let mut args = tiny("eight_gaussians", "rep");
    args[2] = "rep/op.ron";
    let stderr = refused(&dir, &args);
    assert!(
        stderr.contains("--out rep") && stderr.contains("operator file rep/op.ron"),
        "{stderr}"
    );
    std::fs::write(
        dir.join("rep/sweep.ron"),
        r#"(studies: [(operators: ["one_sided"], datasets: ["eight_gaussians"], temperatures: [1.0], points: 60, flow: (steps: 2))])"#,
    )
    .unwrap();
    let stderr = refused(
        &dir,
        &["compare", "rep/sweep.ron", "--quiet", "--out", "rep"],
    );
    assert!(stderr.contains("sweep file rep/sweep.ron"), "{stderr}");
    assert_eq!(
        listing(&dir.join("rep")),
        ["mine.csv", "op.ron", "sweep.ron"]
    );

    // The same inputs outside the report folder are fine.
    std::fs::rename(dir.join("rep/mine.csv"), dir.join("mine.csv")).unwrap();
    let out = run_in(&dir, &tiny("file:mine.csv", "report"));
    assert!(out.status.success(), "{}", text(&out).1);
    assert!(dir.join("report/report.md").is_file());
    assert_eq!(std::fs::read_to_string(dir.join("mine.csv")).unwrap(), data);
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn a_report_folder_that_cannot_be_replaced_is_refused_before_any_run() {
    let dir = scratch("folder-out-checks");
    std::fs::write(dir.join("a_file"), "mine").unwrap();
    let stderr = refused(&dir, &tiny("eight_gaussians", "a_file"));
    assert!(stderr.contains("a_file: is a file"), "{stderr}");
    assert_eq!(std::fs::read_to_string(dir.join("a_file")).unwrap(), "mine");
    if Path::new("/dev/null").exists() {
        let stderr = refused(&dir, &tiny("eight_gaussians", "/dev/null"));
        assert!(stderr.contains("/dev/null: is a file"), "{stderr}");
    }
    // A folder of the user's: the report would delete what it holds.
    std::fs::create_dir(dir.join("mine")).unwrap();
    std::fs::write(dir.join("mine/notes.txt"), "keep").unwrap();
    std::fs::write(dir.join("mine/report.md"), "keep").unwrap();
    let stderr = refused(&dir, &tiny("eight_gaussians", "mine"));
    assert!(
        stderr.contains("mine: holds notes.txt, which no report writes"),
        "{stderr}"
    );
    assert_eq!(listing(&dir.join("mine")), ["notes.txt", "report.md"]);
    // The current folder, which the report would replace under the user's feet.
    let stderr = refused(&dir.join("mine"), &tiny("eight_gaussians", "."));
    assert!(stderr.contains("is the current folder"), "{stderr}");
    // A folder that cannot be written (a user's `chmod -w` is respected); not as root, which
    // writes anyway.
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        old_report(&dir.join("kept"));
        let mode = |m| std::fs::Permissions::from_mode(m);
        std::fs::set_permissions(dir.join("kept"), mode(0o555)).unwrap();
        if std::fs::write(dir.join("kept/probe"), "").is_err() {
            let stderr = refused(&dir, &tiny("eight_gaussians", "kept"));
            assert!(stderr.contains("kept: cannot write in it"), "{stderr}");
        }
        std::fs::set_permissions(dir.join("kept"), mode(0o755)).unwrap();
    }
    if cfg!(unix) {
        assert!(!dir.join(".mine.lock").exists(), "the lock file is removed");
    }
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn a_second_writer_fails_at_once_naming_the_folder() {
    let dir = scratch("folder-locked");
    old_report(&dir.join("rep"));
    let before = contents(&dir.join("rep"));
    let held = ReportFolder::claim(&dir.join("rep")).unwrap();
    let start = Instant::now();
    let stderr = refused(&dir, &tiny("eight_gaussians", "rep"));
    assert!(
        stderr.contains("another drift-bench compare is writing rep"),
        "{stderr}"
    );
    assert!(start.elapsed() < Duration::from_secs(30));
    assert_eq!(contents(&dir.join("rep")), before);
    // A second claim from this process fails the same way; released, the folder can be claimed.
    let e = ReportFolder::claim(&dir.join("rep")).unwrap_err();
    assert!(e.to_string().contains("another drift-bench compare"), "{e}");
    drop(held);
    assert_eq!(contents(&dir.join("rep")), before);
    let out = run_in(&dir, &tiny("eight_gaussians", "rep"));
    assert!(out.status.success(), "{}", text(&out).1);
    let _ = std::fs::remove_dir_all(&dir);
}

/// Checks that `rep` in `dir` holds exactly one whole report of one of `datasets` and that nothing
/// was left beside it; returns the data set.
fn one_whole_report<'a>(dir: &Path, datasets: &[&'a str]) -> &'a str {
    let rep = dir.join("rep");
    let csv = std::fs::read_to_string(rep.join("results.csv")).unwrap();
    let data = *datasets
        .iter()
        .find(|d| csv.contains(&format!(",{d},")))
        .unwrap_or_else(|| panic!("{csv}"));
    for other in datasets.iter().filter(|d| **d != data) {
        assert!(!csv.contains(other), "{csv}");
    }
    let md = std::fs::read_to_string(rep.join("report.md")).unwrap();
    for name in listing(&rep) {
        if name.ends_with(".png") || name.ends_with(".svg") {
            assert!(name.starts_with(data), "{name} beside a report of {data}");
            assert!(md.contains(&format!("({name})")), "report.md links {name}");
        } else {
            assert!(
                ["report.md", "results.csv", "results.json"].contains(&name.as_str()),
                "{name}"
            );
        }
    }
    if cfg!(unix) {
        assert_eq!(listing(dir), ["rep"], "nothing left beside the folder");
    }
    data
}

#[test]
fn a_reused_report_folder_keeps_nothing_of_the_previous_sweep() {
    let dir = scratch("folder-reuse");
    for data in ["eight_gaussians", "two_moons"] {
        let out = run_in(&dir, &tiny(data, "rep"));
        assert!(out.status.success(), "{}", text(&out).1);
        assert_eq!(one_whole_report(&dir, &[data]), data);
    }
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn two_writers_of_one_folder_never_mix_their_files() {
    let dir = scratch("folder-concurrent");
    let datasets = ["eight_gaussians", "two_moons"];
    for _ in 0..3 {
        let children: Vec<_> = datasets
            .iter()
            .map(|d| {
                let mut args = tiny(d, "rep");
                args[6] = "0.5,1";
                Command::new(BIN)
                    .args(&args)
                    .current_dir(&dir)
                    .stdout(Stdio::piped())
                    .stderr(Stdio::piped())
                    .spawn()
                    .unwrap()
            })
            .collect();
        let mut succeeded = 0;
        for child in children {
            let out = child.wait_with_output().unwrap();
            let (_, stderr) = text(&out);
            if out.status.success() {
                succeeded += 1;
            } else {
                assert!(
                    stderr.contains("another drift-bench compare is writing rep"),
                    "{stderr}"
                );
            }
        }
        assert!(succeeded >= 1);
        one_whole_report(&dir, &datasets);
    }
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn a_run_killed_while_writing_leaves_the_old_folder_whole() {
    let dir = scratch("folder-killed");
    old_report(&dir.join("rep"));
    let before = contents(&dir.join("rep"));
    let mut child = Command::new(BIN)
        .args(tiny("eight_gaussians", "rep"))
        .current_dir(&dir)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    // Kills the run as soon as its report has a file (or lets it finish).
    let deadline = Instant::now() + Duration::from_secs(120);
    let killed = loop {
        if child.try_wait().unwrap().is_some() {
            break false;
        }
        let writing = listing(&dir).iter().any(|n| {
            n.starts_with(".rep.tmp-")
                && std::fs::read_dir(dir.join(n)).is_ok_and(|mut d| d.next().is_some())
        });
        if writing || Instant::now() > deadline {
            child.kill().unwrap();
            break true;
        }
        std::thread::sleep(Duration::from_millis(1));
    };
    let status = child.wait().unwrap();
    if killed && !status.success() {
        if dir.join("rep").exists() {
            assert_eq!(contents(&dir.join("rep")), before, "the old report, whole");
        } else {
            // Killed between the commit's two renames: the old report is whole beside it.
            let aside = listing(&dir)
                .into_iter()
                .find(|n| n.starts_with(".rep.old-"))
                .expect("the old report moved aside");
            assert_eq!(contents(&dir.join(aside)), before, "the old report, whole");
        }
        // The next run clears what the killed one left and replaces the report whole.
        let out = run_in(&dir, &tiny("two_moons", "rep"));
        assert!(out.status.success(), "{}", text(&out).1);
        assert_eq!(one_whole_report(&dir, &["two_moons"]), "two_moons");
    } else {
        eprintln!("the run finished before it could be killed");
        assert_eq!(
            one_whole_report(&dir, &["eight_gaussians"]),
            "eight_gaussians"
        );
    }
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn the_folder_is_replaced_whole_at_the_commit() {
    let dir = scratch("folder-commit");
    let rep = dir.join("rep");
    old_report(&rep);
    let before = contents(&rep);
    let folder = ReportFolder::claim(&rep).unwrap();
    assert_eq!(folder.path(), rep);
    assert_eq!(
        folder.staging().parent().unwrap(),
        dir.canonicalize().unwrap()
    );
    std::fs::write(folder.staging().join("report.md"), "new").unwrap();
    std::fs::write(folder.staging().join("results.csv"), "new").unwrap();
    assert_eq!(contents(&rep), before, "untouched until the commit");
    folder.commit().unwrap();
    assert_eq!(
        contents(&rep),
        [
            ("report.md".to_string(), b"new".to_vec()),
            ("results.csv".to_string(), b"new".to_vec())
        ]
    );
    if cfg!(unix) {
        assert_eq!(listing(&dir), ["rep"], "no staging, old or lock file left");
    }

    // A folder that does not exist yet, with its parents.
    let nested = dir.join("a/b/new");
    let folder = ReportFolder::claim(&nested).unwrap();
    assert!(!nested.exists());
    std::fs::write(folder.staging().join("report.md"), "new").unwrap();
    folder.commit().unwrap();
    assert_eq!(listing(&nested), ["report.md"]);
    if cfg!(unix) {
        assert_eq!(listing(&dir.join("a/b")), ["new"]);
    }
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn a_failure_while_writing_leaves_the_old_folder_whole() {
    let dir = scratch("folder-failure");
    let rep = dir.join("rep");
    old_report(&rep);
    let before = contents(&rep);
    let folder = ReportFolder::claim(&rep).unwrap();
    std::fs::write(folder.staging().join("results.csv"), "half").unwrap();
    // Any error on the way drops the folder before its commit.
    drop(folder);
    assert_eq!(contents(&rep), before);
    if cfg!(unix) {
        assert_eq!(listing(&dir), ["rep"], "no staging or lock file left");
    }
    // Nothing is created for a folder that did not exist.
    drop(ReportFolder::claim(&dir.join("never")).unwrap());
    assert!(!dir.join("never").exists());
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn what_killed_writers_left_is_removed_and_nothing_else() {
    let dir = scratch("folder-leftovers");
    let rep = dir.join("rep");
    old_report(&rep);
    let before = contents(&rep);
    // A killed writer's staging and old folders and its (unlocked) lock file...
    for left in [".rep.tmp-4242-a1B2c3", ".rep.old-4242-0"] {
        std::fs::create_dir(dir.join(left)).unwrap();
        std::fs::write(dir.join(left).join("results.csv"), "half").unwrap();
    }
    std::fs::write(dir.join(".rep.lock"), "").unwrap();
    // ...and the staging folder of another report folder, `rep.tmp-1`, and a user's folder.
    for other in [".rep.tmp-1.tmp-7-xyz", ".rep.tmp-mine"] {
        std::fs::create_dir(dir.join(other)).unwrap();
    }
    let folder = ReportFolder::claim(&rep).unwrap();
    assert_eq!(
        listing(&rep),
        [
            "old_flow_w2_sq.png",
            "report.md",
            "results.csv",
            "results.json"
        ]
    );
    let staging = folder
        .staging()
        .file_name()
        .unwrap()
        .to_string_lossy()
        .into_owned();
    let mut expected = vec![
        ".rep.lock".to_string(),
        ".rep.tmp-1.tmp-7-xyz".to_string(),
        ".rep.tmp-mine".to_string(),
        "rep".to_string(),
        staging,
    ];
    expected.sort();
    assert_eq!(listing(&dir), expected);
    drop(folder);

    // A writer killed between its two renames: the folder is missing, the old one aside.
    std::fs::rename(&rep, dir.join(".rep.old-4243-0")).unwrap();
    std::fs::create_dir(dir.join(".rep.tmp-4243-xyzXYZ")).unwrap();
    let folder = ReportFolder::claim(&rep).unwrap();
    assert_eq!(contents(&rep), before, "the old report is put back");
    assert!(!dir.join(".rep.old-4243-0").exists() && !dir.join(".rep.tmp-4243-xyzXYZ").exists());
    drop(folder);
    let _ = std::fs::remove_dir_all(&dir);
}
