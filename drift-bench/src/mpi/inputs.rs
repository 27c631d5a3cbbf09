//! A rank's inputs for `mpirun apply`: only its share of a batch's `.npy` files is read
//! ([`npy::read_rows`]; split by columns, only its range of `--y`: `mpi/columns.rs`), and each
//! file is fingerprinted so that ranks reading different files are caught before any work
//! although no rank reads the whole of one.
//!
//! **Fingerprint of a file read in part**: its whole shape and dtype (from the header), its size,
//! and a hash of sampled blocks: the first 4 KiB (the header and the first values), the last 4 KiB
//! and 14 blocks of 4 KiB evenly spaced between (at most 64 KiB per file, whatever its size).
//! Files of different shapes, dtypes or sizes always differ; files of one shape differ unless
//! they agree on every sampled byte (two different data sets, seeds or precisions never do; a
//! file edited in one value outside the samples would). The modification time is left out: copies
//! of one file on the nodes' local disks differ in it. Files read whole (a single problem, a
//! `.csv` file) are fingerprinted by a hash of all their values, as before.

use crate::apply::{ApplyArgs, Inputs, SplitBy};
use crate::array::{Array, Shape, Values};
use crate::mpi::agree::Fingerprint;
use crate::mpi::slice::{share, slice_array, slice_rows};
use crate::mpi::World;
use crate::point_files::{self, Format};
use crate::{csv, npy};
use anyhow::{anyhow, bail, Result};
use drift_api::DriftOperator;
use std::fs::File;
use std::io::{Read, Seek, SeekFrom};
use std::ops::Range;
use std::path::{Path, PathBuf};

/// A batch split over the ranks: its problems and this rank's (or, split by columns, Y's points
/// and this rank's).
#[derive(Clone, Debug)]
pub(crate) struct Split {
    /// Problems in the whole batch (points of Y, split by columns).
    pub problems: usize,
    /// This rank's problems (points of Y).
    pub range: Range<usize>,
}

/// What a rank read.
pub(crate) struct Share {
    pub op: Box<dyn DriftOperator>,
    /// The inputs of this rank's problems when split, else the whole inputs.
    pub inputs: Inputs,
    pub split: Option<Split>,
    /// Split by columns: the points of the whole of Y, and this rank's (`inputs.y` holds them).
    pub columns: Option<Split>,
    /// Every input's whole shape and contents, for the run's fingerprint.
    pub files: Fingerprint,
}

/// The bytes of each sampled block, and how many blocks a file gives at most.
const BLOCK: u64 = 4096;
const BLOCKS: u64 = 16;

/// A 64-bit FNV-1a hash, fed word by word.
struct Fnv(u64);

impl Fnv {
    fn new() -> Fnv {
        Fnv(0xcbf29ce484222325)
    }
    fn word(&mut self, bits: u64) {
        self.0 ^= bits;
        self.0 = self.0.wrapping_mul(0x100000001b3);
    }
    fn hex(&self) -> String {
        format!("{:016x}", self.0)
    }
}

/// A hash of all of an array's values (inputs read whole).
pub(crate) fn content_hash(array: &Array) -> String {
    let mut h = Fnv::new();
    match array.values() {
        Values::F32(v) => v.iter().for_each(|x| h.word(u64::from(x.to_bits()))),
        Values::F64(v) => v.iter().for_each(|x| h.word(x.to_bits())),
    }
    h.hex()
}

/// A hash of a ragged batch's offsets (read whole).
fn offsets_hash(offsets: &[usize]) -> String {
    let mut h = Fnv::new();
    offsets.iter().for_each(|&o| h.word(o as u64));
    h.hex()
}

/// The file's size and a hash of its sampled blocks (see the module docs).
pub fn sample_hash(path: &Path) -> std::io::Result<String> {
    let mut file = File::open(path)?;
    let len = file.metadata()?.len();
    let mut h = Fnv::new();
    h.word(len);
    let last = len.saturating_sub(BLOCK);
    let mut block = Vec::with_capacity(BLOCK as usize);
    for k in 0..BLOCKS {
        file.seek(SeekFrom::Start(last * k / (BLOCKS - 1)))?;
        block.clear();
        file.by_ref().take(BLOCK).read_to_end(&mut block)?;
        block.iter().for_each(|b| h.word(u64::from(*b)));
    }
    Ok(format!("{} bytes, sampled {}", len, h.hex()))
}

