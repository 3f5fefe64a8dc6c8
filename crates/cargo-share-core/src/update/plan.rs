//! Which installed programs an update rebuilds, and how: the programs whose closure holds the
//! crate (from `program.json`), checked against the new version or patched copy, grouped by
//! the install command that built them (the same programs, layout, resolution and options are
//! built again), before anything is built or changed.

use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;

use anyhow::{bail, Result};
use serde::Serialize;

use crate::build::CratePatch;
use crate::resolve::set::lockfile::parse_lock;
use crate::source::ProgramSource;
use crate::store::{open_store, Access, InstallRequest, InstalledProgram};
use cargo_share_compile::semver_range::compatible_range;

/// The source of crates.io packages in a `Cargo.lock` (also under source replacement).
const CRATES_IO: &str = "registry+https://github.com/rust-lang/crates.io-index";

/// What the crate becomes.
#[derive(Debug, Clone)]
pub enum UpdateTarget {
    /// The newest version compatible with what the programs use (as `cargo update -p`).
    Newest,
    /// `--to VERSION`.
    Version(String),
    /// `--path DIR`: a patched copy of the crate.
    Path(PathBuf),
}

/// `cargo share update` options.
#[derive(Debug, Clone)]
pub struct UpdateOptions {
    pub store: PathBuf,
    pub cache_dir: Option<PathBuf>,
    /// The crate and what it becomes; `None`: `--rebuild-all`.
    pub change: Option<(String, UpdateTarget)>,
    pub dry_run: bool,
}

/// Programs built by one install command, rebuilt together.
#[derive(Debug, Clone, Serialize)]
pub(crate) struct SetRebuild {
    #[serde(skip)]
    pub(crate) origin: InstallRequest,
    pub(crate) root: PathBuf,
    /// Every program still installed from that command (all are built again: its groups are
    /// planned over all of them).
    pub(crate) programs: Vec<String>,
    /// Those whose closure holds the crate, with the version they use now.
    pub(crate) affected: BTreeMap<String, String>,
    #[serde(skip)]
    pub(crate) before: Vec<InstalledProgram>,
}

impl SetRebuild {
    /// Whether the install command's program `source` is built again: a crates.io program or
    /// a package manifest when that program is still installed from the command; a workspace
    /// manifest (several programs) always.
    pub(crate) fn builds(&self, source: &ProgramSource) -> bool {
        let name = match source {
            ProgramSource::Registry(spec) | ProgramSource::OtherRegistry(spec, _) => {
                Some(spec.name.clone())
            }
            ProgramSource::Path(path) => package_name(path),
            // The package named, else every program of the repository.
            ProgramSource::Git(spec) => spec.package.clone(),
        };
        name.is_none_or(|n| self.programs.contains(&n))
    }
}

/// The `[package] name` of a local program (a manifest or its directory), if it has one.
fn package_name(path: &std::path::Path) -> Option<String> {
    let manifest = if path.is_dir() {
        path.join("Cargo.toml")
    } else {
        path.to_path_buf()
    };
    let value: toml::Value = std::fs::read_to_string(manifest).ok()?.parse().ok()?;
    Some(value.get("package")?.get("name")?.as_str()?.to_string())
}

/// The update, planned.
#[derive(Debug, Clone, Serialize)]
pub(crate) struct UpdatePlan {
    /// The crate (none for `--rebuild-all`).
    pub(crate) krate: Option<String>,
    /// What it becomes: a version, `newest compatible with ^V`, or a patched copy's directory.
    pub(crate) target: Option<String>,
    pub(crate) sets: Vec<SetRebuild>,
}

/// Plan the update: every check that can refuse it is made here, before anything is built.
pub(crate) fn plan(options: &UpdateOptions) -> Result<UpdatePlan> {
    let store = open_store(&options.store, Access::Read)?;
    let programs = store.readable_programs()?;
    if programs.is_empty() {
        bail!(
            "no program is installed in the store {}; nothing was changed",
            options.store.display()
        );
    }
    let (affected, krate, target) = match &options.change {
        None => (
            programs
                .iter()
                .map(|p| (p.name.clone(), String::new()))
                .collect::<BTreeMap<_, _>>(),
            None,
            None,
        ),
        Some((krate, target)) => {
            let (affected, target) = affected_programs(&programs, krate, target)?;
            (affected, Some(krate.clone()), Some(target))
        }
    };
    let unrecorded: Vec<&str> = programs
        .iter()
        .filter(|p| affected.contains_key(&p.name) && p.install_origin.is_none())
        .map(|p| p.name.as_str())
        .collect();
    if !unrecorded.is_empty() {
        bail!(
            "{} {} installed by a cargo-share that did not record how it was built; nothing was \
             changed. Install {} again (`cargo share install`), then update",
            unrecorded.join(", "),
            if unrecorded.len() == 1 { "was" } else { "were" },
            if unrecorded.len() == 1 { "it" } else { "them" }
        );
    }
    // One rebuild per install command (origin and root): every program still installed from
    // it is built again, so its groups are planned over the same programs.
    let mut sets: Vec<SetRebuild> = Vec::new();
    for p in &programs {
        let Some(origin) = &p.install_origin else {
            continue;
        };
        let set = match sets
            .iter_mut()
            .find(|s| &s.origin == origin && s.root == p.root)
        {
            Some(s) => s,
            None => {
                sets.push(SetRebuild {
                    origin: origin.clone(),
                    root: p.root.clone(),
                    programs: Vec::new(),
                    affected: BTreeMap::new(),
                    before: Vec::new(),
                });
                sets.last_mut().unwrap()
            }
        };
        set.programs.push(p.name.clone());
        set.before.push(p.clone());
        if let Some(v) = affected.get(&p.name) {
            set.affected.insert(p.name.clone(), v.clone());
        }
    }
    sets.retain(|s| !s.affected.is_empty());
    Ok(UpdatePlan {
        krate,
        target,
        sets,
    })
}

