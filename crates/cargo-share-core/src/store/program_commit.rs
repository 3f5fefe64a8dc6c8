//! The end of an install, shared by `install` (a build) and a binary cache's `pull`: the
//! program directory staged and renamed into `programs/`, the index transaction that records it
//! (the commit point), and the links in every root it is linked into swapped by rename.

use std::path::{Path, PathBuf};

use anyhow::{bail, Context, Result};

use crate::build::{BuiltProgram, FeatureChoice};
use crate::shell::Shell;
use crate::source::ProgramSource;
use crate::store::fault;
use crate::store::files::file_matches;
use crate::store::files::{create_dir, make_read_only, remove_tree, write_step};
use crate::store::identity::CrateIdentity;
use crate::store::index::Store;
use crate::store::links::{link_binary, remove_our_link};
use crate::store::manifest::InstalledProgram;
use crate::store::plugins::{plugins_of, PluginFile};
use crate::store::repair::relink_program;
use crate::store::request::InstallRequest;
use crate::store::roots::record_root;
use cargo_share_compile::digest::{file_sha256, sha256_hex};

/// A program build ready to be committed: its binaries (files to copy) and the entries, already
/// in the store, that it loads (`needed`, in `lib/`) and was built against (`entries`).
pub struct ProgramBuild<'a> {
    pub name: &'a str,
    pub version: &'a str,
    /// `crates.io` or `local`.
    pub source: &'a str,
    pub features: &'a FeatureChoice,
    pub binaries: &'a [PathBuf],
    pub needed: &'a [CrateIdentity],
    pub entries: &'a [String],
    /// Plugins this install built for the program (`install --plugin-for`).
    pub plugin_builds: &'a [&'a BuiltProgram],
    /// Where it was built from and the lock entries it was built with, so a later install can
    /// build it again (`None`: it never is; a pulled program).
    pub origin: Option<ProgramSource>,
    pub resolution: Option<String>,
    /// Every package in its closure, `(name, version)`, and how the install command that built
    /// it was given (`update` reads both).
    pub crates: &'a [(String, String)],
    pub install_origin: Option<&'a InstallRequest>,
}

impl ProgramBuild<'_> {
    /// Its binaries' names and SHA-256, and the key its directory name hashes (plugins, added
    /// by `commit_program`, aside).
    fn key(&self) -> Result<(Vec<(String, String)>, String)> {
        let mut bin_hashes = Vec::new();
        for b in self.binaries {
            bin_hashes.push((
                b.file_name().unwrap().to_string_lossy().into_owned(),
                file_sha256(b)?,
            ));
        }
        let mut key = format!("{}\0{}\0", self.name, self.version);
        // Features that leave the binaries as they are still make another program record.
        if !self.features.is_default() {
            key.push_str(&format!("features={}\0", self.features.describe()));
        }
        for (b, h) in &bin_hashes {
            key.push_str(&format!("{b}={h}\0"));
        }
        for id in self.needed {
            key.push_str(&id.hash);
        }
        // How it was built (patches included) and what it holds are part of its record: a
        // rebuild that changes neither bytes nor entries still records its new origin.
        key.push_str(&serde_json::to_string(&(
            &self.install_origin,
            &self.crates,
        ))?);
        Ok((bin_hashes, key))
    }

    /// The name of its directory in `STORE/programs` when it has no plugins.
    pub(crate) fn dir_name(&self) -> Result<String> {
        let (_, key) = self.key()?;
        Ok(program_dir_name(self, &key))
    }
}

fn program_dir_name(program: &ProgramBuild, key: &str) -> String {
    format!(
        "{}-{}-{}",
        program.name,
        program.version,
        &sha256_hex(key.as_bytes())[..16]
    )
}

/// What a command built on `install` decides along the way (`adopt`); the defaults are
/// `install`'s own behaviour (`PlainInstall`).
pub trait InstallSteps {
    /// After the build, before the store changes: a reason to leave this program out (nothing
    /// of it is installed or linked).
    fn leave_out(&mut self, _program: &BuiltProgram) -> Option<String> {
        None
    }
    /// `link` in `ROOT/bin` is a file cargo share did not install: may this install replace it
    /// (without `--force`)?
    fn may_replace(&self, _link: &Path) -> bool {
        false
    }
    /// The program's build in the store (`bin_dir` holds its `binaries`), before it is recorded
    /// or linked: a reason to leave it out (it is then garbage for `gc`).
    fn check_built(&mut self, _program: &ProgramBuild, _bin_dir: &Path) -> Option<String> {
        None
    }
    /// Just before the link `link` replaces a file cargo share did not install (one
    /// `may_replace` allowed): keep it.
    fn before_replacing(&mut self, _name: &str, _version: &str, _link: &Path) -> Result<()> {
        Ok(())
    }
}

