//! One sweep split over several processes without MPI: `drift-bench compare --shard I/N` runs a
//! part of the sweep (an array job of a scheduler runs every part at once), `drift-bench merge`
//! combines the parts into the report that one process would have written.
//!
//! **Indexing.** The runs of a sweep are numbered from 0 in the sweep's run order (study, data
//! set, mode, operator, temperature, seed: the rows of `results.csv`). Shard `I/N` (0-based,
//! `0 ≤ I < N`) holds the runs whose index `i` has `i mod N = I`: round-robin, so that every shard
//! gets a share of every data set, mode and operator, and the shards cost about the same even though
//! runs differ in cost.
//!
//! **Slurm.** Without `--shard`, a process of a Slurm job array (`SLURM_ARRAY_TASK_ID` and
//! `SLURM_ARRAY_TASK_COUNT` set) runs shard `(ID − MIN) / STEP` of `COUNT`, where `MIN` is
//! `SLURM_ARRAY_TASK_MIN` (0 when unset) and `STEP` is `SLURM_ARRAY_TASK_STEP` (1 when unset): an
//! array `--array=0-9`, `1-10` or `0-18:2` gives shards `0/10` to `9/10`. `--shard I/N` wins
//! over the variables; `--shard all` runs the whole sweep into a full report whatever they say.
//!
//! What a shard folder holds and how the merge checks it: [`crate::compare::shard_folder`],
//! [`crate::compare::merge`].
//!
//! ```
//! use drift_bench::compare::shard::{parse_shard_arg, Shard, ShardArg};
//! let shard = Shard::new(1, 3).unwrap();
//! assert_eq!(parse_shard_arg("1/3").unwrap(), ShardArg::Part(shard));
//! assert_eq!(shard.indices(8).collect::<Vec<_>>(), [1, 4, 7]);
//! assert_eq!(
//!     parse_shard_arg("3/3").unwrap_err().to_string(),
//!     "--shard 3/3: the shard index must be below the number of shards (0-based: 0/3 to 2/3)"
//! );
//! ```

use serde::{Deserialize, Serialize};
use std::fmt;

/// The Slurm variable holding this task's index in its job array.
pub const SLURM_TASK_ID: &str = "SLURM_ARRAY_TASK_ID";
/// The Slurm variable holding the number of tasks of the job array.
pub const SLURM_TASK_COUNT: &str = "SLURM_ARRAY_TASK_COUNT";
/// The Slurm variable holding the smallest task index of the job array.
pub const SLURM_TASK_MIN: &str = "SLURM_ARRAY_TASK_MIN";
/// The Slurm variable holding the step between the task indices of the job array.
pub const SLURM_TASK_STEP: &str = "SLURM_ARRAY_TASK_STEP";

/// Part `index` of a sweep split in `count` parts: the runs whose 0-based index in the sweep's run
/// order is `index` modulo `count`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct Shard {
    /// The shard's 0-based index, below `count`.
    pub index: usize,
    /// The number of shards of the sweep, at least 1.
    pub count: usize,
}

impl Shard {
    /// Shard `index` of `count`; fails (naming `--shard index/count`) when `count` is 0 or
    /// `index` is not below it.
    pub fn new(index: usize, count: usize) -> Result<Shard, ShardError> {
        let value = format!("{index}/{count}");
        if count == 0 {
            return Err(ShardError::NoShards { value });
        }
        if index >= count {
            return Err(ShardError::IndexTooLarge { value, count });
        }
        Ok(Shard { index, count })
    }

    /// True when the run of 0-based index `run` belongs to this shard.
    pub fn holds(&self, run: usize) -> bool {
        run % self.count == self.index
    }

    /// The indices of this shard's runs in a sweep of `total` runs, in order.
    pub fn indices(&self, total: usize) -> impl Iterator<Item = usize> {
        (self.index..total).step_by(self.count.max(1))
    }

    /// The number of this shard's runs in a sweep of `total` runs.
    pub fn runs(&self, total: usize) -> usize {
        match total.checked_sub(self.index) {
            Some(after) if after > 0 => (after - 1) / self.count.max(1) + 1,
            _ => 0,
        }
    }
}

impl fmt::Display for Shard {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.index, self.count)
    }
}

