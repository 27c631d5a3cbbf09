//! A report folder replaced whole or not at all, by one writer at a time.
//!
//! [`ReportFolder::claim`] is called before any work: it checks the folder (a file, `/dev/null`, a
//! read-only folder, a mount point, the current folder, a folder holding files a report does not
//! write are refused with their reason), takes an exclusive lock on a sibling lock file
//! `.NAME.lock` (a second writer fails at once: "another drift-bench compare is writing NAME"),
//! clears what killed writers of this folder left behind (an old folder moved aside is put back
//! when the folder is missing, anything else removed), and creates a fresh, hidden sibling
//! folder `.NAME.tmp-PID-RANDOM` to write the report in ([`ReportFolder::staging`]).
//! [`ReportFolder::commit`] then moves the old folder aside (`.NAME.old-PID-N`), renames the new one
//! into place and deletes the old one. A reader, or a run killed at any moment (SIGINT, SIGTERM,
//! SIGKILL, a full disk), sees the old folder whole or the new one whole, never a mix: no new
//! `results.csv` beside old figures, no figures of a previous sweep left beside a new report.
//! Dropping a folder that was not committed (any error on the way) removes the staging folder and
//! leaves the old report as it was.
//!
//! The folder is replaced whole, so an existing folder is only replaced when it is empty or holds a
//! report (its `report.md`, `results.csv` and `results.json`, or only files that a report writes):
//! `--out ~` or `--out .` never deletes a user's files.
//!
//! ```
//! use drift_bench::report::ReportFolder;
//! let parent = std::env::temp_dir().join(format!("report-folder-doc-{}", std::process::id()));
//! std::fs::create_dir_all(parent.join("rep")).unwrap();
//! std::fs::write(parent.join("rep/report.md"), "old").unwrap();
//! let folder = ReportFolder::claim(&parent.join("rep")).unwrap();
//! std::fs::write(folder.staging().join("report.md"), "new").unwrap();
//! assert_eq!(std::fs::read(parent.join("rep/report.md")).unwrap(), b"old"); // until the commit
//! folder.commit().unwrap();
//! assert_eq!(std::fs::read(parent.join("rep/report.md")).unwrap(), b"new");
//! if cfg!(unix) {
//!     // Nothing left beside it (elsewhere the empty lock file stays).
//!     assert_eq!(std::fs::read_dir(&parent).unwrap().count(), 1);
//! }
//! std::fs::remove_dir_all(&parent).unwrap();
//! ```

use crate::pending_file::folder as parent_of;
use anyhow::{bail, Context as _, Result};
use std::ffi::{OsStr, OsString};
use std::fs::{File, OpenOptions};
use std::path::{Component, Path, PathBuf};

/// The files every report writes: a folder holding all three is a report.
const REPORT_FILES: [&str; 3] = ["report.md", "results.csv", "results.json"];

/// A report folder claimed for writing: locked against other writers, with a fresh staging folder
/// beside it that [`commit`](ReportFolder::commit) renames into its place.
#[derive(Debug)]
pub struct ReportFolder {
    /// The folder as it was given (for messages and the paths a report returns).
    given: PathBuf,
    /// The canonical folder holding it.
    parent: PathBuf,
    /// Its name in `parent`.
    name: OsString,
    /// Where the new report is written; removed on drop until the commit.
    staging: tempfile::TempDir,
    /// Held until the folder is dropped or committed.
    _lock: FolderLock,
}

impl ReportFolder {
    /// Claims `dir` (created later, with its parents, if it does not exist): checks that it can be
    /// replaced, locks it against other writers, and creates its staging folder. Fails, before any
    /// work, with a message naming `dir` and the reason.
    pub fn claim(dir: &Path) -> Result<ReportFolder> {
        let (parent, name) = resolve(dir)?;
        let target = parent.join(&name);
        if let Ok(cwd) = std::env::current_dir().and_then(|d| d.canonicalize()) {
            if cwd.starts_with(&target) {
                bail!(
                    "report folder {}: is the current folder or holds it; the report replaces the \
                     whole folder: choose a new or empty folder",
                    dir.display()
                );
            }
        }
        let lock = FolderLock::take(&parent, &name, dir)?;
        clear_leftovers(&parent, &name);
        if target.exists() {
            check_replaceable(&target, dir)?;
            // A read-only folder is refused here rather than after the work (its owner may have
            // made it read-only to keep it).
            tempfile::Builder::new()
                .prefix(".drift-bench-probe")
                .suffix(".tmp")
                .tempfile_in(&target)
                .with_context(|| format!("report folder {}: cannot write in it", dir.display()))?;
        }
        let staging = tempfile::Builder::new()
            .prefix(&format!(
                ".{}.tmp-{}-",
                name.to_string_lossy(),
                std::process::id()
            ))
            .rand_bytes(6)
            .tempdir_in(&parent)
            .with_context(|| {
                format!(
                    "report folder {}: cannot create a folder beside it in {} to write the report in",
                    dir.display(),
                    parent.display()
                )
            })?;
        Ok(ReportFolder {
            given: dir.to_path_buf(),
            parent,
            name,
            staging,
            _lock: lock,
        })
    }

