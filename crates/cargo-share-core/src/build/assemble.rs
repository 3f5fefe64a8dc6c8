//! Step 5 of a build: `build` runs the prepared Cargo invocations, then copies each binary to
//! `OUT/bin` and the closure of Rust libraries it needs (read from `DT_NEEDED`) to `OUT/lib`, each
//! file atomically.

use std::collections::{BTreeMap, BTreeSet};
use std::io::{BufReader, IsTerminal};
use std::path::{Path, PathBuf};
use std::process::Stdio;

use anyhow::{bail, Context, Result};
use cargo_metadata::{CrateType, Message};
use serde::Serialize;

use crate::build::adapt::prepare_proven;
use crate::build::cargo::{CargoVerb, LockRestore};
use crate::build::cargo_stderr::StderrForwarding;
use crate::build::failures::FailedProgram;
use crate::build::features::FeatureChoice;
use crate::build::installed::Provenance;
use crate::build::lib_paths::{bind_to_lib_dir, Place};
use crate::build::options::{BuildOptions, GroupExports, Layout};
use crate::build::own_features::programs_to_retry;
use crate::build::path_sources::forget_other_copies;
use crate::build::plugin_closure::{closure_note, foreign_libraries, CLOSURE_SECTION};
use crate::build::plugins::warn_stale_plugins;
use crate::build::positions;
use crate::build::prepare::PreparedBuild;
use crate::build::std_relink::{relink_std, RelinkedStd};
use crate::build::trim::{group_file, keep_all_exports, trim_groups};
use crate::message::{Message as Record, Report};
use crate::resolve::graph::Program;
use crate::resolve::grouping::{GroupRecord, GROUP_CRATE_PREFIX};
use crate::shell::Shell;
use cargo_share_compile::elf;
use cargo_share_compile::toolchain::{is_libstd_file, Toolchain};

/// One built program, as reported at the end of a build.
#[derive(Debug, Clone, Serialize)]
pub struct BuiltProgram {
    pub name: String,
    pub version: String,
    /// Paths of the installed binaries (in `OUT/bin`).
    pub binaries: Vec<PathBuf>,
    /// File names of the shared libraries it needs (in `OUT/lib`), libstd included.
    pub libraries: Vec<String>,
    /// The features it was built with (left out when it has its defaults).
    #[serde(skip_serializing_if = "FeatureChoice::is_default")]
    pub(crate) features: FeatureChoice,
    /// A plugin (`--plugin-for`): the program it was built for; its file is in `OUT/plugins`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) plugin_for: Option<String>,
    /// Where it was built from and its resolution (recorded by `install`).
    #[serde(skip)]
    pub(crate) provenance: Provenance,
    /// Every package in its normal dependency closure, `(name, version)` (a patched crate at
    /// its patched copy's version).
    #[serde(skip)]
    pub(crate) crates: Vec<(String, String)>,
}

/// The result of `cargo share build`.
#[derive(Debug, Clone, Serialize)]
pub struct BuildReport {
    pub(crate) success: bool,
    pub(crate) layout: Layout,
    pub(crate) out: PathBuf,
    #[serde(serialize_with = "crate::message::built_programs")]
    pub programs: Vec<BuiltProgram>,
    /// Every library in `OUT/lib` this build needs: file name -> size in bytes.
    pub libraries: BTreeMap<String, u64>,
    /// How many library crates the build made shared.
    pub(crate) shared_packages: usize,
    /// Where Cargo left the crate dylibs and the wrapper's unit records.
    #[serde(skip)]
    pub(crate) deps_dir: PathBuf,
    /// Grouped layout: by file name, what each group's store entry records.
    #[serde(skip)]
    pub(crate) group_records: BTreeMap<String, GroupRecord>,
    /// Grouped layout: groups taken from the store, by file name -> the entry's identity.
    #[serde(skip)]
    pub(crate) reused_groups: BTreeMap<String, String>,
    #[serde(skip)]
    pub(crate) toolchain: Option<Toolchain>,
    /// The export list of the relinked run-time libstd in `OUT/lib` (its store identity hashes
    /// it), when a program needs libstd.
    #[serde(skip)]
    pub(crate) std_exports: Option<PathBuf>,
    /// Programs Cargo did not build; the others were built and are in `OUT`.
    #[serde(serialize_with = "crate::message::failed_programs")]
    pub(crate) failed: Vec<FailedProgram>,
    /// The programs built in a set of their own with exactly their features: as asked
    /// (`--own-features`), and those retried so after failing with their set's features.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub(crate) own_features: Vec<String>,
}

