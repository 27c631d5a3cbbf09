//! Every file of the report is written all at once: a reader, or a run killed midway, never sees
//! part of one.

use crate::pending_file::PendingFile;
use anyhow::Context;
use std::path::Path;

/// Writes `bytes` to `path` through a temporary file renamed over it.
pub(crate) fn write_atomically(path: &Path, bytes: &[u8]) -> anyhow::Result<()> {
    PendingFile::create(path)
        .and_then(|f| f.commit(bytes))
        .with_context(|| format!("cannot write {}", path.display()))
}
