//! Steps 1-3 of a build: sources fetched, the program set generated and resolved, groups
//! planned (reusing stored ones where they resolve exactly), the graph read and the wrapper's
//! plan written. One build per cache at a time (`CACHE/lock`).

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use anyhow::{bail, Context, Result};

use crate::build::features::ProgramFeatures;
use crate::build::installed::{join_installed, manifests_of, provenance, Provenance};
use crate::build::options::{Binding, BuildOptions, CratePatch, GroupExports, Layout};
use crate::build::plugins::{load_plugins, plugin_package_dirs};
use crate::build::set_planner;
use crate::build::set_planner::GroupedPlan;
use crate::build::source_metadata;
use crate::resolve::graph;
use crate::resolve::graph::BuildGraph;
use crate::resolve::set::{ProgramSet, Unify};
use crate::shell::Shell;
use crate::source;
use cargo_share_compile::digest::sha256_hex;
use cargo_share_compile::plan::WrapperPlan;
use cargo_share_compile::profile;
use cargo_share_compile::profile::SharedProfile;
use cargo_share_compile::toolchain::Toolchain;

/// A build in progress: resolved programs, the plan, and where things go.
pub struct PreparedBuild {
    pub graph: BuildGraph,
    pub toolchain: Toolchain,
    pub(crate) target_dir: PathBuf,
    pub(crate) plan_file: tempfile::NamedTempFile,
    pub options: BuildOptions,
    /// The generated workspace of a unified build.
    pub(crate) set: Option<ProgramSet>,
    /// The sets after the first (grouped layout: the programs split off it, in order).
    pub(crate) later_sets: Vec<ProgramSet>,
    /// The groups of a grouped build.
    pub(crate) groups: Option<GroupedPlan>,
    /// The programs' own workspace roots and the programs from each: their profiles are what
    /// the build overrides (a set's copies carry none).
    pub(crate) origins: Vec<(PathBuf, Vec<String>)>,
    /// What each program was built from, by name (recorded with installed programs).
    pub(crate) provenance: BTreeMap<String, Provenance>,
    /// Held until the build ends: one cargo-share build per cache at a time.
    _cache_lock: std::sync::Arc<std::fs::File>,
}

/// The programs whose workspace's release profile says `panic = "abort"`: their binaries get the
/// toolchain's aborting panic runtime (`compile::panic_abort`), which a toolchain without
/// `libpanic_abort-*.rlib` cannot give (said, and they unwind).
fn aborting_programs(
    origins: &[(PathBuf, Vec<String>)],
    toolchain: &Toolchain,
    shell: &Shell,
) -> BTreeSet<String> {
    let programs: BTreeSet<String> = origins
        .iter()
        .filter(|(root, _)| profile::aborts_on_panic(&root.join("Cargo.toml")))
        .flat_map(|(_, names)| names.iter().cloned())
        .collect();
    if !programs.is_empty() && toolchain.panic_abort_rlib().is_none() {
        shell.warn(format!(
            "{}: the toolchain has no libpanic_abort-*.rlib in {}, so a panic unwinds instead \
             of aborting (reinstall the toolchain, e.g. `rustup toolchain install stable`)",
            programs.iter().cloned().collect::<Vec<_>>().join(", "),
            toolchain.std_libdir.display()
        ));
    }
    programs
}

/// The cache locks this process holds, by lock file: a build prepared while another of the same
/// command is alive (an installed program's tests run alone, to compare with a set's) shares
/// its lock instead of waiting for itself. The builds of one process run one after another.
static HELD_LOCKS: std::sync::Mutex<Vec<(PathBuf, std::sync::Weak<std::fs::File>)>> =
    std::sync::Mutex::new(Vec::new());

/// Lock a cache directory for one build: generated set workspaces, fetched sources and target
/// directories are rewritten by a build, so a second build (or a `--dry-run`, which writes the
/// set workspace to plan it) waits for the first, unless this process holds the lock already.
fn lock_cache(cache: &Path, shell: &Shell) -> Result<std::sync::Arc<std::fs::File>> {
    let path = cache.join("lock");
    let mut held = HELD_LOCKS.lock().unwrap_or_else(|e| e.into_inner());
    held.retain(|(_, lock)| lock.strong_count() > 0);
    if let Some(lock) = held
        .iter()
        .find(|(p, _)| *p == path)
        .and_then(|(_, lock)| lock.upgrade())
    {
        return Ok(lock);
    }
    let lock = std::sync::Arc::new(take_cache_lock(cache, &path, shell)?);
    held.push((path, std::sync::Arc::downgrade(&lock)));
    Ok(lock)
}

/// Open and lock `CACHE/lock` (`path`), waiting, and saying so, while another process holds it.
fn take_cache_lock(cache: &Path, path: &Path, shell: &Shell) -> Result<std::fs::File> {
    let lock = std::fs::File::options()
        .create(true)
        .truncate(false)
        .write(true)
        .open(path)
        .with_context(|| format!("opening the cache lock {}", path.display()))?;
    if lock.try_lock().is_err() {
        shell.status(
            "Blocking",
            format!(
                "waiting for the cache lock ({} is in use by another cargo-share)",
                cache.display()
            ),
        );
        lock.lock()
            .with_context(|| format!("locking {}", path.display()))?;
    }
    Ok(lock)
}