impl BuildReport {
    /// The report if every program was built; else an error naming each program that was not,
    /// with its cause (the others are in `OUT` all the same).
    pub fn complete(self) -> Result<BuildReport> {
        if self.failed.is_empty() {
            return Ok(self);
        }
        bail!(
            "{} of {} programs failed to build: {}; the others are in {}",
            self.failed.len(),
            self.failed.len() + self.programs.len(),
            self.failed
                .iter()
                .map(FailedProgram::describe)
                .collect::<Vec<_>>()
                .join(", "),
            self.out.display()
        )
    }
}

/// `--dry-run`: steps 1 to 3, showing the plan (the groups, in the grouped layout) and what
/// would be built.
pub fn show_plan(options: &BuildOptions, shell: &Shell) -> Result<()> {
    let options = BuildOptions {
        dry_run: true,
        ..options.clone()
    };
    let prepared = prepare_proven(&options, shell)?;
    for (_, programs) in prepared.invocations() {
        shell.result(format!(
            "would build: {}",
            prepared.program_names(&programs).join(", ")
        ));
    }
    Ok(())
}

/// `cargo share build`: steps 1 to 5.
pub fn build(options: &BuildOptions, out: &Path, shell: &Shell) -> Result<BuildReport> {
    let mut options = options.clone();
    let stderr = StderrForwarding::default();
    loop {
        let (prepared, executables, failed) = compile(&options, out, &stderr, shell)?;
        // A program that failed in a set is built once more with exactly its own features
        // (`own_features`); the set is prepared again without it.
        let retry = programs_to_retry(
            &prepared.graph,
            &prepared.origins,
            &prepared.options.unify,
            &failed,
        );
        if !retry.is_empty() {
            shell.status(
                "Retrying",
                format!(
                    "{} in a set of its own with exactly the features it asks for: it failed \
                     to build with the features its set unifies",
                    retry.join(", ")
                ),
            );
            shell.message(&Record::ProgramsRetried { programs: &retry });
            drop(prepared);
            options.unify.own_features.extend(retry);
            continue;
        }
        for f in &failed {
            shell.warn(format!("not built: {}", f.describe()));
        }
        if failed.len() == prepared.graph.programs.len() {
            bail!(
                "no program was built: {}; {}",
                failed
                    .iter()
                    .map(FailedProgram::describe)
                    .collect::<Vec<_>>()
                    .join(", "),
                nothing_written(&options, out)
            );
        }
        let mut report = assemble(&prepared, &executables, &failed, out, shell)?;
        for f in &failed {
            shell.message(&Record::ProgramFailed(Report::of(f)));
        }
        report.success = failed.is_empty();
        report.failed = failed;
        return Ok(report);
    }
}

/// Steps 1 to 4: prepare the build and run Cargo; the programs' executables (a plugin's
/// library), and the programs Cargo did not build.
type Compiled = (
    PreparedBuild,
    BTreeMap<String, Vec<PathBuf>>,
    Vec<FailedProgram>,
);

