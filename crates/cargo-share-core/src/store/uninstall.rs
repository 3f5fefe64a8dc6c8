//! `cargo share uninstall`: removes a program's record and its links; its files wait for `gc`.
//! With `--bin`, the program is recorded again with its other binaries.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use anyhow::{bail, Context, Result};

use crate::message::Message;
use crate::shell::Shell;
use crate::store::fault;
use crate::store::identity::CrateIdentity;
use crate::store::index::{Access, Store};
use crate::store::links::remove_our_link;
use crate::store::manifest::InstalledProgram;
use crate::store::open::open_store_rolling_forward;
use crate::store::program_commit::{
    link_program, record_programs, stage_program, PlainInstall, ProgramBuild,
};

/// `cargo share uninstall NAMES [--root ROOT] [--bin BIN...]`.
pub fn uninstall(
    store_dir: &Path,
    names: &[String],
    root: Option<&Path>,
    bins: &[String],
    shell: &Shell,
) -> Result<()> {
    let store = open_store_rolling_forward(store_dir, Access::Write)?;
    let root = root
        .map(std::path::absolute)
        .transpose()
        .context("resolving --root")?;
    if !bins.is_empty() {
        if let Some(kept) = binaries_kept(&store, names, root.as_deref(), bins)? {
            return remove_binaries(&store, &kept, bins, shell);
        }
    }
    remove_programs(&store, names, root, shell)
}

/// The one program `--bin` names and the binaries it keeps, checked before anything changes;
/// `None` when it would keep none (then the program is uninstalled, as Cargo does).
fn binaries_kept(
    store: &Store,
    names: &[String],
    root: Option<&Path>,
    bins: &[String],
) -> Result<Option<(InstalledProgram, Vec<PathBuf>)>> {
    let [name] = names else {
        bail!(
            "--bin names binaries of one program, and {} programs were given; nothing was \
             removed. Uninstall one program's binaries at a time",
            names.len()
        );
    };
    let Some(p) = store.program(name)? else {
        bail!("`{name}` is not installed (`cargo share list` shows what is); nothing was removed");
    };
    let roots = store.roots_of(&p.name)?;
    if let Some(r) = root.filter(|r| roots.iter().any(|x| x != r)) {
        bail!(
            "--bin removes binaries from `{name}` in every root it is linked into, and it is \
             linked into {} besides {}; nothing was removed. Leave out --root, or uninstall \
             `{name}` from the other roots first",
            roots
                .iter()
                .filter(|x| *x != r)
                .map(|x| x.display().to_string())
                .collect::<Vec<_>>()
                .join(", "),
            r.display()
        );
    }
    let has: BTreeSet<&str> = p.binaries.iter().map(|(n, _)| n.as_str()).collect();
    if let Some(unknown) = bins.iter().find(|b| !has.contains(b.as_str())) {
        bail!(
            "binary `{unknown}` is not installed as part of `{name}` v{} (its binaries: {}); \
             nothing was removed",
            p.version,
            has.into_iter().collect::<Vec<_>>().join(", ")
        );
    }
    let dir = store.root.join(&p.dir).join("bin");
    let kept: Vec<PathBuf> = p
        .binaries
        .iter()
        .filter(|(n, _)| !bins.contains(n))
        .map(|(n, _)| dir.join(n))
        .collect();
    Ok((!kept.is_empty()).then_some((p, kept)))
}

