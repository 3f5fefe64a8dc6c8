//! Binding built programs into the store: the entries each program needs added (or reused), its
//! program directory staged and renamed into place (`Binder::stage`, every program of an install
//! first), then every record written in one index transaction (the commit point,
//! `program_commit::record_programs`) and each program's links in `ROOT/bin` swapped
//! (`PendingBind::finish`). A failure before the commit point leaves every program as it was; a
//! crash after it is rolled forward (`open` re-points the links of recorded programs).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use anyhow::{bail, Context, Result};
use serde::Serialize;

use crate::build::{BuildReport, BuiltProgram};
use crate::message::{Message, Report};
use crate::shell::Shell;
use crate::source::ProgramSource;
use crate::store::fault;
use crate::store::identity::{CrateIdentity, IdentityResolver};
use crate::store::index::{EntryOutcome, Store};
use crate::store::manifest::InstalledProgram;
use crate::store::open::entry_label;
use crate::store::program_commit::{
    link_program, stage_program, InstallSteps, ProgramBuild, StagedProgram,
};
use crate::store::request::InstallRequest;

/// What `install` did for one program (`--json`: `program-installed`, `program-regrouped` for
/// an installed program rebound, `program-pulled`).
#[derive(Debug, Clone, Serialize)]
pub struct InstallRecord {
    pub name: String,
    pub version: String,
    pub binaries: Vec<PathBuf>,
    /// Entries that were already in the store.
    pub reused: Vec<String>,
    /// Entries this install added.
    pub added: Vec<String>,
}

impl InstallRecord {
    /// The `Installed` status line (`how`: where it came from, if not a build).
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
    }
}

/// Which roots a program is linked into.
pub(crate) enum Target<'a> {
    /// A program this install names: the roots it is linked into already, and `root`.
    Named { root: &'a Path },
    /// An installed program built again with the others (regrouped): its own roots only, and
    /// nothing is done when its build comes out the same.
    Rebuilt { previous: &'a InstalledProgram },
}

/// Binds the programs of one build's report into the store.
pub(crate) struct Binder<'a> {
    store: &'a Store,
    report: &'a BuildReport,
    /// The build's output directory (`OUT/bin`, `OUT/lib`).
    out: &'a Path,
    resolver: IdentityResolver,
    /// How this install command was given (`update` builds its programs again from it).
    install_origin: InstallRequest,
    /// The entries this binder added to the store, for `undo_added`.
    added_here: Vec<CrateIdentity>,
}

impl<'a> Binder<'a> {
    pub(crate) fn new(
        store: &'a Store,
        report: &'a BuildReport,
        out: &'a Path,
        install_origin: InstallRequest,
    ) -> Result<Self> {
        let toolchain = report
            .toolchain
            .clone()
            .context("build reported no toolchain")?;
        let resolver = IdentityResolver::new(
            toolchain.version_text.clone(),
            toolchain.host.clone(),
            report.deps_dir.clone(),
            toolchain.std_libdir.clone(),
        )
        .with_relinked_std(report.std_exports.clone());
        Ok(Binder {
            store,
            report,
            out,
            resolver,
            install_origin,
            added_here: Vec::new(),
        })
    }

    /// The full file of a library: in Cargo's `deps`, else the toolchain's.
    fn locate(&self, file: &str) -> PathBuf {
        let in_deps = self.report.deps_dir.join(file);
        if in_deps.is_file() {
            return in_deps;
        }
        match &self.report.toolchain {
            Some(t) => t.std_libdir.join(file),
            None => in_deps,
        }
    }

    /// The program's libraries and, transitively, every shared crate build they were compiled
    /// against (generic-only crates leave no NEEDED entry but shaped the code).
    fn identities(&mut self, p: &BuiltProgram) -> Result<BTreeMap<String, CrateIdentity>> {
        let mut ids: BTreeMap<String, CrateIdentity> = BTreeMap::new();
        let mut by_hash: BTreeMap<String, String> = BTreeMap::new();
        for file in &p.libraries {
            let id = self.resolver.identify(file)?;
            by_hash.insert(id.hash.clone(), file.clone());
            ids.insert(file.clone(), id);
        }
        let mut pending: Vec<String> = ids.values().flat_map(|i| i.dependencies.clone()).collect();
        while let Some(hash) = pending.pop() {
            if by_hash.contains_key(&hash) {
                continue;
            }
            let Some(id) = self.resolver.known().find(|i| i.hash == hash).cloned() else {
                bail!("internal: dependency {hash} was not identified");
            };
            pending.extend(id.dependencies.clone());
            by_hash.insert(hash, id.file.clone());
            ids.insert(id.file.clone(), id);
        }
        Ok(ids)
    }