fn compile(
    options: &BuildOptions,
    out: &Path,
    stderr: &StderrForwarding,
    shell: &Shell,
) -> Result<Compiled> {
    let prepared = prepare_proven(options, shell)?;
    prepared.report_overrides(shell);
    prepared.check_recorded_tests(shell)?;
    forget_other_copies(&prepared, shell)?;
    let mut executables: BTreeMap<String, Vec<PathBuf>> = BTreeMap::new();
    let _locks = (!options.patches.is_empty())
        .then(|| LockRestore::save(prepared.graph.workspaces.iter().map(|w| w.root.clone())));
    let mut failed: Vec<FailedProgram> = Vec::new();
    for (wi, programs) in prepared.invocations() {
        let ws = &prepared.graph.workspaces[wi];
        let names = prepared.program_names(&programs);
        shell.status(
            "Building",
            format!(
                "{} (shared, {})",
                names.join(", "),
                describe_workspace(&prepared, ws)
            ),
        );
        let mut cmd = prepared.cargo(CargoVerb::Build, wi, &programs, shell)?;
        // Cargo's errors are read (and shown as they come) to say why a program failed.
        cmd.stderr(Stdio::piped());
        if std::io::stderr().is_terminal() {
            cmd.args(["--color", "always"]);
        }
        let mut child = cmd.spawn().context("running cargo")?;
        let stdout = child.stdout.take().expect("piped stdout");
        let errors = prepared
            // Every copy in the workspace: Cargo warns about any member's manifest.
            .user_facing(stderr, &prepared.programs_of_workspace(wi))
            .forward(
                child.stderr.take(),
                &std::env::current_dir().unwrap_or_default(),
            );
        for message in Message::parse_stream(BufReader::new(stdout)) {
            if let Message::CompilerArtifact(artifact) = message? {
                let Some(program) = prepared
                    .graph
                    .programs
                    .iter()
                    .find(|p| p.package_id == artifact.package_id)
                else {
                    continue;
                };
                // A program delivers its executables, as `cargo install` does (not the `cdylib`
                // a package may also build, grex's say); a plugin delivers its shared library.
                let delivered = if program.plugin_for.is_some() {
                    plugin_file(&artifact)
                } else {
                    artifact.executable.clone()
                };
                if let Some(file) = delivered {
                    executables
                        .entry(program.name.clone())
                        .or_default()
                        .push(file.into_std_path_buf());
                }
            }
        }
        let status = child.wait()?;
        let errors = errors.join().unwrap_or_default();
        let own = prepared.own_package_dirs(&programs);
        crate::resolve::set::workspace::check_member_copies(&ws.root, &own)?;
        crate::resolve::set::workspace::restore_copies(&own)?;
        if !status.success() {
            // `--keep-going`: the programs Cargo built are delivered; those it did not are
            // reported with what failed.
            let missing: Vec<&usize> = programs
                .iter()
                .filter(|&&p| !executables.contains_key(&prepared.graph.programs[p].name))
                .collect();
            if missing.is_empty() {
                bail!(
                    "cargo build failed for {} (see the errors above); {}",
                    names.join(", "),
                    nothing_written(options, out)
                );
            }
            for &p in &missing {
                let others: Vec<&str> = missing
                    .iter()
                    .filter(|&&o| o != p)
                    .map(|&&o| prepared.graph.programs[o].name.as_str())
                    .collect();
                let p = &prepared.graph.programs[*p];
                failed.push(FailedProgram::new(
                    &p.name,
                    &p.version.to_string(),
                    &errors,
                    &others,
                ));
            }
        }
    }
    drop(_locks);
    Ok((prepared, executables, failed))
}

/// Where a Cargo run builds, as the user knows it: a set's workspace, which cargo-share
/// generates in its cache, by the policy that resolved it; a program's own, by its directory.
fn describe_workspace(prepared: &PreparedBuild, ws: &crate::resolve::graph::Workspace) -> String {
    let generated = prepared
        .set
        .iter()
        .chain(&prepared.later_sets)
        .any(|set| ws.root.starts_with(&set.root) || set.manifest_path == ws.manifest_path)
        || prepared
            .options
            .cache()
            .and_then(|cache| Ok(std::path::absolute(cache)?))
            .is_ok_and(|cache| ws.root.starts_with(cache.join("sets")));
    if generated {
        format!("--unify {}", prepared.options.unify.policy)
    } else {
        format!("{} workspace", ws.root.display())
    }
}

/// What a failed build left: an install's output is its private staging directory, and naming
/// it would say nothing.
fn nothing_written(options: &BuildOptions, out: &Path) -> String {
    if options.staging {
        "nothing was installed".to_string()
    } else {
        format!("nothing was written to {}", out.display())
    }
}

