//! Whether a directory is safe from other users, as OpenSSH's `StrictModes` checks a user's
//! files: the directory and every directory above it must be owned by root or by us and not
//! writable by group or others. A sticky directory owned by root (`/tmp`) is fine above it, since
//! there nobody can move or replace what another user made.
//!
//! Both the path as given and the path with its symbolic links resolved are checked, so a link
//! in a directory others can write to is refused too (they could point it elsewhere).

use std::os::unix::fs::MetadataExt;
use std::path::{Component, Path, PathBuf};

use anyhow::{bail, Context, Result};

/// Our effective uid.
fn effective_uid() -> u32 {
    // SAFETY: geteuid has no preconditions and cannot fail.
    unsafe { libc::geteuid() }
}

/// Check `dir` (which may not exist yet: then what exists above it) for `what` (`store`,
/// `install root`, `cache`), set with `option`.
pub fn check_safe_path(dir: &Path, what: &str, option: &str) -> Result<()> {
    let absolute = if dir.is_absolute() {
        dir.to_path_buf()
    } else {
        std::env::current_dir()
            .context("reading the current directory")?
            .join(dir)
    };
    let lexical = normalize(&absolute);
    let mut chain: Vec<PathBuf> = lexical.ancestors().map(Path::to_path_buf).collect();
    if let Some(existing) = lexical.ancestors().find(|p| p.exists()) {
        let real = existing
            .canonicalize()
            .with_context(|| format!("resolving {}", existing.display()))?;
        chain.extend(real.ancestors().map(Path::to_path_buf));
    }
    let me = effective_uid();
    for d in chain {
        let Ok(meta) = std::fs::metadata(&d) else {
            continue; // not created yet
        };
        if !meta.is_dir() {
            bail!(
                "the {what} {} cannot be used: {} is not a directory; choose another {option}",
                dir.display(),
                d.display()
            );
        }
        check_one(dir, &d, &meta, me, d == lexical, what, option)?;
    }
    Ok(())
}

fn check_one(
    dir: &Path,
    d: &Path,
    meta: &std::fs::Metadata,
    me: u32,
    is_target: bool,
    what: &str,
    option: &str,
) -> Result<()> {
    let owner = meta.uid();
    if owner != 0 && owner != me {
        bail!(
            "the {what} {} is not safe: {} belongs to another user (uid {owner}), who could \
             replace what is inside. Choose a {what} in directories owned by you or root with \
             {option}",
            dir.display(),
            d.display()
        );
    }
    let mode = meta.mode();
    if mode & 0o022 == 0 {
        return Ok(());
    }
    let sticky_root = mode & 0o1000 != 0 && owner == 0;
    if sticky_root && !is_target {
        return Ok(());
    }
    bail!(
        "the {what} {} is not safe: {} is writable by {} (mode {:o}), so another user could \
         move it away and put their own files in its place. Fix it with `chmod go-w {}`, or \
         choose another {what} with {option}",
        dir.display(),
        d.display(),
        if mode & 0o002 != 0 {
            "everyone"
        } else {
            "its group"
        },
        mode & 0o7777,
        d.display()
    )
}

/// `a/./b/../c` → `a/c`, without touching the file system (a path to be created may not exist).
fn normalize(path: &Path) -> PathBuf {
    let mut out = PathBuf::new();
    for c in path.components() {
        match c {
            Component::ParentDir => {
                out.pop();
            }
            Component::CurDir => {}
            other => out.push(other),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_are_normalized_lexically() {
        assert_eq!(normalize(Path::new("/a/./b/../c")), PathBuf::from("/a/c"));
        assert_eq!(normalize(Path::new("/a/b/")), PathBuf::from("/a/b"));
    }

    #[test]
    fn a_world_writable_parent_is_refused_and_tmp_is_not() {
        use std::os::unix::fs::PermissionsExt;
        let scratch = tempfile::tempdir().unwrap();
        check_safe_path(&scratch.path().join("store"), "store", "--store").unwrap();
        let open = scratch.path().join("open");
        std::fs::create_dir(&open).unwrap();
        std::fs::set_permissions(&open, std::fs::Permissions::from_mode(0o777)).unwrap();
        let err = check_safe_path(&open.join("store"), "store", "--store").unwrap_err();
        let text = format!("{err:#}");
        assert!(
            text.contains("chmod go-w") && text.contains("open"),
            "{text}"
        );
        std::fs::set_permissions(&open, std::fs::Permissions::from_mode(0o1777)).unwrap();
        // Sticky but ours, not root's (unless the test runs as root).
        let sticky = check_safe_path(&open.join("store"), "store", "--store");
        assert_eq!(sticky.is_ok(), effective_uid() == 0);
    }
}
