//! The store marker: `STORE/cargo-share-store` says that a directory is a cargo-share store and
//! which format it has. A directory without it is not a store and no command touches it, except
//! `install`, which creates a new store in an empty or missing directory.

use std::os::unix::fs::PermissionsExt;
use std::path::Path;

use anyhow::{bail, Context, Result};

/// The marker's file name, directly in the store directory.
pub(crate) const MARKER_FILE: &str = "cargo-share-store";
/// The store format this cargo-share reads and writes.
pub(crate) const STORE_FORMAT: u32 = 1;

fn marker_text() -> String {
    format!(
        "cargo-share store\nformat {STORE_FORMAT}\n\
         This directory is managed by `cargo share`; change it only through its commands.\n"
    )
}

/// The format a marker names, if the text is a marker.
fn parse_format(text: &str) -> Option<u32> {
    let mut lines = text.lines();
    if lines.next()? != "cargo-share store" {
        return None;
    }
    lines.next()?.strip_prefix("format ")?.trim().parse().ok()
}

/// A directory made by a cargo-share that wrote no marker: the index and both tree directories.
fn is_unmarked_store(dir: &Path) -> bool {
    ["entries", "programs"].iter().all(|d| dir.join(d).is_dir())
        && crate::store::index_file::has_store_tables(&dir.join("index.sqlite"))
}

/// Refuse `dir` unless it is a store of a format this cargo-share understands. A store written
/// before the marker existed (index and tree directories present) is marked when `writable`.
pub(crate) fn check_store(dir: &Path, writable: bool) -> Result<()> {
    not_a_file(dir)?;
    let marker = dir.join(MARKER_FILE);
    match std::fs::read_to_string(&marker) {
        Ok(text) => match parse_format(&text) {
            Some(STORE_FORMAT) => Ok(()),
            Some(other) => bail!(
                "the store {} has format {other}, and this cargo-share reads format \
                 {STORE_FORMAT}; use the cargo-share that made it, or another --store",
                dir.display()
            ),
            None => bail!(
                "{} is not a cargo-share store marker; {} is not a store. Give the store's \
                 directory with --store, or install into an empty or missing directory to \
                 create one",
                marker.display(),
                dir.display()
            ),
        },
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            if !dir.is_dir() {
                bail!(
                    "there is no store at {} (`cargo share install` creates one); give the \
                     store's directory with --store or $CARGO_SHARE_STORE",
                    dir.display()
                );
            }
            if is_unmarked_store(dir) {
                if writable {
                    write_marker(dir)?;
                    return Ok(());
                }
                bail!(
                    "{} is a store made before stores carried a {MARKER_FILE} marker; run \
                     `cargo share verify --repair` once to mark it (nothing else changes)",
                    dir.display()
                );
            }
            bail!(
                "{} is not a cargo-share store (it has no {MARKER_FILE} file) and is left \
                 as it is; give the store's directory with --store, or install into an empty \
                 or missing directory to create a new store",
                dir.display()
            )
        }
        Err(e) => Err(e).with_context(|| format!("reading the store marker {}", marker.display())),
    }
}

/// `install`'s rule: a store, or an empty or missing directory that becomes one.
pub(crate) fn create_or_check_store(dir: &Path) -> Result<()> {
    not_a_file(dir)?;
    if dir.join(MARKER_FILE).exists() || (dir.is_dir() && is_unmarked_store(dir)) {
        return check_store(dir, true);
    }
    if dir.exists() {
        let empty = std::fs::read_dir(dir)
            .with_context(|| format!("reading {}", dir.display()))?
            .next()
            .is_none();
        if !empty {
            bail!(
                "{} is not empty and is not a cargo-share store; nothing was changed. Give an \
                 existing store, or an empty or missing directory for a new one, with --store",
                dir.display()
            );
        }
    } else {
        std::fs::create_dir_all(dir)
            .with_context(|| format!("creating the store {}", dir.display()))?;
    }
    // Readable by everyone (programs installed into a shared root run for every user), writable
    // only by its owner.
    std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o755))
        .and_then(|_| crate::store::fault::step("store-created"))
        .with_context(|| format!("setting the mode of the new store {}", dir.display()))?;
    write_marker(dir)
}

/// Refuse a store path that is there but is not a directory.
fn not_a_file(dir: &Path) -> Result<()> {
    if dir.exists() && !dir.is_dir() {
        bail!(
            "the store {} is not a directory; nothing was changed. Give the store's directory \
             (or an empty or missing one for `install` to create a store in) with --store or \
             $CARGO_SHARE_STORE",
            dir.display()
        );
    }
    Ok(())
}

/// Write the marker by rename, so it is there complete or not at all.
fn write_marker(dir: &Path) -> Result<()> {
    let tmp = dir.join(format!(".{MARKER_FILE}.new"));
    std::fs::write(&tmp, marker_text())
        .and_then(|_| std::fs::rename(&tmp, dir.join(MARKER_FILE)))
        .and_then(|_| crate::store::fault::step("store-marked"))
        .with_context(|| format!("writing the store marker in {}", dir.display()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_marker_names_its_format() {
        assert_eq!(parse_format(&marker_text()), Some(STORE_FORMAT));
        assert_eq!(parse_format("cargo-share store\nformat 7\n"), Some(7));
        assert_eq!(parse_format("notes\n"), None);
        assert_eq!(parse_format(""), None);
    }
}