/// What `--shard` asks for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ShardArg {
    /// `all`: the whole sweep and its full report, whatever the Slurm variables say.
    All,
    /// `I/N`: one shard, written as a shard folder for `drift-bench merge`.
    Part(Shard),
}

/// A `--shard` value or a Slurm array variable that cannot name a shard.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ShardError {
    /// `--shard` is neither `I/N` (two whole numbers) nor `all`.
    Syntax {
        /// The value as given.
        value: String,
    },
    /// `--shard I/0`.
    NoShards {
        /// The value as given.
        value: String,
    },
    /// `--shard I/N` with `I ≥ N`.
    IndexTooLarge {
        /// The value as given.
        value: String,
        /// `N`.
        count: usize,
    },
    /// A Slurm array variable that is not a whole number (or a step of 0).
    SlurmVariable {
        /// The variable.
        name: &'static str,
        /// Its value.
        value: String,
    },
    /// One of `SLURM_ARRAY_TASK_ID` and `SLURM_ARRAY_TASK_COUNT` is set, the other is not.
    SlurmIncomplete {
        /// The variable that is set.
        set: &'static str,
        /// The variable that is missing.
        missing: &'static str,
    },
    /// The task index does not fall on a shard: `(ID − MIN) / STEP` is not a whole number below
    /// `COUNT` (an array given as a list, such as `--array=1,5,9`).
    SlurmOutOfRange {
        /// The variables as read, `NAME=VALUE` separated by commas.
        variables: String,
    },
}

impl fmt::Display for ShardError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ShardError::Syntax { value } => write!(
                f,
                "--shard {value}: expected I/N, the 0-based shard index I below the number of \
                 shards N (0/4, 1/4, 2/4, 3/4), or `all`"
            ),
            ShardError::NoShards { value } => {
                write!(
                    f,
                    "--shard {value}: the number of shards must be at least 1"
                )
            }
            ShardError::IndexTooLarge { value, count } => write!(
                f,
                "--shard {value}: the shard index must be below the number of shards (0-based: \
                 0/{count} to {}/{count})",
                count.saturating_sub(1)
            ),
            ShardError::SlurmVariable { name, value } => write!(
                f,
                "{name}={value}: not a whole number (or a step of 0); give --shard I/N, or --shard \
                 all for the whole sweep"
            ),
            ShardError::SlurmIncomplete { set, missing } => write!(
                f,
                "{set} is set but {missing} is not, so the shard of this task is unknown; give \
                 --shard I/N, or --shard all for the whole sweep"
            ),
            ShardError::SlurmOutOfRange { variables } => write!(
                f,
                "{variables}: the task index does not fall on a shard (a job array must be a range \
                 such as --array=0-9 or 1-10); give --shard I/N, or --shard all for the whole sweep"
            ),
        }
    }
}

impl std::error::Error for ShardError {}

/// Reads a `--shard` value: `I/N` (0-based, `I < N`) or `all`. Spaces around the numbers are
/// allowed.
pub fn parse_shard_arg(text: &str) -> Result<ShardArg, ShardError> {
    let value = text.trim();
    if value.eq_ignore_ascii_case("all") {
        return Ok(ShardArg::All);
    }
    let syntax = || ShardError::Syntax {
        value: text.to_string(),
    };
    let (i, n) = value.split_once('/').ok_or_else(syntax)?;
    let number = |s: &str| {
        let s = s.trim();
        // `+1` and `٣` parse or are digits elsewhere; only ASCII digits name a shard.
        if s.is_empty() || !s.bytes().all(|b| b.is_ascii_digit()) {
            return Err(syntax());
        }
        s.parse::<usize>().map_err(|_| syntax())
    };
    let (index, count) = (number(i)?, number(n)?);
    Shard::new(index, count)
        .map(ShardArg::Part)
        .map_err(|e| match e {
            ShardError::NoShards { .. } => ShardError::NoShards {
                value: text.to_string(),
            },
            ShardError::IndexTooLarge { count, .. } => ShardError::IndexTooLarge {
                value: text.to_string(),
                count,
            },
            other => other,
        })
}