/// Step 5: copy binaries and their library closure into `out`.
fn assemble(
    prepared: &PreparedBuild,
    executables: &BTreeMap<String, Vec<PathBuf>>,
    failed: &[FailedProgram],
    out: &Path,
    shell: &Shell,
) -> Result<BuildReport> {
    let bin_dir = out.join("bin");
    let lib_dir = out.join("lib");
    std::fs::create_dir_all(&bin_dir).with_context(|| format!("creating {}", bin_dir.display()))?;
    std::fs::create_dir_all(&lib_dir).with_context(|| format!("creating {}", lib_dir.display()))?;
    let mut report = BuildReport {
        success: true,
        layout: prepared.options.layout,
        out: out.to_path_buf(),
        programs: Vec::new(),
        libraries: BTreeMap::new(),
        shared_packages: prepared.graph.shared_packages.len(),
        deps_dir: prepared.deps_dir(),
        group_records: BTreeMap::new(),
        reused_groups: BTreeMap::new(),
        toolchain: Some(prepared.toolchain.clone()),
        std_exports: None,
        failed: Vec::new(),
        own_features: prepared.options.unify.own_features.clone(),
    };
    let closures = program_closures(prepared, executables, failed)?;
    let mut runtime_copies = group_runtime_copies(prepared, &closures, &mut report, shell)?;
    if let Some((std_file, relinked)) =
        std_runtime_copy(prepared, &closures, &runtime_copies, shell)?
    {
        report.std_exports = Some(relinked.exports_file);
        runtime_copies.insert(std_file, relinked.path);
    }
    // Step 6: the run-time copies name what they load by path (`lib_paths`).
    let provided: BTreeSet<String> = closures
        .iter()
        .flat_map(|(_, _, needed)| needed.keys().cloned())
        .collect();
    let renames = dynamic_names(&closures, &runtime_copies)?;
    let notes = plugin_notes(prepared, &closures)?;
    let mut copied: BTreeSet<String> = BTreeSet::new();
    for closure in closures {
        let dest = Destination {
            out,
            bin_dir: &bin_dir,
            lib_dir: &lib_dir,
            bound: (&provided, &renames),
            runtime_copies: &runtime_copies,
        };
        let note = notes.get(&closure.0.name).map(String::as_bytes);
        let built = install_program(prepared, closure, &dest, note, &mut copied, &mut report)?;
        if !prepared.options.staging {
            report_program(&built, shell);
        }
        report.programs.push(built);
    }
    if prepared.options.staging {
        return Ok(report);
    }
    finish(&report, out, &notes, shell)?;
    Ok(report)
}

/// A program, its executables (a plugin's library) and the libraries they load, by file name.
type Closure<'a> = (&'a Program, Vec<PathBuf>, BTreeMap<String, PathBuf>);

/// The closure of every program Cargo built.
fn program_closures<'a>(
    prepared: &'a PreparedBuild,
    executables: &BTreeMap<String, Vec<PathBuf>>,
    failed: &[FailedProgram],
) -> Result<Vec<Closure<'a>>> {
    let search = [prepared.deps_dir(), prepared.toolchain.std_libdir.clone()];
    let mut closures = Vec::new();
    for program in &prepared.graph.programs {
        if failed.iter().any(|f| f.name == program.name) {
            continue;
        }
        let exes = executables.get(&program.name).cloned().unwrap_or_default();
        if exes.is_empty() && program.plugin_for.is_some() {
            bail!(
                "cargo built no shared library for plugin {} v{}",
                program.name,
                program.version
            );
        }
        if exes.is_empty() {
            bail!(
                "cargo built no binary for {} v{} (do its binaries need features? see `required-features`)",
                program.name,
                program.version
            );
        }
        let mut needed = BTreeMap::new();
        for exe in &exes {
            needed.extend(elf::library_closure(exe, &search)?);
        }
        closures.push((program, exes, needed));
    }
    Ok(closures)
}

/// Grouped layout: the groups' run-time copies (trimmed to what the programs import with
/// `--exports used`), by file name; the report gets the groups' records and the reused ones.
fn group_runtime_copies(
    prepared: &PreparedBuild,
    closures: &[Closure],
    report: &mut BuildReport,
    shell: &Shell,
) -> Result<BTreeMap<String, PathBuf>> {
    let mut runtime_copies = BTreeMap::new();
    let Some((plan, records)) = &prepared.groups else {
        return Ok(runtime_copies);
    };
    let files = closures
        .iter()
        .flat_map(|(_, exes, needed)| exes.iter().chain(needed.values()));
    let groups: BTreeMap<&String, &PathBuf> = closures
        .iter()
        .flat_map(|(_, _, needed)| needed.iter())
        .filter(|(name, _)| name.starts_with(&format!("lib{GROUP_CRATE_PREFIX}")))
        .collect();
    let mut by_file: BTreeMap<String, GroupRecord> = records
        .values()
        .map(|r| (group_file(&r.group), r.clone()))
        .collect();
    let trimmed = match prepared.options.group_exports {
        GroupExports::Used => trim_groups(files, &groups, &by_file, shell)?,
        GroupExports::All => {
            keep_all_exports(&groups)?;
            BTreeMap::new()
        }
    };
    // A reused group is the store's entry unless it had to export more (a new entry).
    report.reused_groups = plan
        .groups
        .iter()
        .filter_map(|g| Some((group_file(g), plan.reused.get(&g.name)?.clone())))
        .filter(|(file, _)| {
            let before = by_file.get(file).and_then(|r| r.exports.as_ref());
            let now = trimmed.get(file).map(|(_, keep)| keep);
            before.is_none() || before == now
        })
        .collect();
    for (file, (path, keep)) in trimmed {
        if let Some(record) = by_file.get_mut(&file) {
            record.exports = Some(keep);
        }
        runtime_copies.insert(file, path);
    }
    report.group_records = by_file;
    Ok(runtime_copies)
}

