//! The binaries `cargo install` wrote are kept before a link replaces them:
//! `ROOT/cargo-share-adopted/NAME-VERSION/BIN`, a hard link made while the binary is still in
//! `ROOT/bin` (so there is no moment without it), or a copy where a hard link cannot be made.
//! Restoring is one rename: `mv ROOT/cargo-share-adopted/NAME-VERSION/BIN ROOT/bin/BIN`.

use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use cargo_share_compile::digest;

/// The directory under the install root that holds the replaced binaries.
pub(crate) const KEPT_DIR: &str = "cargo-share-adopted";

/// Keep `binary` (in `ROOT/bin`) as `ROOT/cargo-share-adopted/NAME-VERSION/BIN`, or
/// `NAME-VERSION.N/BIN` when a different file is kept there already; returns where.
pub(crate) fn keep_binary(
    root: &Path,
    name: &str,
    version: &str,
    binary: &Path,
) -> Result<PathBuf> {
    let file_name = binary.file_name().context("a binary without a name")?;
    let base = root.join(KEPT_DIR);
    for n in 0.. {
        let dir = match n {
            0 => base.join(format!("{name}-{version}")),
            n => base.join(format!("{name}-{version}.{n}")),
        };
        let kept = dir.join(file_name);
        match std::fs::symlink_metadata(&kept) {
            Ok(_) if same_file(&kept, binary)? => return Ok(kept),
            Ok(_) => continue,
            Err(_) => {}
        }
        std::fs::create_dir_all(&dir).with_context(|| {
            format!(
                "creating {} to keep {} in; nothing was replaced",
                dir.display(),
                binary.display()
            )
        })?;
        if std::fs::hard_link(binary, &kept).is_err() {
            copy_atomically(binary, &kept)?;
        }
        return Ok(kept);
    }
    unreachable!("the loop returns")
}

/// The same inode, or the same bytes.
fn same_file(a: &Path, b: &Path) -> Result<bool> {
    use std::os::unix::fs::MetadataExt;
    let (ma, mb) = (std::fs::metadata(a)?, std::fs::metadata(b)?);
    if ma.dev() == mb.dev() && ma.ino() == mb.ino() {
        return Ok(true);
    }
    Ok(ma.len() == mb.len() && digest::file_sha256(a)? == digest::file_sha256(b)?)
}

fn copy_atomically(from: &Path, to: &Path) -> Result<()> {
    let tmp = to.with_extension("cargo-share-new");
    std::fs::copy(from, &tmp)
        .and_then(|_| std::fs::rename(&tmp, to))
        .with_context(|| {
            format!(
                "keeping {} as {}; nothing was replaced",
                from.display(),
                to.display()
            )
        })?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kept_once_and_never_over_another_file() {
        let root = tempfile::tempdir().unwrap();
        let bin = root.path().join("bin");
        std::fs::create_dir(&bin).unwrap();
        let rg = bin.join("rg");
        std::fs::write(&rg, b"static one").unwrap();
        let kept = keep_binary(root.path(), "ripgrep", "14.1.0", &rg).unwrap();
        assert_eq!(
            kept,
            root.path().join("cargo-share-adopted/ripgrep-14.1.0/rg")
        );
        assert_eq!(std::fs::read(&kept).unwrap(), b"static one");
        // Kept again: the same file, the same place.
        assert_eq!(
            keep_binary(root.path(), "ripgrep", "14.1.0", &rg).unwrap(),
            kept
        );
        // A different binary of the same version never replaces the one kept.
        std::fs::remove_file(&rg).unwrap();
        std::fs::write(&rg, b"static two").unwrap();
        let second = keep_binary(root.path(), "ripgrep", "14.1.0", &rg).unwrap();
        assert_eq!(
            second,
            root.path().join("cargo-share-adopted/ripgrep-14.1.0.1/rg")
        );
        assert_eq!(std::fs::read(&kept).unwrap(), b"static one");
        assert_eq!(std::fs::read(&second).unwrap(), b"static two");
    }
}
