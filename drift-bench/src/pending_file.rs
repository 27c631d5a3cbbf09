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

use std::fs::File;
use std::io::{self, Write};
use std::path::{Path, PathBuf};
use tempfile::NamedTempFile;

/// A temporary file that becomes `target` on [`commit`](PendingFile::commit), or disappears.
#[derive(Debug)]
pub struct PendingFile {
    target: PathBuf,
    /// Removed when dropped uncommitted.
    temp: NamedTempFile,
}

/// The folder holding `path` (`.` for a bare file name).
pub fn folder(path: &Path) -> &Path {
    match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    }
}

impl PendingFile {
    /// Creates a new, empty temporary file in `target`'s folder (hidden, named after the target
    /// with a random part). Fails if the folder does not exist or is not writable, or if `target`
    /// is a folder.
    pub fn create(target: &Path) -> io::Result<PendingFile> {
        let name = target
            .file_name()
            .ok_or_else(|| io::Error::new(io::ErrorKind::InvalidInput, "not a file name"))?;
        if target.is_dir() {
            return Err(io::Error::new(io::ErrorKind::InvalidInput, "is a folder"));
        }
        let prefix = format!(".{}.", name.to_string_lossy());
        let mut builder = tempfile::Builder::new();
        builder.prefix(&prefix).suffix(".tmp");
        // The result gets the permissions of any new file (0666 less the umask), not the
        // owner-only 0600 of a temporary file.
        #[cfg(unix)]
        builder.permissions(std::os::unix::fs::PermissionsExt::from_mode(0o666));
        // A fresh name each time (`O_EXCL`): a leftover of a killed run is never reused.
        let temp = builder.tempfile_in(folder(target))?;
        Ok(PendingFile {
            target: target.to_path_buf(),
            temp,
        })
    }

    /// The file that [`commit`](PendingFile::commit) replaces.
    pub fn target(&self) -> &Path {
        &self.target
    }

    /// Writes `bytes`, flushes them to disk and renames the temporary file over the target. On an
    /// error the target is as it was and the temporary file is removed.
    pub fn commit(mut self, bytes: &[u8]) -> io::Result<()> {
        self.temp.write_all(bytes)?;
        // Flushed before the rename: otherwise a crash could leave the new name on empty blocks.
        self.temp.as_file().sync_all()?;
        // A failed rename hands the temporary file back; dropping it removes the file.
        self.temp.persist(&self.target).map_err(|e| e.error)?;
        // Makes the rename itself durable; not every platform can open or flush a folder, and the
        // result is in place either way.
        if let Ok(dir) = File::open(folder(&self.target)) {
            let _ = dir.sync_all();
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[cfg(unix)]
    #[test]
    fn the_result_has_the_permissions_of_a_new_file() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let plain = dir.path().join("plain");
        File::create(&plain).unwrap();
        let target = dir.path().join("out.csv");
        PendingFile::create(&target).unwrap().commit(b"x").unwrap();
        let mode = |p: &Path| std::fs::metadata(p).unwrap().permissions().mode();
        assert_eq!(mode(&target), mode(&plain));
    }

    #[test]
    fn a_failed_rename_leaves_no_temporary_file() {
        let dir = tempfile::tempdir().unwrap();
        let target = dir.path().join("out.csv");
        let pending = PendingFile::create(&target).unwrap();
        // The target becomes a non-empty folder: the rename over it fails.
        std::fs::create_dir_all(target.join("inside")).unwrap();
        assert!(pending.commit(b"x").is_err());
        let names: Vec<_> = std::fs::read_dir(dir.path()).unwrap().collect();
        assert_eq!(names.len(), 1, "{names:?}");
    }
}