/// The run-time libstd, if the programs load it: relinked with what the set imports from it
/// (`--exports used`) or everything the toolchain's copy exports (`--exports all`), after the
/// groups were trimmed (a trimmed group imports less). Compiling used, and keeps using, the
/// toolchain's copy. Its file name and the relinked copy.
fn std_runtime_copy(
    prepared: &PreparedBuild,
    closures: &[Closure],
    runtime_copies: &BTreeMap<String, PathBuf>,
    shell: &Shell,
) -> Result<Option<(String, RelinkedStd)>> {
    let std_file = closures
        .iter()
        .flat_map(|(_, _, needed)| needed.iter())
        .find(|(_, path)| path.starts_with(&prepared.toolchain.std_libdir))
        .map(|(name, _)| name.clone());
    let Some(std_file) = std_file else {
        return Ok(None);
    };
    let mut imports = BTreeSet::new();
    for (_, exes, needed) in closures {
        for file in exes.iter().chain(
            needed
                .iter()
                .filter(|(name, _)| **name != std_file)
                .map(|(name, path)| runtime_copies.get(name).unwrap_or(path)),
        ) {
            imports.extend(elf::dynamic_symbols(file)?.0);
        }
    }
    let relinked = relink_std(
        &prepared.toolchain,
        &prepared.target_dir.join("cargo-share-std"),
        prepared.options.group_exports,
        &imports,
        shell,
    )
    .with_context(|| format!("making the run-time copy of {std_file}"))?;
    if relinked.file != std_file {
        bail!(
            "the programs need {std_file} but the toolchain's libstd is {}: rebuild them \
             (remove the cache's target directory)",
            relinked.file
        );
    }
    Ok(Some((std_file, relinked)))
}

/// Every function a library of `OUT/lib` exports is bound by its short name (`short_names`)
/// and by position (`positions`; libstd's table laid out from the toolchain's copy).
fn dynamic_names(
    closures: &[Closure],
    runtime_copies: &BTreeMap<String, PathBuf>,
) -> Result<positions::DynamicNames> {
    let mut libraries = BTreeMap::new();
    for (_, _, needed) in closures {
        for (name, path) in needed {
            let runtime = runtime_copies.get(name).unwrap_or(path);
            let layout_from = if is_libstd_file(name) { path } else { runtime };
            libraries.insert(name, (layout_from, runtime));
        }
    }
    let libraries: Vec<_> = libraries
        .iter()
        .map(|(name, (layout_from, runtime))| positions::Library {
            name,
            layout_from,
            runtime,
        })
        .collect();
    positions::DynamicNames::of(&libraries)
}

/// Where `assemble` puts a program's files, and how they are bound.
struct Destination<'a> {
    out: &'a Path,
    bin_dir: &'a Path,
    lib_dir: &'a Path,
    bound: (&'a BTreeSet<String>, &'a positions::DynamicNames),
    runtime_copies: &'a BTreeMap<String, PathBuf>,
}

/// Put one program's executables (a plugin's library) and the libraries it loads that no
/// earlier program brought (`copied`) in place, bound; its report.
fn install_program(
    prepared: &PreparedBuild,
    (program, exes, needed): Closure,
    dest: &Destination,
    note: Option<&[u8]>,
    copied: &mut BTreeSet<String>,
    report: &mut BuildReport,
) -> Result<BuiltProgram> {
    let mut installed = Vec::new();
    let dir = match &program.plugin_for {
        Some(_) => dest.out.join("plugins"),
        None => dest.bin_dir.to_path_buf(),
    };
    std::fs::create_dir_all(&dir).with_context(|| format!("creating {}", dir.display()))?;
    for exe in &exes {
        let to = dir.join(exe.file_name().context("binary without a file name")?);
        install_bound(exe, &to, dest.bound, Place::BesideLibDir, note)?;
        installed.push(to);
    }
    for (name, path) in &needed {
        if copied.insert(name.clone()) {
            let to = dest.lib_dir.join(name);
            let from = dest.runtime_copies.get(name).unwrap_or(path);
            install_bound(from, &to, dest.bound, Place::InLibDir, None)?;
            report
                .libraries
                .insert(name.clone(), std::fs::metadata(&to)?.len());
        }
    }
    Ok(BuiltProgram {
        name: program.name.clone(),
        version: program.version.clone(),
        binaries: installed,
        libraries: needed.keys().cloned().collect(),
        features: prepared.options.features.of(&program.name),
        plugin_for: program.plugin_for.clone(),
        provenance: prepared
            .provenance
            .get(&program.name)
            .cloned()
            .unwrap_or_default(),
        crates: program_crates(prepared, program)?,
    })
}