/// Cargo's target directory for a layout under a cache directory. One per wrapper ABI: builds
/// made by a wrapper that rewrote units differently are never reused as if they were ours. One
/// per layout: the same Cargo unit is a dylib in one and an rlib in the other. One per binding:
/// `--bind lazy` compiles every unit differently (`-C relro-level=partial`), which Cargo's
/// fingerprints do not see, since the wrapper adds it.
pub fn target_dir_of(
    cache: &Path,
    layout: Layout,
    binding: Binding,
    profile: &SharedProfile,
) -> PathBuf {
    let abi = cargo_share_compile::unit_record::WRAPPER_ABI;
    let layout = match layout {
        Layout::PerCrate => "",
        Layout::Grouped => "-grouped",
    };
    let binding = match binding {
        Binding::Now => "",
        Binding::Lazy => "-lazy",
    };
    // Another shared profile, another directory: Cargo names each unit by its profile, but a
    // group's shared object has no hash in its name, so a build of the same set with another
    // profile (a test baseline compiled without optimisation, `retest_baseline`) would replace
    // it under a build that finds its own unit fresh.
    let profile = match *profile == SharedProfile::default() {
        true => String::new(),
        false => {
            let settings = serde_json::to_vec(&profile.settings).unwrap_or_default();
            format!("-profile-{}", &sha256_hex(&settings)[..8])
        }
    };
    cache.join(format!("target-{abi}{layout}{binding}{profile}"))
}

/// Steps 1 to 3: sources, graph, plan.
pub fn prepare(options: &BuildOptions, shell: &Shell) -> Result<PreparedBuild> {
    if options.programs.is_empty() && options.installed.is_empty() {
        bail!("no programs given: name them with --manifest-path PATH or --crate NAME[@VERSION]");
    }
    options.unify.validate()?;
    if options.layout == Layout::Grouped && options.unify.policy != Unify::Features {
        bail!(
            "--layout grouped builds the programs as one set with one build of each crate: \
             use it with --unify features (its default), or use --layout per-crate with --unify {}",
            options.unify.policy
        );
    }
    let cache = options.cache()?;
    std::fs::create_dir_all(&cache)
        .with_context(|| format!("creating the cargo-share cache {}", cache.display()))?;
    let cache = cache.canonicalize()?;
    let cache_lock = lock_cache(&cache, shell)?;
    let toolchain = Toolchain::detect()?;
    let target_dir = target_dir_of(
        &cache,
        options.layout,
        options.binding,
        &options.shared_profile,
    );
    std::fs::create_dir_all(&target_dir)?;

    let mut sources = source_metadata::read_sources(options, &cache, &toolchain.host, shell)?;
    let mut options = options.clone();
    if !options.installed.is_empty() {
        join_installed(&mut options, &mut sources, &cache, &toolchain.host, shell)?;
    }
    // Features are checked once the programs are known, then read into each workspace's graph.
    let options = &BuildOptions {
        features: bind_features(&options.features, &sources)?,
        // A plugin host's groups keep every export: a plugin built later binds to them.
        group_exports: if options.plugin_host {
            GroupExports::All
        } else {
            options.group_exports
        },
        ..options
    };
    let plugins = load_plugins(options, &sources, &cache, &toolchain, shell)?;
    if !options.features.is_empty() {
        for (manifest, md) in &mut sources {
            let args = options.features.cargo_args(&program_names(md));
            if !args.is_empty() {
                *md = source_metadata::program_metadata(
                    manifest,
                    options,
                    &toolchain.host,
                    &args,
                    shell,
                )?;
            }
        }
    }
    let origins: Vec<(PathBuf, Vec<String>)> = sources
        .iter()
        .map(|(_, md)| {
            let names = graph::program_packages(md)
                .into_iter()
                .map(|p| p.name.to_string())
                .collect();
            (md.workspace_root.as_std_path().to_path_buf(), names)
        })
        .collect();
    let manifests = manifests_of(&sources);
    let mut graph = BuildGraph::default();
    let (mut sets, groups) = if options.unify.policy == Unify::None {
        for (manifest, md) in sources {
            graph.add_workspace(&manifest, md, &|_| true, false)?;
        }
        (Vec::new(), None)
    } else {
        set_planner::unify_sources(
            sources,
            plugins.as_ref(),
            options,
            &cache,
            &toolchain,
            &mut graph,
            shell,
        )?
    };
    // Grouped: only the facades are dylibs (set by `unify_sources`); every other crate is an
    // rlib, linked into its group or, used by one program, into that program.
    if options.layout == Layout::PerCrate {
        share_per_crate(&mut graph, &options.patches);
    }

    let provenance = provenance(&graph, &manifests, &options.kept_resolutions)?;
    let plan = wrapper_plan(options, &graph, &target_dir, &origins, &toolchain, shell)?;
    let plan_file = tempfile::Builder::new()
        .prefix("plan-")
        .suffix(".json")
        .tempfile_in(&cache)?;
    plan.save(plan_file.path())?;
    Ok(PreparedBuild {
        graph,
        toolchain,
        target_dir,
        plan_file,
        options: options.clone(),
        set: (!sets.is_empty()).then(|| sets.remove(0)),
        later_sets: sets,
        groups,
        origins,
        provenance,
        _cache_lock: cache_lock,
    })
}

