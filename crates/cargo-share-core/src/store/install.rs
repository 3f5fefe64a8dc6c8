//! `cargo share install`: programs built and recorded in the store.
//!
//! Install order, chosen so that a crash at any point leaves every installed program working and
//! nothing half-installed visible (see `store` for the directory rules):
//! 1. build in a private temporary directory (no store lock held: builds take minutes);
//! 2. lock the store; check every binary link can be made (refuse before changing anything);
//! 3. add missing entries (each complete and read-only before it is renamed into `entries/`);
//! 4. stage the program directory (binaries, hard links to its entries), rename it into place;
//! 5. one index transaction records the program (replacing an older version's record);
//! 6. swap the links in `ROOT/bin` by rename.
//!
//! An older version's program directory and the entries only it used stay until `gc`.

use std::collections::BTreeSet;
use std::path::PathBuf;

use anyhow::{bail, Context, Result};

use crate::build;
use crate::build::{BuildOptions, BuiltProgram, FailedProgram, InstalledMember};
use crate::shell::Shell;
use crate::source::git::checkout_of;
use crate::source::{CrateSpec, GitSpec, ProgramSource};
use crate::store::ancestors::check_safe_path;
use crate::store::binaries::select_binaries;
pub(crate) use crate::store::bind::InstallRecord;
use crate::store::bind::{Binder, PendingBind, Target};
use crate::store::fault;
use crate::store::files::ScratchDir;
use crate::store::index::{Access, Store};
use crate::store::open::open_store_rolling_forward;
use crate::store::program_commit::{
    check_link, program_roots, record_programs, InstallSteps, PlainInstall, StagedProgram,
};
use crate::store::regroup::installed_members;
use crate::store::request::InstallRequest;
use crate::store::roots::{check_root_outside_store, check_writable_root};

/// `cargo share install` options.
#[derive(Debug, Clone)]
pub struct InstallOptions {
    pub build: BuildOptions,
    pub root: PathBuf,
    pub store: PathBuf,
    pub force: bool,
    /// Build the programs already installed together with the new ones and rebind those whose
    /// build changes (grouped layout); `false` is `--no-regroup`.
    pub regroup: bool,
    /// `build` comes from an install's record (`update`): its sets keep the naming that install
    /// chose (`UnifyOptions::stable_names`), so its groups keep their names.
    pub replay: bool,
    /// `--bin`: the binaries of the named programs to install (`None`: all of them).
    pub binaries: Option<BTreeSet<String>>,
}

/// What an install did: the programs installed and those it did not build.
#[derive(Debug, Clone, Default)]
pub struct InstallOutcome {
    pub(crate) installed: Vec<InstallRecord>,
    pub failed: Vec<FailedProgram>,
}

/// The groups in the store that installed programs load and whose entries record how they were
/// built (entries made before cargo-share kept that record cannot be reused): what a grouped
/// install builds against where it can.
fn stored_groups(store: &Store) -> Result<Vec<crate::resolve::grouping::StoredGroup>> {
    let live = store.live_entries()?;
    let mut out = Vec::new();
    for row in store.entries()? {
        if !live.contains(&row.hash)
            || !row
                .package
                .starts_with(crate::resolve::grouping::GROUP_PACKAGE_PREFIX)
        {
            continue;
        }
        if let Some(record) = store.entry(&row)?.group {
            out.push(crate::resolve::grouping::StoredGroup {
                record,
                entry: row.hash,
                set: None,
            });
        }
    }
    Ok(out)
}

/// The build an install runs: in the store's build directory (unless `--cache-dir`), against the
/// groups installed programs load (grouped layout), with `installed` (programs already installed
/// built again with the others).
fn install_build(opts: &InstallOptions, installed: Vec<InstalledMember>) -> Result<BuildOptions> {
    let mut build = opts.build.clone();
    // Where the programs are built and linked from must be as safe as the store: another user
    // who can replace a file there chooses what the installed programs run.
    check_safe_path(&opts.root, "install root", "--root")?;
    if let Some(cache) = &build.cache_dir {
        check_safe_path(cache, "cache", "--cache-dir")?;
    }
    let store = Store::open(&opts.store, Access::Create)?;
    if build.cache_dir.is_none() {
        // The store owns the build state of what it installs: crate builds that are in the
        // store are not compiled again as long as the store exists (a cache may be deleted).
        build.cache_dir = Some(store.build_dir());
    }
    if build.layout == build::Layout::Grouped {
        // Regrouping the installed programs with the newcomers plans every group afresh, as
        // installing them together does (groups reused from the store would keep each earlier
        // install's partition); without installed programs, the stored groups are built against.
        if installed.is_empty() {
            build.stored_groups = stored_groups(&store)?;
        }
        build.installed = installed;
        // No stored group is offered: the sets can keep their directories and group names from
        // one install to the next (`UnifyOptions::stable_names`).
        if !opts.replay {
            build.unify.stable_names = build.stored_groups.is_empty();
        }
        // A group compiled from a crate this build patches cannot be reused: the resolution
        // Cargo reports is the same, but the sources are not (`update`).
        build.stored_groups.retain(|g| {
            !build.patches.iter().any(|p| {
                let id = format!("#{}@", p.name);
                g.record.resolution.keys().any(|k| k.contains(&id))
            })
        });
    }
    Ok(build)
}

