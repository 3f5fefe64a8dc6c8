//! Installed programs over the store: `install`, `uninstall`, `list`, `why`, `gc`, `optimise`,
//! `verify`.
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

use std::collections::{BTreeMap, BTreeSet};
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};

use anyhow::{bail, Context, Result};
use serde::Serialize;

use crate::elf;
use crate::fault;
use crate::identity::{file_sha256, sha256_hex, CrateIdentity, IdentityResolver};
use crate::program::ProgramSource;
use crate::shared_build::{self, BuildOptions};
use crate::shell::{human_bytes, Shell};
use crate::store::{
    file_matches, make_read_only, remove_tree, tree_size, InstalledProgram, Store, StoreEntry,
};

/// `cargo share install` options.
#[derive(Debug, Clone)]
pub struct InstallOptions {
    pub build: BuildOptions,
    pub root: PathBuf,
    pub store: PathBuf,
    pub force: bool,
}

/// The install root: `$CARGO_INSTALL_ROOT`, else `$CARGO_HOME` (as `cargo install`).
pub fn default_root() -> Result<PathBuf> {
    if let Some(r) = std::env::var_os("CARGO_INSTALL_ROOT") {
        return Ok(PathBuf::from(r));
    }
    crate::program::cargo_home()
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

fn entry_label(id: &CrateIdentity) -> String {
    format!("{} v{} ({})", id.package, id.version, &id.hash[..12])
}

/// Open the store and finish what a crashed command left after its commit point: the index is
/// the truth, so every recorded program's links in `ROOT/bin` are made to point at its build
/// (roll forward). Links that are not ours are never touched.
pub fn open_store(dir: &Path) -> Result<Store> {
    let store = Store::open(dir)?;
    let programs_dir = std::fs::canonicalize(store.root.join("programs"))?;
    for p in store.readable_programs()? {
        for (b, _) in &p.binaries {
            let link = p.root.join("bin").join(b);
            let want = programs_dir
                .join(p.dir.trim_start_matches("programs/"))
                .join("bin")
                .join(b);
            let current = std::fs::read_link(&link).ok();
            if current.as_deref() == Some(want.as_path()) {
                continue;
            }
            let ours_or_absent = match &current {
                Some(t) => t.starts_with(&programs_dir),
                None => std::fs::symlink_metadata(&link).is_err(),
            };
            if ours_or_absent && want.is_file() {
                link_binary(&link, &want)?;
            }
        }
    }
    Ok(store)
}

/// The groups in the store that installed programs load and whose entries record how they were
/// built (entries made before cargo-share kept that record cannot be reused): what a grouped
/// install builds against where it can.
fn stored_groups(store: &Store) -> Result<Vec<crate::grouping::StoredGroup>> {
    let live = store.live_entries()?;
    let mut out = Vec::new();
    for row in store.entries()? {
        if !live.contains(&row.hash)
            || !row
                .package
                .starts_with(crate::grouping::GROUP_PACKAGE_PREFIX)
        {
            continue;
        }
        if let Some(record) = store.entry(&row)?.group {
            out.push(crate::grouping::StoredGroup {
                record,
                entry: row.hash,
            });
        }
    }
    Ok(out)
}

/// Point `link` at `target` atomically (a new symlink renamed over the old one).
fn link_binary(link: &Path, target: &Path) -> Result<()> {
    let name = link
        .file_name()
        .context("link without a name")?
        .to_string_lossy();
    let tmp = link.with_file_name(format!(".{name}.cargo-share-new"));
    let _ = std::fs::remove_file(&tmp);
    std::os::unix::fs::symlink(target, &tmp)?;
    std::fs::rename(&tmp, link).with_context(|| format!("linking {}", link.display()))
}

/// The build an install runs: in the store's build directory (unless `--cache-dir`), against the
/// groups installed programs load (grouped layout).
fn install_build(opts: &InstallOptions) -> Result<BuildOptions> {
    let mut build = opts.build.clone();
    let store = Store::open(&opts.store)?;
    if build.cache_dir.is_none() {
        // The store owns the build state of what it installs: crate builds that are in the
        // store are not compiled again as long as the store exists (a cache may be deleted).
        build.cache_dir = Some(store.root.join("build"));
    }
    if build.layout == shared_build::Layout::Grouped {
        build.stored_groups = stored_groups(&store)?;
    }
    Ok(build)
}

/// `install --dry-run`: the plan the install would build, stored groups included.
pub fn show_install_plan(opts: &InstallOptions, shell: &Shell) -> Result<()> {
    shared_build::show_plan(&install_build(opts)?, shell)
}

pub fn install(opts: &InstallOptions, shell: &Shell) -> Result<Vec<InstallRecord>> {
    let scratch = tempfile::tempdir()?;
    let out = scratch.path().join("out");
    let mut build = install_build(opts)?;
    build.staging = true;
    let report = shared_build::build(&build, &out, shell)?;
    let toolchain = report
        .toolchain
        .clone()
        .context("build reported no toolchain")?;

    let store = open_store(&opts.store)?;
    let bin_dir = opts.root.join("bin");
    std::fs::create_dir_all(&bin_dir).with_context(|| format!("creating {}", bin_dir.display()))?;
    let programs_dir = std::fs::canonicalize(store.root.join("programs"))?;
    // Refuse before changing anything: a binary that is not ours is never overwritten silently.
    for p in &report.programs {
        for b in &p.binaries {
            let link = bin_dir.join(b.file_name().unwrap());
            if let Ok(meta) = std::fs::symlink_metadata(&link) {
                let ours = meta.file_type().is_symlink()
                    && std::fs::read_link(&link)
                        .map(|t| t.starts_with(&programs_dir))
                        .unwrap_or(false);
                if !ours && !opts.force {
                    bail!(
                        "{} exists and was not installed by cargo share; remove it or pass --force",
                        link.display()
                    );
                }
            }
        }
    }

    let mut resolver = IdentityResolver::new(
        toolchain.version_text.clone(),
        toolchain.host.clone(),
        report.deps_dir.clone(),
        toolchain.std_libdir.clone(),
    );
    let locate = |file: &str| -> PathBuf {
        let in_deps = report.deps_dir.join(file);
        if in_deps.is_file() {
            in_deps
        } else {
            toolchain.std_libdir.join(file)
        }
    };
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
            if store.add_entry(id, &full, &runtime, group)? {
                shell.status("Adding", entry_label(id));
                added.push(id.hash.clone());
            } else {
                shell.status("Reusing", entry_label(id));
                reused.push(id.hash.clone());
            }
        }
        fault::point("entries-added");

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
        for (b, h) in &bin_hashes {
            program_key.push_str(&format!("{b}={h}\0"));
        }
        for id in &needed {
            program_key.push_str(&id.hash);
        }
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
            root: opts.root.clone(),
        };
        if !program_dir.join("program.json").is_file() {
            let staging = store.staging("program-")?;
            let dir = staging.path();
            std::fs::create_dir(dir.join("bin"))?;
            std::fs::create_dir(dir.join("lib"))?;
            for b in &p.binaries {
                std::fs::copy(b, dir.join("bin").join(b.file_name().unwrap()))?;
            }
            for id in &needed {
                let entry_file = store
                    .root
                    .join("entries")
                    .join(Store::entry_dir_name(id))
                    .join("lib")
                    .join(&id.file);
                std::fs::hard_link(&entry_file, dir.join("lib").join(&id.file)).with_context(
                    || format!("linking {} into the program", entry_file.display()),
                )?;
            }
            std::fs::write(
                dir.join("program.json"),
                serde_json::to_string_pretty(&manifest)?,
            )?;
            make_read_only(dir)?;
            fault::point("program-staged");
            if program_dir.exists() {
                remove_tree(&program_dir)?;
            }
            std::fs::rename(staging.keep(), &program_dir)?;
        }
        fault::point("program-renamed");
        let previous = store.program(&p.name).ok().flatten();
        store.insert_program(&manifest)?;
        fault::point("program-recorded");

        let mut linked = Vec::new();
        for (b, _) in &bin_hashes {
            let link = bin_dir.join(b);
            link_binary(&link, &programs_dir.join(&dir_name).join("bin").join(b))?;
            fault::point("first-link-swapped");
            linked.push(link);
        }
        if let Some(prev) = previous {
            if prev.dir != manifest.dir {
                // Links of binaries the new version no longer has.
                for (b, _) in &prev.binaries {
                    if !bin_hashes.iter().any(|(nb, _)| nb == b) {
                        remove_our_link(
                            &prev.root.join("bin").join(b),
                            &store.root.join(&prev.dir),
                        );
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
    Ok(records)
}

fn remove_our_link(link: &Path, program_dir: &Path) {
    if let Ok(target) = std::fs::read_link(link) {
        if target.starts_with(program_dir) {
            let _ = std::fs::remove_file(link);
        }
    }
}

pub fn uninstall(store_dir: &Path, names: &[String], shell: &Shell) -> Result<()> {
    let store = open_store(store_dir)?;
    let mut found = Vec::new();
    for name in names {
        match store.program(name)? {
            Some(p) => found.push(p),
            None => bail!(
                "`{name}` is not installed (`cargo share list` shows what is); nothing was removed"
            ),
        }
    }
    for p in found {
        let dir = store.root.join(&p.dir);
        for (b, _) in &p.binaries {
            remove_our_link(&p.root.join("bin").join(b), &dir);
        }
        fault::point("links-removed");
        store.remove_program(&p.name)?;
        fault::point("program-unrecorded");
        shell.status(
            "Removed",
            format!(
                "{} v{} (its libraries go at the next `cargo share gc` if nothing else uses them)",
                p.name, p.version
            ),
        );
        shell.json(
            &serde_json::json!({"reason": "program-removed", "name": p.name, "version": p.version}),
        );
    }
    Ok(())
}

/// What `gc` removed (or would remove).
#[derive(Debug, Clone, Default, Serialize)]
pub struct GcReport {
    pub reason: &'static str,
    pub dry_run: bool,
    pub entries: Vec<String>,
    pub program_builds: Vec<String>,
    pub bytes_freed: u64,
}

pub fn gc(store_dir: &Path, dry_run: bool, shell: &Shell) -> Result<GcReport> {
    let store = open_store(store_dir)?;
    let mut report = GcReport {
        reason: "gc-finished",
        dry_run,
        ..Default::default()
    };
    let live = store.live_entries()?;
    let rows = store.entries()?;
    let live_program_dirs = store.recorded_program_dirs()?;
    let known_entry_dirs: BTreeSet<String> = rows.iter().map(|r| r.dir.clone()).collect();

    // Sizes are counted before anything is removed; inodes shared with live trees are not freed.
    let mut live_inodes = BTreeSet::new();
    for d in &live_program_dirs {
        tree_size(&store.root.join(d), &mut live_inodes);
    }
    for r in rows.iter().filter(|r| live.contains(&r.hash)) {
        tree_size(&store.root.join(&r.dir), &mut live_inodes);
    }
    let mut doomed: Vec<PathBuf> = Vec::new();
    for r in rows.iter().filter(|r| !live.contains(&r.hash)) {
        report
            .entries
            .push(format!("{} v{} ({})", r.package, r.version, &r.hash[..12]));
        doomed.push(store.root.join(&r.dir));
    }
    for sub in ["entries", "programs"] {
        for e in std::fs::read_dir(store.root.join(sub))?.flatten() {
            let rel = format!("{sub}/{}", e.file_name().to_string_lossy());
            let unreferenced = if sub == "entries" {
                !known_entry_dirs.contains(&rel)
            } else {
                !live_program_dirs.contains(&rel)
            };
            if unreferenced {
                if sub == "programs" {
                    report.program_builds.push(rel.clone());
                }
                doomed.push(e.path());
            }
        }
    }
    for e in std::fs::read_dir(store.root.join("tmp"))?.flatten() {
        doomed.push(e.path());
    }
    let mut seen = live_inodes;
    for d in &doomed {
        report.bytes_freed += tree_size(d, &mut seen);
    }
    if !dry_run {
        for r in rows.iter().filter(|r| !live.contains(&r.hash)) {
            store.delete_entry_row(&r.hash)?;
            fault::point("gc-row-deleted");
        }
        for d in &doomed {
            remove_tree(d)?;
        }
    }
    for e in &report.entries {
        shell.status(if dry_run { "Would remove" } else { "Removed" }, e);
    }
    for p in &report.program_builds {
        shell.status(if dry_run { "Would remove" } else { "Removed" }, p);
    }
    shell.json(&report);
    shell.status(
        "Finished",
        format!(
            "{} {} entries and {} program builds, {} {}",
            if dry_run { "would remove" } else { "removed" },
            report.entries.len(),
            report.program_builds.len(),
            if dry_run { "would free" } else { "freed" },
            human_bytes(report.bytes_freed)
        ),
    );
    Ok(report)
}

/// `cargo share list`: programs, then entries with their sizes and users.
pub fn list(store_dir: &Path, shell: &Shell) -> Result<serde_json::Value> {
    let store = open_store(store_dir)?;
    let programs = store.readable_programs()?;
    let mut entries = Vec::new();
    for r in store.entries()? {
        let users = store.users_of(&r.hash)?;
        entries.push(serde_json::json!({
            "package": r.package, "version": r.version, "id": r.hash, "file": r.file,
            "runtime_size": r.runtime_size, "users": users,
        }));
    }
    if !shell.is_json() {
        println!("programs:");
        for p in &programs {
            let bins: Vec<&str> = p.binaries.iter().map(|(b, _)| b.as_str()).collect();
            println!(
                "  {} v{} [{}] bin: {} ({} shared crate builds)",
                p.name,
                p.version,
                p.source,
                bins.join(", "),
                p.entries.len()
            );
        }
        println!("libraries:");
        for e in &entries {
            println!(
                "  {} v{} ({}) {}, used by {}: {}",
                e["package"].as_str().unwrap_or(""),
                e["version"].as_str().unwrap_or(""),
                &e["id"].as_str().unwrap_or("")[..12],
                human_bytes(e["runtime_size"].as_u64().unwrap_or(0)),
                e["users"].as_array().map_or(0, |u| u.len()),
                e["users"]
                    .as_array()
                    .map(|u| u
                        .iter()
                        .filter_map(|x| x.as_str())
                        .collect::<Vec<_>>()
                        .join(", "))
                    .unwrap_or_default()
            );
        }
    }
    let value =
        serde_json::json!({"reason": "store-list", "programs": programs, "libraries": entries});
    shell.json(&value);
    Ok(value)
}

/// `cargo share why LIB`: the programs that need a library (by package name, file name or id
/// prefix), directly or through another library.
pub fn why(store_dir: &Path, lib: &str, shell: &Shell) -> Result<Vec<(String, Vec<String>)>> {
    let store = open_store(store_dir)?;
    let matches: Vec<_> = store
        .entries()?
        .into_iter()
        .filter(|r| {
            r.package == lib || r.file == lib || (lib.len() >= 6 && r.hash.starts_with(lib))
        })
        .collect();
    if matches.is_empty() {
        bail!("no library `{lib}` in the store (give a package name, file name or id; `cargo share list` shows them)");
    }
    let mut out = Vec::new();
    for r in matches {
        let users = store.users_of(&r.hash)?;
        if !shell.is_json() {
            println!(
                "{} v{} ({}): {}",
                r.package,
                r.version,
                &r.hash[..12],
                if users.is_empty() {
                    "needed by no installed program (removed by `cargo share gc`)".to_string()
                } else {
                    format!("needed by {}", users.join(", "))
                }
            );
        }
        shell.json(&serde_json::json!({"reason": "why", "package": r.package, "version": r.version, "id": r.hash, "programs": users}));
        out.push((r.hash, users));
    }
    Ok(out)
}

/// `cargo share optimise`: hard-link byte-identical files across entries and program builds.
pub fn optimise(store_dir: &Path, shell: &Shell) -> Result<u64> {
    let store = open_store(store_dir)?;
    let mut files = Vec::new();
    fn collect(dir: &Path, out: &mut Vec<PathBuf>) {
        if let Ok(entries) = std::fs::read_dir(dir) {
            for e in entries.flatten() {
                let p = e.path();
                match e.file_type() {
                    Ok(t) if t.is_dir() => collect(&p, out),
                    Ok(t) if t.is_file() => out.push(p),
                    _ => {}
                }
            }
        }
    }
    collect(&store.root.join("entries"), &mut files);
    collect(&store.root.join("programs"), &mut files);
    let mut by_content: BTreeMap<(u64, String), PathBuf> = BTreeMap::new();
    let mut saved = 0;
    for f in files {
        let meta = std::fs::metadata(&f)?;
        if f.file_name()
            .is_some_and(|n| n == "entry.json" || n == "program.json")
        {
            continue;
        }
        let key = (meta.len(), file_sha256(&f)?);
        match by_content.get(&key) {
            None => {
                by_content.insert(key, f);
            }
            Some(first) => {
                let first_meta = std::fs::metadata(first)?;
                if first_meta.ino() == meta.ino() && first_meta.dev() == meta.dev() {
                    continue;
                }
                let dir = f.parent().unwrap();
                let dir_mode = std::fs::metadata(dir)?.mode();
                use std::os::unix::fs::PermissionsExt;
                std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o700))?;
                let tmp = dir.join(".cargo-share-link");
                let _ = std::fs::remove_file(&tmp);
                let result =
                    std::fs::hard_link(first, &tmp).and_then(|_| std::fs::rename(&tmp, &f));
                std::fs::set_permissions(dir, std::fs::Permissions::from_mode(dir_mode & 0o7777))?;
                result.with_context(|| format!("hard-linking {}", f.display()))?;
                if meta.nlink() == 1 {
                    saved += meta.len();
                }
            }
        }
    }
    shell.json(&serde_json::json!({"reason": "optimise-finished", "bytes_saved": saved}));
    shell.status(
        "Finished",
        format!(
            "hard-linked identical files, {:.1} MB saved",
            saved as f64 / 1e6
        ),
    );
    Ok(saved)
}

/// `cargo share verify [--repair]`. Returns the problems found (and not repaired).
pub fn verify(store_dir: &Path, repair: bool, shell: &Shell) -> Result<Vec<String>> {
    let store = open_store(store_dir)?;
    if repair {
        repair_index(&store, shell)?;
    }
    let mut problems = Vec::new();
    let rows = store.entries()?;
    let by_hash: BTreeMap<&str, &crate::store::EntryRow> =
        rows.iter().map(|r| (r.hash.as_str(), r)).collect();
    for r in &rows {
        let dir = store.root.join(&r.dir);
        if !file_matches(&dir.join("lib").join(&r.file), &r.runtime_sha256) {
            problems.push(format!(
                "entry {} v{} ({}): runtime file missing or changed",
                r.package,
                r.version,
                &r.hash[..12]
            ));
        }
    }
    for name in store.program_names()? {
        let Some(p) = store.program(&name).ok().flatten() else {
            problems.push(format!("program {name}: manifest missing"));
            continue;
        };
        let dir = store.root.join(&p.dir);
        for (b, sha) in &p.binaries {
            let bin = dir.join("bin").join(b);
            if !file_matches(&bin, sha) {
                problems.push(format!("program {name}: binary {b} missing or changed"));
                continue;
            }
            match elf::library_closure(&bin, &[dir.join("lib")]) {
                Ok(found) => {
                    for needed in elf::dynamic_info(&bin)?.needed {
                        if looks_like_rust_library(&needed) && !found.contains_key(&needed) {
                            problems.push(format!(
                                "program {name}: {b} needs {needed}, which is not in its library directory"
                            ));
                        }
                    }
                    for lib in found.keys() {
                        for needed in elf::dynamic_info(&dir.join("lib").join(lib))?.needed {
                            if looks_like_rust_library(&needed) && !found.contains_key(&needed) {
                                problems.push(format!(
                                    "program {name}: {lib} needs {needed}, which is not in its library directory"
                                ));
                            }
                        }
                    }
                }
                Err(e) => problems.push(format!("program {name}: {b}: {e:#}")),
            }
            let link = p.root.join("bin").join(b);
            if std::fs::read_link(&link).ok().as_deref() != Some(bin.as_path()) {
                problems.push(format!(
                    "program {name}: {} does not link to its installed binary",
                    link.display()
                ));
            }
        }
        for hash in &p.entries {
            match by_hash.get(hash.as_str()) {
                None => problems.push(format!(
                    "program {name}: entry {} is not in the store",
                    &hash[..12]
                )),
                Some(r) => {
                    let in_program = dir.join("lib").join(&r.file);
                    if in_program.exists() && !file_matches(&in_program, &r.runtime_sha256) {
                        problems.push(format!("program {name}: {} differs from its entry", r.file));
                    }
                }
            }
        }
    }
    // Nothing half-installed is visible: every link into the store's programs points at the
    // build of a recorded program.
    let recorded: BTreeSet<PathBuf> = store
        .readable_programs()?
        .into_iter()
        .flat_map(|p| {
            let dir = store.root.join(&p.dir);
            p.binaries
                .into_iter()
                .map(move |(b, _)| dir.join("bin").join(b))
        })
        .filter_map(|b| std::fs::canonicalize(b).ok())
        .collect();
    // Install roots: from the index and from every program manifest on disk, so that links
    // survive as evidence even when the index is lost.
    let mut roots: BTreeSet<PathBuf> = store
        .readable_programs()?
        .into_iter()
        .map(|p| p.root)
        .collect();
    for e in std::fs::read_dir(store.root.join("programs"))?.flatten() {
        let manifest: Option<InstalledProgram> =
            std::fs::read_to_string(e.path().join("program.json"))
                .ok()
                .and_then(|t| serde_json::from_str(&t).ok());
        roots.extend(manifest.map(|m| m.root));
    }
    let programs_dir = std::fs::canonicalize(store.root.join("programs"))?;
    for root in roots {
        let Ok(links) = std::fs::read_dir(root.join("bin")) else {
            continue;
        };
        for e in links.flatten() {
            if let Ok(target) = std::fs::read_link(e.path()) {
                if target.starts_with(&programs_dir) && !recorded.contains(&target) {
                    problems.push(format!(
                        "{} links to {}, which is not an installed program build in the index \
                         (if the index was lost, `cargo share verify --repair` rebuilds it)",
                        e.path().display(),
                        target.display()
                    ));
                }
            }
        }
    }
    for p in &problems {
        shell.error(p);
    }
    shell.json(&serde_json::json!({"reason": "verify-finished", "problems": problems}));
    if problems.is_empty() {
        shell.status(
            "Verified",
            format!(
                "{} programs and {} entries: every file matches its hash, every library resolves",
                store.program_names()?.len(),
                rows.len()
            ),
        );
    }
    Ok(problems)
}

/// Crate dylibs carry Cargo's hash (`libname-0123abcd...so`), libstd its own; system libraries
/// (`libc.so.6`) do not.
fn looks_like_rust_library(name: &str) -> bool {
    let Some(stem) = name.strip_prefix("lib").and_then(|n| n.strip_suffix(".so")) else {
        return false;
    };
    stem.rsplit_once('-')
        .is_some_and(|(_, h)| h.len() >= 8 && h.chars().all(|c| c.is_ascii_hexdigit()))
}

/// Rebuild the index from the manifests in the entry and program directories.
fn repair_index(store: &Store, shell: &Shell) -> Result<()> {
    let mut entries = Vec::new();
    for e in std::fs::read_dir(store.root.join("entries"))?.flatten() {
        let manifest = e.path().join("entry.json");
        let parsed: Option<StoreEntry> = std::fs::read_to_string(&manifest)
            .ok()
            .and_then(|t| serde_json::from_str(&t).ok());
        match parsed {
            Some(entry)
                if file_matches(
                    &e.path().join("lib").join(&entry.identity.file),
                    &entry.runtime_sha256,
                ) =>
            {
                entries.push((entry, e.file_name().to_string_lossy().into_owned()))
            }
            _ => shell.warn(format!(
                "entry {} is incomplete or damaged; it is left out of the index (gc removes it; reinstall the programs that need it)",
                e.path().display()
            )),
        }
    }
    let mut programs = Vec::new();
    for e in std::fs::read_dir(store.root.join("programs"))?.flatten() {
        let parsed: Option<InstalledProgram> =
            std::fs::read_to_string(e.path().join("program.json"))
                .ok()
                .and_then(|t| serde_json::from_str(&t).ok());
        if let Some(p) = parsed {
            // Installed means: its root's links point at this build.
            let linked = p.binaries.iter().all(|(b, _)| {
                std::fs::read_link(p.root.join("bin").join(b))
                    .ok()
                    .as_deref()
                    == Some(e.path().join("bin").join(b).as_path())
            });
            if linked {
                programs.push(p);
            }
        }
    }
    store.replace_index(&entries, &programs)?;
    shell.status(
        "Repaired",
        format!(
            "index rebuilt from manifests: {} entries, {} programs",
            entries.len(),
            programs.len()
        ),
    );
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rust_library_names_are_told_from_system_ones() {
        assert!(looks_like_rust_library("libregex-0123456789abcdef.so"));
        assert!(looks_like_rust_library("libstd-d1237ef7159db0a2.so"));
        assert!(!looks_like_rust_library("libc.so.6"));
        assert!(!looks_like_rust_library("libgcc_s.so.1"));
        assert!(!looks_like_rust_library("libfoo-bar.so"));
    }
}
