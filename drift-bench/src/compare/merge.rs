//! `drift-bench merge SHARD_DIR... --out DIR`: the shard folders of one sweep
//! (`drift-bench compare --shard I/N`, [`crate::compare::shard`]) combined into the report that
//! the whole sweep run by one process writes: the same `results.csv`, `results.json`, figures and
//! `report.md`, timings and command lines aside.
//!
//! Before anything is written the shards are checked: each folder must be a shard folder
//! ([`crate::compare::shard_folder`]) whose `results.json` and `shard.json` agree and hold exactly
//! the runs of its shard; every shard must have the first one's sweep fingerprint and number of
//! shards and runs; and every shard `0/N` to `N-1/N` must be given exactly once. Each failure is a
//! [`MergeError`] naming the folder (or the missing shards).
//!
//! The report is written by the same code as `compare`'s ([`crate::report::write_report_in`]),
//! from the runs in the sweep's run order, the data sets and the notes the shards saved. Its
//! command block shows the shards' command (the first one's, and the last one's when they differ)
//! and the merge's; its last note sums the shards' wall times.

pub use crate::compare::merge_error::{MergeError, MISSING_SHOWN};

use crate::cli::shell_quote;
use crate::compare::command::REPORT_TITLE;
use crate::compare::record::{DatasetSummary, RunOutput, RunRecord};
use crate::compare::shard_folder::{read_manifest, ShardManifest, MANIFEST};
use crate::report::{self, ReportFolder, ReportOptions};
use crate::same_file::check_no_input_inside;
use anyhow::Result;
use clap::Args;
use std::io::Write;
use std::path::{Path, PathBuf};

/// Options of `drift-bench merge`.
#[derive(Clone, Debug, Args)]
pub struct MergeArgs {
    /// The shard folders of one sweep (`drift-bench compare --shard I/N --out DIR`), every shard
    /// 0/N to N-1/N once, in any order.
    #[arg(required = true, value_name = "SHARD_DIR")]
    pub shards: Vec<PathBuf>,
    /// The report folder, as `compare --out`: replaced whole once the report is written (a new or
    /// empty folder, or a previous report's; no shard folder may lie inside it), locked meanwhile.
    #[arg(long, default_value = "compare-report")]
    pub out: PathBuf,
}

/// A shard folder as read: its manifest and the records of its `results.json`.
#[derive(Clone, Debug)]
pub struct ShardFolder {
    /// The folder as given.
    pub dir: PathBuf,
    /// Its `shard.json`.
    pub manifest: ShardManifest,
    /// Its `results.json`, in the order of the manifest's runs.
    pub records: Vec<RunRecord>,
}

/// Reads the shard folder `dir` and checks that it is whole: its `results.json` and `shard.json`
/// hold the same number of runs, and those are exactly the runs of its shard.
pub fn read_shard_folder(dir: &Path) -> Result<ShardFolder, MergeError> {
    let not_a_shard = |reason: String| MergeError::NotAShard {
        folder: dir.to_path_buf(),
        reason,
    };
    let inconsistent = |reason: String| MergeError::Inconsistent {
        folder: dir.to_path_buf(),
        reason,
    };
    if !dir.is_dir() {
        return Err(not_a_shard("is not a folder".into()));
    }
    let manifest = read_manifest(dir).map_err(not_a_shard)?;
    let text = std::fs::read_to_string(dir.join("results.json"))
        .map_err(|e| inconsistent(format!("cannot read results.json: {e}")))?;
    let records: Vec<RunRecord> = serde_json::from_str(&text)
        .map_err(|e| inconsistent(format!("results.json does not hold runs: {e}")))?;
    let folder = ShardFolder {
        dir: dir.to_path_buf(),
        manifest,
        records,
    };
    check_whole(&folder)?;
    Ok(folder)
}

/// Checks that a shard folder holds exactly the runs of its shard, once each, with a record for
/// each.
fn check_whole(folder: &ShardFolder) -> Result<(), MergeError> {
    let inconsistent = |reason: String| MergeError::Inconsistent {
        folder: folder.dir.clone(),
        reason,
    };
    let manifest = &folder.manifest;
    let shard = manifest.shard;
    if shard.count == 0 || shard.index >= shard.count {
        return Err(inconsistent(format!(
            "{MANIFEST} names shard {shard}, which no sweep has"
        )));
    }
    if folder.records.len() != manifest.runs.len() {
        return Err(inconsistent(format!(
            "results.json holds {} runs but {MANIFEST} {}",
            folder.records.len(),
            manifest.runs.len()
        )));
    }
    let total = manifest.total_runs;
    let expected = shard.runs(total);
    let held: Vec<usize> = manifest.runs.iter().map(|r| r.index).collect();
    let exact = held.len() == expected
        && held.iter().enumerate().all(|(k, i)| {
            k.checked_mul(shard.count)
                .and_then(|o| o.checked_add(shard.index))
                == Some(*i)
        });
    if !exact {
        let expected: Vec<usize> = shard.indices(total).take(7).collect();
        return Err(inconsistent(format!(
            "holds the runs of indices {} but shard {shard} of a sweep of {total} runs holds {}",
            indices_text(&held, held.len()),
            indices_text(&expected, shard.runs(total))
        )));
    }
    Ok(())
}

