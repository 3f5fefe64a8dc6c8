//! `cargo share update`, in order: plan (every refusal before anything changes), the new crate
//! source (a patched copy, or a version fetched through Cargo), then per install command: build
//! its programs again with the crate patched and install them (`store::install`: only entries
//! whose identity is new are added; each program is rebound atomically, its old build left for
//! `gc`), and compare each program's files with what it loaded before.

use std::path::PathBuf;

use anyhow::{bail, Context, Result};
use serde::Serialize;

use crate::build::CratePatch;
use crate::message::{Message, Report};
use crate::resolve::set::Unify;
use crate::shell::Shell;
use crate::source::CrateSpec;
use crate::store::{install, open_store, Access, InstallOptions, InstallRequest};
use crate::update::compare::{compare, totals, ProgramChange, Totals};
use crate::update::plan::{plan, UpdateOptions, UpdatePlan, UpdateTarget};

/// What `update` did.
#[derive(Debug, Clone, Serialize)]
pub struct UpdateReport {
    pub(crate) programs: Vec<ProgramChange>,
    /// Distinct file contents the update added (what a machine receiving the update downloads).
    pub(crate) shipped: Totals,
    /// Distinct file contents the updated programs load in all.
    pub(crate) loaded: Totals,
}

/// How the rebuild gets the crate's new source: a patched copy (`[patch.crates-io]`) and/or a
/// pinned version (`--pin`, which moves the set's resolution to it).
struct NewSource {
    patch: Option<CratePatch>,
    pin: Option<CrateSpec>,
}

impl NewSource {
    fn apply(&self, origin: &InstallRequest) -> InstallRequest {
        let mut origin = origin.clone();
        if let Some(p) = &self.patch {
            origin = origin.with_patch(p);
        }
        if let Some(p) = &self.pin {
            origin = origin.with_pin(p);
        }
        origin
    }
}

/// DIR itself (pinned to its version when that is not the one the programs use), or the
/// version asked for, or the newest compatible (found through Cargo), pinned.
fn new_source(
    krate: &str,
    target: &UpdateTarget,
    plan: &UpdatePlan,
    cache: &std::path::Path,
    shell: &Shell,
) -> Result<NewSource> {
    let used: Vec<&String> = plan.sets.iter().flat_map(|s| s.affected.values()).collect();
    let pin = |v: String| CrateSpec {
        name: krate.to_string(),
        version: Some(v),
    };
    let source = match target {
        UpdateTarget::Path(dir) => {
            let patch = CratePatch {
                name: krate.to_string(),
                path: std::path::absolute(dir)?,
            };
            patch.check()?;
            let version = patch.version()?;
            NewSource {
                pin: used.iter().any(|u| **u != version).then(|| pin(version)),
                patch: Some(patch),
            }
        }
        UpdateTarget::Version(v) => NewSource {
            patch: None,
            pin: Some(pin(v.clone())),
        },
        UpdateTarget::Newest => {
            let lowest = used.iter().min().map(|s| s.as_str()).unwrap_or("0");
            let manifest = crate::source::fetch_registry_crate_matching(
                krate,
                &format!("^{lowest}"),
                None,
                cache,
                shell,
            )?;
            let found = CratePatch {
                name: krate.to_string(),
                path: parent_of(manifest)?,
            }
            .version()?;
            NewSource {
                patch: None,
                pin: Some(pin(found)),
            }
        }
    };
    if source.pin.is_some() {
        let alone: Vec<&str> = plan
            .sets
            .iter()
            .filter(|s| s.origin.unify == Unify::None)
            .flat_map(|s| s.affected.keys().map(String::as_str))
            .collect();
        if !alone.is_empty() {
            bail!(
                "{} {} installed with its own Cargo.lock (--unify none), whose `{krate}` version \
                 cargo-share does not move yet; nothing was changed. Give a patched copy of \
                 the version it uses with --path DIR",
                alone.join(", "),
                if alone.len() == 1 { "was" } else { "were" }
            );
        }
    }
    Ok(source)
}

fn parent_of(manifest: PathBuf) -> Result<PathBuf> {
    manifest
        .parent()
        .map(PathBuf::from)
        .with_context(|| format!("{} has no directory", manifest.display()))
}

fn show_plan(plan: &UpdatePlan, shell: &Shell) {
    for set in &plan.sets {
        let others: Vec<&String> = set
            .programs
            .iter()
            .filter(|p| !set.affected.contains_key(*p))
            .collect();
        for (program, version) in &set.affected {
            let what = match (&plan.krate, &plan.target) {
                (Some(k), Some(t)) => format!("{program}: {k} v{version} -> {t}"),
                _ => format!("{program}: rebuilt"),
            };
            shell.status("Updating", what);
        }
        if !others.is_empty() {
            shell.status(
                "Rebuilding",
                format!(
                    "{} (installed with them: the same groups are planned over the same programs)",
                    others
                        .iter()
                        .map(|s| s.as_str())
                        .collect::<Vec<_>>()
                        .join(", ")
                ),
            );
        }
    }
    shell.message(&Message::UpdatePlan(Report::of(plan)));
}

/// `cargo share update CRATE [--to VERSION | --path DIR]` and `--rebuild-all`.
pub fn update(options: &UpdateOptions, shell: &Shell) -> Result<Option<UpdateReport>> {
    let plan = plan(options)?;
    show_plan(&plan, shell);
    if options.dry_run {
        return Ok(None);
    }
    let cache = options
        .cache_dir
        .clone()
        .unwrap_or_else(|| options.store.join("build"));
    let source = match &options.change {
        Some((krate, target)) => Some(new_source(krate, target, &plan, &cache, shell)?),
        None => None,
    };
    let mut changes = Vec::new();
    for set in &plan.sets {
        let origin = match &source {
            Some(s) => s.apply(&set.origin),
            None => set.origin.clone(),
        };
        let build = origin.build_options(options.cache_dir.clone(), &|s| set.builds(s))?;
        install(
            &InstallOptions {
                build,
                root: set.root.clone(),
                store: options.store.clone(),
                force: false,
                // The programs of one install command, built again as they were.
                regroup: false,
                replay: true,
                binaries: (!origin.binaries.is_empty())
                    .then(|| origin.binaries.iter().cloned().collect()),
            },
            shell,
        )?;
        let store = open_store(&options.store, Access::Read)?;
        for before in &set.before {
            let Some(after) = store.program(&before.name)? else {
                continue;
            };
            let change = compare(&store, before, &after)?;
            let changed: Vec<String> = change
                .changed()
                .map(|f| format!("{} ({:.1} KB)", f.file, f.bytes as f64 / 1e3))
                .collect();
            shell.status(
                "Updated",
                format!(
                    "{} v{}: {} of {} files changed{}",
                    change.name,
                    change.version,
                    changed.len(),
                    change.files.len(),
                    if changed.is_empty() {
                        String::new()
                    } else {
                        format!(": {}", changed.join(", "))
                    }
                ),
            );
            changes.push(change);
        }
    }
    let (shipped, loaded) = totals(&changes);
    shell.status(
        "Finished",
        format!(
            "{} programs updated: {} files shipped ({:.1} KB) of the {} files ({:.1} KB) they \
             load; old builds go at the next `cargo share gc`",
            changes.len(),
            shipped.files,
            shipped.bytes as f64 / 1e3,
            loaded.files,
            loaded.bytes as f64 / 1e3
        ),
    );
    let report = UpdateReport {
        programs: changes,
        shipped,
        loaded,
    };
    shell.message(&Message::UpdateFinished(Report::of(&report)));
    Ok(Some(report))
}
