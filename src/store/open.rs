//! Opening a store: the default root, and rolling forward a crash past the commit point.

use std::path::{Path, PathBuf};

use anyhow::Result;

use crate::store::identity::CrateIdentity;
use crate::store::index::Store;
use crate::store::links::link_binary;

/// The install root: `$CARGO_INSTALL_ROOT`, else `$CARGO_HOME` (as `cargo install`).
pub fn default_root() -> Result<PathBuf> {
    if let Some(r) = std::env::var_os("CARGO_INSTALL_ROOT") {
        return Ok(PathBuf::from(r));
    }
    crate::source::cargo_home()
}

pub(crate) fn entry_label(id: &CrateIdentity) -> String {
    format!("{} v{} ({})", id.package, id.version, &id.hash[..12])
}

/// Open the store and finish what a crashed command left after its commit point: the index is
/// the truth, so every recorded program's links in `ROOT/bin` are made to point at its build
/// (roll forward). Links that are not ours are never touched.
pub fn open_store(dir: &Path) -> Result<Store> {
    let store = Store::open(dir)?;
    let programs_dir = std::fs::canonicalize(store.root.join("programs"))?;
    for p in store.readable_programs()? {
        for (b, _) in &p.binaries {
            let link = p.root.join("bin").join(b);
            let want = programs_dir
                .join(p.dir.trim_start_matches("programs/"))
                .join("bin")
                .join(b);
            let current = std::fs::read_link(&link).ok();
            if current.as_deref() == Some(want.as_path()) {
                continue;
            }
            let ours_or_absent = match &current {
                Some(t) => t.starts_with(&programs_dir),
                None => std::fs::symlink_metadata(&link).is_err(),
            };
            if ours_or_absent && want.is_file() {
                link_binary(&link, &want)?;
            }
        }
    }
    Ok(store)
}