/// The programs whose closure holds `krate` in the range the target fits, with the version
/// each uses; and the target described. Errors: no program uses it, the target fits no
/// program's range, DIR is not that crate.
fn affected_programs(
    programs: &[InstalledProgram],
    krate: &str,
    target: &UpdateTarget,
) -> Result<(BTreeMap<String, String>, String)> {
    let users: BTreeMap<String, String> = programs
        .iter()
        .filter_map(|p| {
            let v = p.crates.iter().find(|(n, _)| n == krate)?;
            Some((p.name.clone(), v.1.clone()))
        })
        .collect();
    if !users.is_empty() {
        refuse_other_sources(programs, krate)?;
    }
    if users.is_empty() {
        let unknown: Vec<&str> = programs
            .iter()
            .filter(|p| p.crates.is_empty())
            .map(|p| p.name.as_str())
            .collect();
        bail!(
            "no installed program uses the crate `{krate}` (installed: {}); nothing was \
             changed{}",
            programs
                .iter()
                .map(|p| p.name.as_str())
                .collect::<Vec<_>>()
                .join(", "),
            if unknown.is_empty() {
                String::new()
            } else {
                format!(
                    ". The crates of {} were not recorded (installed by an older cargo-share): \
                     install them again to update them",
                    unknown.join(", ")
                )
            }
        );
    }
    let ranges: BTreeSet<String> = users.values().map(|v| compatible_range(v)).collect();
    let (new_version, described) = match target {
        UpdateTarget::Newest => {
            if ranges.len() > 1 {
                bail!(
                    "the programs use `{krate}` in {} semver-incompatible ranges ({}); say which \
                     version with --to VERSION; nothing was changed",
                    ranges.len(),
                    describe_users(&users)
                );
            }
            let lowest = users.values().min().cloned().unwrap_or_default();
            return Ok((
                users,
                format!("the newest version compatible with ^{lowest}"),
            ));
        }
        UpdateTarget::Version(v) => (v.clone(), format!("v{v}")),
        UpdateTarget::Path(dir) => {
            let patch = CratePatch {
                name: krate.to_string(),
                path: std::path::absolute(dir)?,
            };
            patch.check()?;
            let v = patch.version()?;
            (v.clone(), format!("v{v} from {}", patch.path.display()))
        }
    };
    let range = compatible_range(&new_version);
    let fitting: BTreeMap<String, String> = users
        .iter()
        .filter(|(_, v)| compatible_range(v) == range)
        .map(|(n, v)| (n.clone(), v.clone()))
        .collect();
    if fitting.is_empty() {
        bail!(
            "`{krate}` {described} is outside the semver-compatible range of every installed \
             program that uses it ({}); nothing was changed. An update keeps each program's \
             requirements: give a version in their range",
            describe_users(&users)
        );
    }
    Ok((fitting, described))
}

/// Where a program's recorded resolution has `krate` from, when that is not crates.io: a
/// local path, or the source's URL.
fn other_source(program: &InstalledProgram, krate: &str) -> Option<String> {
    let (_, packages) = parse_lock(program.resolution.as_deref()?).ok()?;
    packages
        .keys()
        .filter(|(name, _, _)| name == krate)
        .find_map(|(_, _, source)| match source.as_deref() {
            None => Some("a local path crate".to_string()),
            Some(CRATES_IO) => None,
            Some(other) => Some(format!("from {other}")),
        })
}

/// An update replaces a crates.io crate (`[patch.crates-io]` for a patched copy, a pin for a
/// version): refused, before anything changes, for a crate a program has from elsewhere, which
/// neither would reach (Cargo would say the patch "was not used" and build the same program).
fn refuse_other_sources(programs: &[InstalledProgram], krate: &str) -> Result<()> {
    let others: Vec<String> = programs
        .iter()
        .filter_map(|p| Some(format!("{} has it {}", p.name, other_source(p, krate)?)))
        .collect();
    if others.is_empty() {
        return Ok(());
    }
    bail!(
        "`{krate}` is not a crates.io crate ({}); `update` replaces crates.io crates only, and \
         nothing was changed. Change a local crate where the program's sources are, then \
         rebuild the programs from them: `cargo share update --rebuild-all`",
        others.join("; ")
    )
}

fn describe_users(users: &BTreeMap<String, String>) -> String {
    users
        .iter()
        .map(|(p, v)| format!("{p} uses v{v}"))
        .collect::<Vec<_>>()
        .join(", ")
}
