//! Binding built programs into the store: the entries each program needs added (or reused), its
//! program directory staged and renamed into place, its record written (the commit point) and
//! its links in `ROOT/bin` swapped. One program at a time: a crash leaves each program on its old
//! build or its new one, never between (`open` rolls links forward past the commit point).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use anyhow::{bail, Context, Result};
use serde::Serialize;

use crate::build::{BuildReport, BuiltProgram};
use crate::digest::{file_sha256, sha256_hex};
use crate::shell::Shell;
use crate::source::ProgramOrigin;
use crate::store::fault;
use crate::store::files::{create_dir, make_read_only, remove_tree, write_step};
use crate::store::identity::{CrateIdentity, IdentityResolver};
use crate::store::index::{EntryOutcome, Store};
use crate::store::links::{link_binary, remove_our_link};
use crate::store::manifest::InstalledProgram;
use crate::store::open::entry_label;
use crate::store::repair::relink_program;
use crate::store::roots::record_root;

/// What `install` did for one program.
#[derive(Debug, Clone, Serialize)]
pub struct InstallRecord {
    /// `program-installed`, or `program-regrouped` for an installed program rebound.
    pub reason: &'static str,
    pub name: String,
    pub version: String,
    pub binaries: Vec<PathBuf>,
    /// Entries that were already in the store.
    pub reused: Vec<String>,
    /// Entries this install added.
    pub added: Vec<String>,
}

/// Which roots a program is linked into.
pub enum Target<'a> {
    /// A program this install names: the roots it is linked into already, and `root`.
    Named { root: &'a Path },
    /// An installed program built again with the others (regrouped): its own roots only, and
    /// nothing is done when its build comes out the same.
    Rebuilt { previous: &'a InstalledProgram },
}

/// The roots a program's links go to: those it is linked into already, and `root`.
pub fn program_roots(store: &Store, name: &str, root: Option<&Path>) -> Result<Vec<PathBuf>> {
    let mut roots = store.roots_of(name)?;
    if let Some(root) = root {
        if !roots.iter().any(|r| r == root) {
            roots.push(root.to_path_buf());
        }
    }
    Ok(roots)
}

/// Binds the programs of one build's report into the store.
pub struct Binder<'a> {
    store: &'a Store,
    report: &'a BuildReport,
    /// The build's output directory (`OUT/bin`, `OUT/lib`).
    out: &'a Path,
    resolver: IdentityResolver,
    programs_dir: PathBuf,
}

