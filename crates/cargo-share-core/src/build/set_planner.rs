//! The program sets of a unified build, planned (step 3 of a build, `--unify semver|features`):
//! which programs resolve together, which are split off into later sets, which stored or
//! earlier groups each set builds against, and the groups it plans.
//!
//! The planner works in typed steps. [`unify_sources`] gathers the set's members
//! ([`set_members`]) and plans the sets in *passes* ([`plan_passes`]): a pass
//! ([`Planner::pass`]) resolves the first set, then the programs split off it as the next, and
//! so on; each set is resolved by asking Cargo again until it holds
//! ([`Planner::resolve_set`]: a conflict splits a program off or drops the groups it names,
//! [`Planner::on_conflict`]; a stored group resolved otherwise is dropped) and then grouped
//! ([`Planner::add_set`]). When a later set could load more of an earlier set's groups with
//! some crates kept apart, the sets are planned again with them apart, at most [`SET_PASSES`]
//! times, and the pass that shares the most is kept.
//!
//! Cargo is asked only through [`SetCargo`] (resolve a set, read a package graph): the unit
//! tests below answer with recorded outcomes.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use anyhow::{bail, Context, Result};

use crate::build::installed::announce_left;
use crate::build::later_sets;
use crate::build::later_sets::{announce_set, leave_out_named_groups, NotReused};
use crate::build::options::{BuildOptions, Layout};
use crate::build::own_features;
use crate::build::plugins::{add_plugins, Plugins};
use crate::build::set_cargo::{Cargo, SetCargo};
use crate::build::set_split::{split_off, SetSplit};
use crate::build::unprovable_tests;
use crate::build::unprovable_tests::ProgramSources;
use crate::message::Message;
use crate::resolve::graph;
use crate::resolve::graph::BuildGraph;
use crate::resolve::grouping;
use crate::resolve::grouping::{GroupPlan, GroupRecord, StoredGroup};
use crate::resolve::set;
use crate::resolve::set::{ProgramSet, ResolutionConflict, SetMember, Unify};
use crate::shell::Shell;
use cargo_share_compile::toolchain::Toolchain;

/// The groups of a grouped build and, by group name, what each one's store entry records.
pub(crate) type GroupedPlan = (GroupPlan, BTreeMap<String, GroupRecord>);

/// Put the programs that join the set into one generated workspace (resolved together); keep the
/// `--own-lock` ones in their own workspaces. The sets, the first one first.
pub(crate) fn unify_sources(
    sources: Vec<(PathBuf, cargo_metadata::Metadata)>,
    plugins: Option<&Plugins>,
    options: &BuildOptions,
    cache: &Path,
    toolchain: &Toolchain,
    graph: &mut BuildGraph,
    shell: &Shell,
) -> Result<(Vec<ProgramSet>, Option<GroupedPlan>)> {
    let (mut members, kept_out) = set_members(&sources, options, shell)?;
    members.extend(plugins.iter().flat_map(|p| p.members.iter().cloned()));
    let cargo = Cargo {
        unify: &options.unify,
        cache,
        host: &toolchain.host,
    };
    let planner = Planner {
        options,
        plugins,
        cargo: &cargo,
        shell,
        grouped: options.layout == Layout::Grouped,
        fixed_by_resolution: options.unify.lock_file.is_some() || !options.unify.pins.is_empty(),
    };
    let mut candidates: Vec<StoredGroup> = if planner.grouped {
        options.stored_groups.clone()
    } else {
        Vec::new()
    };
    if planner.fixed_by_resolution && !candidates.is_empty() {
        shell.status(
            "Ignoring",
            "the groups in the store: --lock and --pin fix the resolution",
        );
        candidates.clear();
    }
    let candidates = grouping::compatible_subset(&candidates);
    let plan = plan_passes(
        |apart, graph, shell| {
            Planner { shell, ..planner }.pass(&members, &candidates, &kept_out, apart, graph)
        },
        graph,
        shell,
    )?;
    let kept_out = |name: &str| plan.kept_out.iter().any(|o| o == name);
    for (manifest, md) in sources {
        if graph::program_packages(&md)
            .iter()
            .any(|p| kept_out(&p.name))
        {
            graph.add_workspace(&manifest, md, &kept_out, false)?;
        }
    }
    Ok((plan.sets, plan.groups))
}

