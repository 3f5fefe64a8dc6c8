//! How a build first reads each program's workspace (`cargo metadata`), before it is planned.

use std::path::{Path, PathBuf};

use anyhow::Result;

use crate::build::options::BuildOptions;
use crate::resolve::graph;
use crate::resolve::set::Unify;
use crate::shell::Shell;

/// `cargo metadata` of a program's workspace (`features`: Cargo's feature arguments). In a set,
/// a workspace without `Cargo.lock` is read without resolving it and resolved anew by the set
/// (`graph::load_program_metadata`), as `cargo install --path` resolves it; said once per
/// command, naming the directory only where it is the user's.
pub(crate) fn program_metadata(
    manifest: &Path,
    options: &BuildOptions,
    host: &str,
    features: &[String],
    shell: &Shell,
) -> Result<cargo_metadata::Metadata> {
    if options.unify.policy == Unify::None {
        return graph::load_metadata(manifest, options.locked, host, features);
    }
    let (md, unlocked) = graph::load_program_metadata(manifest, options.locked, host, features)?;
    if unlocked && features.is_empty() {
        // A program fetched from a registry or git lives in cargo-share's cache: its directory
        // is not the user's, and is not named.
        let canonical = |p: &Path| std::fs::canonicalize(p).ok();
        let fetched = options
            .cache()
            .ok()
            .and_then(|cache| canonical(&cache))
            .is_some_and(|cache| canonical(manifest).is_some_and(|m| m.starts_with(cache)));
        let whose = match fetched {
            true => "its package".to_string(),
            false => md.workspace_root.to_string(),
        };
        shell.status(
            "Resolving",
            format!(
                "{} anew: {whose} has no Cargo.lock (as `cargo install --path` resolves it; the \
                 install records the versions it is built with)",
                graph::program_packages(&md)
                    .iter()
                    .map(|p| p.name.as_str())
                    .collect::<Vec<_>>()
                    .join(", "),
            ),
        );
    }
    Ok(md)
}

/// The workspace of each program the command names (each manifest once), as
/// [`program_metadata`] reads it.
pub(crate) fn read_sources(
    options: &BuildOptions,
    cache: &Path,
    host: &str,
    shell: &Shell,
) -> Result<Vec<(PathBuf, cargo_metadata::Metadata)>> {
    let mut manifests = Vec::new();
    for source in &options.programs {
        let manifest = source.manifest(cache, shell)?;
        if !manifests.contains(&manifest) {
            manifests.push(manifest);
        }
    }
    let mut sources = Vec::new();
    for manifest in manifests {
        let md = program_metadata(&manifest, options, host, &[], shell)?;
        sources.push((manifest, md));
    }
    Ok(sources)
}