/// Per-crate layout: every crate two or more programs use is a shared library, and so is a
/// patched copy (`--patch`) of one.
fn share_per_crate(graph: &mut BuildGraph, patches: &[CratePatch]) {
    graph.compute_shared();
    // A patched copy of a shared crate is shared too.
    for patch in patches {
        let shared = graph.workspaces.iter().any(|ws| {
            ws.metadata.packages.iter().any(|p| {
                let dir = p.manifest_path.parent().map(|m| m.as_std_path());
                p.name.as_str() == patch.name
                    && dir
                        .and_then(|d| d.canonicalize().ok())
                        .is_some_and(|d| graph.shared_packages.contains(&d))
            })
        });
        if shared {
            let dir = patch.path.canonicalize().unwrap_or(patch.path.clone());
            graph.shared_packages.insert(dir);
        }
    }
}

/// What the wrapper needs to know of this build (`compile::plan`).
fn wrapper_plan(
    options: &BuildOptions,
    graph: &BuildGraph,
    target_dir: &Path,
    origins: &[(PathBuf, Vec<String>)],
    toolchain: &Toolchain,
    shell: &Shell,
) -> Result<WrapperPlan> {
    Ok(WrapperPlan {
        shared_packages: graph.shared_packages.clone(),
        target_dir: target_dir.to_path_buf(),
        cargo_home: source::cargo_home()?,
        self_exe: std::env::current_exe().context("locating the cargo-share executable")?,
        unit_log: options.unit_log.clone(),
        grouped: options.layout == Layout::Grouped,
        lazy_binding: options.binding == Binding::Lazy,
        quiet_packages: options
            .programs
            .iter()
            .filter_map(|p| match p {
                source::ProgramSource::Registry(spec)
                | source::ProgramSource::OtherRegistry(spec, _) => Some(spec.name.clone()),
                source::ProgramSource::Git(spec) => spec.package.clone(),
                source::ProgramSource::Path(_) => None,
            })
            .collect(),
        plugin_packages: plugin_package_dirs(graph),
        abort_on_panic: aborting_programs(origins, toolchain, shell),
        panic_abort_rlib: toolchain.panic_abort_rlib(),
        patched_sources: crate::build::patch_paths::originals(&options.patches, graph),
    })
}

fn program_names(md: &cargo_metadata::Metadata) -> Vec<String> {
    graph::program_packages(md)
        .into_iter()
        .map(|p| p.name.to_string())
        .collect()
}

/// Bind `--features` to the programs of the build ([`ProgramFeatures::bind`]) and check that
/// each program has the features asked for it, so that a typo is named before Cargo runs.
fn bind_features(
    features: &ProgramFeatures,
    sources: &[(PathBuf, cargo_metadata::Metadata)],
) -> Result<ProgramFeatures> {
    let mut names: Vec<String> = Vec::new();
    for (_, md) in sources {
        for name in program_names(md) {
            if !names.contains(&name) {
                names.push(name);
            }
        }
    }
    let bound = features.bind(&names)?;
    for (program, asked) in bound.by_program() {
        let Some(pkg) = sources
            .iter()
            .flat_map(|(_, md)| graph::program_packages(md))
            .find(|p| p.name.as_str() == program.as_str())
        else {
            continue;
        };
        // Cargo's features: the declared ones and the implicit feature of each optional
        // dependency that no `dep:NAME` entry hides.
        let mut known: Vec<String> = pkg.features.keys().cloned().collect();
        let hidden: Vec<&str> = pkg
            .features
            .values()
            .flatten()
            .filter_map(|v| v.strip_prefix("dep:"))
            .collect();
        known.extend(
            pkg.dependencies
                .iter()
                .filter(|d| d.optional)
                .map(|d| d.rename.clone().unwrap_or_else(|| d.name.clone()))
                .filter(|d| !hidden.contains(&d.as_str())),
        );
        known.sort();
        known.dedup();
        for feature in asked {
            if !known.contains(feature) {
                bail!(
                    "--features {program}/{feature}: {program} v{} has no feature `{feature}` ({})",
                    pkg.version,
                    if known.is_empty() {
                        "it declares no features".to_string()
                    } else {
                        format!("its features: {}", known.join(", "))
                    }
                );
            }
        }
    }
    Ok(bound)
}