    /// The report folder as it was given.
    pub fn path(&self) -> &Path {
        &self.given
    }

    /// The folder to write the new report in (a hidden sibling of the report folder).
    pub fn staging(&self) -> &Path {
        self.staging.path()
    }

    /// Puts the staging folder in the report folder's place: the old folder (if any) is moved
    /// aside, the new one renamed in, the old one deleted. On an error the old folder is as it
    /// was; the new report is kept where it was written and the error says where.
    pub fn commit(self) -> Result<()> {
        let target = self.parent.join(&self.name);
        let staging = self.staging.path().to_path_buf();
        // Makes the files' names durable before the folder moves; not every platform can open or
        // flush a folder.
        sync_folder(&staging);
        let kept = |e: anyhow::Error, staging: tempfile::TempDir| {
            let kept = staging.keep();
            e.context(format!("the new report is in {}", kept.display()))
        };
        let exists = std::fs::symlink_metadata(&target).is_ok();
        if !exists {
            if let Err(e) = std::fs::rename(&staging, &target) {
                let e = anyhow::Error::new(e).context(format!(
                    "cannot create the report folder {}",
                    self.given.display()
                ));
                return Err(kept(e, self.staging));
            }
        } else {
            // Files added to the folder while the report was made are not deleted either.
            if let Err(e) = check_replaceable(&target, &self.given) {
                return Err(kept(e, self.staging));
            }
            let old = self.aside("old");
            if let Err(e) = std::fs::rename(&target, &old) {
                let e = anyhow::Error::new(e).context(format!(
                    "cannot move the old report folder {} aside",
                    self.given.display()
                ));
                return Err(kept(e, self.staging));
            }
            if let Err(e) = std::fs::rename(&staging, &target) {
                let back = std::fs::rename(&old, &target);
                let mut e = anyhow::Error::new(e).context(format!(
                    "cannot put the new report in place of {}",
                    self.given.display()
                ));
                if back.is_err() {
                    e = e.context(format!("the old report is in {}", old.display()));
                }
                return Err(kept(e, self.staging));
            }
            // The new report is in place: an old folder that cannot be deleted (now) is removed by
            // the next writer of this folder.
            let _ = std::fs::remove_dir_all(&old);
        }
        sync_folder(&self.parent);
        // Renamed: nothing to remove on drop.
        let _ = self.staging.keep();
        Ok(())
    }

    /// A free hidden sibling name `.NAME.{what}-PID-N`.
    fn aside(&self, what: &str) -> PathBuf {
        let name = self.name.to_string_lossy();
        let pid = std::process::id();
        (0u64..)
            .map(|n| self.parent.join(format!(".{name}.{what}-{pid}-{n}")))
            .find(|p| std::fs::symlink_metadata(p).is_err())
            .expect("a free name")
    }
}

