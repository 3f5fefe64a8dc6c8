//! Opening a store: the default root, and rolling forward a crash past the commit point.

use std::path::{Path, PathBuf};

use anyhow::Result;

use crate::store::identity::CrateIdentity;
use crate::store::index::{Access, Store};
use crate::store::links::{link_binary, remove_our_link};

/// The install root: `$CARGO_INSTALL_ROOT`, else `$CARGO_HOME` (as `cargo install`).
pub fn default_root() -> Result<PathBuf> {
    if let Some(r) = std::env::var_os("CARGO_INSTALL_ROOT") {
        return Ok(PathBuf::from(r));
    }
    crate::source::cargo_home()
}

pub fn entry_label(id: &CrateIdentity) -> String {
    entry_label_parts(&id.package, &id.version, &id.hash)
}

/// `NAME vVERSION (ID12)`, how entries are named to people.
pub(crate) fn entry_label_parts(package: &str, version: &str, hash: &str) -> String {
    format!("{package} v{version} ({})", &hash[..hash.len().min(12)])
}

/// Open the store as `access` allows; nothing in `ROOT/bin` is written.
pub(crate) fn open_store(dir: &Path, access: Access) -> Result<Store> {
    Store::open(dir, access)
}

/// Open the store and finish what a crashed command left after its commit point: the index is
/// the truth, so every recorded program's links in `ROOT/bin` are made to point at its build
/// (roll forward). Links that are not ours are never touched. Only the commands that write
/// `ROOT/bin` anyway do this: `install`, `uninstall` and `verify --repair`.
pub fn open_store_rolling_forward(dir: &Path, access: Access) -> Result<Store> {
    let store = Store::open(dir, access)?;
    roll_forward(&store)?;
    Ok(store)
}

/// Point every recorded program's links at its build where they are absent or point at another
/// build in the store.
pub(crate) fn roll_forward(store: &Store) -> Result<()> {
    let programs_dir = store.programs_dir()?;
    for p in store.readable_programs()? {
        for (root, (b, _)) in store
            .roots_of(&p.name)?
            .iter()
            .flat_map(|r| p.binaries.iter().map(move |b| (r, b)))
        {
            let link = root.join("bin").join(b);
            if !root.join("bin").is_dir() {
                continue;
            }
            let want = programs_dir
                .join(p.dir.trim_start_matches("programs/"))
                .join("bin")
                .join(b);
            let current = std::fs::read_link(&link).ok();
            if current.as_deref() == Some(want.as_path()) {
                continue;
            }
            // Ours: a link into the store that no other recorded program holds (one taken over
            // with `install --force` stays with its new program).
            let ours_or_absent = match &current {
                Some(t) => {
                    t.starts_with(&programs_dir)
                        && store
                            .program_linked_by(t)?
                            .is_none_or(|owner| owner == p.name)
                }
                None => std::fs::symlink_metadata(&link).is_err(),
            };
            if ours_or_absent && want.is_file() {
                link_binary(&link, &want)?;
                crate::store::fault::step("link-rolled-forward")?;
            }
        }
        remove_dropped_links(store, &p.name, &programs_dir)?;
    }
    Ok(())
}

/// Remove, from the roots of program `name`, the links into an earlier build of it that no
/// recorded program holds: binaries its recorded build no longer has, left by an install (a new
/// version without that binary) or `uninstall --bin` stopped after its commit point and before
/// it removed them.
fn remove_dropped_links(store: &Store, name: &str, programs_dir: &Path) -> Result<()> {
    for root in store.roots_of(name)? {
        let Ok(entries) = std::fs::read_dir(root.join("bin")) else {
            continue;
        };
        for entry in entries.flatten() {
            let link = entry.path();
            let Ok(target) = std::fs::read_link(&link) else {
                continue;
            };
            let Some(build) = target.parent().and_then(Path::parent) else {
                continue;
            };
            if build.parent() != Some(programs_dir)
                || store.program_linked_by(&target)?.is_some()
                || build_of(build).as_deref() != Some(name)
            {
                continue;
            }
            remove_our_link(&link, build);
            crate::store::fault::step("dropped-link-removed")?;
        }
    }
    Ok(())
}

/// The program a build directory in `programs/` is of, from its `program.json`.
fn build_of(build: &Path) -> Option<String> {
    let text = std::fs::read_to_string(build.join("program.json")).ok()?;
    let manifest: crate::store::manifest::InstalledProgram = serde_json::from_str(&text).ok()?;
    Some(manifest.name)
}
