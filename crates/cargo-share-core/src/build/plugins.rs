//! Plugins (`cargo share build --plugin-for PROGRAM --manifest-path PLUGIN`): library crates
//! (`dylib` or `cdylib`) built in their program's set.
//!
//! The program is a *plugin host*: in the group plan a second consumer,
//! [`crate::resolve::grouping::plugins_consumer`], uses every crate the program uses, so all of them go into
//! groups the program loads (none stays static in it, where a plugin could not bind to it).
//! The plugins join the set workspace as members: Cargo resolves them with the program, so a
//! crate they have in common is the program's exact build, and each plugin depends on the
//! program's groups (linked with `force:`, like a binary). Plugins are not consumers: crates
//! only a plugin uses stay static in it. They are not part of the set's identity either, so
//! the set's directory and its group names are the program's whichever plugins are built.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use anyhow::{bail, Context, Result};
use cargo_metadata::Metadata;

use crate::build::options::{BuildOptions, Layout};
use crate::build::plugin_closure::{note_mismatch, CLOSURE_SECTION};
use crate::resolve::graph::{self, BuildGraph, Program};
use crate::resolve::set::{self, SetMember, Unify};
use crate::shell::Shell;
use crate::source::ProgramSource;
use cargo_share_compile::toolchain::Toolchain;

/// The plugins of a build and the program they are for.
#[derive(Debug, Clone)]
pub(crate) struct Plugins {
    pub(crate) host: String,
    pub(crate) members: Vec<SetMember>,
}

/// Read the plugins' manifests (with `--plugin-for`) and check them: the build has exactly one
/// program, grouped under `--unify features`, and each plugin is a package whose library is a
/// `dylib` or `cdylib`.
pub(crate) fn load_plugins(
    options: &BuildOptions,
    programs: &[(PathBuf, Metadata)],
    cache: &Path,
    toolchain: &Toolchain,
    shell: &Shell,
) -> Result<Option<Plugins>> {
    if !options.plugin_host {
        return Ok(None);
    }
    if options.layout != Layout::Grouped || options.unify.policy != Unify::Features {
        bail!(
            "--plugin-for builds plugins against the program's groups: use --layout grouped \
             with --unify features (the defaults)"
        );
    }
    let names: Vec<String> = programs
        .iter()
        .flat_map(|(_, md)| graph::program_packages(md))
        .map(|p| p.name.to_string())
        .collect();
    let [host] = names.as_slice() else {
        bail!(
            "--plugin-for names one program, and {} has {} ({}): name the package with the \
             binary that loads the plugins",
            programs
                .first()
                .map_or("the build".into(), |(m, _)| m.display().to_string()),
            names.len(),
            names.join(", ")
        );
    };
    let mut members = Vec::new();
    for path in &options.plugins {
        let manifest = ProgramSource::Path(path.clone()).manifest(cache, shell)?;
        let md = graph::load_metadata(&manifest, options.locked, &toolchain.host, &[])?;
        let Some(pkg) = md.root_package() else {
            bail!(
                "plugin {}: a workspace without a root package; give the plugin package's own \
                 Cargo.toml",
                manifest.display()
            );
        };
        let types: Vec<String> = pkg
            .targets
            .iter()
            .filter(|t| t.is_lib() || t.is_dylib() || t.is_cdylib())
            .flat_map(|t| t.crate_types.iter().map(|c| c.to_string()))
            .collect();
        if !types.iter().any(|t| t == "dylib" || t == "cdylib") {
            bail!(
                "plugin {}: {} v{} is not a plugin library: its [lib] needs \
                 crate-type = [\"dylib\"] (or [\"cdylib\"]){}",
                manifest.display(),
                pkg.name,
                pkg.version,
                if types.is_empty() {
                    " and it has no library target".to_string()
                } else {
                    format!(", it has {}", types.join(", "))
                }
            );
        }
        if pkg.name.as_str() == host.as_str() {
            bail!(
                "plugin {}: it has the program's own name",
                manifest.display()
            );
        }
        let dir = pkg
            .manifest_path
            .parent()
            .context("a manifest without a directory")?
            .as_std_path()
            .to_path_buf();
        let text = std::fs::read_to_string(&pkg.manifest_path)
            .with_context(|| format!("reading {}", pkg.manifest_path))?;
        set::rewrite_member_manifest(&text, &dir)
            .with_context(|| format!("plugin {} cannot join {host}'s set", pkg.name))?;
        let lock = std::fs::read_to_string(md.workspace_root.join("Cargo.lock")).ok();
        members.push(SetMember {
            name: pkg.name.to_string(),
            version: pkg.version.to_string(),
            package_dir: dir,
            own_lock_packages: set::lock_packages(lock.as_deref()),
            lock,
            plugin_for: Some(host.clone()),
            keep_resolution: false,
            released_lock: None,
            test_only: crate::build::test_only::test_only_packages(&md, &[&pkg.id]),
        });
    }
    Ok(Some(Plugins {
        host: host.clone(),
        members,
    }))
}