/// `install --dry-run`: the plan the install would build, stored groups included.
pub fn show_install_plan(opts: &InstallOptions, shell: &Shell) -> Result<()> {
    let installed = regrouped(opts, shell)?;
    build::show_plan(&install_build(opts, installed)?, shell)
}

/// The installed programs an install builds again with the newcomers: every one that can be,
/// unless `--no-regroup`, another layout, or `--all-features`/`--no-default-features` (which a
/// set applies to every program).
fn regrouped(opts: &InstallOptions, shell: &Shell) -> Result<Vec<InstalledMember>> {
    let features = &opts.build.features;
    if !opts.regroup
        || opts.build.layout != build::Layout::Grouped
        || opts.build.unify.lock_file.is_some()
        || !opts.build.unify.pins.is_empty()
        || !opts.store.join(crate::store::marker::MARKER_FILE).exists()
    {
        return Ok(Vec::new());
    }
    if features.all_features || features.no_default_features {
        shell.status(
            "Not regrouping",
            "the installed programs: --all-features and --no-default-features would apply to \
             them too (install the new program with PROGRAM/FEATURE features to regroup)",
        );
        return Ok(Vec::new());
    }
    let store = Store::open(&opts.store, Access::Read)?;
    installed_members(&store, None, shell)
}

/// `cargo share install`: the new programs, built as one set with the installed ones (see
/// [`crate::store::regroup`]).
pub fn install(opts: &InstallOptions, shell: &Shell) -> Result<Vec<InstallRecord>> {
    let outcome = install_with(opts, &mut PlainInstall, shell)?;
    let records = outcome.installed;
    if !outcome.failed.is_empty() {
        // As `cargo install a b c`: the others are installed; the command still fails.
        let failed = outcome
            .failed
            .iter()
            .map(FailedProgram::describe)
            .collect::<Vec<_>>()
            .join(", ");
        if records.is_empty() {
            bail!(
                "installed nothing; {} failed to build: {failed}",
                outcome.failed.len()
            );
        }
        let installed: Vec<&str> = records.iter().map(|r| r.name.as_str()).collect();
        return Err(crate::failure::Failure::Partial(format!(
            "installed {}; {} failed to build: {failed}",
            installed.join(", "),
            outcome.failed.len()
        ))
        .into());
    }
    Ok(records)
}

/// `install` with the decisions of `steps`; programs Cargo did not build are returned, not an
/// error.
pub fn install_with(
    opts: &InstallOptions,
    steps: &mut dyn InstallSteps,
    shell: &Shell,
) -> Result<InstallOutcome> {
    let installed = regrouped(opts, shell)?;
    install_set(opts, installed, steps, shell)
}

/// Build `opts.build.programs` with the installed programs `installed`, bind every new program
/// and every installed one whose build changed.
pub(crate) fn install_set(
    opts: &InstallOptions,
    installed: Vec<InstalledMember>,
    steps: &mut dyn InstallSteps,
    shell: &Shell,
) -> Result<InstallOutcome> {
    let mut build = install_build(opts, installed)?;
    check_root_outside_store(&opts.root, &opts.store)?;
    check_writable_root(&opts.root)?;
    if !build.installed.is_empty() {
        // An installed program the build may move is linked again into its own roots.
        let store = Store::open(&opts.store, Access::Read)?;
        for member in &build.installed {
            for root in store.roots_of(&member.name)? {
                if root.is_dir() {
                    check_writable_root(&root)?;
                }
            }
        }
    }
    // The build's output is staged in the store's own tmp/ (not the system's): an install
    // killed here leaves it where the next `gc` finds it; the lock inside tells a running
    // install's from a dead one's.
    let scratch = ScratchDir::new(&opts.store.join("tmp"), "install-")?;
    fault::step("install-scratch-created")?;
    let out = scratch.path().join("out");
    build.staging = true;
    let mut report = build::build(&build, &out, shell)?;
    report.programs.retain(|p| match steps.leave_out(p) {
        Some(reason) => {
            shell.warn(format!(
                "{} v{} is not installed: {reason}",
                p.name, p.version
            ));
            false
        }
        None => true,
    });

    leave_installed_if_a_newcomer_failed(&mut report, shell);

    let store = open_store_rolling_forward(&opts.store, Access::Create)?;
    select_binaries(&mut report, opts.binaries.as_ref(), opts.replay, &store)?;
    let root = std::path::absolute(&opts.root)
        .with_context(|| format!("resolving the install root {}", opts.root.display()))?;
    let bin_dir = root.join("bin");
    let named: Vec<&BuiltProgram> = report
        .programs
        .iter()
        .filter(|p| !p.provenance.installed && p.plugin_for.is_none())
        .collect();
    if !named.is_empty() {
        std::fs::create_dir_all(&bin_dir)
            .with_context(|| format!("creating {}", bin_dir.display()))?;
        check_safe_path(&bin_dir, "install root", "--root")?;
    }
    let programs_dir = store.programs_dir()?;
    // Refuse before changing anything: a binary that is not ours, or another program's, is
    // never replaced silently, in this root or any other the program is linked into.
    for p in &named {
        let roots = program_roots(&store, &p.name, &root)?;
        for b in &p.binaries {
            for r in &roots {
                check_link(
                    &store,
                    &programs_dir,
                    &r.join("bin").join(b.file_name().unwrap()),
                    &p.name,
                    opts.force,
                    &*steps,
                )?;
            }
        }
    }

    let mut install_origin = InstallRequest::of(&build, &report.programs)?;
    // Programs retried with their own features are recorded so: an update rebuilds them so.
    install_origin.own_features = report.own_features.clone();
    install_origin.binaries = opts.binaries.iter().flatten().cloned().collect();
    let mut binder = Binder::new(&store, &report, &out, install_origin)?;
    // Every program is staged first; nothing is recorded or linked until all are, and a
    // failure before that takes back what the staging added.
    let mut pending = Vec::new();
    let staged = stage_all(
        &report,
        &build,
        &store,
        &root,
        &mut binder,
        &mut pending,
        steps,
        shell,
    )
    .and_then(|()| {
        let staged: Vec<&StagedProgram> = pending.iter().map(|b| &b.staged).collect();
        record_programs(&store, &staged)
    });
    if let Err(e) = staged {
        for bind in &pending {
            bind.staged.undo(&store);
        }
        binder.undo_added();
        return Err(e.context("nothing was installed and no installed program changed"));
    }
    fault::step("program-recorded")?;
    let mut records = Vec::new();
    for bind in pending {
        records.push(bind.finish(&store, steps, shell)?);
    }
    Ok(InstallOutcome {
        installed: records,
        failed: report.failed,
    })
}