/// The members of the first set, one per program of `sources`, and the programs kept out of
/// every set from the start: `--own-lock` ones, and those whose manifest cannot move into the
/// set's workspace (values inherited from their own workspace, `[patch]`), as `--own-lock`.
fn set_members(
    sources: &[(PathBuf, cargo_metadata::Metadata)],
    options: &BuildOptions,
    shell: &Shell,
) -> Result<(Vec<SetMember>, Vec<String>)> {
    let unify = &options.unify;
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
    for (manifest, md) in sources {
        if graph::program_packages(md).is_empty() {
            bail!(
                "{} has no binary target: cargo-share builds programs (packages with a [[bin]] or src/main.rs)",
                manifest.display()
            );
        }
        let lock = std::fs::read_to_string(md.workspace_root.join("Cargo.lock")).ok();
        let test_only = lock_test_only(md);
        for pkg in graph::program_packages(md) {
            if own_lock(&pkg.name) {
                continue;
            }
            let manifest_text = std::fs::read_to_string(&pkg.manifest_path)
                .with_context(|| format!("reading {}", pkg.manifest_path))?;
            let package_dir = pkg.manifest_path.parent().map(|d| d.as_std_path());
            if let Err(why) =
                set::rewrite_member_manifest(&manifest_text, package_dir.unwrap_or(Path::new(".")))
            {
                let out = SetSplit {
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
                test_only: test_only.clone(),
                plugin_for: None,
            });
        }
    }
    Ok((members, kept_out))
}

/// The crates the lockfile of `md`'s workspace holds only for its programs' tests (and, read
/// with the programs' default features, for none of their builds).
fn lock_test_only(md: &cargo_metadata::Metadata) -> std::collections::BTreeSet<String> {
    let programs: Vec<&cargo_metadata::PackageId> =
        graph::program_packages(md).iter().map(|p| &p.id).collect();
    crate::build::test_only::test_only_packages(md, &programs)
}

/// What every step of planning reads and nothing changes.
#[derive(Clone, Copy)]
struct Planner<'a> {
    options: &'a BuildOptions,
    plugins: Option<&'a Plugins>,
    /// Every question to Cargo: [`Cargo`], or recorded answers in the tests.
    cargo: &'a dyn SetCargo,
    shell: &'a Shell,
    grouped: bool,
    /// `--lock` or `--pin` fix the resolution: no program is split off, no group offered.
    fixed_by_resolution: bool,
}

/// One pass over the sets: what it planned, and what it found that a next pass could do better.
struct Pass {
    sets: Vec<ProgramSet>,
    groups: Option<GroupedPlan>,
    /// Programs kept out of every set (built with their own lockfiles).
    kept_out: Vec<String>,
    /// Crates a later set builds otherwise than an earlier group holds them: kept apart by the
    /// next pass, the later set could load the rest of that group.
    wanted_apart: BTreeSet<String>,
    /// How many crates the later sets load from earlier groups: what a pass is judged by.
    loaded_from_earlier: usize,
    /// The groups the next set may build against: stored ones, then the earlier sets'.
    candidates: Vec<StoredGroup>,
    /// The facade directories of every set's grouped build workspace (a later set has its own
    /// copies of the earlier groups it loads).
    facade_dirs: BTreeSet<PathBuf>,
}

/// Plan the sets (see the module's documentation), pass after pass while a later set could
/// load more of the earlier groups with more crates kept apart; the last pass may share less
/// than an earlier one (a crate kept apart takes its dependents along): then the best one is
/// planned once more, and kept. `plan_once` plans every set once with the crates it is given
/// kept apart ([`Planner::pass`], which asks Cargo, saying what it plans through the shell it
/// is given); the graph is truncated to what it was before each pass. The first pass is said
/// as it goes; what a later one says is said only if it is the pass kept (every pass with
/// `-v` or `--json`): a pass thrown away planned nothing the user gets.
fn plan_passes(
    mut plan_once: impl FnMut(&BTreeSet<String>, &mut BuildGraph, &Shell) -> Result<Pass>,
    graph: &mut BuildGraph,
    shell: &Shell,
) -> Result<Pass> {
    let graph_before = (graph.workspaces.len(), graph.programs.len());
    let mut apart: BTreeSet<String> = BTreeSet::new();
    let mut best: Option<(BTreeSet<String>, usize)> = None;
    let mut replaying = false;
    let mut passes = 0;
    let mut loading_nothing = 0;
    loop {
        passes += 1;
        graph.workspaces.truncate(graph_before.0);
        graph.programs.truncate(graph_before.1);
        let recording =
            (passes > 1 && shell.verbose == 0 && !shell.is_json()).then(|| shell.recording());
        let pass = plan_once(&apart, graph, recording.as_ref().unwrap_or(shell))?;
        let kept = |pass: Pass| {
            if let Some(recording) = &recording {
                shell.replay(recording);
            }
            Ok(pass)
        };
        if replaying {
            return kept(pass);
        }
        if best
            .as_ref()
            .is_none_or(|(_, n)| pass.loaded_from_earlier > *n)
        {
            best = Some((apart.clone(), pass.loaded_from_earlier));
        }
        let more: Vec<String> = pass.wanted_apart.difference(&apart).cloned().collect();
        let best_apart = best.as_ref().map(|(a, _)| a.clone()).unwrap_or_default();
        // Two passes in a row whose later sets load nothing of the earlier groups end the
        // search: those sets are built from other versions nearly throughout (bottom 0.15.0
        // beside eleven programs: four passes, none loading a group, 10 to 25 s each).
        loading_nothing = match pass.loaded_from_earlier {
            0 => loading_nothing + 1,
            _ => 0,
        };
        if more.is_empty() || passes >= SET_PASSES || loading_nothing == 2 {
            if best_apart == apart {
                return kept(pass);
            }
            replaying = true;
            shell.status(
                "Regrouping",
                match best.as_ref().is_some_and(|(_, n)| *n > pass.loaded_from_earlier) {
                    true => "the sets as an earlier pass did: later sets load more of the earlier groups",
                    false => "the sets as an earlier pass did: keeping crates apart let later sets load no more of the earlier groups",
                },
            );
            let said: Vec<String> = best_apart.iter().cloned().collect();
            shell.message(&Message::SetsRegrouped { apart: &said });
            apart = best_apart;
            continue;
        }
        announce_regroup(&more, shell);
        apart.extend(more);
    }
}

