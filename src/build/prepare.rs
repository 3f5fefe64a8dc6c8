//! Steps 1-3 of a build: sources fetched, the program set generated and resolved, groups
//! planned (reusing stored ones where they resolve exactly), the graph read and the wrapper's
//! plan written. One build per cache at a time (`CACHE/lock`).

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use anyhow::{bail, Context, Result};

use crate::build::features::ProgramFeatures;
use crate::build::installed::{
    announce_left, join_installed, manifests_of, provenance, Provenance,
};
use crate::build::later_sets;
use crate::build::later_sets::{announce_set, leave_out_named_groups, NotReused};
use crate::build::options::{Binding, BuildOptions, CratePatch, GroupExports, Layout};
use crate::build::own_features;
use crate::build::plugins::{add_plugins, load_plugins, plugin_package_dirs, Plugins};
use crate::build::set_split::{split_off, SetSplit};
use crate::resolve::graph;
use crate::resolve::graph::BuildGraph;
use crate::resolve::grouping;
use crate::resolve::grouping::{GroupPlan, GroupRecord, StoredGroup};
use crate::resolve::set;
use crate::resolve::set::{ProgramSet, ResolutionConflict, SetMember, Unify};
use crate::shell::Shell;
use crate::source;
use cargo_share_compile::plan::WrapperPlan;
use cargo_share_compile::profile;
use cargo_share_compile::toolchain::Toolchain;

/// The groups of a grouped build and, by group name, what each one's store entry records.
pub type GroupedPlan = (GroupPlan, BTreeMap<String, GroupRecord>);

