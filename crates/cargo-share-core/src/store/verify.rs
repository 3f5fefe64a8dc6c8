//! `cargo share verify`: entry and binary hashes against the index, every needed library in its
//! program's `lib/`, no link to an unrecorded build; `--repair` rebuilds the index.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use anyhow::Result;

use crate::failure::ErrorKind;
use crate::message::Message;
use crate::shell::Shell;
use crate::store::files::file_matches;
use crate::store::index::{Access, EntryRow, Store};
use crate::store::manifest::InstalledProgram;
use crate::store::open::{open_store, roll_forward};
use crate::store::plugins::verify_plugins;
use crate::store::repair::{relink_programs, repair_index};
use crate::store::roots::known_roots;
use cargo_share_compile::elf;

/// `cargo share verify [--repair]`. Returns the problems found (and not repaired).
pub fn verify(store_dir: &Path, repair: bool, shell: &Shell) -> Result<Vec<String>> {
    let store = open_for_verify(store_dir, repair, shell)?;
    let rows = store.entries()?;
    let mut problems = entry_problems(&store, &rows);
    let by_hash: BTreeMap<&str, &EntryRow> = rows.iter().map(|r| (r.hash.as_str(), r)).collect();
    for name in store.program_names()? {
        let p = match store.program(&name) {
            Ok(Some(p)) => p,
            Ok(None) => continue,
            Err(e) => {
                // The error names the manifest and why it cannot be read.
                problems.push(format!(
                    "program {name}: manifest missing or unreadable: {e:#}; install it again"
                ));
                continue;
            }
        };
        verify_program(&store, &name, &p, &by_hash, shell, &mut problems)?;
    }
    problems.extend(unrecorded_link_problems(&store)?);
    report(&store, &rows, &problems, shell)?;
    Ok(problems)
}

/// Opens the store to read, or (with `--repair`) to repair: the index rebuilt from the manifests,
/// the programs relinked and an interrupted operation rolled forward before anything is checked.
fn open_for_verify(store_dir: &Path, repair: bool, shell: &Shell) -> Result<Store> {
    if !repair {
        return open_store(store_dir, Access::Read);
    }
    let store = open_store(store_dir, Access::Repair)?;
    if let Some(moved) = &store.index_moved {
        shell.warn(moved);
    }
    repair_index(&store, shell)?;
    relink_programs(&store, shell)?;
    roll_forward(&store)?;
    Ok(store)
}

/// Every entry's runtime file against the hash the index records for it.
fn entry_problems(store: &Store, rows: &[EntryRow]) -> Vec<String> {
    let mut problems = Vec::new();
    for r in rows {
        let dir = store.root.join(&r.dir);
        if !file_matches(&dir.join("lib").join(&r.file), &r.runtime_sha256) {
            problems.push(format!(
                "entry {} v{} ({}): runtime file missing or changed",
                r.package,
                r.version,
                &r.hash[..12]
            ));
        }
    }
    problems
}

/// One installed program: its plugins, each binary (hash, libraries, links in every root) and
/// each entry it uses (in the store, and its copy in the program's `lib/` unchanged).
fn verify_program(
    store: &Store,
    name: &str,
    p: &InstalledProgram,
    by_hash: &BTreeMap<&str, &EntryRow>,
    shell: &Shell,
    problems: &mut Vec<String>,
) -> Result<()> {
    let dir = store.root.join(&p.dir);
    let roots = store.roots_of(name)?;
    problems.extend(verify_plugins(&dir, p)?);
    for (b, sha) in &p.binaries {
        let bin = dir.join("bin").join(b);
        if !file_matches(&bin, sha) {
            problems.push(format!("program {name}: binary {b} missing or changed"));
            continue;
        }
        library_problems(name, b, &bin, &dir, problems)?;
        for root in &roots {
            check_link(
                store,
                name,
                &root.join("bin").join(b),
                &bin,
                shell,
                problems,
            )?;
        }
    }
    for hash in &p.entries {
        match by_hash.get(hash.as_str()) {
            None => problems.push(format!(
                "program {name}: entry {} is not in the store",
                &hash[..12]
            )),
            Some(r) => {
                let in_program = dir.join("lib").join(&r.file);
                if in_program.exists() && !file_matches(&in_program, &r.runtime_sha256) {
                    problems.push(format!("program {name}: {} differs from its entry", r.file));
                }
            }
        }
    }
    Ok(())
}

/// Binary `b` of program `name` and every library of its closure: each Rust library they need is
/// in the program's `lib/`.
fn library_problems(
    name: &str,
    b: &str,
    bin: &Path,
    dir: &Path,
    problems: &mut Vec<String>,
) -> Result<()> {
    let found = match elf::library_closure(bin, &[dir.join("lib")]) {
        Ok(found) => found,
        Err(e) => {
            problems.push(format!("program {name}: {b}: {e:#}"));
            return Ok(());
        }
    };
    let files = std::iter::once((b, bin.to_path_buf())).chain(
        found
            .keys()
            .map(|lib| (lib.as_str(), dir.join("lib").join(lib))),
    );
    for (file, path) in files {
        for needed in elf::dynamic_info(&path)?.needed {
            let needed = elf::needed_file(&needed);
            if looks_like_rust_library(needed) && !found.contains_key(needed) {
                problems.push(format!(
                    "program {name}: {file} needs {needed}, which is not in its library directory"
                ));
            }
        }
    }
    Ok(())
}

