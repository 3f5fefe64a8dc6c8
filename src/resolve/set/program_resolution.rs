//! The resolution an installed program was built with: the lock entries of every package its
//! binaries are compiled from (normal and build dependencies, transitively; dev-dependencies and
//! group facades left out), recorded with the program so that a later set can keep it, and the
//! check that a new resolution still builds it from exactly those crate versions.

use std::collections::{BTreeSet, VecDeque};

use crate::resolve::graph::resolve_nodes;
use anyhow::{Context, Result};
use cargo_metadata::{DependencyKind, Metadata, PackageId};
use serde::Serialize;

use crate::resolve::grouping::GROUP_PACKAGE_PREFIX;
use crate::resolve::set::lockfile::{lock_subset, parse_lock, LockKey};
use crate::resolve::set::reuse_member::REUSE_PACKAGE;

/// The packages `program` is compiled from in `md` (itself and group facades excluded).
fn closure_keys(md: &Metadata, program: &PackageId) -> BTreeSet<LockKey> {
    closure_keys_of(md, program, false)
}

/// [`closure_keys`], with the program's own dev-dependencies (and what they are compiled from)
/// when `tests`: what its test targets are compiled from.
fn closure_keys_of(md: &Metadata, program: &PackageId, tests: bool) -> BTreeSet<LockKey> {
    let nodes = resolve_nodes(md);
    let mut seen: BTreeSet<&PackageId> = BTreeSet::new();
    let mut queue = VecDeque::from([program]);
    while let Some(id) = queue.pop_front() {
        if !seen.insert(id) {
            continue;
        }
        let Some(node) = nodes.get(id) else { continue };
        if md
            .packages
            .iter()
            .any(|p| &p.id == id && p.name.as_str() == REUSE_PACKAGE)
        {
            // What the set's reuse member requires is reached through the facades, if used.
            continue;
        }
        for dep in &node.deps {
            let built = (tests && id == program)
                || dep.dep_kinds.is_empty()
                || dep
                    .dep_kinds
                    .iter()
                    .any(|k| k.kind != DependencyKind::Development);
            if built {
                queue.push_back(&dep.pkg);
            }
        }
    }
    md.packages
        .iter()
        .filter(|p| seen.contains(&p.id) && &p.id != program)
        .filter(|p| !p.name.starts_with(GROUP_PACKAGE_PREFIX))
        .map(|p| {
            (
                p.name.to_string(),
                p.version.to_string(),
                p.source.as_ref().map(|s| s.repr.clone()),
            )
        })
        .collect()
}

/// The lock entries (a `Cargo.lock` fragment) of what `program` is compiled from, taken from its
/// workspace's lock `lock`: what an installed program records as its resolution.
pub fn program_lock(md: &Metadata, program: &PackageId, lock: &str) -> Result<String> {
    lock_subset(lock, &closure_keys(md, program))
}

/// One crate of an installed program's closure that a new resolution builds from another
/// version (`from` or `to` is `None` when the crate leaves or joins the closure).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct VersionChange {
    #[serde(rename = "crate")]
    pub krate: String,
    pub from: Option<String>,
    pub to: Option<String>,
}

impl std::fmt::Display for VersionChange {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match (&self.from, &self.to) {
            (Some(from), Some(to)) => write!(f, "{} {from} -> {to}", self.krate),
            (Some(from), None) => write!(f, "{} {from} left out", self.krate),
            (None, Some(to)) => write!(f, "{} {to} joins", self.krate),
            (None, None) => write!(f, "{}", self.krate),
        }
    }
}

/// The crates `md` would build `program` from in other versions than its recorded resolution
/// (`recorded`, from [`program_lock`]) locks: empty if every registry and git package is the
/// same (path packages are compared by the files they hold, not here). A program missing from
/// `md` is an error.
pub fn version_changes(md: &Metadata, program: &str, recorded: &str) -> Result<Vec<VersionChange>> {
    let pkg = md
        .packages
        .iter()
        .find(|p| p.name.as_str() == program && p.source.is_none())
        .with_context(|| format!("{program} is not part of this resolution"))?;
    let now: BTreeSet<LockKey> = closure_keys(md, &pkg.id)
        .into_iter()
        .filter(|k| k.2.is_some())
        .collect();
    let then: BTreeSet<LockKey> = parse_lock(recorded)
        .with_context(|| format!("the recorded resolution of {program}"))?
        .1
        .into_keys()
        .filter(|k| k.2.is_some())
        .collect();
    let mut changes = Vec::new();
    for old in then.difference(&now) {
        changes.push(VersionChange {
            krate: old.0.clone(),
            from: Some(old.1.clone()),
            to: now
                .iter()
                .find(|k| k.0 == old.0 && !then.contains(*k))
                .map(|k| k.1.clone()),
        });
    }
    for new in now.difference(&then) {
        if !then.iter().any(|k| k.0 == new.0) {
            changes.push(VersionChange {
                krate: new.0.clone(),
                from: None,
                to: Some(new.1.clone()),
            });
        }
    }
    Ok(changes)
}

