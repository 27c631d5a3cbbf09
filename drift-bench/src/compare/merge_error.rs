//! Why `drift-bench merge` refuses its shard folders ([`crate::compare::merge`]): each error names
//! the folder (or the missing shards) and what to do.

use crate::compare::shard::Shard;
use std::fmt;
use std::path::PathBuf;

/// The most missing shards a [`MergeError::MissingShards`] lists.
pub const MISSING_SHOWN: usize = 10;

/// Why shard folders cannot be merged.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum MergeError {
    /// The folder is not a readable shard folder (no `shard.json`, not JSON, another format).
    NotAShard {
        /// The folder as given.
        folder: PathBuf,
        /// What is wrong.
        reason: String,
    },
    /// The folder's files contradict themselves or its shard.
    Inconsistent {
        /// The folder as given.
        folder: PathBuf,
        /// What is wrong.
        reason: String,
    },
    /// The folder holds a shard of another sweep (fingerprint, number of shards or of runs).
    DifferentSweep {
        /// The folder as given.
        folder: PathBuf,
        /// The first folder, whose sweep the others must share.
        first: PathBuf,
        /// What differs.
        what: String,
    },
    /// Two folders hold the same shard.
    DuplicateShard {
        /// The shard.
        shard: Shard,
        /// The folder that holds it first.
        first: PathBuf,
        /// The folder that holds it again.
        again: PathBuf,
    },
    /// Shards of the sweep are not among the folders.
    MissingShards {
        /// The first missing shards' indices (at most [`MISSING_SHOWN`]).
        missing: Vec<usize>,
        /// How many shards are missing.
        missing_count: usize,
        /// The number of shards of the sweep.
        count: usize,
    },
}

impl fmt::Display for MergeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            MergeError::NotAShard { folder, reason } => write!(
                f,
                "shard folder {}: {reason}; give folders written by drift-bench compare --shard I/N",
                folder.display()
            ),
            MergeError::Inconsistent { folder, reason } => write!(
                f,
                "shard folder {}: {reason}; run its shard again",
                folder.display()
            ),
            MergeError::DifferentSweep {
                folder,
                first,
                what,
            } => write!(
                f,
                "shard folder {}: belongs to another sweep than {} ({what}); merge the shards of one \
                 sweep, made by one drift-bench with the same settings and data",
                folder.display(),
                first.display()
            ),
            MergeError::DuplicateShard {
                shard,
                first,
                again,
            } if first == again => write!(
                f,
                "shard folder {}: is given twice (it holds shard {shard}); give each shard once",
                again.display()
            ),
            MergeError::DuplicateShard {
                shard,
                first,
                again,
            } => write!(
                f,
                "shard folder {}: holds shard {shard}, which {} holds too; give each shard once",
                again.display(),
                first.display()
            ),
            MergeError::MissingShards {
                missing,
                missing_count,
                count,
            } => {
                let shown: Vec<String> = missing.iter().map(|i| format!("{i}/{count}")).collect();
                let more = missing_count.saturating_sub(shown.len());
                write!(
                    f,
                    "{missing_count} of the sweep's {count} shards missing: {}{}; give every shard \
                     0/{count} to {}/{count} once",
                    shown.join(", "),
                    if more > 0 {
                        format!(" and {more} more")
                    } else {
                        String::new()
                    },
                    count.saturating_sub(1)
                )
            }
        }
    }
}

impl std::error::Error for MergeError {}
