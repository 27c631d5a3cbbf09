//! Moving bytes and values between ranks: every rank's bytes to every rank ([`all_gather_bytes`])
//! and every rank's values to rank 0 ([`gather_to_root`]), each part of its own length.

use crate::mpi::World;
use anyhow::{bail, Result};
use mpi::datatype::{Equivalence, PartitionMut};
use mpi::traits::{Communicator, CommunicatorCollectives, Root};
use mpi::Count;

/// The per-rank counts of parts of `len` values, gathered on every rank, and their offsets.
fn counts_and_offsets(world: &World, len: usize, what: &str) -> Result<(Vec<Count>, Vec<Count>)> {
    let Ok(mine) = Count::try_from(len) else {
        bail!(
            "rank {}: {what} of {len} values exceeds one MPI message",
            world.rank()
        );
    };
    let mut counts = vec![0 as Count; world.size()];
    world.comm().all_gather_into(&mine, &mut counts[..]);
    let mut offsets = Vec::with_capacity(counts.len());
    let mut total: Count = 0;
    for c in &counts {
        offsets.push(total);
        total = match total.checked_add(*c) {
            Some(t) => t,
            None => bail!("{what}: the ranks' parts together exceed one MPI message"),
        };
    }
    Ok((counts, offsets))
}

/// Splits `buf` into the ranks' parts.
fn split<T: Clone>(buf: &[T], counts: &[Count], offsets: &[Count]) -> Vec<Vec<T>> {
    counts
        .iter()
        .zip(offsets)
        .map(|(&c, &o)| buf[o as usize..(o + c) as usize].to_vec())
        .collect()
}

/// Every rank's `bytes`, in rank order, on every rank (`MPI_Allgatherv`).
pub fn all_gather_bytes(world: &World, bytes: &[u8], what: &str) -> Result<Vec<Vec<u8>>> {
    // One leading byte on every message: empty buffers share Rust's dangling address, which Open
    // MPI takes for a send buffer aliasing the receive buffer and refuses (MPI_ERR_ARG).
    let framed: Vec<u8> = std::iter::once(0).chain(bytes.iter().copied()).collect();
    let (counts, offsets) = counts_and_offsets(world, framed.len(), what)?;
    let total = counts.iter().map(|&c| c as usize).sum();
    let mut buf = vec![0u8; total];
    {
        let mut parts = PartitionMut::new(&mut buf[..], &counts[..], &offsets[..]);
        world
            .comm()
            .all_gather_varcount_into(&framed[..], &mut parts);
    }
    Ok(split(&buf, &counts, &offsets)
        .into_iter()
        .map(|mut part| {
            part.remove(0);
            part
        })
        .collect())
}

/// Every rank's `values`, in rank order, on rank 0 (`MPI_Gatherv`); `None` on the other ranks.
pub fn gather_to_root<T: Equivalence + Clone + Default>(
    world: &World,
    values: &[T],
    what: &str,
) -> Result<Option<Vec<Vec<T>>>> {
    let (counts, offsets) = counts_and_offsets(world, values.len(), what)?;
    let total: usize = counts.iter().map(|&c| c as usize).sum();
    if total == 0 {
        // Nothing to move (and no empty buffers handed to MPI, see `all_gather_bytes`).
        return Ok(world.is_root().then(|| vec![Vec::new(); world.size()]));
    }
    let comm = world.comm();
    let root = comm.process_at_rank(0);
    if !world.is_root() {
        root.gather_varcount_into(values);
        return Ok(None);
    }
    let mut buf = vec![T::default(); total];
    {
        let mut parts = PartitionMut::new(&mut buf[..], &counts[..], &offsets[..]);
        root.gather_varcount_into_root(values, &mut parts);
    }
    Ok(Some(split(&buf, &counts, &offsets)))
}