/// The crates `md` builds `program` (with its tests) from in other versions than its own
/// lockfile (`own_lock`, its text) locks: each package of the closure the lockfile does not hold
/// at that version and source, from the version the lockfile has of that name (if one) to the
/// one `md` has. Packages the lockfile holds for other platforms do not count.
pub fn changes_from_own_lock(
    md: &Metadata,
    program: &str,
    own_lock: &str,
) -> Result<Vec<VersionChange>> {
    let pkg = md
        .packages
        .iter()
        .find(|p| p.name.as_str() == program && p.source.is_none())
        .with_context(|| format!("{program} is not part of this resolution"))?;
    let locked: BTreeSet<LockKey> = parse_lock(own_lock)
        .with_context(|| format!("the lockfile of {program}"))?
        .1
        .into_keys()
        .collect();
    let mut changes = Vec::new();
    for now in closure_keys_of(md, &pkg.id, true)
        .into_iter()
        .filter(|k| k.2.is_some() && !locked.contains(k))
    {
        let mut same_name = locked.iter().filter(|k| k.0 == now.0);
        let from = match (same_name.next(), same_name.next()) {
            (Some(only), None) => Some(only.1.clone()),
            _ => None,
        };
        changes.push(VersionChange {
            krate: now.0,
            from,
            to: Some(now.1),
        });
    }
    Ok(changes)
}

/// At most three `changes`, and how many more.
pub fn describe_changes(changes: &[VersionChange]) -> String {
    let mut text = changes
        .iter()
        .take(3)
        .map(ToString::to_string)
        .collect::<Vec<_>>()
        .join(", ");
    if changes.len() > 3 {
        text.push_str(&format!(" (and {} more)", changes.len() - 3));
    }
    text
}

/// How `md` would build `program` from other crate versions than its recorded resolution
/// (`recorded`, from [`program_lock`]) locks, or `None` if every registry and git package is
/// the same (see [`version_changes`]).
pub fn resolution_change(md: &Metadata, program: &str, recorded: &str) -> Result<Option<String>> {
    if !md
        .packages
        .iter()
        .any(|p| p.name.as_str() == program && p.source.is_none())
    {
        return Ok(Some(format!("{program} is not part of this resolution")));
    }
    let changes = version_changes(md, program, recorded)?;
    Ok((!changes.is_empty()).then(|| describe_changes(&changes)))
}

/// What decides how `program`'s binaries and tests are built in `md`: every package of its
/// closure (its dev-dependencies included) with its version, source and resolved features. Two resolutions with the same
/// fingerprint build the program from the same crate builds.
pub fn closure_fingerprint(md: &Metadata, program: &str) -> Option<String> {
    let pkg = md
        .packages
        .iter()
        .find(|p| p.name.as_str() == program && p.source.is_none())?;
    let keys = closure_keys_of(md, &pkg.id, true);
    let nodes = resolve_nodes(md);
    let mut lines: Vec<String> = md
        .packages
        .iter()
        .filter(|p| {
            p.id == pkg.id
                || keys.contains(&(
                    p.name.to_string(),
                    p.version.to_string(),
                    p.source.as_ref().map(|s| s.repr.clone()),
                ))
        })
        .map(|p| {
            let features = nodes
                .get(&p.id)
                .map(|n| n.features.iter().map(|f| f.to_string()).collect::<Vec<_>>())
                .unwrap_or_default();
            format!(
                "{} {} {} [{}]",
                p.name,
                p.version,
                p.source.as_ref().map_or("path", |s| s.repr.as_str()),
                features.join(",")
            )
        })
        .collect();
    lines.sort();
    Some(lines.join("\n"))
}