/// The leading length of a shape (problems of a batch).
fn leading(shape: Shape) -> usize {
    match shape {
        Shape::Vector(n) | Shape::Matrix(n, _) | Shape::Batch(n, ..) => n,
    }
}

/// The problems of a dense batch `--x` when it is a `.npy` file that splits over `ranks` (at
/// least one problem per rank), read from its header alone. A ragged batch (offsets given) is read
/// whole: its ranks' shares are ranges of rows only the offsets tell.
fn batch_problems(a: &ApplyArgs, ranks: usize) -> Result<Option<usize>> {
    let ragged = [&a.x_offsets, &a.y_offsets, &a.negative_offsets]
        .iter()
        .any(|o| o.is_some());
    if ragged || Format::of("--x", &a.x)? != Format::Npy {
        return Ok(None);
    }
    let shape = npy::shape_of(&a.x).map_err(|e| anyhow!("--x {}: {e}", a.x.display()))?;
    Ok(match shape {
        Shape::Batch(b, ..) if b >= ranks => Some(b),
        _ => None,
    })
}

/// What the leading dimension of a split input counts: a batch's problems (against `--x`'s) or,
/// split by columns, Y's points (against `--y`'s).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Counted {
    Problems,
    Points,
}

/// Reads the rows `split.range` of the input `arg` whose leading dimension holds
/// `split.problems` (problems or points, `counted`): from a `.npy` file only those rows, from any
/// other whole then cut. Returns the rows and the fingerprint of the whole file.
pub(crate) fn read_part(
    arg: &str,
    path: &Path,
    split: &Split,
    header: csv::Header,
    counted: Counted,
) -> Result<(Array, String, String)> {
    let located = |e: &dyn std::fmt::Display| anyhow!("{arg} {}: {e}", path.display());
    let (noun, of) = match counted {
        Counted::Problems => ("problems", "--x"),
        Counted::Points => ("points", "--y"),
    };
    let same_length = |shape: Shape| {
        if leading(shape) == split.problems {
            return Ok(());
        }
        Err(anyhow!(
            "{arg} {}: holds {} {noun} (shape {shape}) but {of} holds {}",
            path.display(),
            leading(shape),
            split.problems
        ))
    };
    if Format::of(arg, path)? != Format::Npy {
        let whole = point_files::read_array(arg, path, header)?;
        same_length(whole.shape())?;
        let part = match counted {
            Counted::Problems => slice_array(&whole, &split.range)?,
            Counted::Points => slice_rows(&whole, &split.range)?,
        };
        return Ok((part, whole.shape().to_string(), content_hash(&whole)));
    }
    let shape = npy::shape_of(path).map_err(|e| located(&e))?;
    same_length(shape)?;
    let part = npy::read_rows(path, split.range.clone()).map_err(|e| located(&e))?;
    let hash = sample_hash(path).map_err(|e| located(&e))?;
    Ok((part, shape.to_string(), hash))
}

/// The leading length of the input `arg` at `path`: from a `.npy` file's header, else from the
/// whole file (read again by [`read_part`]; `.csv` inputs are small).
pub(crate) fn leading_of(arg: &str, path: &Path, header: csv::Header) -> Result<usize> {
    if Format::of(arg, path)? != Format::Npy {
        return Ok(leading(point_files::read_array(arg, path, header)?.shape()));
    }
    let shape = npy::shape_of(path).map_err(|e| anyhow!("{arg} {}: {e}", path.display()))?;
    Ok(leading(shape))
}

