//! The resolution an installed program was built with: the lock entries of every package its
//! binaries are compiled from (normal and build dependencies, transitively; dev-dependencies and
//! group facades left out), recorded with the program so that a later set can keep it, and the
//! check that a new resolution still builds it from exactly those crate versions.

use std::collections::{BTreeMap, BTreeSet, VecDeque};

use crate::resolve::graph::resolve_nodes;
use anyhow::{Context, Result};
use cargo_metadata::{DependencyKind, Metadata, PackageId};
use serde::Serialize;

use crate::resolve::grouping::GROUP_PACKAGE_PREFIX;
use crate::resolve::set::lockfile::{lock_subset, parse_lock, LockKey};
use crate::resolve::set::reuse_member::REUSE_PACKAGE;
use cargo_share_compile::semver_range::compatible_range;

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
        if md.packages.iter().any(|p| {
            &p.id == id
                && (p.name.as_str() == REUSE_PACKAGE || p.name.starts_with(GROUP_PACKAGE_PREFIX))
        }) {
            // A program's copy keeps its own dependencies and only gains path dependencies on
            // the facades of the groups it loads: what a facade holds beside them (other
            // programs' crates), and what the reuse member requires, is not what the program
            // is compiled from.
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
pub(crate) fn program_lock(md: &Metadata, program: &PackageId, lock: &str) -> Result<String> {
    lock_subset(lock, &closure_keys(md, program))
}

/// One crate of a program's closure that a new resolution builds from another version of the
/// same semver-compatible range.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub(crate) struct VersionChange {
    #[serde(rename = "crate")]
    pub(crate) krate: String,
    pub(crate) from: String,
    pub(crate) to: String,
}

impl std::fmt::Display for VersionChange {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} {} -> {}", self.krate, self.from, self.to)
    }
}

/// The crates `md` would build `program` from in other versions than its recorded resolution
/// (`recorded`, from [`program_lock`]) locks (see [`moves`]). A program missing from `md` is an
/// error.
pub(crate) fn version_changes(
    md: &Metadata,
    program: &str,
    recorded: &str,
) -> Result<Vec<VersionChange>> {
    let pkg = program_package(md, program)?;
    let then: BTreeSet<LockKey> = parse_lock(recorded)
        .with_context(|| format!("the recorded resolution of {program}"))?
        .1
        .into_keys()
        .collect();
    Ok(moves(&then, &closure_keys(md, &pkg.id)))
}

/// The crates `md` builds `program`'s binaries from in other versions than its own lockfile
/// (`own_lock`, its text) locks (see [`moves`]). Its test tools are left out: given other
/// versions of them alone, the program is built as it locks itself.
pub(crate) fn changes_from_own_lock(
    md: &Metadata,
    program: &str,
    own_lock: &str,
) -> Result<Vec<VersionChange>> {
    let pkg = program_package(md, program)?;
    let locked: BTreeSet<LockKey> = parse_lock(own_lock)
        .with_context(|| format!("the lockfile of {program}"))?
        .1
        .into_keys()
        .collect();
    Ok(moves(&locked, &closure_keys(md, &pkg.id)))
}

/// The local package `program` of `md`.
fn program_package<'a>(md: &'a Metadata, program: &str) -> Result<&'a cargo_metadata::Package> {
    md.packages
        .iter()
        .find(|p| p.name.as_str() == program && p.source.is_none())
        .with_context(|| format!("{program} is not part of this resolution"))
}

/// The registry and git crates of `then` that `now` holds at another version of the same
/// semver-compatible range and source: what moves a program from the versions it was built and
/// tested with. A crate that only joins or leaves a closure (an optional dependency that the
/// set's unified features turn on, or no longer does) is not a move: Cargo requires features to
/// be additive, every version the program had stays, and its own requirements still decide. Path
/// packages are compared by the files they hold, not here.
fn moves(then: &BTreeSet<LockKey>, now: &BTreeSet<LockKey>) -> Vec<VersionChange> {
    let by_range = |keys: &BTreeSet<LockKey>| -> BTreeMap<(String, String, String), String> {
        keys.iter()
            .filter_map(|(name, version, source)| {
                let source = source.clone()?;
                Some((
                    (name.clone(), compatible_range(version), source),
                    version.clone(),
                ))
            })
            .collect()
    };
    let now = by_range(now);
    by_range(then)
        .into_iter()
        .filter_map(|(key, from)| {
            let to = now.get(&key).filter(|to| **to != from)?;
            Some(VersionChange {
                krate: key.0,
                from,
                to: to.clone(),
            })
        })
        .collect()
}

/// At most three `changes`, and how many more.
pub(crate) fn describe_changes(changes: &[VersionChange]) -> String {
    crate::shell::first_few(changes, 3)
}

/// How `md` would build `program` from other crate versions than its recorded resolution
/// (`recorded`, from [`program_lock`]) locks, or `None` if every registry and git package is
/// the same (see [`version_changes`]).
pub(crate) fn resolution_change(
    md: &Metadata,
    program: &str,
    recorded: &str,
) -> Result<Option<String>> {
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
pub(crate) fn closure_fingerprint(md: &Metadata, program: &str) -> Option<String> {
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

#[cfg(test)]
mod tests {
    use super::*;

    const REG: &str = "registry+https://github.com/rust-lang/crates.io-index";

    fn keys(entries: &[(&str, &str)]) -> BTreeSet<LockKey> {
        entries
            .iter()
            .map(|(n, v)| (n.to_string(), v.to_string(), Some(REG.to_string())))
            .collect()
    }

    #[test]
    fn only_a_new_version_of_a_range_the_program_had_moves_it() {
        let then = keys(&[
            ("anstream", "0.6.13"),
            ("syn", "1.0.109"),
            ("libc", "0.2.150"),
        ]);
        let now = keys(&[
            ("anstream", "0.6.18"),
            // syn 1 left (a feature no program turns on any more), syn 2 and libm joined
            // (features the set turns on): neither moves it.
            ("syn", "2.0.50"),
            ("libm", "0.2.8"),
            ("libc", "0.2.150"),
        ]);
        assert_eq!(
            moves(&then, &now),
            [VersionChange {
                krate: "anstream".into(),
                from: "0.6.13".into(),
                to: "0.6.18".into(),
            }]
        );
        assert!(moves(&then, &then).is_empty());
    }

    #[test]
    fn path_packages_and_other_sources_are_not_compared_here() {
        let mut then = keys(&[("dep", "1.0.0")]);
        then.insert(("local".into(), "0.1.0".into(), None));
        let mut now = BTreeSet::new();
        now.insert(("local".into(), "0.2.0".into(), None));
        now.insert((
            "dep".into(),
            "1.0.1".into(),
            Some("git+https://example.com/dep#abc".into()),
        ));
        assert!(moves(&then, &now).is_empty());
    }
}