/// A build in progress: resolved programs, the plan, and where things go.
pub struct PreparedBuild {
    pub graph: BuildGraph,
    pub toolchain: Toolchain,
    pub target_dir: PathBuf,
    pub plan_file: tempfile::NamedTempFile,
    pub options: BuildOptions,
    /// The generated workspace of a unified build.
    pub set: Option<ProgramSet>,
    /// The sets after the first (grouped layout: the programs split off it, in order).
    pub later_sets: Vec<ProgramSet>,
    /// The groups of a grouped build.
    pub groups: Option<GroupedPlan>,
    /// The programs' own workspace roots and the programs from each: their profiles are what
    /// the build overrides (a set's copies carry none).
    pub origins: Vec<(PathBuf, Vec<String>)>,
    /// What each program was built from, by name (recorded with installed programs).
    pub provenance: BTreeMap<String, Provenance>,
    /// Held until the build ends: one cargo-share build per cache at a time.
    _cache_lock: std::fs::File,
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

/// Lock a cache directory for one build: generated set workspaces, fetched sources and target
/// directories are rewritten by a build, so a second build (or a `--dry-run`, which writes the
/// set workspace to plan it) waits for the first.
fn lock_cache(cache: &Path, shell: &Shell) -> Result<std::fs::File> {
    let path = cache.join("lock");
    let lock = std::fs::File::options()
        .create(true)
        .truncate(false)
        .write(true)
        .open(&path)
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
pub fn target_dir_of(cache: &Path, layout: Layout, binding: Binding) -> PathBuf {
    let abi = cargo_share_compile::unit_record::WRAPPER_ABI;
    let layout = match layout {
        Layout::PerCrate => "",
        Layout::Grouped => "-grouped",
    };
    let binding = match binding {
        Binding::Now => "",
        Binding::Lazy => "-lazy",
    };
    cache.join(format!("target-{abi}{layout}{binding}"))
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
    let target_dir = target_dir_of(&cache, options.layout, options.binding);
    std::fs::create_dir_all(&target_dir)?;

    let mut manifests = Vec::new();
    for source in &options.programs {
        let manifest = source.manifest(&cache, shell)?;
        if !manifests.contains(&manifest) {
            manifests.push(manifest);
        }
    }

    let mut sources = Vec::new();
    for manifest in manifests {
        let md = graph::load_metadata(&manifest, options.locked, &toolchain.host, &[])?;
        sources.push((manifest, md));
    }
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
                *md = graph::load_metadata(manifest, options.locked, &toolchain.host, &args)?;
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
        unify_sources(
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

/// Put the programs that join the set into one generated workspace (resolved together); keep the
/// `--own-lock` ones in their own workspaces. The sets, the first one first.
fn unify_sources(
    sources: Vec<(PathBuf, cargo_metadata::Metadata)>,
    plugins: Option<&Plugins>,
    options: &BuildOptions,
    cache: &Path,
    toolchain: &Toolchain,
    graph: &mut BuildGraph,
    shell: &Shell,
) -> Result<(Vec<ProgramSet>, Option<GroupedPlan>)> {
    let unify = &options.unify;
    // `--own-lock` programs, then those split off because Cargo cannot resolve them with the
    // others (`split_off`).
    let mut kept_out: Vec<String> = unify.own_lock.clone();
    let own_lock = |name: &str| unify.own_lock.iter().any(|o| o == name);
    let all: Vec<String> = sources
        .iter()
        .flat_map(|(_, md)| graph::program_packages(md))
        .map(|p| p.name.to_string())
        .collect();
    for name in &unify.own_lock {
        if !all.contains(name) {
            bail!(
                "--own-lock {name}: no program of this build is named `{name}` (programs: {})",
                all.join(", ")
            );
        }
    }
    let mut members = Vec::new();
    for (manifest, md) in &sources {
        if graph::program_packages(md).is_empty() {
            bail!(
                "{} has no binary target: cargo-share builds programs (packages with a [[bin]] or src/main.rs)",
                manifest.display()
            );
        }
        let lock = std::fs::read_to_string(md.workspace_root.join("Cargo.lock")).ok();
        for pkg in graph::program_packages(md) {
            if own_lock(&pkg.name) {
                continue;
            }
            // A manifest that cannot move into the set's workspace (values inherited from its
            // own workspace, `[patch]`) keeps the program out of the set, as --own-lock would.
            let manifest_text = std::fs::read_to_string(&pkg.manifest_path)
                .with_context(|| format!("reading {}", pkg.manifest_path))?;
            let package_dir = pkg.manifest_path.parent().map(|d| d.as_std_path());
            if let Err(why) =
                set::rewrite_member_manifest(&manifest_text, package_dir.unwrap_or(Path::new(".")))
            {
                let out = SetSplit {
                    reason: "set-split",
                    program: pkg.name.to_string(),
                    conflicts_with: Vec::new(),
                    requirement: why.to_string(),
                    next_set: None,
                };
                kept_out.push(out.announce(shell));
                continue;
            }
            let kept = options.kept_resolutions.get(pkg.name.as_str());
            members.push(SetMember {
                keep_resolution: kept.is_some(),
                name: pkg.name.to_string(),
                version: pkg.version.to_string(),
                package_dir: pkg
                    .manifest_path
                    .parent()
                    .context("a manifest without a directory")?
                    .as_std_path()
                    .to_path_buf(),
                lock: kept.cloned().or_else(|| lock.clone()),
                own_lock_packages: set::lock_packages(lock.as_deref()),
                released_lock: kept.and(lock.clone()),
                plugin_for: None,
            });
        }
    }
    members.extend(plugins.iter().flat_map(|p| p.members.iter().cloned()));
    let grouped = options.layout == Layout::Grouped;
    let fixed_by_resolution = unify.lock_file.is_some() || !unify.pins.is_empty();
    let mut candidates: Vec<StoredGroup> = if grouped {
        options.stored_groups.clone()
    } else {
        Vec::new()
    };
    if fixed_by_resolution && !candidates.is_empty() {
        shell.status(
            "Ignoring",
            "the groups in the store: --lock and --pin fix the resolution",
        );
        candidates.clear();
    }
    candidates = grouping::compatible_subset(&candidates);
    // The first set holds every program that resolves with the others; those split off it are
    // resolved as the next set against the groups of the sets before (grouped layout), and so
    // on (`later_sets`). When a later set cannot load an earlier group because it builds some of
    // its crates otherwise (another version, a feature more), the sets are planned again with
    // those crates, and every crate that depends on one, kept apart in groups of their own
    // (`plan_groups`' `apart`), so the later set loads the rest; at most `SET_PASSES` times.
    let all_members = members;
    let first_candidates = candidates;
    let kept_out_before = kept_out.clone();
    let graph_before = (graph.workspaces.len(), graph.programs.len());
    let mut apart: BTreeSet<String> = BTreeSet::new();
    let mut best: Option<(BTreeSet<String>, usize)> = None;
    let mut replaying = false;
    let mut pass = 0;
    let (sets, groups) = loop {
        pass += 1;
        let mut members = all_members.clone();
        let mut candidates = first_candidates.clone();
        kept_out = kept_out_before.clone();
        graph.workspaces.truncate(graph_before.0);
        graph.programs.truncate(graph_before.1);
        let mut wanted_apart: BTreeSet<String> = BTreeSet::new();
        // How many crates the later sets load from earlier groups: what a pass is judged by.
        let mut loaded_from_earlier = 0;
        let mut sets: Vec<ProgramSet> = Vec::new();
        let mut groups: Option<GroupedPlan> = None;
        // The facade directories of every set's grouped build workspace (a later set has its own
        // copies of the earlier groups it loads).
        let mut facade_dirs: BTreeSet<PathBuf> = BTreeSet::new();
        let mut number = 0;
        while !members.is_empty() {
            number += 1;
            let mut next: Vec<SetMember> = Vec::new();
            let mut stored = candidates.clone();
            let mut not_reused: Vec<NotReused> = Vec::new();
            kept_out.extend(own_features::set_aside(
                &mut members,
                &mut next,
                unify,
                number,
                grouped,
                shell,
            ));
            let names: Vec<&str> = members.iter().map(|m| m.name.as_str()).collect();
            own_features::leave_out_forced_features(
                &members,
                &mut stored,
                unify,
                cache,
                &toolchain.host,
                &options.features.cargo_args(&names),
                &mut not_reused,
                &mut wanted_apart,
                shell,
            )?;
            let resolved = loop {
                if members.is_empty() {
                    break None;
                }
                let set = match set::generate(&members, unify, cache, &stored, Some(number), shell)
                {
                    Err(e) if !fixed_by_resolution && e.is::<ResolutionConflict>() => {
                        let conflict = e.downcast::<ResolutionConflict>()?;
                        // The crate Cargo cannot fit, held by a group of an earlier set.
                        if let Some(k) = &conflict.krate {
                            let apart = [k.clone()];
                            if stored.iter().any(|g| {
                                g.set.is_some()
                                    && g.record.group.members.iter().any(|m| &m.name == k)
                                    && grouping::leaves_a_rest(&g.record, &apart)
                            }) {
                                wanted_apart.insert(k.clone());
                            }
                        }
                        if leave_out_named_groups(&conflict, &mut stored, &mut not_reused, shell) {
                            continue;
                        }
                        if !stored.is_empty() && conflict.involved.is_empty() {
                            drop_all(&mut stored, &conflict.to_string(), &mut not_reused, shell);
                            continue;
                        }
                        let mut out = split_off(&members, &conflict, unify, cache)?;
                        if let Some(p) = members.iter().find(|m| m.name == out.program) {
                            if let Some(host) = &p.plugin_for {
                                bail!(
                                    "plugin {} cannot be resolved with {host}: {conflict}",
                                    p.name
                                );
                            }
                        }
                        let leaving = members.iter().position(|m| m.name == out.program);
                        let leaving = leaving.map(|i| members.remove(i));
                        // An installed program goes to the next set as a new one does (its
                        // tests prove it if its versions move there, `build::retest`).
                        if let (true, Some(m)) = (grouped, leaving) {
                            out.next_set = Some(number + 1);
                            out.announce(shell);
                            next.push(m);
                        } else if options.kept_resolutions.contains_key(&out.program) {
                            let why = format!(
                                "Cargo cannot resolve it with the others: {}",
                                out.requirement
                            );
                            announce_left(&out.program, &why, shell);
                        } else {
                            kept_out.push(out.announce(shell));
                        }
                        continue;
                    }
                    Err(e) if !stored.is_empty() => {
                        drop_all(&mut stored, &e.to_string(), &mut not_reused, shell);
                        continue;
                    }
                    Err(e) if members.iter().any(|m| m.keep_resolution) => {
                        // Whatever else keeps the installed programs from resolving with the new
                        // ones (two copies of one local package, say), the new ones still install.
                        let why = format!(
                            "Cargo cannot resolve it with the new programs ({})",
                            e.to_string().lines().next().unwrap_or_default()
                        );
                        for m in members.iter().filter(|m| m.keep_resolution) {
                            announce_left(&m.name, &why, shell);
                        }
                        members.retain(|m| !m.keep_resolution);
                        continue;
                    }
                    other => other?,
                };
                let member_names: Vec<&str> = members.iter().map(|m| m.name.as_str()).collect();
                let features = options.features.cargo_args(&member_names);
                let md =
                    graph::load_metadata(&set.manifest_path, true, &toolchain.host, &features)?;
                // Retested instead (`build::retest`) when the options say so.
                if !options.retest_installed && leave_changed_resolutions(&md, &mut members, shell)?
                {
                    continue;
                }
                let keep = reusable_groups(&md, &stored, &mut not_reused, &mut wanted_apart, shell);
                if keep.len() == stored.len() {
                    break Some((set, md, features));
                }
                stored = keep;
            };
            members = next;
            let Some((set, md, features)) = resolved else {
                continue;
            };
            if grouped {
                let programs: Vec<String> = set.members.iter().map(|m| m.name.clone()).collect();
                let (plan, records, root) = group_set(
                    &set,
                    md,
                    &features,
                    &stored,
                    plugins.filter(|_| number == 1),
                    &apart,
                    options,
                    toolchain,
                    graph,
                    shell,
                )?;
                if number > 1 {
                    announce_set(number, programs, &plan, &not_reused, shell);
                    loaded_from_earlier += plan
                        .groups
                        .iter()
                        .filter(|g| plan.earlier.contains_key(&g.name))
                        .map(|g| g.members.len())
                        .sum::<usize>();
                }
                facade_dirs.extend(plan.groups.iter().map(|g| root.join(&g.name)));
                candidates = grouping::extend_compatible(
                    later_sets::groups_of_set(&plan, &records, number),
                    &candidates,
                );
                later_sets::merge_plan(&mut groups, plan, records);
            } else {
                graph.add_workspace(
                    &set.manifest_path,
                    md,
                    &|_| true,
                    set.policy == Unify::Semver,
                )?;
            }
            sets.push(set);
        }
        if groups.is_some() {
            graph.shared_packages = facade_dirs;
        }
        // The last pass may share less than an earlier one (a crate kept apart takes its
        // dependents along): then the best one is planned once more, and kept.
        if replaying {
            break (sets, groups);
        }
        if best.as_ref().is_none_or(|(_, n)| loaded_from_earlier > *n) {
            best = Some((apart.clone(), loaded_from_earlier));
        }
        let more: Vec<String> = wanted_apart.difference(&apart).cloned().collect();
        let best_apart = best.as_ref().map(|(a, _)| a.clone()).unwrap_or_default();
        if more.is_empty() || pass >= SET_PASSES {
            if best_apart == apart {
                break (sets, groups);
            }
            replaying = true;
            shell.status(
                "Regrouping",
                "the sets as an earlier pass did: later sets load more of the earlier groups",
            );
            shell.json(&serde_json::json!({"reason": "sets-regrouped", "apart": best_apart}));
            apart = best_apart;
            continue;
        }
        announce_regroup(&more, shell);
        apart.extend(more);
    };
    let kept_out = |name: &str| kept_out.iter().any(|o| o == name);
    for (manifest, md) in sources {
        if graph::program_packages(&md)
            .iter()
            .any(|p| kept_out(&p.name))
        {
            graph.add_workspace(&manifest, md, &kept_out, false)?;
        }
    }
    Ok((sets, groups))
}

/// Plan the groups of one resolved set (`fixed`: the groups it builds against as they are),
/// write its grouped build workspace and add it to the graph; the plan, each new group's
/// record, and the workspace's root. The groups of earlier sets are recorded there.
#[allow(clippy::too_many_arguments)]
fn group_set(
    set: &ProgramSet,
    md: cargo_metadata::Metadata,
    features: &[String],
    fixed: &[StoredGroup],
    plugins: Option<&Plugins>,
    apart: &BTreeSet<String>,
    options: &BuildOptions,
    toolchain: &Toolchain,
    graph: &mut BuildGraph,
    shell: &Shell,
) -> Result<(GroupPlan, BTreeMap<String, GroupRecord>, PathBuf)> {
    let mut programs: Vec<(String, cargo_metadata::PackageId)> = graph::program_packages(&md)
        .into_iter()
        .map(|p| (p.name.to_string(), p.id.clone()))
        .collect();
    if let Some(p) = plugins {
        let host = programs.iter().find(|(n, _)| *n == p.host).cloned();
        programs.extend(host.map(|(_, id)| (grouping::plugins_consumer(&p.host), id)));
    }
    let tag: String = set
        .root
        .file_name()
        .unwrap_or_default()
        .to_string_lossy()
        .chars()
        .take(8)
        .collect();
    let plan = grouping::plan_groups(&md, &programs, options.group_min_size, &tag, fixed, apart)?;
    grouping::report(&plan, shell, options.dry_run);
    let manifest = set::grouped_workspace(set, &plan, &set::resolved_packages(&md), shell)?;
    let md = graph::load_metadata(&manifest, true, &toolchain.host, features)?;
    let lock = std::fs::read_to_string(manifest.with_file_name("Cargo.lock"))?;
    let mut records = BTreeMap::new();
    for group in plan
        .groups
        .iter()
        .filter(|g| !plan.earlier.contains_key(&g.name))
    {
        let mut record = group_record(&md, group, &lock)
            .with_context(|| format!("recording how {} was resolved", group.name))?;
        // A reused group keeps exporting what it exported for the programs already bound to it.
        record.exports = fixed
            .iter()
            .find(|g| g.record.group.name == group.name)
            .and_then(|g| g.record.exports.clone());
        records.insert(group.name.clone(), record);
    }
    graph.add_workspace(&manifest, md, &|_| true, false)?;
    if let Some(p) = plugins {
        let workspace = graph.workspaces.len() - 1;
        add_plugins(graph, workspace, p)?;
    }
    let root = manifest
        .parent()
        .context("a manifest without a directory")?
        .to_path_buf();
    Ok((plan, records, root))
}

/// How many times the sets are planned at most: each pass keeps more crates apart
/// (`unify_sources`).
const SET_PASSES: usize = 4;

/// Say that the sets are planned again with `crates` kept apart (a status line, and
/// `sets-regrouped` in JSON mode).
fn announce_regroup(crates: &[String], shell: &Shell) {
    shell.status(
        "Regrouping",
        format!(
            "the sets with {} (and the crates that depend on {}) in groups of their own: a later \
             set builds {} otherwise, and can then load the rest of their groups",
            crates.join(", "),
            if crates.len() == 1 { "it" } else { "them" },
            if crates.len() == 1 { "it" } else { "them" },
        ),
    );
    shell.json(&serde_json::json!({"reason": "sets-regrouped", "apart": crates}));
}

/// Cargo cannot resolve the set with the groups it builds against, and its explanation names
/// none of them: resolve without any (each said).
fn drop_all(
    stored: &mut Vec<StoredGroup>,
    cargo_error: &str,
    not_reused: &mut Vec<NotReused>,
    shell: &Shell,
) {
    let why = format!(
        "Cargo cannot resolve the programs with the groups ({})",
        cargo_error.lines().next().unwrap_or_default()
    );
    for g in stored.drain(..) {
        NotReused::announce(&g, why.clone(), shell, not_reused);
    }
}

/// Installed programs (members keeping a recorded resolution) that `md` would build from other
/// crate versions leave the set, each said why; whether any did.
fn leave_changed_resolutions(
    md: &cargo_metadata::Metadata,
    members: &mut Vec<SetMember>,
    shell: &Shell,
) -> Result<bool> {
    let mut left = Vec::new();
    for m in members.iter().filter(|m| m.keep_resolution) {
        let recorded = m.lock.as_deref().unwrap_or_default();
        if let Some(change) = set::resolution_change(md, &m.name, recorded)? {
            let why = format!(
                "with the new program it would be built from other crate versions than it \
                 was installed and tested with ({change})"
            );
            announce_left(&m.name, &why, shell);
            left.push(m.name.clone());
        }
    }
    members.retain(|m| !left.contains(&m.name));
    Ok(!left.is_empty())
}

/// The stored groups a set resolved as `md` can use exactly (see [`grouping::reuse_mismatch`])
/// and whose dependency groups it can use too. Each one the programs would load that is dropped
/// is named, with why (`not_reused`); groups no program of the set loads are dropped quietly.
fn reusable_groups(
    md: &cargo_metadata::Metadata,
    stored: &[StoredGroup],
    not_reused: &mut Vec<NotReused>,
    wanted_apart: &mut BTreeSet<String>,
    shell: &Shell,
) -> Vec<StoredGroup> {
    let mut keep: Vec<StoredGroup> = Vec::new();
    for g in stored {
        match grouping::reuse_mismatch(md, &g.record) {
            None => keep.push(g.clone()),
            Some(why) => {
                // A group of an earlier set: what the earlier set could keep apart.
                if g.set.is_some() {
                    wanted_apart.extend(grouping::members_to_keep_apart(md, &g.record));
                }
                NotReused::announce(g, why, shell, not_reused)
            }
        }
    }
    let programs: Vec<(String, cargo_metadata::PackageId)> = graph::program_packages(md)
        .into_iter()
        .map(|p| (p.name.to_string(), p.id.clone()))
        .collect();
    let used = |keep: &[StoredGroup]| {
        let groups: Vec<grouping::Group> = keep.iter().map(|g| g.record.group.clone()).collect();
        grouping::groups_used(md, &programs, &groups)
    };
    let wanted = used(&keep);
    later_sets::retain_loadable(&mut keep, |name| wanted.contains(name), shell, not_reused);
    let used = used(&keep);
    keep.retain(|g| used.contains(&g.record.group.name));
    keep
}

/// What a new group's store entry keeps so that later builds can reuse it
/// ([`grouping::GroupRecord`]); the export list is added once the group is trimmed.
fn group_record(
    md: &cargo_metadata::Metadata,
    group: &grouping::Group,
    lock: &str,
) -> Result<GroupRecord> {
    let resolution = grouping::resolution_of(md, &group.name)
        .context("the group is missing from its build workspace")?;
    let keys = md
        .packages
        .iter()
        .filter(|p| resolution.contains_key(&p.id.repr))
        .map(|p| {
            (
                p.name.to_string(),
                p.version.to_string(),
                p.source.as_ref().map(|s| s.repr.clone()),
            )
        })
        .collect();
    Ok(GroupRecord {
        group: group.clone(),
        resolution,
        lock: set::lock_subset(lock, &keys)?,
        exports: None,
    })
}
