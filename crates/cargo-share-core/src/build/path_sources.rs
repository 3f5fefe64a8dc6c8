//! Local (path) packages built from another directory than last time are rebuilt.
//!
//! Cargo hashes a path package's source by its path relative to the workspace, so two copies
//! of one workspace (same package names and versions) built into one target directory share
//! their units and fingerprints; freshness is then decided by file times alone. A copy whose
//! sources are older than the other copy's last build would be taken as built, and its
//! programs would get the other copy's code. Before each build, every path package whose
//! recorded directory differs from the one it is built from now is cleaned from the target
//! directory (`cargo clean -p NAME@VERSION`), and the directories are recorded.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result};

use crate::build::prepare::PreparedBuild;
use crate::resolve::set::pins::PINS_PACKAGE;
use crate::resolve::set::reuse_member::REUSE_PACKAGE;
use crate::shell::Shell;
use crate::source;

/// In the target directory: `NAME@VERSION` of each path package -> the directory it was last
/// built from.
const RECORD_FILE: &str = "cargo-share-path-sources.json";

/// Every path package of the build's workspaces: `NAME@VERSION` -> (its directory, the
/// workspace manifest to name it with).
fn path_packages(prepared: &PreparedBuild) -> BTreeMap<String, (PathBuf, PathBuf)> {
    let mut out = BTreeMap::new();
    for ws in &prepared.graph.workspaces {
        // A group's facade is left out: its text is a function of its dependencies, which
        // Cargo's fingerprint holds, and its files carry one fixed time, so a later set's copy of
        // an earlier group is the same unit by design (`resolve::set::grouped`), never stale;
        // cleaning it made every build with a later set compile the earlier groups again.
        for pkg in ws.metadata.packages.iter().filter(|p| {
            p.source.is_none()
                && !p
                    .name
                    .starts_with(crate::resolve::grouping::GROUP_PACKAGE_PREFIX)
        }) {
            let dir = pkg
                .manifest_path
                .parent()
                .map(|d| d.as_std_path().to_path_buf())
                .unwrap_or_default();
            out.insert(
                format!("{}@{}", pkg.name, pkg.version),
                (dir, ws.manifest_path.clone()),
            );
        }
    }
    out
}

/// Clean what was built from another directory, then record where each path package comes
/// from now.
pub(crate) fn forget_other_copies(prepared: &PreparedBuild, shell: &Shell) -> Result<()> {
    let record_path = prepared.target_dir.join(RECORD_FILE);
    let mut recorded: BTreeMap<String, PathBuf> = std::fs::read(&record_path)
        .ok()
        .and_then(|b| serde_json::from_slice(&b).ok())
        .unwrap_or_default();
    for (spec, (dir, manifest)) in path_packages(prepared) {
        if recorded.get(&spec).is_some_and(|before| before != &dir) {
            // The directories are cargo-share's own copies: naming them says nothing to the
            // user, and neither does a package cargo-share generates (the reuse member).
            if !is_generated(&spec) {
                shell.status(
                    "Rebuilding",
                    format!("{spec}: its copy in this build's set is new"),
                );
            }
            clean(prepared, &spec, manifest.as_path())?;
        }
        recorded.insert(spec, dir);
    }
    std::fs::create_dir_all(&prepared.target_dir)
        .with_context(|| format!("creating {}", prepared.target_dir.display()))?;
    std::fs::write(&record_path, serde_json::to_vec_pretty(&recorded)?)
        .with_context(|| format!("writing {}", record_path.display()))?;
    Ok(())
}

/// Whether `spec` (`NAME@VERSION`) is a member cargo-share writes into a set's workspace.
fn is_generated(spec: &str) -> bool {
    let name = spec.split('@').next().unwrap_or(spec);
    [REUSE_PACKAGE, PINS_PACKAGE].contains(&name)
}

fn clean(prepared: &PreparedBuild, spec: &str, manifest: &Path) -> Result<()> {
    let out = source::cargo_command()
        .args([
            "clean",
            "--release",
            "--target",
            &prepared.toolchain.host,
            "-p",
            spec,
        ])
        .arg("--manifest-path")
        .arg(manifest)
        .env("CARGO_TARGET_DIR", &prepared.target_dir)
        .output()
        .context("running cargo clean")?;
    if !out.status.success() {
        anyhow::bail!(
            "removing the earlier build of {spec} from {} failed: {}",
            prepared.target_dir.display(),
            String::from_utf8_lossy(&out.stderr).trim()
        );
    }
    Ok(())
}