/// One set while Cargo resolves it.
struct SetInProgress {
    /// Its place: 1 for the first set.
    number: usize,
    members: Vec<SetMember>,
    /// The groups it may still build against.
    stored: Vec<StoredGroup>,
    /// The groups it will not build against, and why (said in the `set-groups` record).
    not_reused: Vec<NotReused>,
    /// Programs split off to the next set.
    next: Vec<SetMember>,
}

/// A set Cargo resolved: its workspace, metadata and the feature arguments it was read with.
type ResolvedSet = (ProgramSet, cargo_metadata::Metadata, Vec<String>);

impl Planner<'_> {
    /// One pass: the first set from every member, then each set from the programs split off
    /// the one before, with the crates of `apart` in groups of their own.
    fn pass(
        &self,
        members: &[SetMember],
        candidates: &[StoredGroup],
        kept_out: &[String],
        apart: &BTreeSet<String>,
        graph: &mut BuildGraph,
    ) -> Result<Pass> {
        let mut pass = Pass {
            sets: Vec::new(),
            groups: None,
            kept_out: kept_out.to_vec(),
            wanted_apart: BTreeSet::new(),
            loaded_from_earlier: 0,
            candidates: candidates.to_vec(),
            facade_dirs: BTreeSet::new(),
        };
        let mut members = members.to_vec();
        let mut number = 0;
        while !members.is_empty() {
            number += 1;
            let mut set = SetInProgress {
                number,
                members,
                stored: pass.candidates.clone(),
                not_reused: Vec::new(),
                next: Vec::new(),
            };
            self.set_aside_own_features(&mut set, &mut pass)?;
            let resolved = self.resolve_set(&mut set, &mut pass)?;
            members = std::mem::take(&mut set.next);
            if let Some(resolved) = resolved {
                self.add_set(resolved, &set, apart, graph, &mut pass)?;
            }
        }
        if pass.groups.is_some() {
            graph.shared_packages = pass.facade_dirs.clone();
        }
        Ok(pass)
    }

    /// Programs that must be built with exactly their own features leave the set (each becomes
    /// a later set of its own); the groups a program's forced features would change are left out.
    fn set_aside_own_features(&self, set: &mut SetInProgress, pass: &mut Pass) -> Result<()> {
        let unify = &self.options.unify;
        pass.kept_out.extend(own_features::set_aside(
            &mut set.members,
            &mut set.next,
            unify,
            set.number,
            self.grouped,
            self.shell,
        ));
        let names: Vec<&str> = set.members.iter().map(|m| m.name.as_str()).collect();
        own_features::leave_out_forced_features(
            &set.members,
            &mut set.stored,
            unify,
            self.cargo,
            &self.options.features.cargo_args(&names),
            &mut set.not_reused,
            &mut pass.wanted_apart,
            self.shell,
        )
    }

    /// Ask Cargo to resolve the set until it holds: each conflict splits a program off or
    /// drops the groups it names, and a stored group resolved otherwise is dropped. `None` when
    /// no program is left in it.
    fn resolve_set(&self, set: &mut SetInProgress, pass: &mut Pass) -> Result<Option<ResolvedSet>> {
        loop {
            if set.members.is_empty() {
                return Ok(None);
            }
            let generated =
                self.cargo
                    .resolve(&set.members, &set.stored, Some(set.number), self.shell);
            let generated = match generated {
                Ok(set::Generated::Conflict(conflict)) if !self.fixed_by_resolution => {
                    self.on_conflict(conflict, set, pass)?;
                    continue;
                }
                other => other.and_then(set::Generated::set),
            };
            let program_set = match generated {
                Err(e) if !set.stored.is_empty() => {
                    drop_all(
                        &mut set.stored,
                        &e.to_string(),
                        &mut set.not_reused,
                        self.shell,
                    );
                    continue;
                }
                Err(e) if set.members.iter().any(|m| m.keep_resolution) => {
                    // Whatever else keeps the installed programs from resolving with the new
                    // ones (two copies of one local package, say), the new ones still install.
                    let why = format!(
                        "Cargo cannot resolve it with the new programs ({})",
                        e.to_string().lines().next().unwrap_or_default()
                    );
                    for m in set.members.iter().filter(|m| m.keep_resolution) {
                        announce_left(&m.name, &why, self.shell);
                    }
                    set.members.retain(|m| !m.keep_resolution);
                    continue;
                }
                other => other?,
            };
            let names: Vec<&str> = set.members.iter().map(|m| m.name.as_str()).collect();
            let features = self.options.features.cargo_args(&names);
            let md = self.cargo.metadata(&program_set.manifest_path, &features)?;
            if self.leave_changed_resolutions(&md, &program_set.root, &mut set.members)? {
                continue;
            }
            let keep = reusable_groups(
                &md,
                &set.stored,
                &mut set.not_reused,
                &mut pass.wanted_apart,
                self.shell,
            );
            if keep.len() == set.stored.len() {
                return Ok(Some((program_set, md, features)));
            }
            set.stored = keep;
        }
    }

    /// Installed programs (members keeping a recorded resolution) that `md` would build from
    /// other crate versions leave the set, each said why; whether any did. Without
    /// `retest_installed` every such program leaves; with it, only those whose tests an earlier
    /// install found to prove nothing (`unprovable_tests`: none, or not buildable from its
    /// sources), which would be left after the plan anyway: leaving them here, before the later
    /// sets are planned, plans the install once instead of twice.
    fn leave_changed_resolutions(
        &self,
        md: &cargo_metadata::Metadata,
        set_root: &Path,
        members: &mut Vec<SetMember>,
    ) -> Result<bool> {
        let mut left = Vec::new();
        for m in members.iter().filter(|m| m.keep_resolution) {
            let recorded = m.lock.as_deref().unwrap_or_default();
            let Some(change) = set::resolution_change(md, &m.name, recorded)? else {
                continue;
            };
            let why = match self.options.retest_installed {
                // Retested instead (`build::retest`).
                true => match unprovable_tests::recorded(
                    &self.options.cache()?,
                    &ProgramSources {
                        name: &m.name,
                        version: &m.version,
                        // Its copy in the set's workspace, as `build::retest` finds it.
                        copy: &set_root.join(format!("{}-{}", m.name, m.version)),
                    },
                ) {
                    Some(unprovable) => format!(
                        "with the new program it would be built from other crate versions \
                         ({change}), and {}",
                        unprovable.why_left()
                    ),
                    None => continue,
                },
                false => format!(
                    "with the new program it would be built from other crate versions than it \
                     was installed and tested with ({change})"
                ),
            };
            // As `retest::leave_unprovable` says it (a dry run of a retesting install says what
            // it would leave).
            match self.options.dry_run && self.options.retest_installed {
                true => self
                    .shell
                    .status("Would leave", format!("{} as it is: {why}", m.name)),
                false => announce_left(&m.name, &why, self.shell),
            }
            left.push(m.name.clone());
        }
        members.retain(|m| !left.contains(&m.name));
        Ok(!left.is_empty())
    }

    /// Cargo cannot resolve the set: leave out the groups its explanation names, or all of them
    /// when it names none, or else split one program off (to the next set, grouped; to its own
    /// lockfile otherwise; an installed one that cannot join leaves the build).
    fn on_conflict(
        &self,
        conflict: ResolutionConflict,
        set: &mut SetInProgress,
        pass: &mut Pass,
    ) -> Result<()> {
        // The crate Cargo cannot fit, held by a group of an earlier set.
        if let Some(k) = &conflict.krate {
            let apart = [k.clone()];
            if set.stored.iter().any(|g| {
                g.set.is_some()
                    && g.record.group.members.iter().any(|m| &m.name == k)
                    && grouping::leaves_a_rest(&g.record, &apart)
            }) {
                pass.wanted_apart.insert(k.clone());
            }
        }
        if leave_out_named_groups(&conflict, &mut set.stored, &mut set.not_reused, self.shell) {
            return Ok(());
        }
        if !set.stored.is_empty() && conflict.involved.is_empty() {
            drop_all(
                &mut set.stored,
                &conflict.to_string(),
                &mut set.not_reused,
                self.shell,
            );
            return Ok(());
        }
        let mut out = split_off(&set.members, &conflict, self.cargo)?;
        if let Some(p) = set.members.iter().find(|m| m.name == out.program) {
            if let Some(host) = &p.plugin_for {
                bail!(
                    "plugin {} cannot be resolved with {host}: {conflict}",
                    p.name
                );
            }
        }
        let leaving = set.members.iter().position(|m| m.name == out.program);
        let leaving = leaving.map(|i| set.members.remove(i));
        // An installed program goes to the next set as a new one does (its tests prove it if
        // its versions move there, `build::retest`).
        if let (true, Some(m)) = (self.grouped, leaving) {
            out.next_set = Some(set.number + 1);
            out.announce(self.shell);
            set.next.push(m);
        } else if self.options.kept_resolutions.contains_key(&out.program) {
            let why = format!(
                "Cargo cannot resolve it with the others: {}",
                out.requirement
            );
            announce_left(&out.program, &why, self.shell);
        } else {
            pass.kept_out.push(out.announce(self.shell));
        }
        Ok(())
    }

    /// A resolved set joins the pass: grouped, its groups are planned (the ones it builds
    /// against fixed) and offered to the next set; else its workspace joins the graph.
    fn add_set(
        &self,
        (program_set, md, features): ResolvedSet,
        set: &SetInProgress,
        apart: &BTreeSet<String>,
        graph: &mut BuildGraph,
        pass: &mut Pass,
    ) -> Result<()> {
        if !self.grouped {
            graph.add_workspace(
                &program_set.manifest_path,
                md,
                &|_| true,
                program_set.policy == Unify::Semver,
            )?;
            pass.sets.push(program_set);
            return Ok(());
        }
        let number = set.number;
        let programs: Vec<String> = program_set.members.iter().map(|m| m.name.clone()).collect();
        let (plan, records, root) = group_set(
            &program_set,
            md,
            &features,
            &set.stored,
            self.plugins.filter(|_| number == 1),
            apart,
            self.options,
            self.cargo,
            graph,
            self.shell,
        )?;
        if number > 1 {
            announce_set(number, programs, &plan, &set.not_reused, self.shell);
            pass.loaded_from_earlier += plan
                .groups
                .iter()
                .filter(|g| plan.earlier.contains_key(&g.name))
                .map(|g| g.members.len())
                .sum::<usize>();
        }
        pass.facade_dirs
            .extend(plan.groups.iter().map(|g| root.join(&g.name)));
        pass.candidates = grouping::extend_compatible(
            later_sets::groups_of_set(&plan, &records, number),
            &pass.candidates,
        );
        later_sets::merge_plan(&mut pass.groups, plan, records);
        pass.sets.push(program_set);
        Ok(())
    }
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
    cargo: &dyn SetCargo,
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
    let md = cargo.metadata(&manifest, features)?;
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
    shell.message(&Message::SetsRegrouped { apart: crates });
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::resolve::graph::Program;
    use crate::resolve::grouping::group::GroupMember;
    use crate::resolve::grouping::stored::ResolvedPackage;
    use crate::resolve::grouping::{Group, MemberSource};
    use crate::shell::MessageFormat;
    use std::cell::RefCell;

    /// What a pass found, recorded: for the crates it kept apart, the crates it wanted apart
    /// and how many crates its later sets loaded from earlier groups.
    type Outcome = (&'static [&'static str], &'static [&'static str], usize);

    fn names(crates: &[&str]) -> BTreeSet<String> {
        crates.iter().map(|c| c.to_string()).collect()
    }

    fn empty_pass() -> Pass {
        Pass {
            sets: Vec::new(),
            groups: None,
            kept_out: Vec::new(),
            wanted_apart: BTreeSet::new(),
            loaded_from_earlier: 0,
            candidates: Vec::new(),
            facade_dirs: BTreeSet::new(),
        }
    }

    /// Plan with passes that answer with `outcomes` (an unrecorded `apart` fails the test);
    /// what each pass was asked to keep apart, in order, and the pass kept. Each pass adds a
    /// program named after its place to the graph, which then holds the kept pass's only.
    fn plan(outcomes: &[Outcome]) -> (Vec<BTreeSet<String>>, String) {
        let (asked, kept, _) = plan_saying(outcomes);
        (asked, kept)
    }

    /// [`plan`], each pass saying `Planned pass N` through the shell it is given; and the
    /// status lines the command says.
    fn plan_saying(outcomes: &[Outcome]) -> (Vec<BTreeSet<String>>, String, Vec<String>) {
        let mut asked = Vec::new();
        let mut graph = BuildGraph::default();
        let shell = Shell::new(false, MessageFormat::Human).recording();
        let kept = plan_passes(
            |apart, graph, shell| {
                asked.push(apart.clone());
                shell.status("Planned", format!("pass {}", asked.len()));
                let (_, wanted, loaded) = outcomes
                    .iter()
                    .find(|(a, _, _)| names(a) == *apart)
                    .unwrap_or_else(|| panic!("no outcome recorded for {apart:?}"));
                let name = format!("pass {}", asked.len());
                graph.programs.push(Program {
                    name: name.clone(),
                    version: "1.0.0".into(),
                    package_id: cargo_metadata::PackageId { repr: name.clone() },
                    workspace: 0,
                    plugin_for: None,
                });
                Ok(Pass {
                    kept_out: vec![name],
                    wanted_apart: names(wanted),
                    loaded_from_earlier: *loaded,
                    ..empty_pass()
                })
            },
            &mut graph,
            &shell,
        )
        .unwrap();
        let kept = kept.kept_out.concat();
        let in_graph: Vec<&str> = graph.programs.iter().map(|p| p.name.as_str()).collect();
        assert_eq!(
            in_graph,
            [kept.as_str()],
            "the graph holds the kept pass only"
        );
        (asked, kept, shell.recorded_statuses())
    }

    /// bottom 0.15.0, split into a second set, was planned in seven passes, each saying its
    /// groups and the groups it could not load: only the first and the kept one are said.
    #[test]
    fn a_later_pass_is_said_only_if_it_is_kept() {
        let (_, kept, said) = plan_saying(&[(&[], &["y"], 2), (&["y"], &[], 1)]);
        assert_eq!(kept, "pass 3");
        let planned: Vec<&String> = said.iter().filter(|s| s.starts_with("Planned")).collect();
        assert_eq!(planned, ["Planned pass 1", "Planned pass 3"], "{said:?}");
    }

    #[test]
    fn one_pass_when_no_crate_is_wanted_apart() {
        let (asked, kept) = plan(&[(&[], &[], 0)]);
        assert_eq!(asked, [names(&[])]);
        assert_eq!(kept, "pass 1");
    }

    #[test]
    fn a_pass_that_shares_more_with_a_crate_apart_is_kept() {
        // The second pass wants `y` apart again: nothing more to try.
        let (asked, kept) = plan(&[(&[], &["y"], 0), (&["y"], &["y"], 3)]);
        assert_eq!(asked, [names(&[]), names(&["y"])]);
        assert_eq!(kept, "pass 2");
    }

    #[test]
    fn a_last_pass_that_shares_less_is_replaced_by_the_best_one_planned_again() {
        let (asked, kept) = plan(&[(&[], &["y"], 2), (&["y"], &[], 1)]);
        assert_eq!(asked, [names(&[]), names(&["y"]), names(&[])]);
        assert_eq!(kept, "pass 3");
    }

    #[test]
    fn a_pass_that_shares_as_much_is_not_better() {
        let (asked, kept) = plan(&[(&[], &["a"], 2), (&["a"], &[], 2)]);
        assert_eq!(asked, [names(&[]), names(&["a"]), names(&[])]);
        assert_eq!(kept, "pass 3");
    }

    #[test]
    fn crates_wanted_apart_accumulate_until_the_last_pass_allowed() {
        let outcomes: [Outcome; 4] = [
            (&[], &["a"], 0),
            (&["a"], &["b"], 1),
            (&["a", "b"], &["a", "c"], 2),
            (&["a", "b", "c"], &["d"], 3),
        ];
        assert_eq!(SET_PASSES, outcomes.len());
        let (asked, kept) = plan(&outcomes);
        let expected: Vec<_> = outcomes.iter().map(|(a, _, _)| names(a)).collect();
        assert_eq!(asked, expected);
        assert_eq!(kept, "pass 4");
    }

    /// bottom 0.15.0 in a second set beside eleven programs: no pass let it load a group, and
    /// each cost 10 to 25 s of `cargo metadata`. A third pass is not tried (it would fail the
    /// test: no outcome is recorded for it); the first is planned again.
    #[test]
    fn two_passes_in_a_row_that_load_nothing_end_the_search() {
        let (asked, kept, said) = plan_saying(&[(&[], &["a"], 0), (&["a"], &["b"], 0)]);
        assert_eq!(asked, [names(&[]), names(&["a"]), names(&[])]);
        assert_eq!(kept, "pass 3");
        assert!(
            said.iter()
                .any(|s| s.contains("let later sets load no more of the earlier groups")),
            "{said:?}"
        );
        // A pass that loads something starts the count again.
        let (asked, _) = plan(&[
            (&[], &["a"], 0),
            (&["a"], &["b"], 1),
            (&["a", "b"], &["c"], 0),
            (&["a", "b", "c"], &["d"], 0),
        ]);
        assert_eq!(asked.len(), SET_PASSES + 1);
    }

    #[test]
    fn after_the_last_pass_allowed_the_best_one_is_planned_again() {
        let (asked, kept) = plan(&[
            (&[], &["a"], 1),
            (&["a"], &["b"], 5),
            (&["a", "b"], &["c"], 1),
            (&["a", "b", "c"], &["d"], 1),
        ]);
        assert_eq!(asked.len(), SET_PASSES + 1);
        assert_eq!(asked.last(), Some(&names(&["a"])));
        assert_eq!(kept, "pass 5");
    }

    /// What Cargo answered when asked to resolve a set, recorded.
    #[derive(Clone, Copy)]
    enum Answer {
        Resolves,
        /// "failed to select a version for `shared`", naming these programs.
        Conflict(&'static [&'static str]),
        /// Another error (a manifest Cargo cannot read, say).
        Fails,
    }

    /// A set's members and the groups offered to it, by name.
    type Asked = (Vec<String>, Vec<String>);

    /// [`SetCargo`] answering with recorded outcomes; what it was asked, in order. A question
    /// with no recorded answer fails the test.
    struct Recorded {
        answers: Vec<(&'static [&'static str], &'static [&'static str], Answer)>,
        asked: RefCell<Vec<Asked>>,
    }

    impl Recorded {
        fn new(answers: &[(&'static [&'static str], &'static [&'static str], Answer)]) -> Self {
            Recorded {
                answers: answers.to_vec(),
                asked: RefCell::new(Vec::new()),
            }
        }

        /// Whether it was asked exactly `questions` (members, groups offered), in order.
        fn was_asked(&self, questions: &[(&[&str], &[&str])]) -> bool {
            let strings = |v: &[&str]| v.iter().map(|s| s.to_string()).collect::<Vec<_>>();
            let expected: Vec<Asked> = questions
                .iter()
                .map(|(m, g)| (strings(m), strings(g)))
                .collect();
            *self.asked.borrow() == expected
        }
    }

    impl SetCargo for Recorded {
        fn resolve(
            &self,
            members: &[SetMember],
            stored: &[StoredGroup],
            _number: Option<usize>,
            _shell: &Shell,
        ) -> Result<set::Generated> {
            let mut names: Vec<String> = members.iter().map(|m| m.name.clone()).collect();
            names.sort();
            let groups: Vec<String> = stored.iter().map(|g| g.record.group.name.clone()).collect();
            self.asked
                .borrow_mut()
                .push((names.clone(), groups.clone()));
            let (_, _, answer) = self
                .answers
                .iter()
                .find(|(m, g, _)| *m == names.as_slice() && *g == groups.as_slice())
                .unwrap_or_else(|| panic!("no answer recorded for {names:?} with {groups:?}"));
            match *answer {
                Answer::Resolves => Ok(set::Generated::Set(ProgramSet {
                    root: "sets/recorded".into(),
                    manifest_path: "sets/recorded/Cargo.toml".into(),
                    lock_sha256: String::new(),
                    policy: Unify::Features,
                    members: members.to_vec(),
                })),
                Answer::Conflict(involved) => Ok(set::Generated::Conflict(ResolutionConflict {
                    involved: involved.iter().map(|p| p.to_string()).collect(),
                    requirement: "`shared = \"^2\"` against `shared = \"^1\"`".into(),
                    krate: Some("shared".into()),
                    cargo_said: "failed to select a version for `shared`".into(),
                })),
                Answer::Fails => anyhow::bail!("recorded: Cargo could not read a manifest"),
            }
        }

        fn metadata(&self, _: &Path, _: &[String]) -> Result<cargo_metadata::Metadata> {
            Ok(serde_json::from_value(serde_json::json!({
                "packages": [], "workspace_members": [], "resolve": null, "version": 1,
                "workspace_root": "sets/recorded", "target_directory": "sets/recorded/target",
            }))?)
        }
    }

    /// A program of the set; `packages`: how many its own lockfile holds.
    fn member(name: &str, packages: usize) -> SetMember {
        SetMember {
            name: name.into(),
            version: "1.0.0".into(),
            package_dir: PathBuf::from(name),
            lock: None,
            plugin_for: None,
            keep_resolution: false,
            own_lock_packages: packages,
            released_lock: None,
            test_only: Default::default(),
        }
    }

    /// A group holding `crates` (none depending on another), of the earlier set `set` or, with
    /// `None`, from the store.
    fn group(name: &str, crates: &[&str], set: Option<usize>) -> StoredGroup {
        let id = |c: &str| cargo_metadata::PackageId {
            repr: format!("registry+https://github.com/rust-lang/crates.io-index#{c}@1.0.0"),
        };
        let members = crates.iter().map(|c| GroupMember {
            name: c.to_string(),
            version: "1.0.0".into(),
            source: MemberSource::CratesIo,
            features: Vec::new(),
            source_bytes: 0,
            id: id(c),
        });
        let resolution = crates.iter().map(|c| {
            let resolved = ResolvedPackage {
                features: Vec::new(),
                dependencies: Vec::new(),
            };
            (id(c).repr, resolved)
        });
        StoredGroup {
            record: GroupRecord {
                group: Group {
                    name: name.into(),
                    members: members.collect(),
                    consumers: BTreeSet::new(),
                    depends_on: BTreeSet::new(),
                    source_bytes: 0,
                },
                resolution: resolution.collect(),
                lock: String::new(),
                exports: None,
            },
            entry: String::new(),
            set,
        }
    }

    /// Resolve the first set of `members`, offered `stored`, with Cargo answering from `cargo`;
    /// the set (its members) or the error, the set in progress and the pass after.
    fn resolve(
        cargo: &Recorded,
        grouped: bool,
        fixed_by_resolution: bool,
        members: Vec<SetMember>,
        stored: Vec<StoredGroup>,
    ) -> (Result<Option<Vec<String>>>, SetInProgress, Pass) {
        let options = BuildOptions::default();
        let shell = Shell::new(true, MessageFormat::Human);
        let planner = Planner {
            options: &options,
            plugins: None,
            cargo,
            shell: &shell,
            grouped,
            fixed_by_resolution,
        };
        let mut set = SetInProgress {
            number: 1,
            members,
            stored,
            not_reused: Vec::new(),
            next: Vec::new(),
        };
        let mut pass = empty_pass();
        let resolved = planner.resolve_set(&mut set, &mut pass).map(|r| {
            r.map(|(program_set, _, _)| program_set.members.into_iter().map(|m| m.name).collect())
        });
        (resolved, set, pass)
    }

    fn member_names(members: &[SetMember]) -> Vec<&str> {
        members.iter().map(|m| m.name.as_str()).collect()
    }

    /// Resolve `a`, `b` and `c`, which Cargo cannot resolve together: of the programs it
    /// names, `b` has the fewer packages in its lockfile, but the rest does not resolve without
    /// it; without `c` it does. Cargo's answers, what they were asked, and [`resolve`]'s result.
    fn resolve_split(
        grouped: bool,
        fixed_by_resolution: bool,
    ) -> (Recorded, Result<Option<Vec<String>>>, SetInProgress, Pass) {
        let cargo = Recorded::new(&[
            (&["a", "b", "c"], &[], Answer::Conflict(&["b", "c"])),
            (&["a", "c"], &[], Answer::Conflict(&["c"])),
            (&["a", "b"], &[], Answer::Resolves),
        ]);
        let members = vec![member("a", 9), member("b", 1), member("c", 2)];
        let (resolved, set, pass) =
            resolve(&cargo, grouped, fixed_by_resolution, members, Vec::new());
        (cargo, resolved, set, pass)
    }

    #[test]
    fn a_conflict_splits_off_the_program_without_which_the_rest_resolves() {
        let (cargo, resolved, set, pass) = resolve_split(false, false);
        assert_eq!(resolved.unwrap().unwrap(), ["a", "b"]);
        // Per crate, the program split off is built with its own lockfile.
        assert_eq!(pass.kept_out, ["c"]);
        assert!(set.next.is_empty());
        assert!(
            cargo.was_asked(&[
                (&["a", "b", "c"], &[]),
                (&["a", "c"], &[]),
                (&["a", "b"], &[]),
                (&["a", "b"], &[]),
            ]),
            "{:?}",
            cargo.asked.borrow()
        );
    }

    #[test]
    fn grouped_the_program_split_off_is_the_next_set() {
        let (_, resolved, set, pass) = resolve_split(true, false);
        assert_eq!(resolved.unwrap().unwrap(), ["a", "b"]);
        assert_eq!(member_names(&set.next), ["c"]);
        assert!(pass.kept_out.is_empty());
    }

    #[test]
    fn with_lock_or_pin_a_conflict_is_the_error_and_nothing_is_split_off() {
        let (cargo, resolved, set, pass) = resolve_split(true, true);
        let error = resolved.unwrap_err().to_string();
        assert!(error.contains("shared"), "{error}");
        assert_eq!(member_names(&set.members), ["a", "b", "c"]);
        assert!(set.next.is_empty() && pass.kept_out.is_empty());
        assert!(cargo.was_asked(&[(&["a", "b", "c"], &[])]));
    }

    #[test]
    fn groups_are_left_out_before_any_program_the_named_ones_first() {
        // `g2`, of the first set, holds the crate Cargo names; `g1`, from the store, does not.
        let cargo = Recorded::new(&[
            (&["a", "b"], &["g1", "g2"], Answer::Conflict(&[])),
            (&["a", "b"], &["g1"], Answer::Conflict(&[])),
            (&["a", "b"], &[], Answer::Resolves),
        ]);
        let stored = vec![
            group("g1", &["unrelated"], None),
            group("g2", &["shared", "other"], Some(1)),
        ];
        let members = vec![member("a", 1), member("b", 1)];
        let (resolved, set, pass) = resolve(&cargo, true, false, members, stored);
        assert_eq!(resolved.unwrap().unwrap(), ["a", "b"]);
        let not_reused: Vec<&str> = set.not_reused.iter().map(|n| n.group.as_str()).collect();
        assert_eq!(not_reused, ["g2", "g1"]);
        assert!(set.not_reused[1]
            .why
            .starts_with("Cargo cannot resolve the programs with the groups"));
        // `other` does not depend on `shared`: kept apart, the rest of `g2` could be loaded.
        assert_eq!(pass.wanted_apart, names(&["shared"]));
        assert!(set.next.is_empty() && pass.kept_out.is_empty());
    }

    #[test]
    fn an_installed_program_cargo_cannot_resolve_with_the_newcomers_leaves_the_build() {
        let cargo = Recorded::new(&[
            (&["installed", "new"], &[], Answer::Fails),
            (&["new"], &[], Answer::Resolves),
        ]);
        let mut installed = member("installed", 1);
        installed.keep_resolution = true;
        let members = vec![installed, member("new", 1)];
        let (resolved, set, pass) = resolve(&cargo, true, false, members, Vec::new());
        assert_eq!(resolved.unwrap().unwrap(), ["new"]);
        assert!(set.next.is_empty() && pass.kept_out.is_empty());
    }
}