impl<'a> Binder<'a> {
    pub fn new(store: &'a Store, report: &'a BuildReport, out: &'a Path) -> Result<Self> {
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
            programs_dir: store.programs_dir()?,
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
        &self,
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

    /// Stage the program directory (binaries, hard links to exactly its entries, its manifest)
    /// and rename it into place.
    fn stage_program(
        &self,
        p: &BuiltProgram,
        needed: &[&CrateIdentity],
        manifest: &InstalledProgram,
        program_dir: &Path,
    ) -> Result<()> {
        let staging = self.store.staging("program-")?;
        let dir = staging.path();
        create_dir(&dir.join("bin"))?;
        create_dir(&dir.join("lib"))?;
        for b in &p.binaries {
            let to = dir.join("bin").join(b.file_name().unwrap());
            std::fs::copy(b, &to)
                .and_then(|_| fault::step("program-binary-copied"))
                .with_context(|| format!("copying {} to {}", b.display(), to.display()))?;
        }
        for id in needed {
            let entry_file = self
                .store
                .root
                .join("entries")
                .join(Store::entry_dir_name(id))
                .join("lib")
                .join(&id.file);
            std::fs::hard_link(&entry_file, dir.join("lib").join(&id.file))
                .and_then(|_| fault::step("program-library-linked"))
                .with_context(|| format!("linking {} into the program", entry_file.display()))?;
        }
        write_step(
            &dir.join("program.json"),
            serde_json::to_string_pretty(manifest)?,
            "program-manifest-written",
        )?;
        make_read_only(dir)?;
        fault::step("program-staged")?;
        if program_dir.exists() {
            remove_tree(program_dir)?;
        }
        std::fs::rename(staging.keep(), program_dir)
            .with_context(|| format!("moving the program build into {}", program_dir.display()))
    }

    /// Bind one built program: `None` when it is an installed program whose build came out
    /// the same (nothing to change).
    pub fn bind(
        &mut self,
        p: &BuiltProgram,
        origin: ProgramOrigin,
        target: Target<'_>,
        shell: &Shell,
    ) -> Result<Option<InstallRecord>> {
        let ids = self.identities(p)?;
        let mut bin_hashes = Vec::new();
        for b in &p.binaries {
            bin_hashes.push((
                b.file_name().unwrap().to_string_lossy().into_owned(),
                file_sha256(b)?,
            ));
        }
        let needed: Vec<&CrateIdentity> = p.libraries.iter().map(|f| &ids[f]).collect();
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
        let dir_name = format!(
            "{}-{}-{}",
            p.name,
            p.version,
            &sha256_hex(program_key.as_bytes())[..16]
        );
        let (root, roots) = match &target {
            Target::Named { root } => (
                root.to_path_buf(),
                program_roots(self.store, &p.name, Some(root))?,
            ),
            Target::Rebuilt { previous } => {
                if previous.dir == format!("programs/{dir_name}") {
                    shell.status(
                        "Fresh",
                        format!("{} v{} (its build is the same)", p.name, p.version),
                    );
                    return Ok(None);
                }
                (
                    previous.root.clone(),
                    program_roots(self.store, &p.name, None)?,
                )
            }
        };
        let rebuilt = matches!(target, Target::Rebuilt { .. });
        shell.status(
            if rebuilt { "Regrouping" } else { "Installing" },
            format!("{} v{}", p.name, p.version),
        );
        let (reused, added) = self.add_entries(&ids, shell)?;
        let program_dir = self.store.root.join("programs").join(&dir_name);
        let manifest = InstalledProgram {
            name: p.name.clone(),
            version: p.version.clone(),
            source: origin.kind().to_string(),
            dir: format!("programs/{dir_name}"),
            binaries: bin_hashes.clone(),
            entries: ids.values().map(|i| i.hash.clone()).collect(),
            root: root.clone(),
            features: p.features.clone(),
            origin: Some(origin),
            resolution: Some(p.provenance.resolution.clone()),
        };
        if !program_dir.join("program.json").is_file() {
            self.stage_program(p, &needed, &manifest, &program_dir)?;
        } else {
            // The same build installed before: its links to entries replaced since (damaged
            // ones) are made right.
            for file in relink_program(self.store, &manifest)? {
                shell.status("Relinked", format!("{file} (its entry was replaced)"));
            }
        }
        fault::step("program-renamed")?;
        let previous = self.store.program(&p.name).ok().flatten();
        record_root(&self.store.root, &root)?;
        fault::step("root-recorded")?;
        self.store.insert_program(&manifest, &roots)?;
        fault::step("program-recorded")?;

        // Every root the program is linked into gets the new build.
        let mut linked = Vec::new();
        for r in &roots {
            let dir = r.join("bin");
            std::fs::create_dir_all(&dir).with_context(|| format!("creating {}", dir.display()))?;
            for (b, _) in &bin_hashes {
                let link = dir.join(b);
                link_binary(
                    &link,
                    &self.programs_dir.join(&dir_name).join("bin").join(b),
                )?;
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
                            remove_our_link(
                                &r.join("bin").join(b),
                                &self.store.root.join(&prev.dir),
                            );
                            fault::step("old-link-removed")?;
                        }
                    }
                }
                if !rebuilt {
                    shell.status(
                        "Replaced",
                        format!(
                            "{} v{} (its old build goes at the next `cargo share gc`)",
                            prev.name, prev.version
                        ),
                    );
                }
            }
        }
        let groups = needed
            .iter()
            .filter(|id| {
                id.package
                    .starts_with(crate::resolve::grouping::GROUP_PACKAGE_PREFIX)
            })
            .count();
        shell.status(
            if rebuilt { "Regrouped" } else { "Installed" },
            format!(
                "{} v{}: {} ({} shared crate builds: {} reused, {} added; loads {} group{}{})",
                p.name,
                p.version,
                linked
                    .iter()
                    .map(|l| l.display().to_string())
                    .collect::<Vec<_>>()
                    .join(", "),
                ids.len(),
                reused.len(),
                added.len(),
                groups,
                if groups == 1 { "" } else { "s" },
                if rebuilt {
                    "; its old build goes at the next `cargo share gc`"
                } else {
                    ""
                }
            ),
        );
        let record = InstallRecord {
            reason: if rebuilt {
                "program-regrouped"
            } else {
                "program-installed"
            },
            name: p.name.clone(),
            version: p.version.clone(),
            binaries: linked,
            reused,
            added,
        };
        shell.json(&record);
        Ok(Some(record))
    }
}