/// Reads what this rank needs of `a`'s inputs (see the module docs).
pub(crate) fn read(world: &World, a: &ApplyArgs) -> Result<Share> {
    if a.split == Some(SplitBy::Columns) {
        return crate::mpi::columns::read(world, a);
    }
    let Some(problems) = batch_problems(a, world.size())? else {
        // Not split: every rank reads everything, as one process does.
        let (op, inputs) = crate::apply::read(a)?;
        let mut files = Fingerprint::default();
        for (arg, array) in named(&inputs) {
            let (shape, contents) = match array {
                Some(x) => (x.shape().to_string(), content_hash(x)),
                None => ("absent".to_string(), "absent".to_string()),
            };
            push_file(&mut files, arg, array.map(precision), shape, contents);
        }
        for (arg, offsets) in inputs.offsets.named() {
            let (shape, contents) = match offsets {
                Some(o) => (format!("({},)", o.len()), offsets_hash(o)),
                None => ("absent".to_string(), "absent".to_string()),
            };
            push_file(&mut files, arg, None, shape, contents);
        }
        return Ok(Share {
            op,
            inputs,
            split: None,
            columns: None,
            files,
        });
    };
    let split = Split {
        problems,
        range: share(problems, world.rank(), world.size()),
    };
    let op = drift_api::load_operator(&a.op).map_err(|e| anyhow!("--op {e}"))?;
    // As `apply`'s own reading: `--header` declares a `.csv` header line, else it is detected.
    let header = if a.header {
        csv::Header::Declared
    } else {
        csv::Header::Detect
    };
    let mut files = Fingerprint::default();
    let mut part = |arg: &str, path: Option<&PathBuf>| -> Result<Option<Array>> {
        let Some(path) = path else {
            push_file(&mut files, arg, None, "absent".into(), "absent".into());
            return Ok(None);
        };
        let (array, shape, contents) = read_part(arg, path, &split, header, Counted::Problems)?;
        push_file(&mut files, arg, Some(precision(&array)), shape, contents);
        Ok(Some(array))
    };
    let given = |arg: &str| anyhow!("{arg} is not given");
    let inputs = Inputs {
        x: part("--x", Some(&a.x))?.ok_or_else(|| given("--x"))?,
        y: part("--y", Some(&a.y))?.ok_or_else(|| given("--y"))?,
        x_weights: part("--x-weights", a.x_weights.as_ref())?,
        y_weights: part("--y-weights", a.y_weights.as_ref())?,
        negatives: part("--negatives", a.negatives.as_ref())?,
        negative_weights: part("--negative-weights", a.negative_weights.as_ref())?,
        // `batch_problems` splits dense batches only.
        offsets: Default::default(),
    };
    if a.negative_weights.is_some() && a.negatives.is_none() {
        bail!("--negative-weights: there are no --negatives to weigh");
    }
    Ok(Share {
        op,
        inputs,
        split: Some(split),
        columns: None,
        files,
    })
}

/// The inputs with their arguments' names, in a fixed order.
pub(crate) fn named(inputs: &Inputs) -> [(&'static str, Option<&Array>); 6] {
    [
        ("--x", Some(&inputs.x)),
        ("--y", Some(&inputs.y)),
        ("--x-weights", inputs.x_weights.as_ref()),
        ("--y-weights", inputs.y_weights.as_ref()),
        ("--negatives", inputs.negatives.as_ref()),
        ("--negative-weights", inputs.negative_weights.as_ref()),
    ]
}

pub(crate) fn precision(array: &Array) -> &'static str {
    crate::apply::name(array.values().precision())
}

pub(crate) fn push_file(
    f: &mut Fingerprint,
    arg: &str,
    precision: Option<&str>,
    shape: String,
    what: String,
) {
    f.push(
        &format!("{arg} shape"),
        format!("{shape} {}", precision.unwrap_or("")).trim_end(),
    );
    f.push(&format!("{arg} contents (hash)"), what);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sampled_hashes_tell_files_apart_and_copies_alike() {
        let dir = std::env::temp_dir().join(format!("drift-sample-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let write = |name: &str, bytes: &[u8]| {
            let p = dir.join(name);
            std::fs::write(&p, bytes).unwrap();
            sample_hash(&p).unwrap()
        };
        // 200 KiB: far more than the samples, so that blocks are skipped between them.
        let a: Vec<u8> = (0..200 * 1024).map(|i| (i * 7 % 251) as u8).collect();
        let mut first = a.clone();
        first[10] ^= 1;
        let mut last = a.clone();
        *last.last_mut().unwrap() ^= 1;
        let ha = write("a", &a);
        assert_eq!(ha, write("copy", &a));
        assert_ne!(ha, write("first", &first), "the header's block is sampled");
        assert_ne!(ha, write("last", &last), "the last block is sampled");
        assert_ne!(ha, write("short", &a[..a.len() - 8]), "the size is hashed");
        let _ = std::fs::remove_dir_all(&dir);
    }
}
