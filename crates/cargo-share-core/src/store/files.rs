//! File operations the store's promises rest on: read-only trees, removal, sizes, hash checks,
//! and the privacy check of a store's parent directories.

use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::Path;

use anyhow::{bail, Context, Result};

use cargo_share_compile::digest::file_sha256;

/// Refuse a directory others can write to or that someone else owns.
pub(crate) fn check_private(dir: &Path) -> Result<()> {
    let meta = std::fs::metadata(dir).with_context(|| format!("reading {}", dir.display()))?;
    // Our effective uid is the owner of our /proc entry.
    let me = std::fs::metadata("/proc/self")
        .map(|m| m.uid())
        .unwrap_or(meta.uid());
    if meta.uid() != me {
        bail!(
            "the store {} belongs to another user (uid {}); use your own store with --store DIR",
            dir.display(),
            meta.uid()
        );
    }
    if meta.mode() & 0o022 != 0 {
        bail!(
            "the store {} is writable by others (mode {:o}): anyone could replace the libraries \
             your programs load. Fix it with `chmod go-w {}` and run `cargo share verify`",
            dir.display(),
            meta.mode() & 0o777,
            dir.display()
        );
    }
    Ok(())
}

/// Write `bytes` to `path`, the error naming the file, then pass the fault point `point` (which
/// fails as this write would, `store::fault`).
pub(crate) fn write_step(path: &Path, bytes: impl AsRef<[u8]>, point: &str) -> Result<()> {
    std::fs::write(path, bytes)
        .and_then(|_| crate::store::fault::step(point))
        .with_context(|| format!("writing {}", path.display()))
}

/// Create the directory `path`, the error naming it.
pub(crate) fn create_dir(path: &Path) -> Result<()> {
    std::fs::create_dir(path).with_context(|| format!("creating {}", path.display()))
}

/// Files 0444, directories 0555: entries are immutable once registered.
pub(crate) fn make_read_only(dir: &Path) -> Result<()> {
    let reading = || format!("reading {}", dir.display());
    for entry in std::fs::read_dir(dir).with_context(reading)? {
        let entry = entry.with_context(reading)?;
        let path = entry.path();
        let kind = entry
            .file_type()
            .with_context(|| format!("reading {}", path.display()))?;
        if kind.is_dir() {
            make_read_only(&path)?;
        } else if kind.is_file() {
            let mode = if path.parent().and_then(|p| p.file_name()) == Some("bin".as_ref()) {
                0o555
            } else {
                0o444
            };
            std::fs::set_permissions(&path, std::fs::Permissions::from_mode(mode))
                .with_context(|| format!("making {} read-only", path.display()))?;
        }
    }
    std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o555))
        .with_context(|| format!("making {} read-only", dir.display()))
}

/// Remove a read-only tree: make directories writable again first.
pub(crate) fn remove_tree(dir: &Path) -> Result<()> {
    fn unlock(dir: &Path) {
        let _ = std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o700));
        if let Ok(entries) = std::fs::read_dir(dir) {
            for e in entries.flatten() {
                if e.file_type().map(|t| t.is_dir()).unwrap_or(false) {
                    unlock(&e.path());
                }
            }
        }
    }
    match std::fs::symlink_metadata(dir) {
        Err(_) => return Ok(()),
        Ok(m) if !m.is_dir() => {
            return std::fs::remove_file(dir).with_context(|| format!("removing {}", dir.display()))
        }
        Ok(_) => {}
    }
    unlock(dir);
    std::fs::remove_dir_all(dir).with_context(|| format!("removing {}", dir.display()))
}

/// Replace `dir/name` by a hard link to `source`, by rename (the file is never missing), in a
/// read-only directory (made writable for the moment, then given its mode back).
pub(crate) fn replace_with_hard_link(dir: &Path, name: &str, source: &Path) -> Result<()> {
    let mode = std::fs::metadata(dir)
        .with_context(|| format!("reading {}", dir.display()))?
        .mode();
    std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o700))
        .with_context(|| format!("making {} writable", dir.display()))?;
    let tmp = dir.join(".cargo-share-link");
    let _ = std::fs::remove_file(&tmp);
    let result =
        std::fs::hard_link(source, &tmp).and_then(|_| std::fs::rename(&tmp, dir.join(name)));
    std::fs::set_permissions(dir, std::fs::Permissions::from_mode(mode & 0o7777))
        .with_context(|| format!("restoring the mode of {}", dir.display()))?;
    result.with_context(|| {
        format!(
            "hard-linking {} to {}",
            dir.join(name).display(),
            source.display()
        )
    })
}

/// Whether two paths are the same file (inode).
pub(crate) fn same_file(a: &Path, b: &Path) -> bool {
    match (std::fs::metadata(a), std::fs::metadata(b)) {
        (Ok(x), Ok(y)) => x.dev() == y.dev() && x.ino() == y.ino(),
        _ => false,
    }
}

/// The file in a scratch directory that its command holds locked while it runs.
pub(crate) const IN_USE_FILE: &str = ".in-use";

/// A scratch directory in the store's `tmp/` that a command uses without holding the store
/// lock (an install's build output): locked while the command runs, removed when it ends.
pub struct ScratchDir {
    dir: tempfile::TempDir,
    _lock: std::fs::File,
}

impl ScratchDir {
    pub fn new(parent: &Path, prefix: &str) -> Result<ScratchDir> {
        let mut attempts = 0;
        loop {
            let dir = tempfile::Builder::new()
                .prefix(prefix)
                .tempdir_in(parent)
                .with_context(|| format!("creating a scratch directory in {}", parent.display()))?;
            let path = dir.path().join(IN_USE_FILE);
            let lock = match std::fs::File::create(&path) {
                // A `gc` running at once took the directory before its lock file existed (it
                // takes what no running command holds): make another.
                Err(e) if e.kind() == std::io::ErrorKind::NotFound && attempts < 5 => {
                    attempts += 1;
                    continue;
                }
                other => other.with_context(|| format!("creating {}", path.display()))?,
            };
            lock.lock()
                .with_context(|| format!("locking {}", path.display()))?;
            return Ok(ScratchDir { dir, _lock: lock });
        }
    }

    pub fn path(&self) -> &Path {
        self.dir.path()
    }
}

/// Whether a scratch directory belongs to a command that is still running.
pub(crate) fn in_use(dir: &Path) -> bool {
    match std::fs::File::open(dir.join(IN_USE_FILE)) {
        Ok(f) => f.try_lock().is_err(),
        Err(_) => false,
    }
}

/// Sum of file sizes below `dir`, counting each inode once.
pub(crate) fn tree_size(dir: &Path, seen: &mut std::collections::BTreeSet<(u64, u64)>) -> u64 {
    let mut total = 0;
    if let Ok(entries) = std::fs::read_dir(dir) {
        for e in entries.flatten() {
            let Ok(meta) = std::fs::symlink_metadata(e.path()) else {
                continue;
            };
            if meta.is_dir() {
                total += tree_size(&e.path(), seen);
            } else if meta.is_file() && seen.insert((meta.dev(), meta.ino())) {
                total += meta.len();
            }
        }
    }
    total
}

/// Check a file against the SHA-256 recorded for it.
pub(crate) fn file_matches(path: &Path, sha256: &str) -> bool {
    file_sha256(path).map(|h| h == sha256).unwrap_or(false)
}
