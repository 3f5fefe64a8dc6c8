//! Dependencies `cargo metadata` reports that Cargo does not build: an optional dependency named
//! only by a weak feature (`"defmt?/alloc"`) and turned on by no active feature still appears as
//! an edge of the resolve graph (rust-lang/cargo#10801, #15784), although the build leaves it
//! out. cargo-share plans groups from that graph, and a group names each member in its facade,
//! which *builds* it: jiff 0.2's `defmt?/alloc` put defmt into a group on Linux, where nothing
//! defines the `_defmt_write` its code calls, and every program loading the group failed to link.
//! [`drop_inactive_optional_edges`] removes such edges, then every package no workspace member
//! reaches any more.

use std::collections::{BTreeMap, BTreeSet, VecDeque};

use cargo_metadata::{DependencyKind, Metadata, Package, PackageId};

/// Remove from `md`'s resolve graph every edge to an optional dependency that no active
/// feature of the depending package turns on (`dep:NAME`, `NAME/FEATURE`, or the implicit
/// feature `NAME`), then the packages and nodes that are no longer reachable from the workspace
/// members. Returns how many packages were removed.
pub(crate) fn drop_inactive_optional_edges(md: &mut Metadata) -> usize {
    let Some(resolve) = md.resolve.as_mut() else {
        return 0;
    };
    let packages: BTreeMap<&PackageId, &Package> = md.packages.iter().map(|p| (&p.id, p)).collect();
    for node in &mut resolve.nodes {
        let Some(package) = packages.get(&node.id) else {
            continue;
        };
        node.deps.retain(|dep| {
            // Dev-dependencies cannot be optional; a dependency also declared non-optional (for
            // another kind or target) is built anyway.
            let dev = dep
                .dep_kinds
                .iter()
                .any(|k| k.kind == DependencyKind::Development);
            let declarations: Vec<_> = package
                .dependencies
                .iter()
                .filter(|d| {
                    d.rename.as_deref().unwrap_or(&d.name).replace('-', "_") == dep.name
                        && d.kind != DependencyKind::Development
                })
                .collect();
            dev || declarations.is_empty()
                || declarations.iter().any(|d| !d.optional)
                || declarations.iter().any(|d| {
                    activated(
                        package,
                        &node.features,
                        d.rename.as_deref().unwrap_or(&d.name),
                    )
                })
        });
        let kept: BTreeSet<&PackageId> = node.deps.iter().map(|d| &d.pkg).collect();
        node.dependencies.retain(|id| kept.contains(id));
    }
    // What the workspace members still reach.
    let edges: BTreeMap<PackageId, Vec<PackageId>> = resolve
        .nodes
        .iter()
        .map(|n| (n.id.clone(), n.deps.iter().map(|d| d.pkg.clone()).collect()))
        .collect();
    let mut reached: BTreeSet<PackageId> = BTreeSet::new();
    let mut queue: VecDeque<PackageId> = md.workspace_members.iter().cloned().collect();
    while let Some(id) = queue.pop_front() {
        if reached.insert(id.clone()) {
            queue.extend(edges.get(&id).into_iter().flatten().cloned());
        }
    }
    let before = md.packages.len();
    resolve.nodes.retain(|n| reached.contains(&n.id));
    md.packages.retain(|p| reached.contains(&p.id));
    before - md.packages.len()
}

/// Whether the active `features` of `package` turn on its optional dependency `key` (the name
/// it is declared under).
fn activated(package: &Package, features: &[String], key: &str) -> bool {
    features.iter().any(|f| {
        f == key
            || package.features.get(f).is_some_and(|enables| {
                enables
                    .iter()
                    .any(|e| *e == format!("dep:{key}") || e.starts_with(&format!("{key}/")))
            })
    })
}
