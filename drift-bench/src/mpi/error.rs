//! Why the ranks of an MPI job stop before any work: a rank failed to prepare, or the ranks do
//! not run the same thing.

use std::fmt;

/// Why the ranks of an MPI job refuse to start working.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum MpiError {
    /// A rank could not prepare its part (an input it could not read, an output rank 0 cannot
    /// write, ...): every rank stops with this.
    RankFailed {
        /// The rank that failed (the first, when several did).
        rank: usize,
        /// Its error.
        message: String,
    },
    /// A rank's run differs from rank 0's (another input shape, precision, operator, ...).
    Mismatch {
        /// The rank that differs (the first, when several do).
        rank: usize,
        /// What differs (`--x shape`, `operator`, ...).
        what: String,
        /// Rank 0's value.
        root: String,
        /// The rank's value.
        found: String,
    },
    /// Ranks that did not reach the agreement before the work within the deadline (hung,
    /// delayed, or stopped before it): every rank that sees it ends the job.
    Absent {
        /// The ranks that did not arrive (as far as this rank can tell: rank 0 knows them all,
        /// another rank only whether rank 0 arrived).
        ranks: Vec<usize>,
        /// How long this rank waited.
        waited: std::time::Duration,
    },
    /// The job's shape does not fit the work (more ranks than problems, a `--shard` under
    /// `mpirun`, ...).
    Unfit {
        /// What does not fit, and what to do.
        reason: String,
    },
}

impl fmt::Display for MpiError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            MpiError::RankFailed { rank, message } => {
                write!(f, "MPI rank {rank} failed before the work: {message}")
            }
            MpiError::Mismatch {
                rank,
                what,
                root,
                found,
            } => {
                let (found, root) = (excerpt(found, root), excerpt(root, found));
                write!(
                    f,
                    "MPI ranks disagree before the work: {what} is {found} on rank {rank} but \
                     {root} on rank 0 (every rank must be given the same inputs and operator)"
                )
            }
            MpiError::Absent { ranks, waited } => {
                let ranks: Vec<String> = ranks.iter().map(|r| r.to_string()).collect();
                let (s, verb) = if ranks.len() == 1 {
                    ("", "has")
                } else {
                    ("s", "have")
                };
                write!(
                    f,
                    "MPI rank{s} {} {verb} not reached the start of the work after {:.1} s \
                     (hung, slow or stopped before it; {} sets the deadline); ending the job",
                    ranks.join(", "),
                    waited.as_secs_f64(),
                    crate::mpi::arrive::TIMEOUT_VAR
                )
            }
            MpiError::Unfit { reason } => write!(f, "{reason}"),
        }
    }
}

impl std::error::Error for MpiError {}

/// The characters shown of a long value on each side of where it first differs from another.
const AROUND: usize = 40;

/// `value` whole when short, else the part around its first difference from `other` (a sweep or
/// an operator as RON is long; the difference is what helps).
fn excerpt(value: &str, other: &str) -> String {
    if value.chars().count() <= 2 * AROUND {
        return value.to_string();
    }
    let at = value
        .chars()
        .zip(other.chars())
        .take_while(|(a, b)| a == b)
        .count();
    let chars: Vec<char> = value.chars().collect();
    let start = at.saturating_sub(AROUND);
    let end = (at + AROUND).min(chars.len());
    format!(
        "{}{}{}",
        if start > 0 { "..." } else { "" },
        chars[start..end].iter().collect::<String>(),
        if end < chars.len() { "..." } else { "" }
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn long_values_are_shown_around_their_difference() {
        let a = format!("{}x=1{}", "a".repeat(100), "b".repeat(100));
        let b = format!("{}x=2{}", "a".repeat(100), "b".repeat(100));
        let shown = excerpt(&a, &b);
        assert!(
            shown.starts_with("...") && shown.ends_with("..."),
            "{shown}"
        );
        assert!(shown.contains("x=1") && shown.len() < 90, "{shown}");
        assert_eq!(excerpt("(4, 3, 2) f64", "(4, 3, 3) f64"), "(4, 3, 2) f64");
    }
}
