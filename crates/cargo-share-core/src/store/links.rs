//! The links in `ROOT/bin`: made and swapped by rename, removed only when they are ours.

use std::path::Path;

use anyhow::{Context, Result};

/// Point `link` at `target` atomically (a new symlink renamed over the old one).
pub(crate) fn link_binary(link: &Path, target: &Path) -> Result<()> {
    let name = link
        .file_name()
        .context("link without a name")?
        .to_string_lossy();
    let tmp = link.with_file_name(format!(".{name}.cargo-share-new"));
    let _ = std::fs::remove_file(&tmp);
    std::os::unix::fs::symlink(target, &tmp)
        .with_context(|| format!("making the link {} to {}", tmp.display(), target.display()))?;
    std::fs::rename(&tmp, link).with_context(|| format!("linking {}", link.display()))
}

pub(crate) fn remove_our_link(link: &Path, program_dir: &Path) {
    if let Ok(target) = std::fs::read_link(link) {
        if target.starts_with(program_dir) {
            let _ = std::fs::remove_file(link);
        }
    }
}