/// The first few of `indices`, of `n` in all, for messages.
fn indices_text(indices: &[usize], n: usize) -> String {
    let shown: Vec<String> = indices.iter().take(6).map(usize::to_string).collect();
    match n {
        0 => "none".to_string(),
        n if n > shown.len() => format!("{}, ... ({n} runs)", shown.join(", ")),
        _ => shown.join(", "),
    }
}

/// The shards of one sweep, combined.
#[derive(Debug)]
pub struct Merged {
    /// Every run of the sweep, in its run order.
    pub runs: Vec<RunOutput>,
    /// Every data set of the sweep.
    pub datasets: Vec<DatasetSummary>,
    /// The shards, in shard order.
    pub shards: Vec<ShardFolder>,
}

/// Checks that `folders` are the shards of one sweep, each once and none missing, and puts their
/// runs in the sweep's order (see the module docs).
pub fn combine(mut folders: Vec<ShardFolder>) -> Result<Merged, MergeError> {
    let Some(first) = folders.first() else {
        return Err(MergeError::MissingShards {
            missing: vec![0],
            missing_count: 1,
            count: 1,
        });
    };
    let (first_dir, m) = (first.dir.clone(), first.manifest.clone());
    for f in &folders {
        check_whole(f)?;
    }
    for f in &folders[1..] {
        let other = &f.manifest;
        let what = if other.version != m.version {
            Some(format!(
                "made by drift-bench {} instead of {}",
                other.version, m.version
            ))
        } else if other.fingerprint != m.fingerprint {
            Some(format!(
                "sweep fingerprint {} instead of {}",
                other.fingerprint, m.fingerprint
            ))
        } else if other.shard.count != m.shard.count {
            Some(format!(
                "{} shards instead of {}",
                other.shard.count, m.shard.count
            ))
        } else if other.total_runs != m.total_runs {
            Some(format!(
                "{} runs instead of {}",
                other.total_runs, m.total_runs
            ))
        } else {
            None
        };
        if let Some(what) = what {
            return Err(MergeError::DifferentSweep {
                folder: f.dir.clone(),
                first: first_dir,
                what,
            });
        }
    }
    let count = m.shard.count;
    // By shard index (stable: the first folder given of a shard comes first).
    folders.sort_by_key(|f| f.manifest.shard.index);
    for pair in folders.windows(2) {
        if pair[0].manifest.shard == pair[1].manifest.shard {
            return Err(MergeError::DuplicateShard {
                shard: pair[1].manifest.shard,
                first: pair[0].dir.clone(),
                again: pair[1].dir.clone(),
            });
        }
    }
    // Every index is below `count` (checked above) and none repeats: the given ones are the
    // first `folders.len()` indices exactly when none is missing.
    let missing_count = count - folders.len();
    if missing_count > 0 {
        let given: Vec<usize> = folders.iter().map(|f| f.manifest.shard.index).collect();
        let missing: Vec<usize> = (0..count)
            .filter(|i| given.binary_search(i).is_err())
            .take(MISSING_SHOWN)
            .collect();
        return Err(MergeError::MissingShards {
            missing,
            missing_count,
            count,
        });
    }
    let mut runs: Vec<Option<RunOutput>> = vec![None; m.total_runs];
    for f in &folders {
        for (run, record) in f.manifest.runs.iter().zip(&f.records) {
            runs[run.index] = Some(RunOutput {
                record: record.clone(),
                samples: run.samples.clone(),
                sample_classes: run.sample_classes.clone(),
            });
        }
    }
    // Every index is some shard's (each shard holds exactly its indices, all shards are here).
    let runs: Vec<RunOutput> = runs.into_iter().flatten().collect();
    if runs.len() != m.total_runs {
        return Err(MergeError::Inconsistent {
            folder: first_dir,
            reason: format!("the shards hold {} of {} runs", runs.len(), m.total_runs),
        });
    }
    Ok(Merged {
        runs,
        datasets: m.datasets.into_iter().map(DatasetSummary::from).collect(),
        shards: folders,
    })
}

