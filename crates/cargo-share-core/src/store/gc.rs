//! `cargo share gc`: removes what it can prove no installed program needs, and lists every
//! directory it removes (`--dry-run` computes the same list and removes nothing).
//!
//! What goes: entries in the index that no recorded program reaches; program builds the index
//! does not record and no link in their root points at (an older version, an uninstalled
//! program, an install that crashed before its commit point); entry directories the index does
//! not hold and no recorded program needs (a crash between rename and index); everything in
//! `tmp/` (staging; commands hold the store lock while they stage); Cargo's target directories
//! in `build/` made by another version of cargo-share (another wrapper ABI: never reused),
//! unless a build holds `build/lock`. What makes gc refuse,
//! changing nothing: a program build that is linked from its root but not in the index, an
//! unindexed entry a recorded program needs, or a directory without its manifest. Then the index
//! does not account for the store, and `cargo share verify --repair` rebuilds it.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use anyhow::{bail, Context, Result};
use serde::Serialize;

use crate::message::{Message, Report};
use crate::shell::{human_bytes, Shell};
use crate::store::fault;
use crate::store::files::{in_use, remove_tree, tree_size};
use crate::store::index::{Access, Store};
use crate::store::manifest::{InstalledProgram, StoreEntry};
use crate::store::open::{entry_label_parts, open_store};
use crate::store::roots::known_roots;
use cargo_share_compile::unit_record::WRAPPER_ABI;

/// What `gc` removed (or would remove).
#[derive(Debug, Clone, Default, Serialize)]
pub struct GcReport {
    pub(crate) dry_run: bool,
    /// Entries of the index no recorded program reaches (`NAME vVERSION (ID)`).
    pub(crate) entries: Vec<String>,
    /// Program builds no recorded program is (`programs/DIR`).
    pub(crate) program_builds: Vec<String>,
    /// Entry directories the index does not hold, and staging left in `tmp/` (store-relative).
    pub(crate) other: Vec<String>,
    pub(crate) bytes_freed: u64,
}

/// One directory gc removes.
struct Doomed {
    path: PathBuf,
    /// What the listing says.
    label: String,
    /// The index row to delete first, for an indexed entry.
    row: Option<String>,
}

fn refuse(what: &str) -> anyhow::Error {
    anyhow::anyhow!(
        "{what}: the index does not account for what is in the store, so gc removes nothing. \
         Run `cargo share verify --repair` to rebuild the index from the manifests, then gc"
    )
}

fn read_json<T: serde::de::DeserializeOwned>(path: &Path) -> Option<T> {
    std::fs::read_to_string(path)
        .ok()
        .and_then(|t| serde_json::from_str(&t).ok())
}

/// The first link of `p`, in its own root or any root of the index, that points at its build
/// in `dir`.
fn linked_from(p: &InstalledProgram, dir: &Path, roots: &BTreeSet<PathBuf>) -> Option<PathBuf> {
    std::iter::once(&p.root)
        .chain(roots)
        .flat_map(|r| {
            p.binaries
                .iter()
                .map(move |(b, _)| (r.join("bin").join(b), b))
        })
        .find(|(link, b)| {
            std::fs::read_link(link)
                .map(|t| t == dir.join("bin").join(b))
                .unwrap_or(false)
        })
        .map(|(link, _)| link)
}

/// Everything gc would remove, in the order it removes it; refuses when it cannot prove a
/// directory unneeded.
fn plan(store: &Store, build_locked: bool, report: &mut GcReport) -> Result<Vec<Doomed>> {
    let live = store.live_entries()?;
    let rows = store.entries()?;
    let recorded_programs = store.recorded_program_dirs()?;
    let mut roots = store.all_roots()?;
    roots.extend(known_roots(&store.root));
    let indexed_dirs: BTreeSet<&str> = rows.iter().map(|r| r.dir.as_str()).collect();
    let mut doomed = Vec::new();
    for r in rows.iter().filter(|r| !live.contains(&r.hash)) {
        let label = entry_label_parts(&r.package, &r.version, &r.hash);
        report.entries.push(label.clone());
        doomed.push(Doomed {
            path: store.root.join(&r.dir),
            label,
            row: Some(r.hash.clone()),
        });
    }
    for e in sorted_dir(&store.root.join("programs"))? {
        let rel = format!("programs/{}", file_name(&e));
        if recorded_programs.contains(&rel) {
            continue;
        }
        let Some(p) = read_json::<InstalledProgram>(&e.join("program.json")) else {
            bail!(refuse(&format!(
                "{rel} has no readable program.json (cargo share never makes such a directory; \
                 if it is yours, move it out of the store)"
            )));
        };
        if let Some(link) = linked_from(&p, &e, &roots) {
            bail!(refuse(&format!(
                "{rel} ({} v{}) is linked from {} but the index does not record it",
                p.name,
                p.version,
                link.display()
            )));
        }
        report.program_builds.push(rel.clone());
        doomed.push(Doomed {
            path: e,
            label: format!("{rel} ({} v{}, not installed)", p.name, p.version),
            row: None,
        });
    }
    for e in sorted_dir(&store.root.join("entries"))? {
        let rel = format!("entries/{}", file_name(&e));
        if indexed_dirs.contains(rel.as_str()) {
            continue;
        }
        let Some(entry) = read_json::<StoreEntry>(&e.join("entry.json")) else {
            bail!(refuse(&format!(
                "{rel} has no readable entry.json (cargo share never makes such a directory; \
                 if it is yours, move it out of the store)"
            )));
        };
        if live.contains(&entry.identity.hash) {
            bail!(refuse(&format!(
                "{rel} is needed by an installed program but is not in the index"
            )));
        }
        report.other.push(rel.clone());
        doomed.push(Doomed {
            path: e,
            label: format!("{rel} (not in the index, needed by no installed program)"),
            row: None,
        });
    }
    for e in sorted_dir(&store.root.join("tmp"))? {
        if in_use(&e) {
            continue; // an install building right now
        }
        let rel = format!("tmp/{}", file_name(&e));
        report.other.push(rel.clone());
        doomed.push(Doomed {
            path: e,
            label: format!("{rel} (left by an interrupted command)"),
            row: None,
        });
    }
    if build_locked {
        doomed.extend(other_versions_builds(store, report)?);
    }
    // Bytes: inodes that something kept also holds are not freed.
    let doomed_paths: BTreeSet<&Path> = doomed.iter().map(|d| d.path.as_path()).collect();
    let mut seen = BTreeSet::new();
    for sub in ["entries", "programs"] {
        for e in sorted_dir(&store.root.join(sub))? {
            if !doomed_paths.contains(e.as_path()) {
                tree_size(&e, &mut seen);
            }
        }
    }
    for d in &doomed {
        report.bytes_freed += tree_size(&d.path, &mut seen);
    }
    Ok(doomed)
}