/// A build into an output directory (not staged for the store): old binaries that were not
/// built again go, stale plugins are named, and the report is given.
fn finish(
    report: &BuildReport,
    out: &Path,
    notes: &BTreeMap<String, String>,
    shell: &Shell,
) -> Result<()> {
    let bin_dir = out.join("bin");
    let built: BTreeSet<PathBuf> = report
        .programs
        .iter()
        .flat_map(|p| p.binaries.iter().cloned())
        .collect();
    drop_stale_binaries(&bin_dir, &built, shell)?;
    warn_stale_plugins(out, &built, notes, shell)?;
    let bytes: u64 = report.libraries.values().sum();
    shell.message(&Record::BuildFinished(Report::of(report)));
    shell.status(
        "Finished",
        format!(
            "{} programs, {} shared libraries ({:.1} MB) in {}",
            report.programs.len(),
            report.libraries.len(),
            bytes as f64 / 1e6,
            out.join("lib").display()
        ),
    );
    Ok(())
}

/// Every package in `program`'s normal dependency closure, as `(name, version)`, sorted; a
/// patched crate at its patched copy's version (Cargo resolved the graph before the patch).
fn program_crates(
    prepared: &PreparedBuild,
    program: &crate::resolve::graph::Program,
) -> Result<Vec<(String, String)>> {
    let md = &prepared.graph.workspaces[program.workspace].metadata;
    let mut out = Vec::new();
    for p in crate::resolve::graph::normal_closure(md, &program.package_id) {
        let version = match prepared.options.patches.iter().find(|c| c.name == *p.name) {
            Some(patch) => patch.version()?,
            None => p.version.to_string(),
        };
        out.push((p.name.to_string(), version));
    }
    out.sort();
    out.dedup();
    Ok(out)
}

/// Binaries an earlier build left in `OUT/bin` (a program that failed this time, or that this
/// build does not have) were linked against the libraries this build replaced. Each one that no
/// longer loads (a library gone, a symbol no longer exported) is removed with a warning; one that
/// still loads is kept. Checked by the loader itself (`LD_TRACE_LOADED_OBJECTS`, `LD_BIND_NOW`,
/// `LD_WARN`: every symbol resolved, nothing of the program run), and only for files that name
/// their libraries as cargo-share writes them, so nothing else in `OUT/bin` is ever run.
fn drop_stale_binaries(bin_dir: &Path, built: &BTreeSet<PathBuf>, shell: &Shell) -> Result<()> {
    for entry in std::fs::read_dir(bin_dir)? {
        let path = entry?.path();
        if built.contains(&path) || !path.is_file() {
            continue;
        }
        let ours = elf::dynamic_info(&path)
            .is_ok_and(|i| i.needed.iter().any(|n| n.starts_with(elf::LIB_DIR_PREFIX)));
        if !ours {
            continue;
        }
        let check = std::process::Command::new(&path)
            .env_clear()
            .env("LD_TRACE_LOADED_OBJECTS", "1")
            .env("LD_BIND_NOW", "1")
            .env("LD_WARN", "1")
            .stdin(Stdio::null())
            .output()
            .with_context(|| format!("checking {}", path.display()))?;
        let said = format!(
            "{}{}",
            String::from_utf8_lossy(&check.stdout),
            String::from_utf8_lossy(&check.stderr)
        );
        if check.status.success()
            && !said.contains("undefined symbol")
            && !said.contains("not found")
        {
            continue;
        }
        std::fs::remove_file(&path).with_context(|| format!("removing {}", path.display()))?;
        shell.warn(format!(
            "removed {}: an earlier build left it, and it does not load with the libraries this \
             build put in {}",
            path.display(),
            bin_dir.with_file_name("lib").display()
        ));
    }
    Ok(())
}