/// Runs `drift-bench merge`: reads and checks the shards, prints the summary table on `out` and
/// writes the sweep's report folder. `command` is the merge's command line.
pub fn run(args: &MergeArgs, command: &str, out: &mut impl Write) -> Result<()> {
    let folders = args
        .shards
        .iter()
        .map(|d| read_shard_folder(d))
        .collect::<Result<Vec<_>, _>>()?;
    let merged = combine(folders)?;
    let inputs: Vec<(String, &Path)> = merged
        .shards
        .iter()
        .map(|s| {
            (
                format!("the shard folder {}", s.dir.display()),
                s.dir.as_path(),
            )
        })
        .collect();
    let inputs: Vec<(&str, &Path)> = inputs.iter().map(|(w, p)| (w.as_str(), *p)).collect();
    check_no_input_inside("--out", &args.out, &inputs)?;
    let folder = ReportFolder::claim(&args.out)?;
    let first = &merged.shards[0].manifest;
    let (count, total) = (first.shard.count, first.total_runs);
    writeln!(
        out,
        "{count} shards of sweep {} ({total} runs); report folder {}",
        first.fingerprint,
        args.out.display()
    )?;
    let records: Vec<RunRecord> = merged.runs.iter().map(|r| r.record.clone()).collect();
    writeln!(out, "{}", report::summary_table(&records))?;
    let mut notes = first.notes.clone();
    let seconds: f64 = merged.shards.iter().map(|s| s.manifest.seconds).sum();
    notes.push(format!(
        "Total wall time {seconds:.1} s summed over {count} shards (`drift-bench compare --shard \
         I/{count}`: the runs whose 0-based index i has i mod {count} = I), merged by \
         `drift-bench merge`."
    ));
    let last = &merged.shards[count - 1].manifest;
    let mut commands = vec![first.command.clone()];
    match count {
        0..=2 => {}
        3 => commands.push("# ... shard 1/3 likewise".to_string()),
        _ => commands.push(format!(
            "# ... shards 1/{count} to {}/{count} likewise",
            count - 2
        )),
    }
    if count > 1 {
        commands.push(last.command.clone());
    }
    commands.push(merge_command(command, args));
    let files = report::write_report_in(
        folder,
        &merged.runs,
        &merged.datasets,
        &ReportOptions {
            title: REPORT_TITLE.into(),
            command: commands.join("\n"),
            notes,
        },
    )?;
    writeln!(
        out,
        "wrote {} files to {} (open report.md)",
        files.files.len(),
        args.out.display()
    )?;
    Ok(())
}

/// The merge's command line as given, or rebuilt from its arguments when none is given.
fn merge_command(command: &str, args: &MergeArgs) -> String {
    if !command.is_empty() {
        return command.to_string();
    }
    let mut words = vec!["drift-bench".to_string(), "merge".to_string()];
    words.extend(
        args.shards
            .iter()
            .map(|d| shell_quote(&d.to_string_lossy())),
    );
    words.push("--out".into());
    words.push(shell_quote(&args.out.to_string_lossy()));
    words.join(" ")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::compare::shard::Shard;
    use crate::compare::shard_folder::{ShardRun, FORMAT, FORMAT_VERSION};

    /// A shard folder of a sweep of `total` runs with no records (enough for the checks).
    fn folder(name: &str, index: usize, count: usize, total: usize) -> ShardFolder {
        let shard = Shard { index, count };
        ShardFolder {
            dir: PathBuf::from(name),
            manifest: ShardManifest {
                format: FORMAT.into(),
                format_version: FORMAT_VERSION,
                version: "v".into(),
                fingerprint: "f".into(),
                shard,
                total_runs: total,
                command: String::new(),
                sweep: String::new(),
                notes: Vec::new(),
                seconds: 0.0,
                jobs: 1,
                datasets: Vec::new(),
                runs: Vec::new(),
            },
            records: Vec::new(),
        }
    }

    #[test]
    fn huge_or_broken_manifests_are_refused_without_allocating() {
        let e = combine(vec![
            folder("a", 0, usize::MAX, 0),
            folder("b", 1, usize::MAX, 0),
        ]);
        match e {
            Err(MergeError::MissingShards {
                missing,
                missing_count,
                ..
            }) => {
                assert_eq!(missing.len(), MISSING_SHOWN);
                assert_eq!(missing_count, usize::MAX - 2);
            }
            other => panic!("{other:?}"),
        }
        let e = combine(vec![folder("a", 0, 2, usize::MAX)]).unwrap_err();
        assert!(
            e.to_string().contains("holds the runs of indices none"),
            "{e}"
        );
        let e = combine(vec![folder("a", 3, 2, 0)]).unwrap_err();
        assert!(e.to_string().contains("names shard 3/2"), "{e}");
        let mut extra = folder("a", 0, 1, 0);
        extra.manifest.runs.push(ShardRun {
            index: 0,
            samples: Vec::new(),
            sample_classes: None,
        });
        let e = combine(vec![extra]).unwrap_err();
        assert!(e.to_string().contains("results.json holds 0 runs"), "{e}");
        let mut other = folder("b", 1, 2, 0);
        other.manifest.fingerprint = "g".into();
        let e = combine(vec![folder("a", 0, 2, 0), other]).unwrap_err();
        assert!(matches!(e, MergeError::DifferentSweep { .. }), "{e}");
        let e = combine(vec![folder("a", 0, 2, 0), folder("c", 0, 2, 0)]).unwrap_err();
        assert!(
            e.to_string()
                .starts_with("shard folder c: holds shard 0/2, which a"),
            "{e}"
        );
        assert_eq!(
            combine(vec![folder("b", 1, 2, 0), folder("a", 0, 2, 0)])
                .unwrap()
                .runs
                .len(),
            0
        );
    }
}