/// The shard that a Slurm job array's variables ask for (read with `var`, e.g.
/// `|k| std::env::var(k).ok()`), with the variables as read (`NAME=VALUE, ...`); `None` when
/// neither `SLURM_ARRAY_TASK_ID` nor `SLURM_ARRAY_TASK_COUNT` is set.
///
/// ```
/// use drift_bench::compare::shard::{shard_from_slurm, Shard};
/// let env = |k: &str| match k {
///     "SLURM_ARRAY_TASK_ID" => Some("3".to_string()),
///     "SLURM_ARRAY_TASK_COUNT" => Some("4".to_string()),
///     "SLURM_ARRAY_TASK_MIN" => Some("1".to_string()),
///     _ => None,
/// };
/// let (shard, _) = shard_from_slurm(env).unwrap().unwrap();
/// assert_eq!(shard, Shard::new(2, 4).unwrap());
/// assert!(shard_from_slurm(|_| None).unwrap().is_none());
/// ```
pub fn shard_from_slurm(
    var: impl Fn(&str) -> Option<String>,
) -> Result<Option<(Shard, String)>, ShardError> {
    let (id, count) = match (var(SLURM_TASK_ID), var(SLURM_TASK_COUNT)) {
        (None, None) => return Ok(None),
        (Some(_), None) => {
            return Err(ShardError::SlurmIncomplete {
                set: SLURM_TASK_ID,
                missing: SLURM_TASK_COUNT,
            })
        }
        (None, Some(_)) => {
            return Err(ShardError::SlurmIncomplete {
                set: SLURM_TASK_COUNT,
                missing: SLURM_TASK_ID,
            })
        }
        (Some(id), Some(count)) => (id, count),
    };
    let mut read = vec![(SLURM_TASK_ID, id), (SLURM_TASK_COUNT, count)];
    for name in [SLURM_TASK_MIN, SLURM_TASK_STEP] {
        if let Some(v) = var(name) {
            read.push((name, v));
        }
    }
    let number = |name: &'static str, default: usize| -> Result<usize, ShardError> {
        let Some((_, v)) = read.iter().find(|(n, _)| *n == name) else {
            return Ok(default);
        };
        let t = v.trim();
        t.bytes()
            .all(|b| b.is_ascii_digit())
            .then(|| t.parse::<usize>().ok())
            .flatten()
            .ok_or_else(|| ShardError::SlurmVariable {
                name,
                value: v.clone(),
            })
    };
    let id = number(SLURM_TASK_ID, 0)?;
    let count = number(SLURM_TASK_COUNT, 0)?;
    let min = number(SLURM_TASK_MIN, 0)?;
    let step = number(SLURM_TASK_STEP, 1)?;
    if step == 0 {
        return Err(ShardError::SlurmVariable {
            name: SLURM_TASK_STEP,
            value: "0".into(),
        });
    }
    if count == 0 {
        return Err(ShardError::SlurmVariable {
            name: SLURM_TASK_COUNT,
            value: "0".into(),
        });
    }
    let variables = read
        .iter()
        .map(|(n, v)| format!("{n}={v}"))
        .collect::<Vec<_>>()
        .join(", ");
    let offset = id
        .checked_sub(min)
        .filter(|o| o % step == 0)
        .map(|o| o / step);
    match offset.and_then(|index| Shard::new(index, count).ok()) {
        Some(shard) => Ok(Some((shard, variables))),
        None => Err(ShardError::SlurmOutOfRange { variables }),
    }
}

