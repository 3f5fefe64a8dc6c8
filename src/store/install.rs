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

use std::collections::BTreeMap;
use std::path::PathBuf;

use anyhow::{bail, Context, Result};
use serde::Serialize;

use crate::build;
use crate::build::{BuildOptions, FailedProgram};
use crate::shell::Shell;
use crate::source::ProgramSource;
use crate::store::ancestors::check_safe_path;
use crate::store::fault;
use crate::store::files::ScratchDir;
use crate::store::identity::{CrateIdentity, IdentityResolver};
use crate::store::index::{Access, EntryOutcome, Store};
use crate::store::open::{entry_label, open_store_rolling_forward};
use crate::store::program_commit::{
    check_link, commit_program, program_roots, InstallSteps, PlainInstall, ProgramBuild,
};

/// `cargo share install` options.
#[derive(Debug, Clone)]
pub struct InstallOptions {
    pub build: BuildOptions,
    pub root: PathBuf,
    pub store: PathBuf,
    pub force: bool,
}

/// What `install` did for one program.
#[derive(Debug, Clone, Serialize)]
pub struct InstallRecord {
    pub reason: &'static str,
    pub name: String,
    pub version: String,
    pub binaries: Vec<PathBuf>,
    /// Entries that were already in the store.
    pub reused: Vec<String>,
    /// Entries this install added.
    pub added: Vec<String>,
}

impl InstallRecord {
    /// The `Installed` status line (`how`: where it came from, if not a build) and the JSON
    /// record.
    pub fn announce(&self, shell: &Shell, how: &str) {
        shell.status(
            "Installed",
            format!(
                "{} v{}: {} ({how}{} shared crate builds: {} reused, {} added)",
                self.name,
                self.version,
                self.binaries
                    .iter()
                    .map(|l| l.display().to_string())
                    .collect::<Vec<_>>()
                    .join(", "),
                self.reused.len() + self.added.len(),
                self.reused.len(),
                self.added.len()
            ),
        );
        shell.json(self);
    }
}

/// What an install did: the programs installed and those it did not build.
#[derive(Debug, Clone, Default)]
pub struct InstallOutcome {
    pub installed: Vec<InstallRecord>,
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
            });
        }
    }
    Ok(out)
}

/// The build an install runs: in the store's build directory (unless `--cache-dir`), against the
/// groups installed programs load (grouped layout).
fn install_build(opts: &InstallOptions) -> Result<BuildOptions> {
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
        build.cache_dir = Some(store.root.join("build"));
    }
    if build.layout == build::Layout::Grouped {
        build.stored_groups = stored_groups(&store)?;
    }
    Ok(build)
}

/// `install --dry-run`: the plan the install would build, stored groups included.
pub fn show_install_plan(opts: &InstallOptions, shell: &Shell) -> Result<()> {
    build::show_plan(&install_build(opts)?, shell)
}