/// `install`'s (and `pull`'s) own steps: nothing is left out, nothing not ours replaced without
/// `--force`.
pub struct PlainInstall;

impl InstallSteps for PlainInstall {}

/// The roots a program's links go to: those it is linked into already, and this install's.
pub fn program_roots(store: &Store, name: &str, root: &Path) -> Result<Vec<PathBuf>> {
    let mut roots = store.roots_of(name)?;
    if !roots.iter().any(|r| r == root) {
        roots.push(root.to_path_buf());
    }
    Ok(roots)
}

/// Refuse a link that is not ours (unless `force`) or that is another installed program's.
pub fn check_link(
    store: &Store,
    programs_dir: &Path,
    link: &Path,
    program: &str,
    force: bool,
    steps: &dyn InstallSteps,
) -> Result<()> {
    let Ok(meta) = std::fs::symlink_metadata(link) else {
        return Ok(());
    };
    let target = std::fs::read_link(link).ok();
    let ours = meta.file_type().is_symlink()
        && target.as_ref().is_some_and(|t| t.starts_with(programs_dir));
    if !ours && !force && !steps.may_replace(link) {
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

/// A program's build staged in `programs/` (not yet recorded: until `record_programs` it is
/// garbage for `gc`), with what its record and links need.
pub(crate) struct StagedProgram {
    pub(crate) manifest: InstalledProgram,
    /// Every root its links go to.
    pub(crate) roots: Vec<PathBuf>,
    /// The root this install links it into (its links there are returned by `link_program`).
    root: PathBuf,
    previous: Option<InstalledProgram>,
    /// Plugins this install built for it, announced once it is linked.
    new_plugins: Vec<String>,
    /// Its directory in `programs/` was made by this stage (not a build installed before).
    made_dir: bool,
}

impl StagedProgram {
    /// Remove the directory this stage made, when the install fails before its commit point
    /// (best effort: what is left is garbage for `gc`).
    pub(crate) fn undo(&self, store: &Store) {
        if self.made_dir {
            let _ = remove_tree(&store.root.join(&self.manifest.dir));
        }
    }
}

/// Stage, record and link `program` (its entries must be in the store); returns its manifest
/// and the links made in `root`, or `None` when `steps` left it out after staging (a warning
/// says why; the staged build is garbage for `gc`).
pub fn commit_program(
    store: &Store,
    program: &ProgramBuild,
    root: &Path,
    steps: &mut dyn InstallSteps,
    shell: &Shell,
) -> Result<Option<(InstalledProgram, Vec<PathBuf>)>> {
    let Some(staged) = stage_program(store, program, root, steps, shell)? else {
        return Ok(None);
    };
    record_programs(store, &[&staged])?;
    fault::step("program-recorded")?;
    let linked = link_program(store, &staged, steps, shell)?;
    Ok(Some((staged.manifest, linked)))
}

/// Stage `program` into `programs/` (its entries must be in the store) and let `steps` check
/// it; nothing is recorded or linked. `None` when `steps` left it out (a warning says why).
pub(crate) fn stage_program(
    store: &Store,
    program: &ProgramBuild,
    root: &Path,
    steps: &mut dyn InstallSteps,
    shell: &Shell,
) -> Result<Option<StagedProgram>> {
    // Refuses a `programs` that is not a directory.
    store.programs_dir()?;
    let planned = plan_program_dir(store, program, root, shell)?;
    let program_dir = &planned.program_dir;
    let made_dir = !program_dir.join("program.json").is_file();
    if made_dir {
        make_program_dir(store, program, &planned)?;
    } else {
        // The same build installed before: its links to entries replaced since (damaged
        // ones) are made right.
        for file in relink_program(store, &planned.manifest)? {
            shell.status("Relinked", format!("{file} (its entry was replaced)"));
        }
    }
    fault::step("program-renamed")?;
    if let Some(reason) = steps.check_built(program, &program_dir.join("bin")) {
        shell.warn(format!(
            "{} v{} is not installed: {reason}",
            program.name, program.version
        ));
        return Ok(None);
    }
    let roots = program_roots(store, program.name, root)?;
    let new_plugins = new_plugin_names(program, &planned.plugins);
    Ok(Some(StagedProgram {
        manifest: planned.manifest,
        roots,
        root: root.to_path_buf(),
        previous: planned.previous,
        new_plugins,
        made_dir,
    }))
}

/// What a program build's directory in `programs/` is to hold, worked out before the disk
/// changes.
struct PlannedProgramDir {
    /// Its `program.json` (binaries, entries, plugins, where it came from).
    manifest: InstalledProgram,
    /// The build of the program installed now, if any.
    previous: Option<InstalledProgram>,
    /// The plugins it gets (see `plugins_of`).
    plugins: Vec<PluginFile>,
    /// `STORE/programs/NAME-VERSION-HASH`, named for its binaries, entries, origin and plugins.
    program_dir: PathBuf,
}

/// The program directory: binaries plus hard links to exactly its entries, its plugins, and the
/// manifest that records them, named for what it holds.
fn plan_program_dir(
    store: &Store,
    program: &ProgramBuild,
    root: &Path,
    shell: &Shell,
) -> Result<PlannedProgramDir> {
    let (bin_hashes, mut program_key) = program.key()?;
    let previous = store.program(program.name).ok().flatten();
    // The same build, or some of its binaries (`uninstall --bin`): its plugins still fit.
    let same_build = previous.as_ref().is_some_and(|prev| {
        prev.entries == program.entries && bin_hashes.iter().all(|b| prev.binaries.contains(b))
    });
    let plugins = plugins_of(
        program.name,
        program.plugin_builds,
        previous
            .as_ref()
            .map(|prev| (prev, store.root.join(&prev.dir))),
        same_build,
        shell,
    )?;
    for plugin in &plugins {
        program_key.push_str(&format!("\0plugin {}={}", plugin.name, plugin.sha256));
    }
    let dir_name = program_dir_name(program, &program_key);
    let program_dir = store.root.join("programs").join(&dir_name);
    let manifest = InstalledProgram {
        name: program.name.to_string(),
        version: program.version.to_string(),
        source: program.source.to_string(),
        dir: format!("programs/{dir_name}"),
        binaries: bin_hashes,
        entries: program.entries.to_vec(),
        root: root.to_path_buf(),
        features: program.features.clone(),
        origin: program.origin.clone(),
        resolution: program.resolution.clone(),
        crates: program.crates.to_vec(),
        install_origin: program.install_origin.cloned(),
        plugins: plugins
            .iter()
            .map(|p| (p.name.clone(), p.sha256.clone()))
            .collect(),
    };
    Ok(PlannedProgramDir {
        manifest,
        previous,
        plugins,
        program_dir,
    })
}

/// Fill a staging directory as `planned` says, make it read-only and rename it into
/// `programs/` (over a directory left there without its manifest).
fn make_program_dir(
    store: &Store,
    program: &ProgramBuild,
    planned: &PlannedProgramDir,
) -> Result<()> {
    let staging = store.staging("program-")?;
    let dir = staging.path();
    create_dir(&dir.join("bin"))?;
    create_dir(&dir.join("lib"))?;
    copy_binaries(store, program, planned, dir)?;
    for id in program.needed {
        let entry_file = store
            .root
            .join("entries")
            .join(Store::entry_dir_name(id))
            .join("lib")
            .join(&id.file);
        std::fs::hard_link(&entry_file, dir.join("lib").join(&id.file))
            .and_then(|_| fault::step("program-library-linked"))
            .with_context(|| format!("linking {} into the program", entry_file.display()))?;
    }
    if !planned.plugins.is_empty() {
        create_dir(&dir.join("plugins"))?;
    }
    for plugin in &planned.plugins {
        let to = dir.join("plugins").join(&plugin.name);
        std::fs::copy(&plugin.from, &to)
            .with_context(|| format!("copying {} to {}", plugin.from.display(), to.display()))?;
    }
    write_step(
        &dir.join("program.json"),
        serde_json::to_string_pretty(&planned.manifest)?,
        "program-manifest-written",
    )?;
    make_read_only(dir)?;
    fault::step("program-staged")?;
    let program_dir = &planned.program_dir;
    if program_dir.exists() {
        remove_tree(program_dir)?;
    }
    std::fs::rename(staging.keep(), program_dir)
        .with_context(|| format!("moving the program build into {}", program_dir.display()))?;
    Ok(())
}

/// The program's binaries into `dir/bin`: copies, or hard links to the installed build's when
/// byte-identical.
fn copy_binaries(
    store: &Store,
    program: &ProgramBuild,
    planned: &PlannedProgramDir,
    dir: &Path,
) -> Result<()> {
    for (b, (name, sha)) in program.binaries.iter().zip(&planned.manifest.binaries) {
        let to = dir.join("bin").join(name);
        // A binary byte-identical to the one the program runs now (an update that
        // changed only libraries) is the same file, not a copy.
        let same = planned
            .previous
            .as_ref()
            .filter(|e| e.binaries.iter().any(|(n, h)| n == name && h == sha))
            .map(|e| store.root.join(&e.dir).join("bin").join(name))
            .filter(|f| file_matches(f, sha));
        match same {
            Some(old) => std::fs::hard_link(&old, &to),
            None => std::fs::copy(b, &to).map(|_| ()),
        }
        .and_then(|_| fault::step("program-binary-copied"))
        .with_context(|| format!("copying {} to {}", b.display(), to.display()))?;
    }
    Ok(())
}

/// The plugins among `plugins` that this install built (not kept from the installed build).
fn new_plugin_names(program: &ProgramBuild, plugins: &[PluginFile]) -> Vec<String> {
    plugins
        .iter()
        .filter(|f| {
            program
                .plugin_builds
                .iter()
                .any(|b| b.binaries.iter().any(|x| x.ends_with(&f.name)))
        })
        .map(|f| f.name.clone())
        .collect()
}

/// Record staged programs in one index transaction (the commit point: all of them or none),
/// after the roots they are linked into.
pub(crate) fn record_programs(store: &Store, staged: &[&StagedProgram]) -> Result<()> {
    for s in staged {
        record_root(&store.root, &s.root)?;
    }
    fault::step("root-recorded")?;
    let rows: Vec<(&InstalledProgram, &[PathBuf])> = staged
        .iter()
        .map(|s| (&s.manifest, s.roots.as_slice()))
        .collect();
    // The caller passes the `program-recorded` fault point: what fails after this line fails
    // past the commit point.
    store.insert_programs(&rows)
}

/// Swap a recorded program's links in every root it is linked into; returns the links made in
/// this install's root.
pub(crate) fn link_program(
    store: &Store,
    staged: &StagedProgram,
    steps: &mut dyn InstallSteps,
    shell: &Shell,
) -> Result<Vec<PathBuf>> {
    let programs_dir = store.programs_dir()?;
    let manifest = &staged.manifest;
    let program_dir = store.root.join(&manifest.dir);
    let mut linked = Vec::new();
    for r in &staged.roots {
        let dir = r.join("bin");
        std::fs::create_dir_all(&dir).with_context(|| format!("creating {}", dir.display()))?;
        for (b, _) in &manifest.binaries {
            let link = dir.join(b);
            if std::fs::symlink_metadata(&link).is_ok()
                && !std::fs::read_link(&link).is_ok_and(|t| t.starts_with(&programs_dir))
            {
                steps.before_replacing(&manifest.name, &manifest.version, &link)?;
            }
            link_binary(&link, &program_dir.join("bin").join(b))?;
            fault::step("first-link-swapped")?;
            if *r == staged.root {
                linked.push(link);
            }
        }
    }
    if let Some(prev) = &staged.previous {
        if prev.dir != manifest.dir {
            // Links of binaries the new version no longer has.
            for (b, _) in &prev.binaries {
                if !manifest.binaries.iter().any(|(nb, _)| nb == b) {
                    for r in &staged.roots {
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
    for plugin in &staged.new_plugins {
        shell.status(
            "Installed",
            format!(
                "plugin {plugin} for {}: {}",
                manifest.name,
                program_dir.join("plugins").join(plugin).display()
            ),
        );
    }
    Ok(linked)
}
