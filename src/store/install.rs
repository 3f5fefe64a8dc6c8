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
use std::path::{Path, PathBuf};

use anyhow::{bail, Context, Result};
use serde::Serialize;

use crate::build;
use crate::build::BuildOptions;
use crate::digest::{file_sha256, sha256_hex};
use crate::shell::Shell;
use crate::source::ProgramSource;
use crate::store::ancestors::check_safe_path;
use crate::store::fault;
use crate::store::files::{create_dir, make_read_only, remove_tree, write_step, ScratchDir};
use crate::store::identity::{CrateIdentity, IdentityResolver};
use crate::store::index::{Access, EntryOutcome, Store};
use crate::store::links::link_binary;
use crate::store::links::remove_our_link;
use crate::store::manifest::InstalledProgram;
use crate::store::open::{entry_label, open_store_rolling_forward};
use crate::store::origin::InstallOrigin;
use crate::store::repair::relink_program;
use crate::store::roots::record_root;

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

/// The roots a program's links go to: those it is linked into already, and this install's.
fn program_roots(store: &Store, name: &str, root: &Path) -> Result<Vec<PathBuf>> {
    let mut roots = store.roots_of(name)?;
    if !roots.iter().any(|r| r == root) {
        roots.push(root.to_path_buf());
    }
    Ok(roots)
}

/// Refuse a link that is not ours (unless `force`) or that is another installed program's.
fn check_link(
    store: &Store,
    programs_dir: &Path,
    link: &Path,
    program: &str,
    force: bool,
) -> Result<()> {
    let Ok(meta) = std::fs::symlink_metadata(link) else {
        return Ok(());
    };
    let target = std::fs::read_link(link).ok();
    let ours = meta.file_type().is_symlink()
        && target.as_ref().is_some_and(|t| t.starts_with(programs_dir));
    if !ours && !force {
        bail!(
            "{} exists and was not installed by cargo share; nothing was changed. Remove it or \
             pass --force",
            link.display()
        );
    }
    let owner = match &target {
        Some(t) if ours => store.program_linked_by(t)?,
        _ => None,
    };
    if let Some(owner) = owner.filter(|o| o != program) {
        if !force {
            bail!(
                "{} is the binary of the installed program `{owner}`; installing `{program}` \
                 would replace it. Nothing was changed: uninstall `{owner}` first, or pass \
                 --force to link `{program}`'s binary instead",
                link.display()
            );
        }
    }
    Ok(())
}

/// `install --dry-run`: the plan the install would build, stored groups included.
pub fn show_install_plan(opts: &InstallOptions, shell: &Shell) -> Result<()> {
    build::show_plan(&install_build(opts)?, shell)
}

