//! The resolution an installed program was built with: the lock entries of every package its
//! binaries are compiled from (normal and build dependencies, transitively; dev-dependencies and
//! group facades left out), recorded with the program so that a later set can keep it, and the
//! check that a new resolution still builds it from exactly those crate versions.

use std::collections::{BTreeSet, VecDeque};

use crate::resolve::graph::resolve_nodes;
use anyhow::{Context, Result};
use cargo_metadata::{DependencyKind, Metadata, PackageId};

use crate::resolve::grouping::GROUP_PACKAGE_PREFIX;
use crate::resolve::set::lockfile::{lock_subset, parse_lock, LockKey};
use crate::resolve::set::reuse_member::REUSE_PACKAGE;

/// The packages `program` is compiled from in `md` (itself and group facades excluded).
fn closure_keys(md: &Metadata, program: &PackageId) -> BTreeSet<LockKey> {
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
            let built = dep.dep_kinds.is_empty()
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

/// How `md` would build `program` from other crate versions than its recorded resolution
/// (`recorded`, from [`program_lock`]) locks, or `None` if every registry and git package is
/// the same (path packages are compared by the files they hold, not here).
pub fn resolution_change(md: &Metadata, program: &str, recorded: &str) -> Result<Option<String>> {
    let Some(pkg) = md
        .packages
        .iter()
        .find(|p| p.name.as_str() == program && p.source.is_none())
    else {
        return Ok(Some(format!("{program} is not part of this resolution")));
    };
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
        match now.iter().find(|k| k.0 == old.0 && !then.contains(*k)) {
            Some(new) => changes.push(format!("{} v{} would be v{}", old.0, old.1, new.1)),
            None => changes.push(format!("{} v{} would be left out", old.0, old.1)),
        }
    }
    for new in now.difference(&then) {
        if !then.iter().any(|k| k.0 == new.0) {
            changes.push(format!("{} v{} would join it", new.0, new.1));
        }
    }
    Ok((!changes.is_empty()).then(|| {
        let more = changes.len().saturating_sub(3);
        let mut text = changes.into_iter().take(3).collect::<Vec<_>>().join(", ");
        if more > 0 {
            text.push_str(&format!(" (and {more} more)"));
        }
        text
    }))
}
