//! `install` of a program installed already, unchanged: skipped, as `cargo install` skips it
//! ("Ignored package `sd v1.0.0` is already installed, use --force to override").
//!
//! Unchanged means a crates.io package of the same name and exact version (a bare `NAME` is
//! resolved to the newest version first, as Cargo does), with the same features, linked into
//! the same root. A local (`--path`) program is always built again, as `cargo install --path`
//! does: its files may have changed. `--force` builds it again.

use std::path::Path;

use anyhow::Result;

use crate::build::BuildOptions;
use crate::message::Message;
use crate::shell::Shell;
use crate::source::{fetch_registry_crate, CrateSpec, ProgramSource};
use crate::store::index::{Access, Store};
use crate::store::marker::MARKER_FILE;

/// Take out of `build.programs` the crates.io programs installed already, unchanged, in
/// `root`, saying so for each. Every crates.io program is fetched first (in an existing store:
/// an install into an empty one plans once and fetches then), and a bare `NAME` left in is
/// pinned to the version it resolved to.
pub fn skip_already_installed(
    build: &mut BuildOptions,
    store_dir: &Path,
    root: &Path,
    shell: &Shell,
) -> Result<()> {
    if !store_dir.join(MARKER_FILE).exists() {
        return Ok(());
    }
    let store = Store::open(store_dir, Access::Read)?;
    let root = std::path::absolute(root)?;
    let names: Vec<String> = build.programs.iter().filter_map(registry_name).collect();
    // Features that name a program this check cannot see (a local one) leave every program to
    // the build.
    let Ok(features) = build.features.bind(&names) else {
        return Ok(());
    };
    let cache = build.cache()?;
    let mut kept = Vec::new();
    for source in std::mem::take(&mut build.programs) {
        let (mut spec, registry) = match source {
            ProgramSource::Registry(spec) => (spec, None),
            ProgramSource::OtherRegistry(spec, registry) => (spec, Some(registry)),
            // A local program's manifest is looked for now too: a path with none fails here.
            other => {
                if let ProgramSource::Path(_) = &other {
                    other.manifest(&cache, shell)?;
                }
                kept.push(other);
                continue;
            }
        };
        let again = |spec: CrateSpec| match &registry {
            Some(r) => ProgramSource::OtherRegistry(spec, r.clone()),
            None => ProgramSource::Registry(spec),
        };
        // Resolved now, once, before anything is planned: a name or version the registry does
        // not have fails here, said once, and a bare NAME is pinned to the version it resolves
        // to, so planning (which may resolve the set twice) asks the registry nothing again.
        let manifest = fetch_registry_crate(&spec, registry.as_ref(), &cache, shell)?;
        if spec.version.is_none() {
            spec.version = resolved_version(&manifest, &spec.name);
        }
        let Some(installed) = store.program(&spec.name)? else {
            kept.push(again(spec));
            continue;
        };
        // Installed from the same registry at the version asked for.
        let same_version = installed.origin.as_ref() == Some(&again(spec.clone()));
        let same = same_version
            && installed.features == features.of(&spec.name)
            && store.roots_of(&spec.name)?.contains(&root);
        if same {
            shell.status(
                "Ignored",
                format!(
                    "package `{} v{}` is already installed, use --force to override",
                    installed.name, installed.version
                ),
            );
            shell.message(&Message::ProgramIgnored {
                name: &installed.name,
                version: &installed.version,
            });
        } else {
            kept.push(again(spec));
        }
    }
    build.programs = kept;
    Ok(())
}

/// Where the installed program `name` came from, exactly (a crates.io version, a local
/// manifest, a git commit), to build it again; `None` when no program of that name is
/// installed in `store_dir` (or the store does not exist).
pub fn installed_source(store_dir: &Path, name: &str) -> Result<Option<ProgramSource>> {
    if !store_dir.join(MARKER_FILE).exists() {
        return Ok(None);
    }
    let store = Store::open(store_dir, Access::Read)?;
    Ok(store.program(name)?.and_then(|p| p.origin))
}

fn registry_name(source: &ProgramSource) -> Option<String> {
    match source {
        ProgramSource::Registry(spec) | ProgramSource::OtherRegistry(spec, _) => {
            Some(spec.name.clone())
        }
        _ => None,
    }
}

/// The version of a fetched crates.io package, from its source copy's directory
/// (`sources/NAME-VERSION/Cargo.toml`).
fn resolved_version(manifest: &Path, name: &str) -> Option<String> {
    let dir = manifest.parent()?.file_name()?.to_str()?;
    dir.strip_prefix(&format!("{name}-")).map(str::to_string)
}