/// The canonical folder holding `dir` (created if missing) and `dir`'s name in it.
fn resolve(dir: &Path) -> Result<(PathBuf, OsString)> {
    let shown = dir.display();
    if dir.as_os_str().is_empty() {
        bail!("the report folder's path is empty");
    }
    match std::fs::metadata(dir) {
        Ok(meta) if meta.is_dir() => {
            let canonical = dir
                .canonicalize()
                .with_context(|| format!("report folder {shown}: cannot resolve its path"))?;
            let (Some(parent), Some(name)) = (canonical.parent(), canonical.file_name()) else {
                bail!("report folder {shown}: is the root folder; choose a folder inside it");
            };
            check_not_a_mount_point(&meta, parent, dir)?;
            Ok((parent.to_path_buf(), name.to_os_string()))
        }
        Ok(_) => bail!(
            "report folder {shown}: is a file (or a device), not a folder; choose a folder's path"
        ),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            if std::fs::symlink_metadata(dir).is_ok() {
                bail!("report folder {shown}: is a symbolic link to nothing");
            }
            let name = match dir.components().next_back() {
                Some(Component::Normal(name)) => name.to_os_string(),
                _ => bail!("report folder {shown}: does not end with a folder's name"),
            };
            let parent = parent_of(dir);
            std::fs::create_dir_all(parent)
                .with_context(|| format!("cannot create the folder {}", parent.display()))?;
            let parent = parent
                .canonicalize()
                .with_context(|| format!("cannot resolve the folder {}", parent.display()))?;
            Ok((parent, name))
        }
        Err(e) => Err(anyhow::Error::new(e).context(format!("report folder {shown}"))),
    }
}

/// A mount point cannot be renamed: refused before the work rather than at the commit.
#[cfg(unix)]
fn check_not_a_mount_point(meta: &std::fs::Metadata, parent: &Path, dir: &Path) -> Result<()> {
    use std::os::unix::fs::MetadataExt;
    if std::fs::metadata(parent).is_ok_and(|p| p.dev() != meta.dev()) {
        bail!(
            "report folder {}: is a mount point, which cannot be replaced; choose a folder inside it",
            dir.display()
        );
    }
    Ok(())
}

/// A mount point cannot be renamed (found at the commit here).
#[cfg(not(unix))]
fn check_not_a_mount_point(_: &std::fs::Metadata, _: &Path, _: &Path) -> Result<()> {
    Ok(())
}

/// True for a name that a report writes: its tables, `report.md`, its figures
/// (`{data}_{flow|train}_{what}.png/.svg`) and the hidden temporary files of an interrupted write.
fn written_by_a_report(name: &OsStr) -> bool {
    let Some(name) = name.to_str() else {
        return false;
    };
    let figure = (name.ends_with(".png") || name.ends_with(".svg"))
        && (name.contains("_flow_") || name.contains("_train_"));
    REPORT_FILES.contains(&name) || figure || (name.starts_with('.') && name.ends_with(".tmp"))
}

/// Fails unless the existing folder `target` (given as `dir`) may be replaced whole: it is empty,
/// holds a report, or holds only files that a report writes.
fn check_replaceable(target: &Path, dir: &Path) -> Result<()> {
    let entries: Vec<(OsString, bool)> = std::fs::read_dir(target)
        .with_context(|| format!("report folder {}: cannot list it", dir.display()))?
        .map(|e| {
            let e = e?;
            Ok((e.file_name(), e.file_type()?.is_file()))
        })
        .collect::<std::io::Result<_>>()
        .with_context(|| format!("report folder {}: cannot list it", dir.display()))?;
    let is_report = REPORT_FILES
        .iter()
        .all(|f| entries.iter().any(|(name, file)| *file && name == *f));
    if is_report {
        return Ok(());
    }
    let mut foreign: Vec<String> = entries
        .iter()
        .filter(|(name, file)| !(*file && written_by_a_report(name)))
        .map(|(name, _)| name.to_string_lossy().into_owned())
        .collect();
    if foreign.is_empty() {
        return Ok(());
    }
    foreign.sort();
    let more = foreign.len().saturating_sub(3);
    foreign.truncate(3);
    bail!(
        "report folder {}: holds {}{}, which no report writes; the report replaces the whole \
         folder: choose a new or empty folder, or a previous report's",
        dir.display(),
        foreign.join(", "),
        if more > 0 {
            format!(" and {more} more")
        } else {
            String::new()
        }
    )
}

