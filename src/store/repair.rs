//! `cargo share verify --repair`: the index rebuilt from what is on disk, the programs' and
//! entries' own manifests (`program.json`, `entry.json`). An entry whose runtime file does not
//! match its manifest is left out (and named); a program build counts as installed when the
//! links in its root point at it.

use anyhow::Result;

use crate::shell::Shell;
use crate::store::files::file_matches;
use crate::store::index::Store;
use crate::store::manifest::{InstalledProgram, StoreEntry};

/// Rebuild the index from the manifests in the entry and program directories.
pub(crate) fn repair_index(store: &Store, shell: &Shell) -> Result<()> {
    let mut entries = Vec::new();
    for e in std::fs::read_dir(store.root.join("entries"))?.flatten() {
        let manifest = e.path().join("entry.json");
        let parsed: Option<StoreEntry> = std::fs::read_to_string(&manifest)
            .ok()
            .and_then(|t| serde_json::from_str(&t).ok());
        match parsed {
            Some(entry)
                if file_matches(
                    &e.path().join("lib").join(&entry.identity.file),
                    &entry.runtime_sha256,
                ) =>
            {
                entries.push((entry, e.file_name().to_string_lossy().into_owned()))
            }
            _ => shell.warn(format!(
                "entry {} is incomplete or damaged; it is left out of the index (gc removes it; reinstall the programs that need it)",
                e.path().display()
            )),
        }
    }
    let mut programs = Vec::new();
    for e in std::fs::read_dir(store.root.join("programs"))?.flatten() {
        let parsed: Option<InstalledProgram> =
            std::fs::read_to_string(e.path().join("program.json"))
                .ok()
                .and_then(|t| serde_json::from_str(&t).ok());
        if let Some(p) = parsed {
            // Installed means: its root's links point at this build.
            let linked = p.binaries.iter().all(|(b, _)| {
                std::fs::read_link(p.root.join("bin").join(b))
                    .ok()
                    .as_deref()
                    == Some(e.path().join("bin").join(b).as_path())
            });
            if linked {
                programs.push(p);
            }
        }
    }
    store.replace_index(&entries, &programs)?;
    shell.status(
        "Repaired",
        format!(
            "index rebuilt from manifests: {} entries, {} programs",
            entries.len(),
            programs.len()
        ),
    );
    Ok(())
}
