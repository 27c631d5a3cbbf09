//! `mpirun -np K drift-bench compare ...`: rank `r` runs shard `r/K` of the sweep (the runs whose
//! 0-based index `i` has `i mod K = r`, [`crate::compare::shard`]), rank 0 gathers every rank's
//! part (the shard folder's `shard.json` and `results.json`, as JSON in memory) and writes the
//! sweep's one report with the code of `drift-bench merge` ([`combine`]): the report of one
//! process, timings and the command aside. The other ranks write nothing.
//!
//! Before the runs the ranks check that they run one sweep (the same settings and version); after
//! them, the merge checks that they drew the same data. The runs make no collective calls, so a rank whose part fails still sends its error, and every
//! rank ends with it; rank 0 claims the report folder before the runs, and every rank stops if it
//! cannot.

use crate::compare::command::CompareArgs;
use crate::compare::command::{
    check_inputs_outside, checked_sweep, report_notes, write_sweep_report,
};
use crate::compare::merge::{combine, ShardFolder};
use crate::compare::record::RunRecord;
use crate::compare::shard::Shard;
use crate::compare::shard_folder::{shard_manifest, ShardManifest, ShardParts};
use crate::compare::{effective_jobs, run_sweep_part};
use crate::mpi::agree::{agree, check_same, Fingerprint};
use crate::mpi::gather::gather_to_root;
use crate::mpi::{MpiError, World};
use crate::report::{self, ReportFolder};
use anyhow::{anyhow, Context as _, Result};
use serde::{Deserialize, Serialize};
use std::io::Write;
use std::path::PathBuf;
use std::time::Instant;

/// What a rank sends to rank 0: its shard, or why it has none.
#[derive(Serialize, Deserialize)]
enum Part {
    Done {
        manifest: Box<ShardManifest>,
        records: Vec<RunRecord>,
    },
    Failed(String),
}

/// Runs `compare` as rank `world.rank()` of an MPI job (see the module docs); rank 0 prints the
/// summary and writes the report.
pub fn run(world: &World, args: &CompareArgs, command: &str, out: &mut impl Write) -> Result<()> {
    let prepared = (|| {
        if let Some(shard) = &args.shard {
            return Err(MpiError::Unfit {
                reason: format!(
                    "--shard {shard} under an MPI launcher: the {} ranks are the shards (run \
                     without --shard, or without mpirun)",
                    world.size()
                ),
            }
            .into());
        }
        let sweep = checked_sweep(args)?;
        let folder = if world.is_root() {
            check_inputs_outside(args, &sweep)?;
            Some(ReportFolder::claim(&args.out)?)
        } else {
            None
        };
        Ok((sweep, folder))
    })();
    let (sweep, folder) = agree(world, prepared)?;
    check_same(world, &sweep_fingerprint(&sweep)?)?;
    let shard = Shard::new(world.rank(), world.size())?;
    let total = sweep.runs();
    if world.is_root() {
        writeln!(
            out,
            "{total} runs ({} studies) over {} MPI ranks (rank r runs shard r/{}); report folder {}",
            sweep.studies.len(),
            world.size(),
            world.size(),
            args.out.display()
        )?;
        out.flush()?;
    }
    let clock = Instant::now();
    let part = match run_part(args, command, &sweep, shard, world.is_root()) {
        Ok((manifest, records)) => Part::Done {
            manifest: Box::new(manifest),
            records,
        },
        Err(e) => Part::Failed(format!("{e:#}")),
    };
    let bytes = serde_json::to_vec(&part).context("cannot encode this rank's runs as JSON")?;
    let gathered = gather_to_root(world, &bytes, "a rank's runs")?;
    if let Part::Failed(message) = &part {
        return Err(anyhow!("MPI rank {}: {message}", world.rank()));
    }
    let (Some(parts), Some(folder)) = (gathered, folder) else {
        return Ok(());
    };
    let mut folders = Vec::with_capacity(parts.len());
    for (rank, bytes) in parts.iter().enumerate() {
        match serde_json::from_slice::<Part>(bytes) {
            Ok(Part::Done { manifest, records }) => folders.push(ShardFolder {
                dir: PathBuf::from(format!("(MPI rank {rank})")),
                manifest: *manifest,
                records,
            }),
            Ok(Part::Failed(message)) => return Err(MpiError::RankFailed { rank, message }.into()),
            Err(e) => return Err(anyhow!("MPI rank {rank}'s runs do not decode: {e}")),
        }
    }
    let merged = combine(folders)?;
    let records: Vec<RunRecord> = merged.runs.iter().map(|r| r.record.clone()).collect();
    if !records.is_empty() {
        writeln!(out, "{}", report::summary_table(&records))?;
    }
    let mut notes = merged.shards[0].manifest.notes.clone();
    notes.push(format!(
        "Total wall time {:.1} s over {} MPI ranks (rank r ran the runs whose 0-based index i has \
         i mod {} = r), gathered on rank 0.",
        clock.elapsed().as_secs_f64(),
        world.size(),
        world.size()
    ));
    write_sweep_report(
        out,
        folder,
        (&merged.runs, &merged.datasets),
        (command, notes),
        &args.out,
        clock,
    )
}

/// The version and the sweep (every study and setting, `jobs` aside), compared before the runs; the
/// data each rank draws or reads is compared after them, by the merge (the shards' fingerprints).
fn sweep_fingerprint(sweep: &crate::compare::Sweep) -> Result<Fingerprint> {
    let mut plain = sweep.clone();
    plain.jobs = 1;
    let mut f = Fingerprint::default();
    f.push("the drift-bench version", env!("CARGO_PKG_VERSION"));
    f.push(
        "the sweep",
        ron::to_string(&plain).context("cannot write the sweep as RON")?,
    );
    Ok(f)
}

/// Runs this rank's shard and returns it as a shard folder's manifest and records.
fn run_part(
    args: &CompareArgs,
    command: &str,
    sweep: &crate::compare::Sweep,
    shard: Shard,
    root: bool,
) -> Result<(ShardManifest, Vec<RunRecord>)> {
    let clock = Instant::now();
    let (_, jobs_note) = effective_jobs(sweep.jobs, shard.runs(sweep.runs()));
    // One progress bar, rank 0's (its share of the runs), not K interleaved ones.
    let mut results = run_sweep_part(sweep, root && !args.quiet, &|i| shard.holds(i))?;
    for run in &mut results.runs {
        run.record.key.settings.command = command.to_string();
    }
    let mut notes = report_notes(args);
    notes.extend(results.notes.iter().cloned());
    // What the report says of the sweep, not how this rank ran its part.
    notes.retain(|n| Some(n) != jobs_note.as_ref());
    shard_manifest(&ShardParts {
        shard,
        sweep,
        command,
        notes,
        seconds: clock.elapsed().as_secs_f64(),
        results: &results,
    })
}
