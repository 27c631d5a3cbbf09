//! `mpirun apply --split columns`: a single problem whose data Y is split by columns over the
//! ranks ([`drift_ops::ColumnShards`]). Every rank reads all of `--x` (and the weights of X, the
//! negatives) and only its contiguous range of the points of `--y` and of `--y-weights`
//! ([`npy::read_rows`](crate::npy::read_rows) for a `.npy` file; any other is read whole and
//! cut), so a rank holds `1/K` of Y.
//!
//! The ranks' ranges differ, so what they agree on is the whole: each file read in part is
//! fingerprinted by its whole shape, dtype, size and sampled blocks (as a batch's, see
//! [`inputs`](super::inputs)), the others by a hash of all their values. Before the agreement,
//! the operator is tried on a tiny shard ([`refusal`]), so that one that needs all of Y in one
//! place (`sliced_wasserstein`, `deng_official`) stops every rank with a clear error rather than
//! failing inside the collectives.

use crate::apply::{ApplyArgs, Inputs};
use crate::array::Shape;
use crate::batch_layout::BatchOffsets;
use crate::csv;
use crate::mpi::agree::Fingerprint;
use crate::mpi::inputs::{
    content_hash, leading_of, precision, push_file, read_part, Counted, Share, Split,
};
use crate::mpi::{share, MpiError, World};
use crate::point_files;
use anyhow::{anyhow, bail, Result};
use drift_api::kit::{SingleProcess, Whole};
use drift_api::{Context, DriftError, DriftOperator, DriftProblem, PointCloud};
use drift_ops::{ColumnShards, CpuBackend};

/// Reads what rank `world.rank()` needs of `a`'s inputs split by columns (see the module docs).
pub(crate) fn read(world: &World, a: &ApplyArgs) -> Result<Share> {
    let op = drift_api::load_operator(&a.op).map_err(|e| anyhow!("--op {e}"))?;
    let header = if a.header {
        csv::Header::Declared
    } else {
        csv::Header::Detect
    };
    let whole = |arg: &str, path: Option<&std::path::PathBuf>| {
        path.map(|p| point_files::read_array(arg, p, header))
            .transpose()
    };
    if a.x_offsets.is_some() || a.y_offsets.is_some() || a.negative_offsets.is_some() {
        bail!(
            "--split columns: the offsets make a ragged batch of problems, which the ranks split \
             by problems; --split applies to a single (N, D) problem: leave it out"
        );
    }
    let x = whole("--x", Some(&a.x))?.ok_or_else(|| anyhow!("--x is not given"))?;
    if let Shape::Batch(..) = x.shape() {
        bail!(
            "--split columns: --x {} has shape {}, a batch of problems, which the ranks split by \
             problems; --split applies to a single (N, D) problem: leave it out",
            a.x.display(),
            x.shape()
        );
    }
    let points = leading_of("--y", &a.y, header)?;
    if points < world.size() {
        return Err(MpiError::Unfit {
            reason: format!(
                "--split columns: --y holds {points} points for {} MPI ranks: a rank needs at \
                 least one point of Y (run at most {points} ranks, or --split rows)",
                world.size()
            ),
        }
        .into());
    }
    let split = Split {
        problems: points,
        range: share(points, world.rank(), world.size()),
    };
    let mut files = Fingerprint::default();
    push_file(
        &mut files,
        "--x",
        Some(precision(&x)),
        x.shape().to_string(),
        content_hash(&x),
    );
    // Files read whole are fingerprinted by all their values; the ranges of Y by their whole file.
    let mut read = |arg: &str, path: Option<&std::path::PathBuf>, ranged: bool| -> Result<_> {
        let (array, shape, contents) = match path {
            Some(p) if ranged => {
                let (v, shape, contents) = read_part(arg, p, &split, header, Counted::Points)?;
                (Some(v), shape, contents)
            }
            _ => match whole(arg, path)? {
                Some(v) => {
                    let (shape, contents) = (v.shape().to_string(), content_hash(&v));
                    (Some(v), shape, contents)
                }
                None => (None, "absent".to_string(), "absent".to_string()),
            },
        };
        push_file(
            &mut files,
            arg,
            array.as_ref().map(precision),
            shape,
            contents,
        );
        Ok(array)
    };
    let x_weights = read("--x-weights", a.x_weights.as_ref(), false)?;
    let negatives = read("--negatives", a.negatives.as_ref(), false)?;
    let negative_weights = read("--negative-weights", a.negative_weights.as_ref(), false)?;
    if a.negative_weights.is_some() && a.negatives.is_none() {
        bail!("--negative-weights: there are no --negatives to weigh");
    }
    let y = read("--y", Some(&a.y), true)?.ok_or_else(|| anyhow!("--y is not given"))?;
    let y_weights = read("--y-weights", a.y_weights.as_ref(), true)?;
    refusal(op.as_ref(), a, x.shape().cols())?;
    Ok(Share {
        op,
        inputs: Inputs {
            x,
            y,
            x_weights,
            y_weights,
            negatives,
            negative_weights,
            offsets: BatchOffsets::default(),
        },
        split: None,
        columns: Some(split),
        files,
    })
}

/// An error naming `--split columns` when `op` refuses a shard of Y: the operator run once on two
/// points of X against a one-process shard of two points of dimension `dim` (any other failure
/// of this tiny problem is left to the real run, which reports it).
pub(crate) fn refusal(op: &dyn DriftOperator, a: &ApplyArgs, dim: usize) -> Result<()> {
    let dim = dim.max(1);
    let points = |offset: f64| (0..2 * dim).map(|k| offset + k as f64 * 0.25).collect();
    let tried = (|| {
        let x = PointCloud::new("x", points(0.0), dim)?;
        let whole = Whole::of_part::<f64>(None, 2);
        let y = PointCloud::shard("y", points(0.5), dim, None, whole)?;
        let shards = ColumnShards::new(&CpuBackend, &SingleProcess, 0, 1)?;
        let context = Context::at(a.step, a.time);
        let mut v = vec![0.0; 2 * dim];
        drift_api::apply_drift(op, DriftProblem::new(&shards, &x, &y, &context, &mut v))
    })();
    match tried {
        Err(DriftError::ColumnSplit { operator, reason }) => bail!(
            "--split columns: the operator {operator} cannot run on a rank's shard of --y \
             ({reason}); use --split rows (every rank holds all of Y)"
        ),
        _ => Ok(()),
    }
}
