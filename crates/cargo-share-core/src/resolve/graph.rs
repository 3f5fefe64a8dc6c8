//! The package graph of the programs in one build, from `cargo metadata`, and the decision of
//! which library crates become shared.
//!
//! The rule (book: docs/src/concepts/decisions.md, "Which crates are shared"): every package
//! from a registry or git source, and
//! every local package that more than one program of the build uses, closed under dependencies
//! (a shared crate's dependencies must be shared too, or they would be linked into it statically
//! and again into whoever else uses them: rustc's "only shows up once" rule).

use std::collections::{BTreeMap, BTreeSet, VecDeque};
use std::path::{Path, PathBuf};

use anyhow::{bail, Context, Result};
use cargo_metadata::{DependencyKind, Metadata, MetadataCommand, Package, PackageId};

use crate::resolve::{cargo_memo, inactive_deps};

/// One program: a package with at least one binary target.
#[derive(Debug, Clone)]
pub struct Program {
    pub name: String,
    pub(crate) version: String,
    pub package_id: PackageId,
    /// Index into [`BuildGraph::workspaces`].
    pub(crate) workspace: usize,
    /// A plugin (`--plugin-for`): no binaries, a `dylib`/`cdylib` for this program.
    pub(crate) plugin_for: Option<String>,
}

/// One Cargo workspace the build touches (each built with its own lockfile).
#[derive(Debug)]
pub struct Workspace {
    pub manifest_path: PathBuf,
    pub(crate) root: PathBuf,
    pub metadata: Metadata,
    /// Build each program in its own Cargo invocation, so that features are resolved per program
    /// (a `--unify semver` set); otherwise the workspace's programs are built together.
    pub(crate) build_programs_alone: bool,
}

/// All programs of a build and the shared-crate decision.
#[derive(Debug, Default)]
pub struct BuildGraph {
    pub workspaces: Vec<Workspace>,
    pub programs: Vec<Program>,
    /// Canonical package directories of shared library crates.
    pub(crate) shared_packages: BTreeSet<PathBuf>,
}

fn package_dir(pkg: &Package) -> PathBuf {
    let dir = pkg
        .manifest_path
        .parent()
        .map(|p| p.as_std_path().to_path_buf())
        .unwrap_or_default();
    dir.canonicalize().unwrap_or(dir)
}

/// `cargo metadata` of a workspace for one target. `features` are Cargo's feature arguments for
/// the programs in it (`--features PROGRAM/FEATURE`, `--all-features`, `--no-default-features`):
/// the resolved graph then holds what those features pull in.
pub fn load_metadata(
    manifest_path: &Path,
    locked: bool,
    target: &str,
    features: &[String],
) -> Result<Metadata> {
    let mut other = vec!["--filter-platform".to_string(), target.to_string()];
    if locked {
        other.push("--locked".into());
    }
    other.extend(features.iter().cloned());
    if !locked {
        return read_metadata(manifest_path, other, locked);
    }
    // Cargo writes nothing under `--locked`: a generated workspace's graph is remembered.
    cargo_memo::graph(manifest_path, &other.clone(), || {
        read_metadata(manifest_path, other, locked)
    })
}

/// `cargo metadata` of `manifest_path` with `other` arguments, read as it is built.
fn read_metadata(manifest_path: &Path, other: Vec<String>, locked: bool) -> Result<Metadata> {
    let mut cmd = MetadataCommand::new();
    cmd.manifest_path(manifest_path);
    if let Some(cargo) = std::env::var_os("CARGO") {
        cmd.cargo_path(cargo);
    }
    cmd.other_options(other);
    let mut md = cmd.exec().map_err(|e| {
        // The lockfile hint only where Cargo's error is about the lockfile.
        let about_lock = locked && e.to_string().contains("--locked");
        anyhow::Error::new(e).context(format!(
            "reading the package graph of {} failed{}",
            manifest_path.display(),
            if about_lock {
                " (with --locked: if its Cargo.lock is missing or out of date, run `cargo generate-lockfile` there or pass --no-locked)"
            } else {
                ""
            }
        ))
    })?;
    // What Cargo reports but does not build (weak optional dependencies) is left out.
    inactive_deps::drop_inactive_optional_edges(&mut md);
    Ok(md)
}

/// A program's workspace as a build that resolves its programs in a set first reads it: with
/// [`load_metadata`], unless the build respects lockfiles (`locked`) and the workspace has no
/// `Cargo.lock` (a local program that ships none). Cargo would then refuse to create one under
/// `--locked`, and without it would write one into the program's directory; its packages
/// alone are read instead (`--no-deps`), and the set resolves it anew, as `cargo install
/// --path` resolves it. `Ok((metadata, true))` says it was read so.
pub(crate) fn load_program_metadata(
    manifest_path: &Path,
    locked: bool,
    target: &str,
    features: &[String],
) -> Result<(Metadata, bool)> {
    if locked {
        let mut cmd = MetadataCommand::new();
        cmd.manifest_path(manifest_path).no_deps();
        if let Some(cargo) = std::env::var_os("CARGO") {
            cmd.cargo_path(cargo);
        }
        let packages = cmd
            .exec()
            .with_context(|| format!("reading the packages of {}", manifest_path.display()))?;
        if !packages.workspace_root.join("Cargo.lock").exists() {
            return Ok((packages, true));
        }
    }
    Ok((
        load_metadata(manifest_path, locked, target, features)?,
        false,
    ))
}