/// The link `link` in an install root points at program `name`'s binary `bin`. A missing link or
/// one taken over by another program's `--force` install is a warning; any other target is a
/// problem.
fn check_link(
    store: &Store,
    name: &str,
    link: &Path,
    bin: &Path,
    shell: &Shell,
    problems: &mut Vec<String>,
) -> Result<()> {
    if std::fs::symlink_metadata(link).is_err() {
        // Deleted by its user, or not made yet by an install that stopped after its
        // commit point: the program is intact, only not on the PATH.
        shell.warn(format!(
            "program {name}: {} is missing; `cargo share verify --repair` puts it back",
            link.display()
        ));
        return Ok(());
    }
    let target = std::fs::read_link(link).ok();
    if target.as_deref() == Some(bin) {
        return Ok(());
    }
    let taken_by = match &target {
        Some(t) => store.program_linked_by(t)?.filter(|o| o != name),
        None => None,
    };
    match taken_by {
        Some(other) => shell.warn(format!(
            "program {name}: {} is `{other}`'s binary (installed over it with \
             --force)",
            link.display()
        )),
        None => problems.push(format!(
            "program {name}: {} does not link to its installed binary",
            link.display()
        )),
    }
    Ok(())
}

/// Nothing half-installed is visible: every link in an install root into the store's programs
/// points at the build of a recorded program.
fn unrecorded_link_problems(store: &Store) -> Result<Vec<String>> {
    let recorded: BTreeSet<PathBuf> = store
        .readable_programs()?
        .into_iter()
        .flat_map(|p| {
            let dir = store.root.join(&p.dir);
            p.binaries
                .into_iter()
                .map(move |(b, _)| dir.join("bin").join(b))
        })
        .filter_map(|b| std::fs::canonicalize(b).ok())
        .collect();
    let roots = install_roots(store)?;
    let programs_dir = store.programs_dir()?;
    let mut problems = Vec::new();
    for root in roots {
        let Ok(links) = std::fs::read_dir(root.join("bin")) else {
            continue;
        };
        for e in links.flatten() {
            if let Ok(target) = std::fs::read_link(e.path()) {
                if target.starts_with(&programs_dir) && !recorded.contains(&target) {
                    problems.push(format!(
                        "{} links to {}, which is not an installed program build in the index \
                         (if the index was lost, `cargo share verify --repair` rebuilds it)",
                        e.path().display(),
                        target.display()
                    ));
                }
            }
        }
    }
    Ok(problems)
}

/// Install roots: from the index and from every program manifest on disk, so that links
/// survive as evidence even when the index is lost.
fn install_roots(store: &Store) -> Result<BTreeSet<PathBuf>> {
    let mut roots: BTreeSet<PathBuf> = store.all_roots()?;
    roots.extend(known_roots(&store.root));
    for e in store.read_tree_dir("programs")? {
        let manifest: Option<InstalledProgram> =
            std::fs::read_to_string(e.path().join("program.json"))
                .ok()
                .and_then(|t| serde_json::from_str(&t).ok());
        roots.extend(manifest.map(|m| m.root));
    }
    Ok(roots)
}

/// Each problem as an error, the `verify-finished` JSON record, and when nothing is wrong, the
/// `Verified` status.
fn report(store: &Store, rows: &[EntryRow], problems: &[String], shell: &Shell) -> Result<()> {
    for p in problems {
        shell.error(ErrorKind::Problem, p);
    }
    shell.message(&Message::VerifyFinished { problems });
    if problems.is_empty() {
        shell.status(
            "Verified",
            format!(
                "{} programs and {} entries: every file matches its hash, every library resolves",
                store.program_names()?.len(),
                rows.len()
            ),
        );
    }
    Ok(())
}

/// Crate dylibs carry Cargo's hash (`libname-0123abcd...so`), libstd its own; system libraries
/// (`libc.so.6`) do not.
pub(crate) fn looks_like_rust_library(name: &str) -> bool {
    let Some(stem) = name.strip_prefix("lib").and_then(|n| n.strip_suffix(".so")) else {
        return false;
    };
    stem.rsplit_once('-')
        .is_some_and(|(_, h)| h.len() >= 8 && h.chars().all(|c| c.is_ascii_hexdigit()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rust_library_names_are_told_from_system_ones() {
        assert!(looks_like_rust_library("libregex-0123456789abcdef.so"));
        assert!(looks_like_rust_library("libstd-d1237ef7159db0a2.so"));
        assert!(!looks_like_rust_library("libc.so.6"));
        assert!(!looks_like_rust_library("libgcc_s.so.1"));
        assert!(!looks_like_rust_library("libfoo-bar.so"));
    }
}
