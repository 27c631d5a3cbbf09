//! An output file written all at once or not at all.
//!
//! [`PendingFile::create`] opens a fresh temporary file next to the target before any work is done,
//! so a missing or read-only folder is reported at once; [`PendingFile::commit`] writes the bytes,
//! flushes them to disk and renames the temporary file over the target. A rename within one folder
//! is atomic: a reader (or a run killed at any moment) sees the old file or the new one, never part
//! of either, and an input that is also the target stays intact until the result replaces it.
//! Dropping an uncommitted file (any error on the way) removes the temporary file.
//!
//! ```
//! let dir = std::env::temp_dir().join(format!("pending-doc-{}", std::process::id()));
//! std::fs::create_dir_all(&dir).unwrap();
//! let target = dir.join("v.csv");
//! std::fs::write(&target, "old").unwrap();
//! let pending = drift_bench::pending_file::PendingFile::create(&target).unwrap();
//! assert_eq!(std::fs::read(&target).unwrap(), b"old"); // untouched until the commit
//! pending.commit(b"new").unwrap();
//! assert_eq!(std::fs::read(&target).unwrap(), b"new");
//! assert_eq!(std::fs::read_dir(&dir).unwrap().count(), 1); // no temporary file left
//! drop(drift_bench::pending_file::PendingFile::create(&dir.join("w.csv")).unwrap());
//! assert_eq!(std::fs::read_dir(&dir).unwrap().count(), 1);
//! std::fs::remove_dir_all(&dir).unwrap();
//! ```

use std::fs::{File, OpenOptions};
use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

/// A temporary file that becomes `target` on [`commit`](PendingFile::commit), or disappears.
#[derive(Debug)]
pub struct PendingFile {
    target: PathBuf,
    temp: PathBuf,
    file: Option<File>,
}

/// Distinguishes the temporary files of one process.
static NEXT: AtomicU64 = AtomicU64::new(0);

/// The folder holding `path` (`.` for a bare file name).
pub fn folder(path: &Path) -> &Path {
    match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    }
}

impl PendingFile {
    /// Creates a new, empty temporary file in `target`'s folder (hidden, named after the target and
    /// this process). Fails if the folder does not exist or is not writable, or if `target` is a
    /// folder.
    pub fn create(target: &Path) -> io::Result<PendingFile> {
        let name = target
            .file_name()
            .ok_or_else(|| io::Error::new(io::ErrorKind::InvalidInput, "not a file name"))?;
        if target.is_dir() {
            return Err(io::Error::new(io::ErrorKind::InvalidInput, "is a folder"));
        }
        loop {
            let temp = folder(target).join(format!(
                ".{}.{}-{}.tmp",
                name.to_string_lossy(),
                std::process::id(),
                NEXT.fetch_add(1, Ordering::Relaxed)
            ));
            // `create_new` never reuses a file that is there already (a leftover of a killed run
            // with the same process id).
            match OpenOptions::new().write(true).create_new(true).open(&temp) {
                Ok(file) => {
                    return Ok(PendingFile {
                        target: target.to_path_buf(),
                        temp,
                        file: Some(file),
                    })
                }
                Err(e) if e.kind() == io::ErrorKind::AlreadyExists => continue,
                Err(e) => return Err(e),
            }
        }
    }

    /// The file that [`commit`](PendingFile::commit) replaces.
    pub fn target(&self) -> &Path {
        &self.target
    }

    /// Writes `bytes`, flushes them to disk and renames the temporary file over the target. On an
    /// error the target is as it was and the temporary file is removed.
    pub fn commit(mut self, bytes: &[u8]) -> io::Result<()> {
        let mut file = self.file.take().expect("a pending file is committed once");
        file.write_all(bytes)?;
        // Flushed before the rename: otherwise a crash could leave the new name on empty blocks.
        file.sync_all()?;
        drop(file);
        std::fs::rename(&self.temp, &self.target)?;
        // The rename is done: nothing to remove on drop.
        self.temp = PathBuf::new();
        // Makes the rename itself durable; not every platform can open or flush a folder, and the
        // result is in place either way.
        if let Ok(dir) = File::open(folder(&self.target)) {
            let _ = dir.sync_all();
        }
        Ok(())
    }
}

impl Drop for PendingFile {
    fn drop(&mut self) {
        if !self.temp.as_os_str().is_empty() {
            self.file = None;
            let _ = std::fs::remove_file(&self.temp);
        }
    }
}