/// Add the plugins of the set workspace `workspace` (an index into `graph.workspaces`) to the
/// graph as programs without binaries, so that Cargo builds them (`-p PLUGIN`).
pub(crate) fn add_plugins(
    graph: &mut BuildGraph,
    workspace: usize,
    plugins: &Plugins,
) -> Result<()> {
    let md = &graph.workspaces[workspace].metadata;
    let mut found = Vec::new();
    for member in &plugins.members {
        let pkg = md
            .workspace_packages()
            .into_iter()
            .find(|p| p.name.as_str() == member.name)
            .with_context(|| format!("plugin {} is missing from the set workspace", member.name))?;
        found.push(Program {
            name: pkg.name.to_string(),
            version: pkg.version.to_string(),
            package_id: pkg.id.clone(),
            workspace,
            plugin_for: Some(plugins.host.clone()),
        });
    }
    graph.programs.extend(found);
    Ok(())
}

/// The package directories of the plugins in the graph, for the wrapper's plan.
pub(crate) fn plugin_package_dirs(graph: &BuildGraph) -> BTreeSet<PathBuf> {
    graph
        .programs
        .iter()
        .filter(|p| p.plugin_for.is_some())
        .filter_map(|p| {
            let md = &graph.workspaces[p.workspace].metadata;
            let pkg = md.packages.iter().find(|k| k.id == p.package_id)?;
            let dir = pkg.manifest_path.parent()?.as_std_path();
            Some(dir.canonicalize().unwrap_or(dir.to_path_buf()))
        })
        .collect()
}

/// Plugins an earlier build left in `OUT/plugins` that the program built now would refuse
/// (built for another build of it): each is named in a warning, and left as it is.
pub(crate) fn warn_stale_plugins(
    out: &Path,
    built: &BTreeSet<PathBuf>,
    notes: &std::collections::BTreeMap<String, String>,
    shell: &Shell,
) -> Result<()> {
    let dir = out.join("plugins");
    let Ok(entries) = std::fs::read_dir(&dir) else {
        return Ok(());
    };
    for entry in entries {
        let path = entry?.path();
        if built.contains(&path) || path.extension().is_none_or(|e| e != "so") {
            continue;
        }
        let data = std::fs::read(&path).with_context(|| format!("reading {}", path.display()))?;
        let Ok(Some(note)) = cargo_share_compile::elf::section_data(&data, CLOSURE_SECTION) else {
            continue;
        };
        let note = String::from_utf8_lossy(&note);
        let program = note
            .lines()
            .find_map(|l| l.strip_prefix("program "))
            .unwrap_or_default();
        let Some(program_note) = notes.get(program) else {
            continue;
        };
        if let Some(why) = note_mismatch(program_note, &note) {
            shell.warn(format!(
                "{} was built by an earlier build and {program} will refuse it ({why}): build it \
                 again with --plugin-for",
                path.display()
            ));
        }
    }
    Ok(())
}