pub fn install(opts: &InstallOptions, shell: &Shell) -> Result<Vec<InstallRecord>> {
    let mut build = install_build(opts)?;
    // The build's output is staged in the store's own tmp/ (not the system's): an install
    // killed here leaves it where the next `gc` finds it; the lock inside tells a running
    // install's from a dead one's.
    let scratch = ScratchDir::new(&opts.store.join("tmp"), "install-")?;
    fault::step("install-scratch-created")?;
    let out = scratch.path().join("out");
    build.staging = true;
    let report = build::build(&build, &out, shell)?;
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
    let origin = InstallOrigin::of(&opts.build, &report.programs)?;
    let mut records = Vec::new();
    for p in &report.programs {
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

        // The program directory: binaries plus hard links to exactly its entries.
        let mut bin_hashes = Vec::new();
        for b in &p.binaries {
            bin_hashes.push((
                b.file_name().unwrap().to_string_lossy().into_owned(),
                file_sha256(b)?,
            ));
        }
        let needed: Vec<&CrateIdentity> = p.libraries.iter().map(|f| &ids[f]).collect::<Vec<_>>();
        let mut program_key = format!("{}\0{}\0", p.name, p.version);
        // Features that leave the binaries as they are still make another program record.
        if !p.features.is_default() {
            program_key.push_str(&format!("features={}\0", p.features.describe()));
        }
        for (b, h) in &bin_hashes {
            program_key.push_str(&format!("{b}={h}\0"));
        }
        for id in &needed {
            program_key.push_str(&id.hash);
        }
        // How it was built (patches included) and what it holds are part of its record: a
        // rebuild that changes neither bytes nor entries still records its new origin.
        program_key.push_str(&serde_json::to_string(&(&origin, &p.crates))?);
        let dir_name = format!(
            "{}-{}-{}",
            p.name,
            p.version,
            &sha256_hex(program_key.as_bytes())[..16]
        );
        let program_dir = store.root.join("programs").join(&dir_name);
        let source = match build.programs.iter().find(|s| match s {
            ProgramSource::Registry(spec) => spec.name == p.name,
            ProgramSource::Path(_) => false,
        }) {
            Some(_) => "crates.io".to_string(),
            None => "local".to_string(),
        };
        let manifest = InstalledProgram {
            name: p.name.clone(),
            version: p.version.clone(),
            source,
            dir: format!("programs/{dir_name}"),
            binaries: bin_hashes.clone(),
            entries: ids.values().map(|i| i.hash.clone()).collect(),
            root: root.clone(),
            features: p.features.clone(),
            crates: p.crates.clone(),
            origin: Some(origin.clone()),
        };
        if !program_dir.join("program.json").is_file() {
            let staging = store.staging("program-")?;
            let dir = staging.path();
            create_dir(&dir.join("bin"))?;
            create_dir(&dir.join("lib"))?;
            let earlier = store.program(&p.name).ok().flatten();
            for (b, (name, sha)) in p.binaries.iter().zip(&bin_hashes) {
                let to = dir.join("bin").join(name);
                // A binary byte-identical to the one the program runs now (an update that
                // changed only libraries) is the same file, not a copy.
                let same = earlier
                    .as_ref()
                    .filter(|e| e.binaries.iter().any(|(n, h)| n == name && h == sha))
                    .map(|e| store.root.join(&e.dir).join("bin").join(name))
                    .filter(|f| crate::store::files::file_matches(f, sha));
                match same {
                    Some(old) => std::fs::hard_link(&old, &to),
                    None => std::fs::copy(b, &to).map(|_| ()),
                }
                .and_then(|_| fault::step("program-binary-copied"))
                .with_context(|| format!("copying {} to {}", b.display(), to.display()))?;
            }
            for id in &needed {
                let entry_file = store
                    .root
                    .join("entries")
                    .join(Store::entry_dir_name(id))
                    .join("lib")
                    .join(&id.file);
                std::fs::hard_link(&entry_file, dir.join("lib").join(&id.file))
                    .and_then(|_| fault::step("program-library-linked"))
                    .with_context(|| {
                        format!("linking {} into the program", entry_file.display())
                    })?;
            }
            write_step(
                &dir.join("program.json"),
                serde_json::to_string_pretty(&manifest)?,
                "program-manifest-written",
            )?;
            make_read_only(dir)?;
            fault::step("program-staged")?;
            if program_dir.exists() {
                remove_tree(&program_dir)?;
            }
            std::fs::rename(staging.keep(), &program_dir).with_context(|| {
                format!("moving the program build into {}", program_dir.display())
            })?;
        } else {
            // The same build installed before: its links to entries replaced since (damaged
            // ones) are made right.
            for file in relink_program(&store, &manifest)? {
                shell.status("Relinked", format!("{file} (its entry was replaced)"));
            }
        }
        fault::step("program-renamed")?;
        let previous = store.program(&p.name).ok().flatten();
        let roots = program_roots(&store, &p.name, &root)?;
        record_root(&store.root, &root)?;
        fault::step("root-recorded")?;
        store.insert_program(&manifest, &roots)?;
        fault::step("program-recorded")?;

        // Every root the program is linked into gets the new build.
        let mut linked = Vec::new();
        for r in &roots {
            let dir = r.join("bin");
            std::fs::create_dir_all(&dir).with_context(|| format!("creating {}", dir.display()))?;
            for (b, _) in &bin_hashes {
                let link = dir.join(b);
                link_binary(&link, &programs_dir.join(&dir_name).join("bin").join(b))?;
                fault::step("first-link-swapped")?;
                if r == &root {
                    linked.push(link);
                }
            }
        }
        if let Some(prev) = previous {
            if prev.dir != manifest.dir {
                // Links of binaries the new version no longer has.
                for (b, _) in &prev.binaries {
                    if !bin_hashes.iter().any(|(nb, _)| nb == b) {
                        for r in &roots {
                            remove_our_link(&r.join("bin").join(b), &store.root.join(&prev.dir));
                            fault::step("old-link-removed")?;
                        }
                    }
                }
                shell.status(
                    "Replaced",
                    format!(
                        "{} v{} (its old build goes at the next `cargo share gc`)",
                        prev.name, prev.version
                    ),
                );
            }
        }
        shell.status(
            "Installed",
            format!(
                "{} v{}: {} ({} shared crate builds: {} reused, {} added)",
                p.name,
                p.version,
                linked
                    .iter()
                    .map(|l| l.display().to_string())
                    .collect::<Vec<_>>()
                    .join(", "),
                ids.len(),
                reused.len(),
                added.len()
            ),
        );
        let record = InstallRecord {
            reason: "program-installed",
            name: p.name.clone(),
            version: p.version.clone(),
            binaries: linked,
            reused,
            added,
        };
        shell.json(&record);
        records.push(record);
    }
    if !report.failed.is_empty() {
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
            report.failed.len(),
            report
                .failed
                .iter()
                .map(crate::build::FailedProgram::describe)
                .collect::<Vec<_>>()
                .join(", ")
        );
    }
    Ok(records)
}