/// The shard this process runs: `--shard` when given (`all`: none), else the Slurm array's
/// ([`shard_from_slurm`] with `var`), else none. The text, when the shard comes from the Slurm
/// variables, says so (to print before the runs).
pub fn choose_shard(
    arg: Option<&str>,
    var: impl Fn(&str) -> Option<String>,
) -> Result<(Option<Shard>, Option<String>), ShardError> {
    match arg.map(parse_shard_arg).transpose()? {
        Some(ShardArg::All) => Ok((None, None)),
        Some(ShardArg::Part(shard)) => Ok((Some(shard), None)),
        None => Ok(
            shard_from_slurm(var)?.map_or((None, None), |(shard, variables)| {
                let note = format!(
                "shard {shard} from the Slurm job array ({variables}); --shard I/N or --shard all \
                 overrides it"
            );
                (Some(shard), Some(note))
            }),
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env<'a>(pairs: &'a [(&'a str, &'a str)]) -> impl Fn(&str) -> Option<String> + 'a {
        move |k| {
            pairs
                .iter()
                .find(|(n, _)| *n == k)
                .map(|(_, v)| v.to_string())
        }
    }

    #[test]
    fn shards_split_the_runs_round_robin() {
        let total = 11;
        let mut seen = vec![0; total];
        for index in 0..4 {
            let s = Shard::new(index, 4).unwrap();
            assert_eq!(s.runs(total), s.indices(total).count());
            for i in s.indices(total) {
                assert!(s.holds(i));
                seen[i] += 1;
            }
        }
        assert!(seen.iter().all(|n| *n == 1));
        assert_eq!(Shard::new(5, 6).unwrap().runs(3), 0);
    }

    #[test]
    fn bad_values_are_named() {
        for bad in [
            "",
            "1",
            "1/",
            "/3",
            "a/3",
            "-1/3",
            "+1/3",
            "1/3/4",
            "99999999999999999999/3",
        ] {
            let e = parse_shard_arg(bad).unwrap_err();
            assert!(e.to_string().starts_with(&format!("--shard {bad}:")), "{e}");
        }
        assert!(matches!(
            parse_shard_arg("0/0"),
            Err(ShardError::NoShards { .. })
        ));
        assert_eq!(parse_shard_arg(" ALL ").unwrap(), ShardArg::All);
        assert_eq!(
            parse_shard_arg("2 / 3").unwrap(),
            ShardArg::Part(Shard::new(2, 3).unwrap())
        );
    }

    #[test]
    fn slurm_variables_map_to_shards() {
        let one_based = [
            ("SLURM_ARRAY_TASK_ID", "10"),
            ("SLURM_ARRAY_TASK_COUNT", "10"),
        ];
        assert!(matches!(
            shard_from_slurm(env(&one_based)),
            Err(ShardError::SlurmOutOfRange { .. })
        ));
        let with_min = [
            ("SLURM_ARRAY_TASK_ID", "10"),
            ("SLURM_ARRAY_TASK_COUNT", "10"),
            ("SLURM_ARRAY_TASK_MIN", "1"),
        ];
        let (s, text) = shard_from_slurm(env(&with_min)).unwrap().unwrap();
        assert_eq!((s.index, s.count), (9, 10));
        assert!(text.contains("SLURM_ARRAY_TASK_MIN=1"));
        let stepped = [
            ("SLURM_ARRAY_TASK_ID", "4"),
            ("SLURM_ARRAY_TASK_COUNT", "3"),
            ("SLURM_ARRAY_TASK_STEP", "2"),
        ];
        assert_eq!(
            shard_from_slurm(env(&stepped)).unwrap().unwrap().0,
            Shard::new(2, 3).unwrap()
        );
        let half = [("SLURM_ARRAY_TASK_ID", "1")];
        assert!(matches!(
            shard_from_slurm(env(&half)),
            Err(ShardError::SlurmIncomplete { .. })
        ));
        let bad = [
            ("SLURM_ARRAY_TASK_ID", "x"),
            ("SLURM_ARRAY_TASK_COUNT", "2"),
        ];
        assert!(shard_from_slurm(env(&bad))
            .unwrap_err()
            .to_string()
            .starts_with("SLURM_ARRAY_TASK_ID=x"));
    }

    #[test]
    fn the_argument_wins_over_slurm() {
        let vars = [
            ("SLURM_ARRAY_TASK_ID", "1"),
            ("SLURM_ARRAY_TASK_COUNT", "2"),
        ];
        let (s, note) = choose_shard(None, env(&vars)).unwrap();
        assert_eq!(s, Some(Shard::new(1, 2).unwrap()));
        assert!(note.unwrap().contains("Slurm"));
        let (s, note) = choose_shard(Some("0/5"), env(&vars)).unwrap();
        assert_eq!((s, note), (Some(Shard::new(0, 5).unwrap()), None));
        assert_eq!(choose_shard(Some("all"), env(&vars)).unwrap(), (None, None));
        assert_eq!(choose_shard(None, |_| None).unwrap(), (None, None));
    }
}
