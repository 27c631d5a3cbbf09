//! Agreement before work: every rank learns whether every rank is ready ([`agree`]) and runs the
//! same thing ([`check_same`]), so that a rank never enters a collective that another will not.

use crate::mpi::arrive::arrive_from_env;
use crate::mpi::gather::all_gather_bytes;
use crate::mpi::{MpiError, World};
use anyhow::{anyhow, Context as _, Result};
use serde::{Deserialize, Serialize};

/// Every rank's outcome of a step that may fail, made common: `Ok` on every rank when every rank
/// succeeded, else every rank fails with the first failing rank's error ([`MpiError::RankFailed`];
/// a failing rank keeps its own error).
///
/// Every rank first [arrives](crate::mpi::arrive) against a deadline: when a rank does not, the
/// ranks that notice print [`MpiError::Absent`] and end the job (`MPI_Abort`), since the late
/// rank would otherwise block the others, or be blocked, in a collective forever.
pub fn agree<T>(world: &World, local: Result<T>) -> Result<T> {
    if let Err(e) = arrive_from_env(world)? {
        eprintln!("error: MPI rank {}: {e}", world.rank());
        world.abort(1);
    }
    let status = match &local {
        Ok(_) => String::new(),
        Err(e) => format!("{e:#}"),
    };
    // An empty message would read as success: a failure always says something.
    let status = if local.is_err() && status.is_empty() {
        "failed".to_string()
    } else {
        status
    };
    let all = all_gather_bytes(world, status.as_bytes(), "a rank's status")?;
    let value = local?;
    match all.iter().position(|s| !s.is_empty()) {
        None => Ok(value),
        Some(rank) => Err(MpiError::RankFailed {
            rank,
            message: String::from_utf8_lossy(&all[rank]).into_owned(),
        }
        .into()),
    }
}

/// What decides a run, as named values (`--x shape` = `(8, 6, 3)`): equal on every rank of a
/// job that computes one result.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Fingerprint(pub Vec<(String, String)>);

impl Fingerprint {
    /// Adds a named value.
    pub fn push(&mut self, what: &str, value: impl ToString) {
        self.0.push((what.to_string(), value.to_string()));
    }

    /// The first value where `other` differs from `self`: `(what, self's, other's)`.
    pub fn first_difference(&self, other: &Fingerprint) -> Option<(String, String, String)> {
        let missing = || "nothing".to_string();
        let n = self.0.len().max(other.0.len());
        (0..n).find_map(|i| match (self.0.get(i), other.0.get(i)) {
            (Some(a), Some(b)) if a == b => None,
            (Some((w, a)), Some((v, b))) if w == v => Some((w.clone(), a.clone(), b.clone())),
            (Some((w, a)), _) => Some((w.clone(), a.clone(), missing())),
            (None, Some((w, b))) => Some((w.clone(), missing(), b.clone())),
            (None, None) => None,
        })
    }
}

/// Gathers every rank's fingerprint and fails on every rank, naming the first rank and value that
/// differ from rank 0's ([`MpiError::Mismatch`]).
pub fn check_same(world: &World, mine: &Fingerprint) -> Result<()> {
    let bytes = serde_json::to_vec(mine).context("cannot encode the run's fingerprint")?;
    let all = all_gather_bytes(world, &bytes, "the run's fingerprint")?;
    let decoded = all
        .iter()
        .map(|b| serde_json::from_slice::<Fingerprint>(b))
        .collect::<std::result::Result<Vec<_>, _>>()
        .map_err(|e| anyhow!("a rank's fingerprint does not decode: {e}"))?;
    for (rank, other) in decoded.iter().enumerate().skip(1) {
        if let Some((what, root, found)) = decoded[0].first_difference(other) {
            return Err(MpiError::Mismatch {
                rank,
                what,
                root,
                found,
            }
            .into());
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_first_difference_is_named() {
        let mut a = Fingerprint::default();
        a.push("--x shape", "(4, 3, 2)");
        a.push("precision", "f64");
        let mut b = a.clone();
        assert_eq!(a.first_difference(&b), None);
        b.0[1].1 = "f32".into();
        assert_eq!(
            a.first_difference(&b),
            Some(("precision".into(), "f64".into(), "f32".into()))
        );
        let mut c = a.clone();
        c.push("--negatives shape", "(4, 2, 2)");
        assert_eq!(
            a.first_difference(&c),
            Some((
                "--negatives shape".into(),
                "nothing".into(),
                "(4, 2, 2)".into()
            ))
        );
    }
}
