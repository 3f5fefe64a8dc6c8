//! Grouped layout: each group relinked from its saved link with exports cut to what the set
//! imports and `--gc-sections` (`--exports used`), or left whole (`--exports all`).

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use anyhow::{Context, Result};

use crate::resolve::grouping;
use crate::resolve::grouping::GroupRecord;
use crate::shell::{human_bytes, Shell};
use cargo_share_compile::elf;
use cargo_share_compile::saved_link;

/// `--exports all`: the full build is the run-time copy. The trimmed copy and export list an
/// earlier build left beside it go, since a group's identity hashes the list when it is there.
pub(crate) fn keep_all_exports(groups: &BTreeMap<&String, &PathBuf>) -> Result<()> {
    for (&name, &full) in groups {
        let dir = saved_link::saved_link_dir(full);
        for stale in [dir.join(saved_link::TRIMMED_EXPORTS_FILE), dir.join(name)] {
            match std::fs::remove_file(&stale) {
                Err(e) if e.kind() != std::io::ErrorKind::NotFound => {
                    return Err(e).with_context(|| format!("removing {}", stale.display()))
                }
                _ => {}
            }
        }
    }
    Ok(())
}

/// The file name of a group's shared object.
pub(crate) fn group_file(group: &grouping::Group) -> String {
    format!("lib{}.so", group.crate_name())
}

/// Grouped layout: relink every group exporting only the symbols that the set's files (`files`:
/// binaries and their libraries) import (see [`crate::linker`]), and whatever its record says it
/// exported before (a group reused from the store keeps serving the programs bound to it).
/// Returns the trimmed run-time copy of each group and its export list, by file name; a relink is
/// redone only when the group or its export list changed.
pub(crate) fn trim_groups<'a>(
    files: impl Iterator<Item = &'a PathBuf>,
    groups: &BTreeMap<&String, &PathBuf>,
    records: &BTreeMap<String, GroupRecord>,
    shell: &Shell,
) -> Result<BTreeMap<String, (PathBuf, Vec<String>)>> {
    let mut imports = BTreeSet::new();
    for f in files {
        imports.extend(elf::dynamic_symbols(f)?.0);
    }
    let mut trimmed = BTreeMap::new();
    for (&name, &full) in groups {
        let dir = saved_link::saved_link_dir(full);
        if !saved_link::has_recipe(&dir) {
            shell.warn(format!(
                "{name} was linked without a saved link (an older cargo-share built it), so it \
                 keeps every export; remove the cache's target directory to trim it"
            ));
            continue;
        }
        let (_, exports) = elf::dynamic_symbols(full)?;
        let before: BTreeSet<&String> = records
            .get(name.as_str())
            .and_then(|r| r.exports.as_ref())
            .into_iter()
            .flatten()
            .collect();
        let keep: BTreeSet<String> = exports
            .iter()
            .filter(|s| imports.contains(*s) || before.contains(s))
            .cloned()
            .collect();
        if !before.is_empty() && keep.len() > before.len() {
            shell.status(
                "Extending",
                format!(
                    "{name}: {} more exports than its store entry has, for the new programs \
                     (a new entry; programs installed before keep theirs)",
                    keep.len() - before.len()
                ),
            );
        }
        // The first line names how the relink is done: a changed relink redoes it (and changes
        // the group's identity, which hashes this file).
        let list: String = std::iter::once(format!("{}\n", saved_link::TRIM_FORMAT))
            .chain(keep.iter().map(|s| format!("{s}\n")))
            .collect();
        let list_file = dir.join(saved_link::TRIMMED_EXPORTS_FILE);
        let out = dir.join(name);
        let current = out.is_file()
            && std::fs::read_to_string(&list_file).ok().as_deref() == Some(list.as_str())
            && modified(&out)? >= modified(full)?;
        if !current {
            let tmp = dir.join(format!("{name}.new"));
            saved_link::relink_trimmed(&dir, &keep, &tmp)
                .with_context(|| format!("trimming the exports of {name}"))?;
            std::fs::write(&list_file, &list)?;
            std::fs::rename(&tmp, &out)?;
        }
        shell.status(
            "Trimmed",
            format!(
                "{name}: exports {} of {} symbols, {} -> {}",
                keep.len(),
                exports.len(),
                human_bytes(std::fs::metadata(full)?.len()),
                human_bytes(std::fs::metadata(&out)?.len())
            ),
        );
        trimmed.insert(name.clone(), (out, keep.into_iter().collect()));
    }
    Ok(trimmed)
}

fn modified(path: &Path) -> Result<std::time::SystemTime> {
    Ok(std::fs::metadata(path)
        .with_context(|| format!("reading {}", path.display()))?
        .modified()?)
}
