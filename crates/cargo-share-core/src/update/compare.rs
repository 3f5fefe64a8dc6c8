//! What an update changed: every file an updated program loads (its binaries and the run-time
//! files of its entries), compared by content with the files it loaded before.

use std::collections::{BTreeMap, BTreeSet};

use anyhow::{Context, Result};
use serde::Serialize;

use crate::store::{InstalledProgram, Store};

/// One file an updated program loads.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub(crate) struct FileChange {
    /// `bin/NAME` or `lib/FILE`.
    pub(crate) file: String,
    pub(crate) sha256: String,
    pub(crate) bytes: u64,
    /// Its bytes are not those of the file the program loaded under this name before.
    pub(crate) changed: bool,
}

/// One program before and after.
#[derive(Debug, Clone, Serialize)]
pub(crate) struct ProgramChange {
    pub(crate) name: String,
    pub(crate) version: String,
    pub(crate) files: Vec<FileChange>,
}

impl ProgramChange {
    pub(crate) fn changed(&self) -> impl Iterator<Item = &FileChange> {
        self.files.iter().filter(|f| f.changed)
    }
}

/// The files `program` loads: `bin/NAME` and `lib/FILE`, with SHA-256 and size.
fn program_files(store: &Store, program: &InstalledProgram) -> Result<Vec<(String, String, u64)>> {
    let mut out = Vec::new();
    for (name, sha) in &program.binaries {
        let path = store.root.join(&program.dir).join("bin").join(name);
        let bytes = std::fs::metadata(&path)
            .with_context(|| format!("reading {}", path.display()))?
            .len();
        out.push((format!("bin/{name}"), sha.clone(), bytes));
    }
    let wanted: BTreeSet<&String> = program.entries.iter().collect();
    for row in store.entries()? {
        if wanted.contains(&row.hash) {
            out.push((
                format!("lib/{}", row.file),
                row.runtime_sha256,
                row.runtime_size,
            ));
        }
    }
    out.sort();
    Ok(out)
}

/// `after` against `before` (the same program's record before the update), file by file.
pub(crate) fn compare(
    store: &Store,
    before: &InstalledProgram,
    after: &InstalledProgram,
) -> Result<ProgramChange> {
    let old: BTreeMap<String, String> = program_files(store, before)?
        .into_iter()
        .map(|(file, sha, _)| (file, sha))
        .collect();
    let files = program_files(store, after)?
        .into_iter()
        .map(|(file, sha256, bytes)| FileChange {
            changed: old.get(&file) != Some(&sha256),
            file,
            sha256,
            bytes,
        })
        .collect();
    Ok(ProgramChange {
        name: after.name.clone(),
        version: after.version.clone(),
        files,
    })
}

/// Files and bytes, each distinct content counted once.
#[derive(Debug, Clone, Copy, Default, Serialize, PartialEq, Eq)]
pub(crate) struct Totals {
    pub(crate) files: usize,
    pub(crate) bytes: u64,
}

/// What the update shipped (distinct changed contents) and what the updated programs load in
/// all (distinct contents): the most an update that renamed every symbol would have shipped.
pub(crate) fn totals(changes: &[ProgramChange]) -> (Totals, Totals) {
    let mut shipped = BTreeMap::new();
    let mut loaded = BTreeMap::new();
    for f in changes.iter().flat_map(|c| c.files.iter()) {
        loaded.insert(&f.sha256, f.bytes);
        if f.changed {
            shipped.insert(&f.sha256, f.bytes);
        }
    }
    let sum = |m: &BTreeMap<&String, u64>| Totals {
        files: m.len(),
        bytes: m.values().sum(),
    };
    (sum(&shipped), sum(&loaded))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn file(name: &str, sha: &str, bytes: u64, changed: bool) -> FileChange {
        FileChange {
            file: name.into(),
            sha256: sha.into(),
            bytes,
            changed,
        }
    }

    #[test]
    fn a_file_two_programs_load_ships_once() {
        let change = |name: &str, bin: &str| ProgramChange {
            name: name.into(),
            version: "1.0.0".into(),
            files: vec![
                file(&format!("bin/{name}"), bin, 10, false),
                file("lib/libgroup.so", "g2", 100, true),
                file("lib/libstd.so", "s", 1000, false),
            ],
        };
        let (shipped, loaded) = totals(&[change("a", "a1"), change("b", "b1")]);
        assert_eq!(
            shipped,
            Totals {
                files: 1,
                bytes: 100
            }
        );
        assert_eq!(
            loaded,
            Totals {
                files: 4,
                bytes: 1120
            }
        );
    }
}