    /// Add the entries a program needs; returns (reused, added) identity hashes.
    fn add_entries(
        &mut self,
        ids: &BTreeMap<String, CrateIdentity>,
        shell: &Shell,
    ) -> Result<(Vec<String>, Vec<String>)> {
        let mut reused = Vec::new();
        let mut added = Vec::new();
        for id in ids.values() {
            let full = self.locate(&id.file);
            // The build's run-time copy (a group's is trimmed), else the full file.
            let staged = self.out.join("lib").join(&id.file);
            let runtime = if staged.is_file() {
                staged
            } else {
                full.clone()
            };
            if let Some(expected) = self.report.reused_groups.get(&id.file) {
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
            let group = self.report.group_records.get(&id.file);
            match self.store.add_entry(id, &full, &runtime, group)? {
                EntryOutcome::Added => {
                    shell.status("Adding", entry_label(id));
                    added.push(id.hash.clone());
                    self.added_here.push(id.clone());
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
        Ok((reused, added))
    }

    /// Take the entries this binder added out of the index and the store again: the install
    /// failed before its commit point, and nothing else can have bound them (the store's lock is
    /// held). Best effort: what is left is garbage for `gc`.
    pub(crate) fn undo_added(&mut self) {
        for id in self.added_here.drain(..) {
            if self.store.delete_entry_row(&id.hash).is_ok() {
                let dir = self
                    .store
                    .root
                    .join("entries")
                    .join(Store::entry_dir_name(&id));
                let _ = crate::store::files::remove_tree(&dir);
            }
        }
    }

    /// Stage one built program: its entries added, its program directory in place, nothing
    /// recorded or linked (`finish` does, once every program of the install is staged). `None`
    /// when it is an installed program whose build came out the same (nothing to change) or
    /// `steps` left it out.
    pub(crate) fn stage(
        &mut self,
        p: &BuiltProgram,
        origin: ProgramSource,
        target: Target<'_>,
        steps: &mut dyn InstallSteps,
        shell: &Shell,
    ) -> Result<Option<PendingBind>> {
        let ids = self.identities(p)?;
        let needed: Vec<CrateIdentity> = p.libraries.iter().map(|f| ids[f].clone()).collect();
        let entries: Vec<String> = ids.values().map(|i| i.hash.clone()).collect();
        let install_origin = self.install_origin.clone();
        let report = self.report;
        let plugin_builds: Vec<&BuiltProgram> = report
            .programs
            .iter()
            .filter(|b| b.plugin_for.as_deref() == Some(p.name.as_str()))
            .collect();
        let source_kind = origin.kind();
        let program = ProgramBuild {
            name: &p.name,
            version: &p.version,
            source: &source_kind,
            features: &p.features,
            binaries: &p.binaries,
            needed: &needed,
            entries: &entries,
            plugin_builds: &plugin_builds,
            origin: Some(origin.clone()),
            resolution: Some(p.provenance.resolution.clone()),
            crates: &p.crates,
            install_origin: Some(&install_origin),
        };
        let root = match &target {
            Target::Named { root } => root.to_path_buf(),
            Target::Rebuilt { previous } => {
                if previous.dir == format!("programs/{}", program.dir_name()?) {
                    shell.status(
                        "Fresh",
                        format!("{} v{} (its build is the same)", p.name, p.version),
                    );
                    return Ok(None);
                }
                // A root it is linked into now (`uninstall --root` may have taken the first).
                let roots = self.store.roots_of(&p.name)?;
                roots
                    .first()
                    .cloned()
                    .unwrap_or_else(|| previous.root.clone())
            }
        };
        let rebuilt = matches!(target, Target::Rebuilt { .. });
        shell.status(
            if rebuilt { "Regrouping" } else { "Installing" },
            format!("{} v{}", p.name, p.version),
        );
        let (reused, added) = self.add_entries(&ids, shell)?;
        let Some(staged) = stage_program(self.store, &program, &root, steps, shell)? else {
            return Ok(None);
        };
        let groups = needed
            .iter()
            .filter(|id| {
                id.package
                    .starts_with(crate::resolve::grouping::GROUP_PACKAGE_PREFIX)
            })
            .count();
        Ok(Some(PendingBind {
            staged,
            rebuilt,
            builds: ids.len(),
            groups,
            reused,
            added,
        }))
    }
}

/// A program `Binder::stage` staged: recorded with the others of its install by
/// `record_programs`, then linked by `finish`.
pub(crate) struct PendingBind {
    pub(crate) staged: StagedProgram,
    rebuilt: bool,
    /// How many shared crate builds it was built against, and how many groups it loads.
    builds: usize,
    groups: usize,
    reused: Vec<String>,
    added: Vec<String>,
}

impl PendingBind {
    /// Link a recorded program into its roots and say so.
    pub(crate) fn finish(
        self,
        store: &Store,
        steps: &mut dyn InstallSteps,
        shell: &Shell,
    ) -> Result<InstallRecord> {
        let linked = link_program(store, &self.staged, steps, shell)?;
        let (name, version) = (&self.staged.manifest.name, &self.staged.manifest.version);
        let rebuilt = self.rebuilt;
        shell.status(
            if rebuilt { "Regrouped" } else { "Installed" },
            format!(
                "{name} v{version}: {} ({} shared crate builds: {} reused, {} added; loads {} \
                 group{}{})",
                linked
                    .iter()
                    .map(|l| l.display().to_string())
                    .collect::<Vec<_>>()
                    .join(", "),
                self.builds,
                self.reused.len(),
                self.added.len(),
                self.groups,
                if self.groups == 1 { "" } else { "s" },
                if rebuilt {
                    "; its old build goes at the next `cargo share gc`"
                } else {
                    ""
                }
            ),
        );
        let record = InstallRecord {
            name: name.clone(),
            version: version.clone(),
            binaries: linked,
            reused: self.reused,
            added: self.added,
        };
        shell.message(&if rebuilt {
            Message::ProgramRegrouped(Report::of(&record))
        } else {
            Message::ProgramInstalled(Report::of(&record))
        });
        Ok(record)
    }
}