pub fn install(opts: &InstallOptions, shell: &Shell) -> Result<Vec<InstallRecord>> {
    let outcome = install_with(opts, &mut PlainInstall, shell)?;
    let records = outcome.installed;
    if !outcome.failed.is_empty() {
        // As `cargo install a b c`: the others are installed; the command still fails.
        bail!(
            "installed {}; {} failed to build: {}",
            if records.is_empty() {
                "nothing".to_string()
            } else {
                records
                    .iter()
                    .map(|r| r.name.clone())
                    .collect::<Vec<_>>()
                    .join(", ")
            },
            outcome.failed.len(),
            outcome
                .failed
                .iter()
                .map(FailedProgram::describe)
                .collect::<Vec<_>>()
                .join(", ")
        );
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
    let mut build = install_build(opts)?;
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
    let toolchain = report
        .toolchain
        .clone()
        .context("build reported no toolchain")?;

    let store = open_store_rolling_forward(&opts.store, Access::Create)?;
    let root = std::path::absolute(&opts.root)
        .with_context(|| format!("resolving the install root {}", opts.root.display()))?;
    let bin_dir = root.join("bin");
    std::fs::create_dir_all(&bin_dir).with_context(|| format!("creating {}", bin_dir.display()))?;
    check_safe_path(&bin_dir, "install root", "--root")?;
    let programs_dir = store.programs_dir()?;
    // Refuse before changing anything: a binary that is not ours, or another program's, is
    // never replaced silently, in this root or any other the program is linked into.
    for p in &report.programs {
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

    let mut resolver = IdentityResolver::new(
        toolchain.version_text.clone(),
        toolchain.host.clone(),
        report.deps_dir.clone(),
        toolchain.std_libdir.clone(),
    )
    .with_relinked_std(report.std_exports.clone());
    let locate = |file: &str| -> PathBuf {
        let in_deps = report.deps_dir.join(file);
        if in_deps.is_file() {
            in_deps
        } else {
            toolchain.std_libdir.join(file)
        }
    };
    let mut records = Vec::new();
    // Plugins are installed inside their program's directory, with it.
    for p in report.programs.iter().filter(|p| p.plugin_for.is_none()) {
        shell.status("Installing", format!("{} v{}", p.name, p.version));
        // The program's libraries and, transitively, every shared crate build they were
        // compiled against (generic-only crates leave no NEEDED entry but shaped the code).
        let mut ids: BTreeMap<String, CrateIdentity> = BTreeMap::new();
        let mut by_hash: BTreeMap<String, String> = BTreeMap::new();
        for file in &p.libraries {
            let id = resolver.identify(file)?;
            by_hash.insert(id.hash.clone(), file.clone());
            ids.insert(file.clone(), id);
        }
        // Dependencies by identity: find their files through the resolver's records.
        let mut pending: Vec<String> = ids.values().flat_map(|i| i.dependencies.clone()).collect();
        while let Some(hash) = pending.pop() {
            if by_hash.contains_key(&hash) {
                continue;
            }
            let Some(id) = resolver.known().find(|i| i.hash == hash).cloned() else {
                bail!("internal: dependency {hash} was not identified");
            };
            pending.extend(id.dependencies.clone());
            by_hash.insert(hash, id.file.clone());
            ids.insert(id.file.clone(), id);
        }
        let mut reused = Vec::new();
        let mut added = Vec::new();
        for id in ids.values() {
            let full = locate(&id.file);
            // The build's run-time copy (a group's is trimmed), else the full file.
            let staged = out.join("lib").join(&id.file);
            let runtime = if staged.is_file() {
                staged
            } else {
                full.clone()
            };
            if let Some(expected) = report.reused_groups.get(&id.file) {
                if expected != &id.hash {
                    shell.warn(format!(
                        "{} was planned to be the store's entry {} but its build came out \
                         different ({}): it is added as a new entry",
                        id.package,
                        &expected[..12],
                        &id.hash[..12]
                    ));
                }
            }
            let group = report.group_records.get(&id.file);
            match store.add_entry(id, &full, &runtime, group)? {
                EntryOutcome::Added => {
                    shell.status("Adding", entry_label(id));
                    added.push(id.hash.clone());
                }
                EntryOutcome::Reused => {
                    shell.status("Reusing", entry_label(id));
                    reused.push(id.hash.clone());
                }
                EntryOutcome::Replaced => {
                    shell.warn(format!(
                        "the store's entry {} did not match its hashes (damaged); it was \
                         replaced by this build. Run `cargo share verify --repair` to relink \
                         programs installed before",
                        entry_label(id)
                    ));
                    added.push(id.hash.clone());
                }
            }
        }
        fault::step("entries-added")?;

        let needed: Vec<CrateIdentity> = p.libraries.iter().map(|f| ids[f].clone()).collect();
        let source = match build.programs.iter().find(|s| match s {
            ProgramSource::Registry(spec) => spec.name == p.name,
            ProgramSource::Path(_) => false,
        }) {
            Some(_) => "crates.io",
            None => "local",
        };
        let entries: Vec<String> = ids.values().map(|i| i.hash.clone()).collect();
        let plugin_builds: Vec<&build::BuiltProgram> = report
            .programs
            .iter()
            .filter(|b| b.plugin_for.as_deref() == Some(p.name.as_str()))
            .collect();
        let Some((_, linked)) = commit_program(
            &store,
            &ProgramBuild {
                name: &p.name,
                version: &p.version,
                source,
                features: &p.features,
                binaries: &p.binaries,
                needed: &needed,
                entries: &entries,
                plugin_builds: &plugin_builds,
            },
            &root,
            steps,
            shell,
        )?
        else {
            continue;
        };
        let record = InstallRecord {
            reason: "program-installed",
            name: p.name.clone(),
            version: p.version.clone(),
            binaries: linked,
            reused,
            added,
        };
        record.announce(shell, "");
        records.push(record);
    }
    Ok(InstallOutcome {
        installed: records,
        failed: report.failed,
    })
}
