//! Keep a copy of a directory tree the same as its original by writing only what differs: a
//! file whose bytes are already there keeps its modification time, so Cargo's fingerprints of
//! the copy (a program's sources in a set workspace) hold when nothing in it changed.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result};

use crate::source::fetch::copied_link_target;
use cargo_share_compile::digest::sha256_hex;

/// Make `to` hold what `from` holds (top-level entries named in `skip` left out, each file of
/// `replaced` with the given bytes instead of its own), as `copy_tree` would copy it: files
/// and links that differ are written again, those that do not are left as they are (times
/// and all), and what `from` does not hold is removed. Returns what the copy then holds, as
/// `digest::tree_sha256` lists it.
pub(crate) fn sync_tree(
    from: &Path,
    to: &Path,
    skip: &[&str],
    replaced: &[(&str, &[u8])],
) -> Result<Vec<(String, String)>> {
    let top = std::fs::canonicalize(from).with_context(|| format!("reading {}", from.display()))?;
    let mut sync = Sync {
        top,
        replaced,
        listing: Vec::new(),
    };
    sync.dir(from, to, Path::new(""), skip)?;
    sync.listing.sort();
    Ok(sync.listing)
}

struct Sync<'a> {
    top: PathBuf,
    replaced: &'a [(&'a str, &'a [u8])],
    listing: Vec<(String, String)>,
}

impl Sync<'_> {
    /// Bring directory `to` (`rel` below the copy's root) in line with `from`.
    fn dir(&mut self, from: &Path, to: &Path, rel: &Path, skip: &[&str]) -> Result<()> {
        if !to.is_dir() || to.is_symlink() {
            remove_any(to)?;
            std::fs::create_dir_all(to).with_context(|| format!("creating {}", to.display()))?;
        }
        let mut kept = BTreeSet::new();
        for entry in
            std::fs::read_dir(from).with_context(|| format!("reading {}", from.display()))?
        {
            let entry = entry.with_context(|| format!("reading {}", from.display()))?;
            let name = entry.file_name();
            if skip.iter().any(|s| name == *s) {
                continue;
            }
            let path = entry.path();
            let target = to.join(&name);
            let rel = rel.join(&name);
            let kind = entry
                .file_type()
                .with_context(|| format!("reading {}", path.display()))?;
            if kind.is_symlink() {
                self.link(&path, &target, &rel)?;
            } else if kind.is_dir() {
                self.dir(&path, &target, &rel, &[])?;
            } else {
                self.file(&path, &target, &rel)?;
            }
            kept.insert(name);
        }
        for entry in std::fs::read_dir(to).with_context(|| format!("reading {}", to.display()))? {
            let entry = entry.with_context(|| format!("reading {}", to.display()))?;
            if !kept.contains(&entry.file_name()) {
                remove_any(&entry.path())?;
            }
        }
        Ok(())
    }

    fn link(&mut self, from: &Path, to: &Path, rel: &Path) -> Result<()> {
        let wanted = copied_link_target(from, &self.top)?;
        if std::fs::read_link(to).ok().as_ref() != Some(&wanted) {
            remove_any(to)?;
            std::os::unix::fs::symlink(&wanted, to)
                .with_context(|| format!("copying the link {}", from.display()))?;
        }
        self.listing.push((
            rel.display().to_string(),
            format!("-> {}", wanted.display()),
        ));
        Ok(())
    }

    fn file(&mut self, from: &Path, to: &Path, rel: &Path) -> Result<()> {
        let rel_text = rel.display().to_string();
        let bytes = match self.replaced.iter().find(|(r, _)| *r == rel_text) {
            Some((_, bytes)) => bytes.to_vec(),
            None => std::fs::read(from).with_context(|| format!("reading {}", from.display()))?,
        };
        let same = !to.is_symlink()
            && std::fs::metadata(to).is_ok_and(|m| m.is_file() && m.len() == bytes.len() as u64)
            && std::fs::read(to).is_ok_and(|there| there == bytes);
        if !same {
            remove_any(to)?;
            std::fs::write(to, &bytes)
                .with_context(|| format!("copying {} to {}", from.display(), to.display()))?;
            let permissions = std::fs::metadata(from)?.permissions();
            std::fs::set_permissions(to, permissions)?;
        }
        self.listing.push((rel_text, sha256_hex(&bytes)));
        Ok(())
    }
}

/// Remove whatever is at `path` (a file, a link or a directory); nothing there is fine.
fn remove_any(path: &Path) -> Result<()> {
    let Ok(meta) = std::fs::symlink_metadata(path) else {
        return Ok(());
    };
    let removed = if meta.is_dir() {
        std::fs::remove_dir_all(path)
    } else {
        std::fs::remove_file(path)
    };
    removed.with_context(|| format!("removing {}", path.display()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use cargo_share_compile::digest::tree_sha256;
    use std::time::{Duration, SystemTime};

    fn mtime(path: &Path) -> SystemTime {
        std::fs::metadata(path).unwrap().modified().unwrap()
    }

    #[test]
    fn only_what_differs_is_written_and_what_is_gone_is_removed() {
        let dir = tempfile::tempdir().unwrap();
        let (from, to) = (dir.path().join("from"), dir.path().join("to"));
        std::fs::create_dir_all(from.join("src")).unwrap();
        std::fs::create_dir_all(from.join("target")).unwrap();
        std::fs::write(from.join("Cargo.toml"), "[package]\nname = \"a\"\n").unwrap();
        std::fs::write(from.join("build.rs"), "fn main() {}\n").unwrap();
        std::fs::write(from.join("src/main.rs"), "fn main() {}\n").unwrap();
        std::fs::write(from.join("target/junk"), "x").unwrap();
        std::os::unix::fs::symlink("src/main.rs", from.join("main.rs")).unwrap();
        let manifest = b"[package]\nname = \"a\"\n[dependencies]\n".as_slice();
        let listing = sync_tree(&from, &to, &["target"], &[("Cargo.toml", manifest)]).unwrap();
        assert_eq!(
            listing,
            tree_sha256(&to),
            "the listing is what the copy holds"
        );
        assert_eq!(std::fs::read(to.join("Cargo.toml")).unwrap(), manifest);
        assert!(!to.join("target").exists());
        assert_eq!(
            std::fs::read_link(to.join("main.rs")).unwrap(),
            Path::new("src/main.rs")
        );

        // A day back: a file written again would carry the time of the sync.
        let old = SystemTime::now() - Duration::from_secs(86_400);
        for f in ["build.rs", "src/main.rs", "Cargo.toml"] {
            std::fs::File::options()
                .write(true)
                .open(to.join(f))
                .unwrap()
                .set_modified(old)
                .unwrap();
        }
        std::fs::write(to.join("stray.txt"), "written by a test").unwrap();
        std::fs::write(from.join("src/main.rs"), "fn main() { changed() }\n").unwrap();
        let manifest = b"[package]\nname = \"a\"\n[dependencies]\ng = 1\n".as_slice();
        let listing = sync_tree(&from, &to, &["target"], &[("Cargo.toml", manifest)]).unwrap();
        assert_eq!(listing, tree_sha256(&to));
        assert_eq!(mtime(&to.join("build.rs")), old, "unchanged: not written");
        assert_ne!(mtime(&to.join("src/main.rs")), old, "changed: written");
        assert_ne!(
            mtime(&to.join("Cargo.toml")),
            old,
            "its replacement changed"
        );
        assert!(!to.join("stray.txt").exists());
        assert_eq!(
            std::fs::read_to_string(to.join("src/main.rs")).unwrap(),
            "fn main() { changed() }\n"
        );
    }
}