/// Stage every program of the report (plugins go inside their program's directory, with it)
/// into `pending`.
#[allow(clippy::too_many_arguments)]
fn stage_all(
    report: &build::BuildReport,
    build: &BuildOptions,
    store: &Store,
    root: &std::path::Path,
    binder: &mut Binder,
    pending: &mut Vec<PendingBind>,
    steps: &mut dyn InstallSteps,
    shell: &Shell,
) -> Result<()> {
    for p in report.programs.iter().filter(|p| p.plugin_for.is_none()) {
        let staged = if p.provenance.installed {
            let Some(previous) = store.program(&p.name)? else {
                continue;
            };
            let Some(origin) = previous.origin.clone() else {
                continue;
            };
            binder.stage(
                p,
                origin,
                Target::Rebuilt {
                    previous: &previous,
                },
                steps,
                shell,
            )?
        } else {
            let origin = origin_of(p, &build.programs);
            binder.stage(p, origin, Target::Named { root }, steps, shell)?
        };
        pending.extend(staged);
    }
    Ok(())
}

/// The installed programs a build moved, left as they are when a program the command named
/// failed to build: nothing installed changes on account of a program that is not installed
/// (the others named are installed, built as they were with it).
fn leave_installed_if_a_newcomer_failed(report: &mut build::BuildReport, shell: &Shell) {
    let installed: Vec<&str> = report
        .programs
        .iter()
        .filter(|p| p.provenance.installed)
        .map(|p| p.name.as_str())
        .collect();
    let newcomers_failed: Vec<String> = report
        .failed
        .iter()
        .filter(|f| !installed.contains(&f.name.as_str()))
        .map(|f| f.name.clone())
        .collect();
    if newcomers_failed.is_empty() || installed.is_empty() {
        return;
    }
    shell.status(
        "Leaving",
        format!(
            "{} as installed: {} failed to build, and a program installed before changes only \
             for a program that is installed with it",
            installed.join(", "),
            newcomers_failed.join(", ")
        ),
    );
    report.programs.retain(|p| !p.provenance.installed);
}

/// Where a program this install names came from, pinned: a registry package of its name at
/// the version built, a git checkout at its commit, else the manifest it was built from.
fn origin_of(p: &BuiltProgram, programs: &[ProgramSource]) -> ProgramSource {
    let manifest = &p.provenance.manifest;
    let pinned = || CrateSpec {
        name: p.name.clone(),
        version: Some(p.version.clone()),
    };
    for s in programs {
        match s {
            ProgramSource::Registry(spec) if spec.name == p.name => {
                return ProgramSource::Registry(pinned());
            }
            ProgramSource::OtherRegistry(spec, registry) if spec.name == p.name => {
                return ProgramSource::OtherRegistry(pinned(), registry.clone());
            }
            ProgramSource::Git(spec) => {
                if let Some(checkout) = checkout_of(manifest).filter(|c| c.url == spec.url) {
                    return ProgramSource::Git(GitSpec {
                        url: checkout.url,
                        reference: spec.reference.clone(),
                        package: Some(p.name.clone()),
                        commit: Some(checkout.commit),
                    });
                }
            }
            _ => {}
        }
    }
    ProgramSource::Path(manifest.clone())
}