fn report_program(built: &BuiltProgram, shell: &Shell) {
    shell.message(&Record::ProgramBuilt(Report::of(built)));
    let bins: Vec<String> = built
        .binaries
        .iter()
        .map(|b| b.display().to_string())
        .collect();
    shell.status(
        "Linked",
        format!(
            "{} v{}: {} (needs {} shared libraries)",
            built.name,
            built.version,
            bins.join(", "),
            built.libraries.len()
        ),
    );
    for lib in &built.libraries {
        shell.line(format!("{:>12}   {lib}", ""));
    }
}

/// Copy `from` to `to` ([`install_bytes`]), with the library names rewritten by
/// [`bind_to_lib_dir`] and, for a plugin host and its plugins, the closure note added
/// ([`plugin_closure`]).
fn install_bound(
    from: &Path,
    to: &Path,
    (provided, renames): (&BTreeSet<String>, &positions::DynamicNames),
    place: Place,
    note: Option<&[u8]>,
) -> Result<()> {
    let bytes = match bind_to_lib_dir(from, provided, place, renames)? {
        Some(bytes) => bytes,
        None => std::fs::read(from).with_context(|| format!("reading {}", from.display()))?,
    };
    match note {
        Some(note) => {
            let noted = elf::with_section(&bytes, CLOSURE_SECTION, note)
                .with_context(|| format!("adding the closure note to {}", to.display()))?;
            install_bytes(&noted, from, to)
        }
        None => install_bytes(&bytes, from, to),
    }
}

/// The shared library Cargo built for a plugin (`dylib` or `cdylib`), from its artifact.
fn plugin_file(artifact: &cargo_metadata::Artifact) -> Option<cargo_metadata::camino::Utf8PathBuf> {
    let plugin = artifact
        .target
        .crate_types
        .iter()
        .any(|t| matches!(t, CrateType::DyLib | CrateType::CDyLib));
    plugin
        .then(|| {
            artifact
                .filenames
                .iter()
                .find(|f| f.extension() == Some("so"))
        })
        .flatten()
        .cloned()
}

/// The closure note of every plugin host and plugin of the build, by program name; a plugin
/// that needs a library its program does not load is refused.
fn plugin_notes(
    prepared: &PreparedBuild,
    closures: &[Closure],
) -> Result<BTreeMap<String, String>> {
    let mut notes = BTreeMap::new();
    if !prepared.options.plugin_host {
        return Ok(notes);
    }
    let deps = prepared.deps_dir();
    for (program, _, needed) in closures {
        let host = program.plugin_for.as_deref().unwrap_or(&program.name);
        if program.plugin_for.is_some() {
            let host_needed = closures
                .iter()
                .find(|(p, _, _)| p.name == host)
                .map(|(_, _, n)| n)
                .with_context(|| format!("plugin {}: {host} was not built", program.name))?;
            let foreign = foreign_libraries(needed, host_needed);
            if !foreign.is_empty() {
                bail!(
                    "plugin {} needs {}, which {host} does not load; this is a cargo-share bug, \
                     please report it",
                    program.name,
                    foreign.join(", ")
                );
            }
        }
        let note = closure_note(host, needed, &deps, &prepared.toolchain)
            .with_context(|| format!("recording the shared closure of {}", program.name))?;
        notes.insert(program.name.clone(), note);
    }
    Ok(notes)
}

/// Write `bytes` to `to` atomically (a temporary file in the same directory, then a rename, so a
/// program in `OUT` is never seen half-written) with `from`'s permissions; nothing is written
/// when `to` already holds them.
fn install_bytes(bytes: &[u8], from: &Path, to: &Path) -> Result<()> {
    if std::fs::read(to).ok().as_deref() == Some(bytes) {
        return Ok(());
    }
    let dir = to.parent().context("destination without a directory")?;
    let tmp = tempfile::Builder::new()
        .prefix(".cargo-share-")
        .tempfile_in(dir)?;
    std::fs::write(tmp.path(), bytes)
        .with_context(|| format!("writing {} (for {})", tmp.path().display(), to.display()))?;
    std::fs::set_permissions(tmp.path(), std::fs::metadata(from)?.permissions())?;
    tmp.persist(to)
        .with_context(|| format!("moving into place {}", to.display()))?;
    Ok(())
}