/// Record `program` again with the binaries `kept` (hard links to the same files, the same
/// entries, plugins and origin) through the install's commit point, and remove the links of
/// `removed` from every root it is linked into.
fn remove_binaries(
    store: &Store,
    (program, kept): &(InstalledProgram, Vec<PathBuf>),
    removed: &[String],
    shell: &Shell,
) -> Result<()> {
    let needed = loaded_entries(store, program)?;
    let roots = store.roots_of(&program.name)?;
    let root = roots.first().unwrap_or(&program.root);
    let build = ProgramBuild {
        name: &program.name,
        version: &program.version,
        source: &program.source,
        features: &program.features,
        binaries: kept,
        needed: &needed,
        entries: &program.entries,
        plugin_builds: &[],
        origin: program.origin.clone(),
        resolution: program.resolution.clone(),
        crates: &program.crates,
        install_origin: program.install_origin.as_ref(),
    };
    // The commit path's own status lines (`Replaced`) would misname what happens.
    let mut quiet = shell.clone();
    quiet.quiet = true;
    let staged = stage_program(store, &build, root, &mut PlainInstall, &quiet)?
        .context("internal: the program's own binaries were refused")?;
    if let Err(e) = record_programs(store, &[&staged]) {
        staged.undo(store);
        return Err(e);
    }
    fault::step("program-recorded")?;
    link_program(store, &staged, &mut PlainInstall, &quiet)?;
    shell.status(
        "Removed",
        format!(
            "{} of {} v{} (its other binaries stay installed; the old build goes at the next \
             `cargo share gc`)",
            removed
                .iter()
                .map(|b| format!("`{b}`"))
                .collect::<Vec<_>>()
                .join(", "),
            program.name,
            program.version
        ),
    );
    shell.message(&Message::BinariesRemoved {
        name: &program.name,
        version: &program.version,
        binaries: removed,
        roots: &roots,
    });
    Ok(())
}

/// The entries in a program's `lib/`: those it loads, of the entries it was built against.
fn loaded_entries(store: &Store, program: &InstalledProgram) -> Result<Vec<CrateIdentity>> {
    let rows = store.entries()?;
    let lib = store.root.join(&program.dir).join("lib");
    let mut needed = Vec::new();
    for hash in &program.entries {
        let row = rows.iter().find(|r| &r.hash == hash).with_context(|| {
            format!(
                "the entry {hash} of {} is not in the store's index; run `cargo share verify \
                 --repair`, nothing was removed",
                program.name
            )
        })?;
        let identity = store.entry(row)?.identity;
        if lib.join(&identity.file).exists() {
            needed.push(identity);
        }
    }
    Ok(needed)
}

/// Remove each of `names` from `root` (or from every root it is linked into); every name is
/// checked first.
fn remove_programs(
    store: &Store,
    names: &[String],
    root: Option<PathBuf>,
    shell: &Shell,
) -> Result<()> {
    // Every name is checked before anything is removed.
    let mut found = Vec::new();
    for name in names {
        let Some(p) = store.program(name)? else {
            bail!(
                "`{name}` is not installed (`cargo share list` shows what is); nothing was removed"
            );
        };
        let roots = store.roots_of(&p.name)?;
        let from = match &root {
            Some(r) if !roots.contains(r) => bail!(
                "`{name}` is not installed in {} (it is linked into {}); nothing was removed",
                r.display(),
                roots
                    .iter()
                    .map(|r| r.display().to_string())
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
            Some(r) => vec![r.clone()],
            None => roots.clone(),
        };
        found.push((p, from, roots));
    }
    for (p, from, roots) in found {
        let dir = store.root.join(&p.dir);
        for r in &from {
            for (b, _) in &p.binaries {
                remove_our_link(&r.join("bin").join(b), &dir);
                fault::step("link-removed")?;
            }
        }
        fault::step("links-removed")?;
        let remaining: Vec<&PathBuf> = roots.iter().filter(|r| !from.contains(r)).collect();
        if remaining.is_empty() {
            store.remove_program(&p.name)?;
            fault::step("program-unrecorded")?;
            shell.status(
                "Removed",
                format!(
                    "{} v{} (its libraries go at the next `cargo share gc` if nothing else uses \
                     them)",
                    p.name, p.version
                ),
            );
        } else {
            for r in &from {
                store.remove_program_root(&p.name, r)?;
            }
            shell.status(
                "Removed",
                format!(
                    "{} v{} from {} (still installed in {})",
                    p.name,
                    p.version,
                    from[0].display(),
                    remaining
                        .iter()
                        .map(|r| r.display().to_string())
                        .collect::<Vec<_>>()
                        .join(", ")
                ),
            );
        }
        shell.message(&Message::ProgramRemoved {
            name: &p.name,
            version: &p.version,
            roots: &from,
        });
    }
    Ok(())
}
