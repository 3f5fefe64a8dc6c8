//! Installed programs joining a build, and what a build records of each program so that it can
//! be built again later.
//!
//! `install` (unless `--no-regroup`) builds the newcomers together with the programs already
//! installed ([`crate::build::InstalledMember`]): each is fetched again from where it came from, keeps the
//! resolution it was installed with (its versions win the set's seed; a program the set would
//! build from other crate versions stays only if its own tests pass under them,
//! [`crate::build::retest`], else it is left as it is, said so), and is built with the features
//! it was installed with. Every built program reports its [`Provenance`]: the manifest it was built
//! from and its resolution, recorded in the store with it.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use anyhow::Result;
use cargo_metadata::Metadata;

use crate::build::options::BuildOptions;
use crate::message::Message;
use crate::resolve::graph;
use crate::resolve::graph::BuildGraph;
use crate::resolve::set::program_lock;
use crate::shell::Shell;

/// Where a built program came from and what it was built from.
#[derive(Debug, Clone, Default)]
pub(crate) struct Provenance {
    /// The program package's own manifest (the original, not a set's copy).
    pub(crate) manifest: PathBuf,
    /// The lock entries of every package its binaries are compiled from.
    pub(crate) resolution: String,
    /// It joined the build as an installed program (not one the command named).
    pub(crate) installed: bool,
}

/// Say that an installed program stays as it is, and why.
pub(crate) fn announce_left(program: &str, why: &str, shell: &Shell) {
    shell.status(
        "Leaving",
        format!("{program} as it is (installed, not rebuilt): {why}"),
    );
    shell.message(&Message::ProgramLeft { program, why });
}

fn program_names(sources: &[(PathBuf, Metadata)]) -> Vec<String> {
    sources
        .iter()
        .flat_map(|(_, md)| graph::program_packages(md))
        .map(|p| p.name.to_string())
        .collect()
}

/// Add the installed programs of `options` to the build's sources (the newcomers'): each one
/// not replaced by a newcomer of its name whose source can be read again. Their recorded
/// resolutions go to `options.kept_resolutions`, their features to `options.features` (bare
/// `--features` are bound to the newcomers first).
pub(crate) fn join_installed(
    options: &mut BuildOptions,
    sources: &mut Vec<(PathBuf, Metadata)>,
    cache: &Path,
    host: &str,
    shell: &Shell,
) -> Result<()> {
    let newcomers = program_names(sources);
    options.features = options.features.bind(&newcomers)?;
    for member in std::mem::take(&mut options.installed) {
        if newcomers.contains(&member.name) {
            continue;
        }
        let read = member.source.manifest(cache, shell).and_then(|manifest| {
            // An installed program keeps its recorded resolution: nothing to say of its lockfile.
            let quiet = Shell::new(true, crate::shell::MessageFormat::Human);
            let md = crate::build::source_metadata::program_metadata(
                &manifest,
                options,
                host,
                &[],
                &quiet,
            )?;
            Ok((manifest, md))
        });
        let (manifest, md) = match read {
            Ok(found) => found,
            Err(e) => {
                let why = format!(
                    "its source cannot be read again ({})",
                    e.to_string().lines().next().unwrap_or_default()
                );
                announce_left(&member.name, &why, shell);
                continue;
            }
        };
        let programs = program_names(std::slice::from_ref(&(manifest.clone(), md.clone())));
        if programs != [member.name.clone()] {
            let why = format!(
                "its source {} now holds the programs [{}]",
                manifest.display(),
                programs.join(", ")
            );
            announce_left(&member.name, &why, shell);
            continue;
        }
        options
            .features
            .add_to_program(&member.name, &member.features);
        options
            .kept_resolutions
            .insert(member.name.clone(), member.resolution);
        if !sources.iter().any(|(m, _)| m == &manifest) {
            sources.push((manifest, md));
        }
        options.programs.push(member.source);
    }
    Ok(())
}

/// The original manifest of every program of `sources`, by name.
pub(crate) fn manifests_of(sources: &[(PathBuf, Metadata)]) -> BTreeMap<String, PathBuf> {
    sources
        .iter()
        .flat_map(|(_, md)| graph::program_packages(md))
        .map(|p| {
            (
                p.name.to_string(),
                p.manifest_path.as_std_path().to_path_buf(),
            )
        })
        .collect()
}

/// What each program of the graph was built from: its original manifest (`manifests`) and the
/// lock entries of its closure in the workspace it is built in; whether it is one of the
/// `installed` programs that joined the build.
pub(crate) fn provenance(
    graph: &BuildGraph,
    manifests: &BTreeMap<String, PathBuf>,
    installed: &BTreeMap<String, String>,
) -> Result<BTreeMap<String, Provenance>> {
    let mut out = BTreeMap::new();
    for p in &graph.programs {
        let ws = &graph.workspaces[p.workspace];
        let lock = std::fs::read_to_string(ws.root.join("Cargo.lock")).unwrap_or_default();
        let resolution = if lock.is_empty() {
            String::new()
        } else {
            program_lock(&ws.metadata, &p.package_id, &lock)?
        };
        out.insert(
            p.name.clone(),
            Provenance {
                manifest: manifests.get(&p.name).cloned().unwrap_or_default(),
                resolution,
                installed: installed.contains_key(&p.name),
            },
        );
    }
    Ok(out)
}
