//! Which binaries of each built program an install keeps: those `--bin` names (`cargo install
//! --bin`), and for an installed program rebuilt with the newcomers, those it was installed
//! with (so `--bin` holds at later installs and updates).

use std::collections::BTreeSet;
use std::path::Path;

use anyhow::{bail, Result};

use crate::build::{BuildReport, BuiltProgram};
use crate::store::index::Store;

/// The name a binary is linked under.
fn name_of(binary: &Path) -> String {
    binary
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default()
}

/// Keep, of each program of `report`, the binaries it installs: for the programs the command
/// names, those in `wanted` (all when `None`); for installed programs rebuilt with them, and for
/// every program of a `replay` (`update` building an install command again), those the store
/// records (so `uninstall --bin` holds). A binary `wanted` names that no named program has is an
/// error, before anything changes.
pub(crate) fn select_binaries(
    report: &mut BuildReport,
    wanted: Option<&BTreeSet<String>>,
    replay: bool,
    store: &Store,
) -> Result<()> {
    let mut found: BTreeSet<String> = BTreeSet::new();
    for p in report
        .programs
        .iter_mut()
        .filter(|p| p.plugin_for.is_none())
    {
        let recorded = match p.provenance.installed || replay {
            true => store
                .program(&p.name)?
                .map(|r| r.binaries.iter().map(|(b, _)| b.clone()).collect()),
            false => None,
        };
        let keep: BTreeSet<String> = match (recorded, wanted) {
            (Some(recorded), _) => recorded,
            (None, _) if p.provenance.installed => continue,
            (None, Some(names)) => names.clone(),
            (None, None) => continue,
        };
        p.binaries.retain(|b| keep.contains(&name_of(b)));
        if !p.provenance.installed {
            found.extend(p.binaries.iter().map(|b| name_of(b)));
        }
    }
    // A replay's recorded `--bin` list may name binaries uninstalled since.
    if replay {
        return Ok(());
    }
    let Some(wanted) = wanted else {
        return Ok(());
    };
    let missing: Vec<&String> = wanted.iter().filter(|w| !found.contains(*w)).collect();
    if !missing.is_empty() {
        let named: Vec<&BuiltProgram> = report
            .programs
            .iter()
            .filter(|p| !p.provenance.installed && p.plugin_for.is_none())
            .collect();
        bail!(
            "no binary named {} in {}; nothing was installed. `cargo share install` without \
             --bin installs every binary",
            missing
                .iter()
                .map(|m| format!("`{m}`"))
                .collect::<Vec<_>>()
                .join(", "),
            named
                .iter()
                .map(|p| format!("{} v{}", p.name, p.version))
                .collect::<Vec<_>>()
                .join(", ")
        );
    }
    Ok(())
}
