//! File operations the store's promises rest on: read-only trees, removal, sizes, hash checks,
//! and the privacy check of a store's parent directories.

use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::Path;

use anyhow::{bail, Context, Result};

use crate::digest::file_sha256;

/// Refuse a directory others can write to or that someone else owns.
pub fn check_private(dir: &Path) -> Result<()> {
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

/// Files 0444, directories 0555: entries are immutable once registered.
pub fn make_read_only(dir: &Path) -> Result<()> {
    for entry in std::fs::read_dir(dir)? {
        let entry = entry?;
        let path = entry.path();
        if entry.file_type()?.is_dir() {
            make_read_only(&path)?;
        } else if entry.file_type()?.is_file() {
            let mode = if path.parent().and_then(|p| p.file_name()) == Some("bin".as_ref()) {
                0o555
            } else {
                0o444
            };
            std::fs::set_permissions(&path, std::fs::Permissions::from_mode(mode))?;
        }
    }
    std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o555))?;
    Ok(())
}

/// Remove a read-only tree: make directories writable again first.
pub fn remove_tree(dir: &Path) -> Result<()> {
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

/// Sum of file sizes below `dir`, counting each inode once.
pub fn tree_size(dir: &Path, seen: &mut std::collections::BTreeSet<(u64, u64)>) -> u64 {
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
pub fn file_matches(path: &Path, sha256: &str) -> bool {
    file_sha256(path).map(|h| h == sha256).unwrap_or(false)
}