impl BuildGraph {
    /// Add one workspace and its programs: the root package if it has binaries, else every
    /// workspace member that has one.
    /// `select` keeps only some of them (programs that a unified set builds elsewhere).
    pub(crate) fn add_workspace(
        &mut self,
        manifest_path: &Path,
        metadata: Metadata,
        select: &dyn Fn(&str) -> bool,
        build_programs_alone: bool,
    ) -> Result<()> {
        let index = self.workspaces.len();
        let mut added = 0;
        for pkg in program_packages(&metadata)
            .into_iter()
            .filter(|p| select(&p.name))
        {
            if let Some(existing) = self.programs.iter().find(|p| p.name == pkg.name) {
                bail!(
                    "two programs named `{}` in one build ({} and {}); build them separately",
                    pkg.name,
                    existing.version,
                    pkg.version
                );
            }
            self.programs.push(Program {
                name: pkg.name.to_string(),
                version: pkg.version.to_string(),
                package_id: pkg.id.clone(),
                workspace: index,
                plugin_for: None,
            });
            added += 1;
        }
        if added == 0 {
            bail!(
                "{} has no binary target: cargo-share builds programs (packages with a [[bin]] or src/main.rs)",
                manifest_path.display()
            );
        }
        self.workspaces.push(Workspace {
            manifest_path: manifest_path.to_path_buf(),
            root: metadata.workspace_root.as_std_path().to_path_buf(),
            metadata,
            build_programs_alone,
        });
        Ok(())
    }

    /// Decide the shared packages (see the module docs).
    pub(crate) fn compute_shared(&mut self) {
        let mut users: BTreeMap<PathBuf, BTreeSet<usize>> = BTreeMap::new();
        let mut shared = BTreeSet::new();
        for (pi, program) in self.programs.iter().enumerate() {
            let md = &self.workspaces[program.workspace].metadata;
            for pkg in normal_closure(md, &program.package_id) {
                if pkg.id == program.package_id {
                    continue;
                }
                users.entry(package_dir(pkg)).or_default().insert(pi);
            }
        }
        for ws in &self.workspaces {
            for pkg in &ws.metadata.packages {
                if pkg.source.is_some() {
                    shared.insert(package_dir(pkg));
                }
            }
        }
        for (dir, who) in &users {
            if who.len() > 1 {
                shared.insert(dir.clone());
            }
        }
        // Close under normal dependencies.
        for ws in &self.workspaces {
            let seeds: Vec<&PackageId> = ws
                .metadata
                .packages
                .iter()
                .filter(|p| shared.contains(&package_dir(p)))
                .map(|p| &p.id)
                .collect();
            let mut more = Vec::new();
            for id in seeds {
                for pkg in normal_closure(&ws.metadata, id) {
                    more.push(package_dir(pkg));
                }
            }
            shared.extend(more);
        }
        self.shared_packages = shared;
    }
}

/// The programs of a workspace: the root package if it has binaries, else every member that has.
pub fn program_packages(metadata: &Metadata) -> Vec<&Package> {
    let has_bins = |p: &&Package| p.targets.iter().any(|t| t.is_bin());
    match metadata.root_package() {
        Some(p) => vec![p],
        None => metadata.workspace_packages(),
    }
    .into_iter()
    .filter(has_bins)
    .collect()
}

/// The resolved graph's nodes by package id.
pub(crate) fn resolve_nodes(md: &Metadata) -> BTreeMap<&PackageId, &cargo_metadata::Node> {
    md.resolve
        .iter()
        .flat_map(|r| r.nodes.iter())
        .map(|n| (&n.id, n))
        .collect()
}

/// Packages reachable from `root` through normal (non-dev, non-build) dependencies, root included.
pub(crate) fn normal_closure<'a>(md: &'a Metadata, root: &PackageId) -> Vec<&'a Package> {
    let Some(resolve) = &md.resolve else {
        return Vec::new();
    };
    let nodes: BTreeMap<&PackageId, _> = resolve.nodes.iter().map(|n| (&n.id, n)).collect();
    let pkgs: BTreeMap<&PackageId, &Package> = md.packages.iter().map(|p| (&p.id, p)).collect();
    let mut seen = BTreeSet::new();
    let mut queue = VecDeque::from([root]);
    let mut out = Vec::new();
    while let Some(id) = queue.pop_front() {
        if !seen.insert(id) {
            continue;
        }
        if let Some(p) = pkgs.get(id) {
            out.push(*p);
        }
        if let Some(node) = nodes.get(id) {
            for dep in &node.deps {
                if dep
                    .dep_kinds
                    .iter()
                    .any(|k| k.kind == DependencyKind::Normal)
                {
                    queue.push_back(&dep.pkg);
                }
            }
        }
    }
    out
}
