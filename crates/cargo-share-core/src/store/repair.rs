//! `cargo share verify --repair`: the index rebuilt from what is on disk, the programs' and
//! entries' own manifests (`program.json`, `entry.json`). An entry whose runtime file does not
//! match its manifest is left out (and named); a program build counts as installed when the
//! links in its root point at it.

use std::path::PathBuf;

use anyhow::Result;

use crate::shell::Shell;
use crate::store::files::{file_matches, replace_with_hard_link, same_file};
use crate::store::index::Store;
use crate::store::manifest::{InstalledProgram, StoreEntry};
use crate::store::roots::known_roots;

/// Rebuild the index from the manifests in the entry and program directories.
pub(crate) fn repair_index(store: &Store, shell: &Shell) -> Result<()> {
    let mut entries = Vec::new();
    for e in store.read_tree_dir("entries")? {
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
    // What the index (if it survived) says, kept: recorded builds and every root they are
    // linked into.
    let recorded = store.recorded_program_dirs()?;
    let mut candidate_roots = store.all_roots()?;
    candidate_roots.extend(known_roots(&store.root));
    let mut manifests = Vec::new();
    for e in store.read_tree_dir("programs")? {
        let parsed: Option<InstalledProgram> =
            std::fs::read_to_string(e.path().join("program.json"))
                .ok()
                .and_then(|t| serde_json::from_str(&t).ok());
        match parsed {
            Some(p) => {
                candidate_roots.insert(p.root.clone());
                manifests.push((e.path(), p));
            }
            None => shell.warn(format!(
                "{} has no readable program.json; it is left out of the index",
                e.path().display()
            )),
        }
    }
    let mut candidates = Vec::new();
    for (path, p) in manifests {
        // Installed means: a root's links point at this build, or the index recorded it.
        let linked: Vec<PathBuf> = candidate_roots
            .iter()
            .filter(|r| {
                p.binaries.iter().any(|(b, _)| {
                    std::fs::read_link(r.join("bin").join(b)).ok().as_deref()
                        == Some(path.join("bin").join(b).as_path())
                })
            })
            .cloned()
            .collect();
        let is_recorded = recorded.contains(&p.dir);
        let mut roots = linked.clone();
        if is_recorded {
            for r in store.roots_of(&p.name)? {
                if !roots.contains(&r) {
                    roots.push(r);
                }
            }
        }
        if !roots.is_empty() {
            candidates.push(Candidate {
                program: p,
                roots,
                recorded: is_recorded,
                links: linked.len(),
            });
        }
    }
    let programs = one_build_per_program(candidates);
    store.replace_index(&entries, &programs)?;
    crate::store::fault::step("index-rebuilt")?;
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

/// A program build that counts as installed: where it is linked or recorded.
struct Candidate {
    program: InstalledProgram,
    roots: Vec<PathBuf>,
    /// The index (if it survived) records this build.
    recorded: bool,
    /// Roots whose links point at it.
    links: usize,
}

/// One build per program name. Two builds of one program both count when a command was killed
/// after its commit point (the index records the new build) and before every link was swapped
/// (links still point at the old one): the recorded build wins, as opening the store rolls
/// forward, and takes the other builds' roots, whose links are then pointed at it. With no
/// record (the index was lost), the build most roots link to wins, then the newer version.
fn one_build_per_program(candidates: Vec<Candidate>) -> Vec<(InstalledProgram, Vec<PathBuf>)> {
    let mut by_name: std::collections::BTreeMap<String, Vec<Candidate>> = Default::default();
    for c in candidates {
        by_name.entry(c.program.name.clone()).or_default().push(c);
    }
    let mut out = Vec::new();
    for (_, mut builds) in by_name {
        builds.sort_by(|a, b| {
            (a.recorded, a.links, version_of(&a.program)).cmp(&(
                b.recorded,
                b.links,
                version_of(&b.program),
            ))
        });
        let Some(winner) = builds.pop() else { continue };
        let mut roots = winner.roots;
        for other in builds {
            for r in other.roots {
                if !roots.contains(&r) {
                    roots.push(r);
                }
            }
        }
        out.push((winner.program, roots));
    }
    out
}

/// A program's version, ordered as semver (an unparsable one first).
fn version_of(p: &InstalledProgram) -> Option<semver::Version> {
    semver::Version::parse(&p.version).ok()
}

/// Point a program's `lib/` hard links at its entries' runtime files where the program's copy
/// differs from the entry's recorded hash and the entry's file matches it (a damaged entry that
/// an install replaced). Returns the files relinked.
pub(crate) fn relink_program(store: &Store, p: &InstalledProgram) -> Result<Vec<String>> {
    let lib = store.root.join(&p.dir).join("lib");
    let mut fixed = Vec::new();
    for row in store.entries()? {
        if !p.entries.contains(&row.hash) {
            continue;
        }
        let in_program = lib.join(&row.file);
        let entry_file = store.root.join(&row.dir).join("lib").join(&row.file);
        if !in_program.exists()
            || same_file(&in_program, &entry_file)
            || file_matches(&in_program, &row.runtime_sha256)
            || !file_matches(&entry_file, &row.runtime_sha256)
        {
            continue;
        }
        replace_with_hard_link(&lib, &row.file, &entry_file)?;
        crate::store::fault::step("program-relinked")?;
        fixed.push(row.file);
    }
    Ok(fixed)
}

/// `verify --repair`: every recorded program's library links that can be made right again.
pub(crate) fn relink_programs(store: &Store, shell: &Shell) -> Result<()> {
    for p in store.readable_programs()? {
        for file in relink_program(store, &p)? {
            shell.status(
                "Relinked",
                format!("{} v{}: {file} (its entry was replaced)", p.name, p.version),
            );
        }
    }
    Ok(())
}
