//! `cargo share gc`: removes entries and program builds no recorded program reaches.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use anyhow::Result;
use serde::Serialize;

use crate::shell::{human_bytes, Shell};
use crate::store::fault;
use crate::store::files::{remove_tree, tree_size};
use crate::store::open::open_store;

/// What `gc` removed (or would remove).
#[derive(Debug, Clone, Default, Serialize)]
pub struct GcReport {
    pub reason: &'static str,
    pub dry_run: bool,
    pub entries: Vec<String>,
    pub program_builds: Vec<String>,
    pub bytes_freed: u64,
}

pub fn gc(store_dir: &Path, dry_run: bool, shell: &Shell) -> Result<GcReport> {
    let store = open_store(store_dir)?;
    let mut report = GcReport {
        reason: "gc-finished",
        dry_run,
        ..Default::default()
    };
    let live = store.live_entries()?;
    let rows = store.entries()?;
    let live_program_dirs = store.recorded_program_dirs()?;
    let known_entry_dirs: BTreeSet<String> = rows.iter().map(|r| r.dir.clone()).collect();

    // Sizes are counted before anything is removed; inodes shared with live trees are not freed.
    let mut live_inodes = BTreeSet::new();
    for d in &live_program_dirs {
        tree_size(&store.root.join(d), &mut live_inodes);
    }
    for r in rows.iter().filter(|r| live.contains(&r.hash)) {
        tree_size(&store.root.join(&r.dir), &mut live_inodes);
    }
    let mut doomed: Vec<PathBuf> = Vec::new();
    for r in rows.iter().filter(|r| !live.contains(&r.hash)) {
        report
            .entries
            .push(format!("{} v{} ({})", r.package, r.version, &r.hash[..12]));
        doomed.push(store.root.join(&r.dir));
    }
    for sub in ["entries", "programs"] {
        for e in std::fs::read_dir(store.root.join(sub))?.flatten() {
            let rel = format!("{sub}/{}", e.file_name().to_string_lossy());
            let unreferenced = if sub == "entries" {
                !known_entry_dirs.contains(&rel)
            } else {
                !live_program_dirs.contains(&rel)
            };
            if unreferenced {
                if sub == "programs" {
                    report.program_builds.push(rel.clone());
                }
                doomed.push(e.path());
            }
        }
    }
    for e in std::fs::read_dir(store.root.join("tmp"))?.flatten() {
        doomed.push(e.path());
    }
    let mut seen = live_inodes;
    for d in &doomed {
        report.bytes_freed += tree_size(d, &mut seen);
    }
    if !dry_run {
        for r in rows.iter().filter(|r| !live.contains(&r.hash)) {
            store.delete_entry_row(&r.hash)?;
            fault::point("gc-row-deleted");
        }
        for d in &doomed {
            remove_tree(d)?;
        }
    }
    for e in &report.entries {
        shell.status(if dry_run { "Would remove" } else { "Removed" }, e);
    }
    for p in &report.program_builds {
        shell.status(if dry_run { "Would remove" } else { "Removed" }, p);
    }
    shell.json(&report);
    shell.status(
        "Finished",
        format!(
            "{} {} entries and {} program builds, {} {}",
            if dry_run { "would remove" } else { "removed" },
            report.entries.len(),
            report.program_builds.len(),
            if dry_run { "would free" } else { "freed" },
            human_bytes(report.bytes_freed)
        ),
    );
    Ok(report)
}
