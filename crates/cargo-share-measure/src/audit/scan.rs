//! Finding the ELF files under the paths `audit` is given: directories walked, symlinks followed
//! once (each real file and directory is visited once, so link loops end; hard links to one
//! file count once), unreadable entries reported and skipped.

use std::collections::BTreeSet;
use std::io::Read;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};

use serde::Serialize;

/// A file or directory that could not be read, and why.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub(crate) struct Unreadable {
    pub(crate) path: String,
    pub(crate) error: String,
}

/// What a walk found.
#[derive(Debug, Default)]
pub(crate) struct ScanResult {
    /// ELF files, as first reached (a path under the roots, not the link target).
    pub(crate) elf_files: Vec<PathBuf>,
    /// Regular files looked at (ELF or not).
    pub(crate) files_examined: usize,
    pub(crate) unreadable: Vec<Unreadable>,
}

/// Whether a file starts with the ELF magic; `Err` when it cannot be opened or read.
fn is_elf(path: &Path) -> std::io::Result<bool> {
    let mut magic = [0u8; 4];
    let mut file = std::fs::File::open(path)?;
    let mut got = 0;
    while got < 4 {
        let n = file.read(&mut magic[got..])?;
        if n == 0 {
            return Ok(false);
        }
        got += n;
    }
    Ok(&magic == b"\x7fELF")
}

/// Walks `roots` (files or directories). Paths that do not exist are reported as unreadable.
/// `on_file` is called for every regular file examined (for progress).
pub(crate) fn scan(roots: &[PathBuf], mut on_file: impl FnMut(usize)) -> ScanResult {
    let mut result = ScanResult::default();
    // Canonical paths already visited: a link to something seen is not followed again.
    let mut seen: BTreeSet<PathBuf> = BTreeSet::new();
    // (device, inode) of files examined: a hard link is the same bytes on disk, counted once.
    let mut inodes: BTreeSet<(u64, u64)> = BTreeSet::new();
    let mut stack: Vec<PathBuf> = roots.iter().rev().cloned().collect();
    while let Some(path) = stack.pop() {
        let unreadable = |e: &dyn std::fmt::Display| Unreadable {
            path: path.display().to_string(),
            error: e.to_string(),
        };
        // `metadata` follows links: a dangling link is an error, reported.
        let meta = match std::fs::metadata(&path) {
            Ok(m) => m,
            Err(e) => {
                result.unreadable.push(unreadable(&e));
                continue;
            }
        };
        let real = std::fs::canonicalize(&path).unwrap_or_else(|_| path.clone());
        if !seen.insert(real) {
            continue;
        }
        if meta.is_dir() {
            let entries = match std::fs::read_dir(&path) {
                Ok(entries) => entries,
                Err(e) => {
                    result.unreadable.push(unreadable(&e));
                    continue;
                }
            };
            let mut children: Vec<PathBuf> = Vec::new();
            for entry in entries {
                match entry {
                    Ok(entry) => children.push(entry.path()),
                    Err(e) => result.unreadable.push(unreadable(&e)),
                }
            }
            children.sort();
            stack.extend(children.into_iter().rev());
        } else if meta.is_file() {
            if !inodes.insert((meta.dev(), meta.ino())) {
                continue;
            }
            result.files_examined += 1;
            on_file(result.files_examined);
            match is_elf(&path) {
                Ok(true) => result.elf_files.push(path),
                Ok(false) => {}
                Err(e) => result.unreadable.push(unreadable(&e)),
            }
        }
    }
    result
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn walks_follows_links_once_and_reports_missing_paths() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path();
        std::fs::create_dir(root.join("sub")).unwrap();
        std::fs::write(root.join("sub/a"), b"\x7fELF rest").unwrap();
        std::fs::write(root.join("b.txt"), b"text").unwrap();
        std::fs::write(root.join("short"), b"\x7f").unwrap();
        std::os::unix::fs::symlink(root.join("sub/a"), root.join("link-to-a")).unwrap();
        // A loop: sub/up -> root.
        std::os::unix::fs::symlink(root, root.join("sub/up")).unwrap();
        std::os::unix::fs::symlink(root.join("nowhere"), root.join("dangling")).unwrap();
        std::fs::hard_link(root.join("sub/a"), root.join("hard-a")).unwrap();
        let result = scan(&[root.to_path_buf(), root.join("missing")], |_| {});
        assert_eq!(result.elf_files.len(), 1, "{:?}", result.elf_files);
        assert_eq!(result.files_examined, 3);
        let bad: Vec<&str> = result.unreadable.iter().map(|u| u.path.as_str()).collect();
        assert_eq!(bad.len(), 2, "{bad:?}");
        assert!(bad.iter().any(|p| p.ends_with("dangling")));
        assert!(bad.iter().any(|p| p.ends_with("missing")));
    }
}