/// Cargo's target directories in the store's build directory that another version of
/// cargo-share made (`made_by_another_wrapper`), listed in `report`.
fn other_versions_builds(store: &Store, report: &mut GcReport) -> Result<Vec<Doomed>> {
    let mut doomed = Vec::new();
    for e in sorted_dir(&store.build_dir())? {
        let name = file_name(&e);
        if !made_by_another_wrapper(&name) {
            continue;
        }
        let rel = format!("build/{name}");
        report.other.push(rel.clone());
        doomed.push(Doomed {
            path: e,
            label: format!(
                "{rel} (Cargo's builds by another version of cargo-share, never reused)"
            ),
            row: None,
        });
    }
    Ok(doomed)
}

/// Whether `name`, in the store's build directory, is a Cargo target directory of another
/// wrapper ABI (`build::prepare::target_dir_of`): no build of this version reads it.
fn made_by_another_wrapper(name: &str) -> bool {
    let ours = format!("target-{WRAPPER_ABI}");
    name.starts_with("target-") && name != ours && !name.starts_with(&format!("{ours}-"))
}

/// The store's build directory locked as a build locks it (`CACHE/lock`), if it exists and no
/// build holds it: gc leaves it alone while something builds in it.
fn lock_build_dir(store: &Store) -> Result<Option<std::fs::File>> {
    let path = store.build_dir().join("lock");
    if !path.exists() {
        return Ok(None);
    }
    let lock = std::fs::File::options()
        .write(true)
        .open(&path)
        .with_context(|| format!("opening {}", path.display()))?;
    Ok(lock.try_lock().is_ok().then_some(lock))
}

fn sorted_dir(dir: &Path) -> Result<Vec<PathBuf>> {
    let mut out = Vec::new();
    match std::fs::read_dir(dir) {
        Ok(it) => {
            for e in it {
                out.push(
                    e.with_context(|| format!("reading {}", dir.display()))?
                        .path(),
                );
            }
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
        Err(e) => return Err(e).with_context(|| format!("reading {}", dir.display())),
    }
    out.sort();
    Ok(out)
}

fn file_name(p: &Path) -> String {
    p.file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default()
}

pub fn gc(store_dir: &Path, dry_run: bool, shell: &Shell) -> Result<GcReport> {
    let access = if dry_run { Access::Read } else { Access::Write };
    let store = open_store(store_dir, access)?;
    let mut report = GcReport {
        dry_run,
        ..Default::default()
    };
    let build_lock = lock_build_dir(&store)?;
    let doomed = plan(&store, build_lock.is_some(), &mut report)?;
    for d in &doomed {
        shell.status(if dry_run { "Would remove" } else { "Removing" }, &d.label);
    }
    if !dry_run {
        for d in &doomed {
            if let Some(hash) = &d.row {
                store.delete_entry_row(hash)?;
                fault::step("gc-row-deleted")?;
            }
            // Out of the tree by rename first: a crash while deleting leaves a partial tree
            // only in tmp/, never a half entry or program under entries/ or programs/.
            let target = if d.path.starts_with(store.root.join("tmp")) {
                d.path.clone()
            } else {
                let aside = store.staging("gc-")?.keep();
                std::fs::remove_dir(&aside)
                    .with_context(|| format!("preparing {}", aside.display()))?;
                std::fs::rename(&d.path, &aside)
                    .with_context(|| format!("moving {} out of the store", d.path.display()))?;
                aside
            };
            fault::step("gc-moved-aside")?;
            remove_tree(&target)?;
            fault::step("gc-removed")?;
        }
    }
    shell.message(&Message::GcFinished(Report::of(&report)));
    shell.status(
        "Finished",
        format!(
            "{} {} entries, {} program builds and {} other directories, {} {}",
            if dry_run { "would remove" } else { "removed" },
            report.entries.len(),
            report.program_builds.len(),
            report.other.len(),
            if dry_run { "would free" } else { "freed" },
            human_bytes(report.bytes_freed)
        ),
    );
    Ok(report)
}
