//! `STORE/roots`: every install root the store has linked programs into, one path a line, added
//! to before the first link is made there. The index says which program is linked where; this
//! file is what `verify --repair` and `gc` look in when the index is lost, since a program's own
//! manifest names only the root of its first install.

use std::collections::BTreeSet;
use std::io::Write;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result};

const ROOTS_FILE: &str = "roots";

/// The roots recorded in the store (none if the file is missing).
pub(crate) fn known_roots(store_root: &Path) -> BTreeSet<PathBuf> {
    std::fs::read_to_string(store_root.join(ROOTS_FILE))
        .unwrap_or_default()
        .lines()
        .filter(|l| !l.is_empty())
        .map(PathBuf::from)
        .collect()
}

/// Add `root` (absolute) to the file, if it is not there; written whole and renamed into place.
pub(crate) fn record_root(store_root: &Path, root: &Path) -> Result<()> {
    let mut roots = known_roots(store_root);
    if !roots.insert(root.to_path_buf()) {
        return Ok(());
    }
    let path = store_root.join(ROOTS_FILE);
    let tmp = store_root.join(format!(".{ROOTS_FILE}.new"));
    let mut text = String::new();
    for r in &roots {
        text.push_str(&r.display().to_string());
        text.push('\n');
    }
    let mut file =
        std::fs::File::create(&tmp).with_context(|| format!("writing {}", tmp.display()))?;
    file.write_all(text.as_bytes())
        .and_then(|_| file.sync_all())
        .with_context(|| format!("writing {}", tmp.display()))?;
    std::fs::rename(&tmp, &path).with_context(|| format!("writing {}", path.display()))
}

/// Refuse, before anything is built, a root whose `bin/` cannot be written: the links an install
/// makes there come last, and a build that cannot end in them should not start. `bin/` is made
/// if missing (as `cargo install` does), then a file is created and removed in it.
/// Refuse an install root inside the store (`--root STORE/programs`): the store's files are
/// its own (read-only, removed by `gc`), and links the store holds in itself would keep `gc`
/// from ever running again. Both paths are compared resolved (symbolic links followed where
/// they exist).
pub fn check_root_outside_store(root: &Path, store: &Path) -> Result<()> {
    let resolved = |p: &Path| -> PathBuf {
        let absolute = std::path::absolute(p).unwrap_or_else(|_| p.to_path_buf());
        // The nearest existing ancestor, resolved, with the rest appended.
        let mut existing = absolute.as_path();
        let mut rest = Vec::new();
        while !existing.exists() {
            match (existing.parent(), existing.file_name()) {
                (Some(parent), Some(name)) => {
                    rest.push(name.to_os_string());
                    existing = parent;
                }
                _ => break,
            }
        }
        let mut out = existing
            .canonicalize()
            .unwrap_or_else(|_| existing.to_path_buf());
        out.extend(rest.iter().rev());
        out
    };
    let (root_resolved, store_resolved) = (resolved(root), resolved(store));
    if root_resolved.starts_with(&store_resolved) {
        anyhow::bail!(
            "the install root {} is inside the store {}; nothing was built or changed: pass              --root a directory outside the store (the default is $CARGO_INSTALL_ROOT or              $CARGO_HOME)",
            root.display(),
            store.display()
        );
    }
    Ok(())
}

/// Refuse, before anything is built, a root whose `bin/` cannot take links. An existing
/// `bin/` is asked with `access(2)` (`W_OK`: it also says when the mount is read-only), so a
/// check that passes leaves the directory as it was, its modification time too; a missing one
/// is created, as `cargo install` creates its root before it builds.
pub(crate) fn check_writable_root(root: &Path) -> Result<()> {
    let bin = root.join("bin");
    let refuse = |what: String| {
        anyhow::anyhow!(
            "the install root {} cannot be written ({what}); nothing was built or changed: \
             pass --root a directory you can write to",
            root.display()
        )
    };
    if !bin.is_dir() {
        std::fs::create_dir_all(&bin)
            .map_err(|e| refuse(format!("creating {}: {e}", bin.display())))?;
    }
    writable_dir(&bin).map_err(|e| refuse(format!("writing in {}: {e}", bin.display())))
}

/// Whether this process may create files in `dir` (`access(2)` with `W_OK`).
fn writable_dir(dir: &Path) -> std::io::Result<()> {
    use std::os::unix::ffi::OsStrExt;
    let path = std::ffi::CString::new(dir.as_os_str().as_bytes())
        .map_err(|e| std::io::Error::new(std::io::ErrorKind::InvalidInput, e))?;
    // SAFETY: `path` is a valid NUL-terminated string that outlives the call.
    match unsafe { libc::access(path.as_ptr(), libc::W_OK | libc::X_OK) } {
        0 => Ok(()),
        _ => Err(std::io::Error::last_os_error()),
    }
}