/// Clears what writers of `name` killed midway left in `parent`: their staging folders
/// (`.NAME.tmp-PID-RANDOM`) are removed; an old folder moved aside (`.NAME.old-PID-N`) is put back
/// when the folder is missing (a writer killed between its two renames), removed otherwise. Only
/// called under the lock, so none of them is in use.
fn clear_leftovers(parent: &Path, name: &OsStr) {
    let Some(name) = name.to_str() else {
        return;
    };
    let Ok(entries) = std::fs::read_dir(parent) else {
        return;
    };
    // The rest of a leftover's name is exactly `PID-SUFFIX`: `.rep.tmp-1.tmp-2-x` is a leftover
    // of the folder `rep.tmp-1`, not of `rep`.
    let of_a_writer = |rest: &str| {
        rest.split_once('-').is_some_and(|(pid, suffix)| {
            !pid.is_empty()
                && pid.bytes().all(|b| b.is_ascii_digit())
                && !suffix.is_empty()
                && suffix.bytes().all(|b| b.is_ascii_alphanumeric())
        })
    };
    let (staging, old) = (format!(".{name}.tmp-"), format!(".{name}.old-"));
    let target = parent.join(name);
    for entry in entries.flatten() {
        if !entry.file_type().is_ok_and(|t| t.is_dir()) {
            continue;
        }
        let file_name = entry.file_name();
        let Some(file_name) = file_name.to_str() else {
            continue;
        };
        let is = |prefix: &str| file_name.strip_prefix(prefix).is_some_and(of_a_writer);
        if is(&old) && std::fs::symlink_metadata(&target).is_err() {
            let _ = std::fs::rename(entry.path(), &target);
        } else if is(&staging) || is(&old) {
            let _ = std::fs::remove_dir_all(entry.path());
        }
    }
}

/// Flushes a folder's entries to disk where the platform can.
fn sync_folder(dir: &Path) {
    if let Ok(d) = File::open(dir) {
        let _ = d.sync_all();
    }
}

/// An exclusive lock on `.NAME.lock` beside the report folder, released (and on Unix the file
/// removed) on drop. A writer killed while holding it releases it with its process.
#[derive(Debug)]
struct FolderLock {
    path: PathBuf,
    file: Option<File>,
}

impl FolderLock {
    /// Takes the lock of the folder `name` in `parent` (given as `dir`), or fails at once naming
    /// the folder when another writer holds it.
    fn take(parent: &Path, name: &OsStr, dir: &Path) -> Result<FolderLock> {
        let path = parent.join(format!(".{}.lock", name.to_string_lossy()));
        loop {
            let file = OpenOptions::new()
                .read(true)
                .write(true)
                .create(true)
                .truncate(false)
                .open(&path)
                .with_context(|| {
                    format!(
                        "report folder {}: cannot create its lock file {}",
                        dir.display(),
                        path.display()
                    )
                })?;
            // Called through the trait: std's inherent `File::try_lock` is newer than the
            // workspace's rust-version.
            match fs4::FileExt::try_lock(&file) {
                Ok(()) => {}
                Err(fs4::TryLockError::WouldBlock) => bail!(
                    "another drift-bench compare is writing {} (it holds {}); wait for it to \
                     finish or choose another --out",
                    dir.display(),
                    path.display()
                ),
                // A file system without locks: go on unlocked rather than refuse to work there.
                Err(fs4::TryLockError::Error(e)) if e.kind() == std::io::ErrorKind::Unsupported => {
                    return Ok(FolderLock { path, file: None })
                }
                Err(fs4::TryLockError::Error(e)) => {
                    return Err(anyhow::Error::new(e).context(format!(
                        "report folder {}: cannot lock {}",
                        dir.display(),
                        path.display()
                    )))
                }
            }
            // The previous holder removes the file before it releases the lock: a lock taken on a
            // file that is no longer at `path` protects nothing, so take the new one.
            if still_at(&file, &path) {
                return Ok(FolderLock {
                    path,
                    file: Some(file),
                });
            }
        }
    }
}

/// True when `path` still names the open `file`.
#[cfg(unix)]
fn still_at(file: &File, path: &Path) -> bool {
    use std::os::unix::fs::MetadataExt;
    match (file.metadata(), std::fs::metadata(path)) {
        (Ok(a), Ok(b)) => a.dev() == b.dev() && a.ino() == b.ino(),
        _ => false,
    }
}

/// True when `path` still names the open `file` (always, where an open file cannot be removed).
#[cfg(not(unix))]
fn still_at(_: &File, _: &Path) -> bool {
    true
}

impl Drop for FolderLock {
    fn drop(&mut self) {
        // Removed while still locked, so that a writer waiting on this file sees that it is gone
        // (see `still_at`); where open files cannot be removed it stays, empty.
        if cfg!(unix) && self.file.is_some() {
            let _ = std::fs::remove_file(&self.path);
        }
        self.file = None;
    }
}
