//! Groups already in the store: what a group entry records (`GroupRecord`), which stored groups
//! can be built against together, and the exact-resolution check that decides reuse.

use std::collections::{BTreeMap, BTreeSet, VecDeque};

use crate::resolve::graph::resolve_nodes;
use cargo_metadata::{Metadata, Package, PackageId};
use serde::{Deserialize, Serialize};

use crate::resolve::grouping::group::{sorted_features, Group, GROUP_PACKAGE_PREFIX};
use cargo_share_compile::semver_range::compatible_range;

/// How one package of a group's build was resolved: its features and its dependencies (package
/// ids, every kind). With the package id, this is what Cargo's unit hash of the package depends
/// on (the profile and compiler aside, which are the same for every build of one store).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct ResolvedPackage {
    pub(crate) features: Vec<String>,
    pub(crate) dependencies: Vec<String>,
}

/// What a group was built from, kept in its store entry (`entry.json`) so that a later install
/// can build against exactly the same group: the facade, the resolution of every package the
/// group was compiled from (its members and, transitively, their build dependencies and
/// proc-macros, by package id), the set's `Cargo.lock` entries of those packages, and the
/// symbols its run-time copy exports.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct GroupRecord {
    pub group: Group,
    pub(crate) resolution: BTreeMap<String, ResolvedPackage>,
    pub(crate) lock: String,
    /// The trimmed export list (`None`: the group keeps every export).
    pub(crate) exports: Option<Vec<String>>,
}

/// A group a new set may build against as it is: a store entry, or a group of an earlier set of
/// the same build (programs split off a set are resolved as the next set against its groups).
#[derive(Debug, Clone)]
pub struct StoredGroup {
    pub(crate) record: GroupRecord,
    /// The store entry's identity hash (empty for a group of an earlier set not in the store).
    pub(crate) entry: String,
    /// The earlier set of this build that makes it (1 for the first), or `None`: a store entry
    /// no set of this build uses yet.
    pub(crate) set: Option<usize>,
}

impl StoredGroup {
    /// Where the group comes from, as the output says it: `from the store` or `of set N`.
    pub(crate) fn origin(&self) -> String {
        match self.set {
            Some(n) => format!("of set {n}"),
            None => "from the store".to_string(),
        }
    }
}

/// Of the stored groups, a subset that can be in one build together: one entry per group name
/// (the one exporting most), no two disagreeing on how a package they share is built or holding
/// two semver-compatible versions of a crate (Cargo allows one), and every group with the groups
/// it loads. Larger groups are taken first.
pub(crate) fn compatible_subset(stored: &[StoredGroup]) -> Vec<StoredGroup> {
    let mut order: Vec<StoredGroup> = stored.to_vec();
    let exports = |g: &StoredGroup| g.record.exports.as_ref().map_or(usize::MAX, |e| e.len());
    order.sort_by(|a, b| {
        b.record
            .group
            .members
            .len()
            .cmp(&a.record.group.members.len())
            .then(exports(b).cmp(&exports(a)))
            .then(a.entry.cmp(&b.entry))
    });
    extend_compatible(Vec::new(), &order)
}

/// `first` (groups that can be in one build together, kept whole) and those of `more`, in
/// order, that can join them: another name, no package built another way, no second version in
/// a compatible range; then every group with the groups it loads ([`retain_loadable`]).
pub(crate) fn extend_compatible(first: Vec<StoredGroup>, more: &[StoredGroup]) -> Vec<StoredGroup> {
    let mut chosen: Vec<StoredGroup> = Vec::new();
    let mut built: BTreeMap<String, ResolvedPackage> = BTreeMap::new();
    let mut ranges: BTreeMap<(String, String, String), String> = BTreeMap::new();
    for (g, forced) in first
        .iter()
        .map(|g| (g, true))
        .chain(more.iter().map(|g| (g, false)))
    {
        if chosen
            .iter()
            .any(|c| c.record.group.name == g.record.group.name)
        {
            continue;
        }
        let agrees = forced
            || g.record.resolution.iter().all(|(id, r)| {
                built.get(id.as_str()).is_none_or(|b| b == r)
                    && parse_package_id(id).is_none_or(|(source, name, version)| {
                        ranges
                            .get(&(source, name, compatible_range(&version)))
                            .is_none_or(|v| *v == version)
                    })
            });
        if !agrees {
            continue;
        }
        for (id, r) in &g.record.resolution {
            built.insert(id.clone(), r.clone());
            if let Some((source, name, version)) = parse_package_id(id) {
                ranges.insert((source, name, compatible_range(&version)), version);
            }
        }
        chosen.push(g.clone());
    }
    retain_loadable(&mut chosen);
    chosen
}

/// Drop every stored group that loads a group not in `groups` (transitively): a group is usable
/// only together with the groups it loads.
pub(crate) fn retain_loadable(groups: &mut Vec<StoredGroup>) {
    loop {
        let names: BTreeSet<String> = groups.iter().map(|g| g.record.group.name.clone()).collect();
        let before = groups.len();
        groups.retain(|g| g.record.group.depends_on.is_subset(&names));
        if groups.len() == before {
            return;
        }
    }
}

/// The groups of `stored` that Cargo's explanation of a failed resolution (`cargo_said`) names:
/// the facade itself, or a crate it holds or was compiled from (a crate named between
/// backquotes, alone or as the start of a requirement such as `shim = "=1.0.0"`). By name; empty
/// when it names none.
pub(crate) fn groups_named(cargo_said: &str, stored: &[StoredGroup]) -> Vec<String> {
    let named: BTreeSet<&str> = cargo_said
        .split('`')
        .skip(1)
        .step_by(2)
        .filter_map(|quoted| quoted.split([' ', '=']).next())
        .filter(|name| !name.is_empty())
        .collect();
    stored
        .iter()
        .filter(|g| {
            named.contains(g.record.group.name.as_str())
                || g.record
                    .group
                    .members
                    .iter()
                    .any(|m| named.contains(m.name.as_str()))
                || g.record
                    .resolution
                    .keys()
                    .filter_map(|id| parse_package_id(id))
                    .any(|(_, name, _)| named.contains(name.as_str()))
        })
        .map(|g| g.record.group.name.clone())
        .collect()
}

/// Source, name and version of a Cargo package id (`SOURCE#NAME@VERSION`, or `SOURCE#VERSION`
/// when the name is the source's last path segment).
pub(crate) fn parse_package_id(id: &str) -> Option<(String, String, String)> {
    let (source, rest) = id.rsplit_once('#')?;
    match rest.split_once('@') {
        Some((name, version)) => Some((source.into(), name.into(), version.into())),
        None => {
            let name = source.trim_end_matches('/').rsplit('/').next()?;
            Some((source.into(), name.into(), rest.into()))
        }
    }
}

/// The resolution of everything `facade` (a group's package in `md`) is compiled from: every
/// package reachable from its members through dependencies of any kind, other groups' facades
/// left out (they are compared as groups of their own).
pub(crate) fn resolution_of(
    md: &Metadata,
    facade: &str,
) -> Option<BTreeMap<String, ResolvedPackage>> {
    let nodes = resolve_nodes(md);
    let names: BTreeMap<&PackageId, &str> = md
        .packages
        .iter()
        .map(|p| (&p.id, p.name.as_str()))
        .collect();
    let is_facade = |id: &PackageId| {
        names
            .get(id)
            .is_some_and(|n| n.starts_with(GROUP_PACKAGE_PREFIX))
    };
    let root = md.packages.iter().find(|p| p.name.as_str() == facade)?;
    let mut queue: VecDeque<&PackageId> = nodes
        .get(&root.id)?
        .deps
        .iter()
        .map(|d| &d.pkg)
        .filter(|id| !is_facade(id))
        .collect();
    let mut out = BTreeMap::new();
    while let Some(id) = queue.pop_front() {
        if out.contains_key(&id.repr) {
            continue;
        }
        let node = nodes.get(id)?;
        let features = sorted_features(node);
        let mut dependencies: Vec<String> = node.deps.iter().map(|d| d.pkg.repr.clone()).collect();
        dependencies.sort();
        dependencies.dedup();
        queue.extend(node.deps.iter().map(|d| &d.pkg).filter(|d| !is_facade(d)));
        out.insert(
            id.repr.clone(),
            ResolvedPackage {
                features,
                dependencies,
            },
        );
    }
    Some(out)
}

/// Why a stored group cannot be used in a build resolved as `md`, or `None` if it can: every
/// package it was compiled from must be resolved exactly as it was then.
pub(crate) fn reuse_mismatch(md: &Metadata, record: &GroupRecord) -> Option<String> {
    let Some(now) = resolution_of(md, &record.group.name) else {
        return Some("it is not part of this resolution".into());
    };
    let label = |id: &str| {
        md.packages
            .iter()
            .find(|p| p.id.repr == id)
            .map_or(id.to_string(), |p| format!("{} v{}", p.name, p.version))
    };
    for (id, then) in &record.resolution {
        match now.get(id) {
            None => return Some(format!("{} is resolved differently", label(id))),
            Some(n) if n.features != then.features => {
                return Some(format!(
                    "{} would be built with features [{}] (the group has [{}])",
                    label(id),
                    n.features.join(", "),
                    then.features.join(", ")
                ))
            }
            Some(n) if n.dependencies != then.dependencies => {
                return Some(format!(
                    "{} would be built with other dependencies",
                    label(id)
                ))
            }
            Some(_) => {}
        }
    }
    if let Some(extra) = now.keys().find(|id| !record.resolution.contains_key(*id)) {
        return Some(format!("{} joins its build", label(extra)));
    }
    None
}

/// The members of this group that a program resolved alone as `md` (no group in its build)
/// uses at the group's version but with other features than the group's build (more or fewer:
/// with the group in its build, the group's features would be forced on it), each with why.
/// Empty when every member it uses is built as it asks.
pub(crate) fn features_forced_on(md: &Metadata, record: &GroupRecord) -> Vec<(String, String)> {
    let nodes = resolve_nodes(md);
    record
        .group
        .members
        .iter()
        .filter_map(|m| {
            let now = sorted_features(nodes.get(&m.id)?);
            let then = record.resolution.get(&m.id.repr)?;
            (now != then.features).then(|| {
                let why = format!(
                    "it builds {} v{} with features [{}] (the group has [{}])",
                    m.name,
                    m.version,
                    now.join(", "),
                    then.features.join(", ")
                );
                (m.name.clone(), why)
            })
        })
        .collect()
}

/// What an earlier set should keep apart in its groups so that a later set, resolved as `md`
/// (with the group or without it), can load the rest of this group: the members the later set
/// builds otherwise, by name (those it uses at another version only, or with a feature the
/// group's build lacks; fewer features are not a difference, since with the group's facade in
/// the build the group's features win). Empty when nothing differs, or when the rest of the
/// group (the members that neither differ nor depend on one that does) holds nothing the later
/// set uses.
pub(crate) fn members_to_keep_apart(md: &Metadata, record: &GroupRecord) -> Vec<String> {
    let differ = mismatched_members(md, record);
    if differ.is_empty() {
        return differ;
    }
    let tainted = members_depending_on(record, &differ);
    let rest_used =
        record.group.members.iter().any(|m| {
            !tainted.contains(m.id.repr.as_str()) && md.packages.iter().any(|p| p.id == m.id)
        });
    if rest_used {
        differ
    } else {
        Vec::new()
    }
}

/// Whether keeping the crates `names` apart would leave some of this group: a member that is
/// not one of them and does not depend on one.
pub(crate) fn leaves_a_rest(record: &GroupRecord, names: &[String]) -> bool {
    let tainted = members_depending_on(record, names);
    record
        .group
        .members
        .iter()
        .any(|m| !tainted.contains(m.id.repr.as_str()))
}

/// The package ids of the group's build that are named in `names` or depend on one, directly or
/// not (through the recorded resolution).
fn members_depending_on<'a>(record: &'a GroupRecord, names: &[String]) -> BTreeSet<&'a str> {
    let mut tainted: BTreeSet<&str> = record
        .group
        .members
        .iter()
        .filter(|m| names.contains(&m.name))
        .map(|m| m.id.repr.as_str())
        .collect();
    loop {
        let more: Vec<&str> = record
            .resolution
            .iter()
            .filter(|(id, r)| {
                !tainted.contains(id.as_str())
                    && r.dependencies.iter().any(|d| tainted.contains(d.as_str()))
            })
            .map(|(id, _)| id.as_str())
            .collect();
        if more.is_empty() {
            return tainted;
        }
        tainted.extend(more);
    }
}

/// The members of a group that a build resolved as `md` builds otherwise
/// ([`members_to_keep_apart`]), by name.
fn mismatched_members(md: &Metadata, record: &GroupRecord) -> Vec<String> {
    let nodes = resolve_nodes(md);
    record
        .group
        .members
        .iter()
        .filter(|m| {
            let used: Vec<&Package> = md
                .packages
                .iter()
                .filter(|p| p.name.as_str() == m.name)
                .collect();
            if used.is_empty() {
                return false;
            }
            let Some(same) = used.iter().find(|p| p.id == m.id) else {
                return true;
            };
            let then: BTreeSet<&String> = record
                .resolution
                .get(&m.id.repr)
                .map(|r| r.features.iter().collect())
                .unwrap_or_default();
            nodes
                .get(&same.id)
                .is_some_and(|node| sorted_features(node).iter().any(|f| !then.contains(f)))
        })
        .map(|m| m.name.clone())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::resolve::grouping::group::{GroupMember, MemberSource};

    fn stored(
        name: &str,
        members: &[&str],
        resolution: &[(&str, &[&str])],
        exports: usize,
    ) -> StoredGroup {
        let id = |m: &str| PackageId {
            repr: format!("registry+https://github.com/rust-lang/crates.io-index#{m}"),
        };
        StoredGroup {
            record: GroupRecord {
                group: Group {
                    name: name.into(),
                    members: members
                        .iter()
                        .map(|m| GroupMember {
                            name: m.split('@').next().unwrap().into(),
                            version: m.split('@').nth(1).unwrap().into(),
                            source: MemberSource::CratesIo,
                            features: Vec::new(),
                            source_bytes: 0,
                            id: id(m),
                        })
                        .collect(),
                    consumers: BTreeSet::new(),
                    depends_on: BTreeSet::new(),
                    source_bytes: 0,
                },
                resolution: resolution
                    .iter()
                    .map(|(m, features)| {
                        (
                            id(m).repr,
                            ResolvedPackage {
                                features: features.iter().map(|f| f.to_string()).collect(),
                                dependencies: Vec::new(),
                            },
                        )
                    })
                    .collect(),
                lock: String::new(),
                exports: Some(vec![String::new(); exports]),
            },
            entry: format!("{name}-{exports}"),
            set: None,
        }
    }

    #[test]
    fn stored_groups_that_cannot_coexist_are_not_combined() {
        let big = stored(
            "g-1-a",
            &["regex@1.11.0", "memchr@2.7.0"],
            &[("regex@1.11.0", &["std"]), ("memchr@2.7.0", &[])],
            5,
        );
        // memchr built with another feature: disagrees with `big`.
        let other_features = stored("g-1-b", &["memchr@2.7.0"], &[("memchr@2.7.0", &["std"])], 5);
        // A second compatible version of regex: Cargo allows one.
        let other_version = stored("g-2-b", &["regex@1.12.0"], &[("regex@1.12.0", &["std"])], 5);
        // A major version apart: fine.
        let other_major = stored("g-3-b", &["itoa@0.4.8"], &[("itoa@0.4.8", &[])], 5);
        // Loads a group that is not taken.
        let mut orphan = stored("g-4-b", &["log@0.4.0"], &[("log@0.4.0", &[])], 5);
        orphan.record.group.depends_on.insert("g-1-b".into());
        // The same group as `big` with more exports (a later, extended entry) is preferred.
        let big_more = stored(
            "g-1-a",
            &["regex@1.11.0", "memchr@2.7.0"],
            &[("regex@1.11.0", &["std"]), ("memchr@2.7.0", &[])],
            9,
        );
        let chosen = compatible_subset(&[
            other_features,
            big,
            other_version,
            other_major,
            orphan,
            big_more,
        ]);
        let names: Vec<(&str, &str)> = chosen
            .iter()
            .map(|g| (g.record.group.name.as_str(), g.entry.as_str()))
            .collect();
        assert_eq!(names, [("g-1-a", "g-1-a-9"), ("g-3-b", "g-3-b-5")]);
    }

    #[test]
    fn groups_of_an_earlier_set_come_first_and_keep_out_what_disagrees() {
        let earlier = stored("g-1-a", &["memchr@2.7.0"], &[("memchr@2.7.0", &[])], 1);
        // Larger, but builds memchr another way: an earlier set's group wins.
        let store_big = stored(
            "g-2-s",
            &["regex@1.11.0", "memchr@2.7.0"],
            &[("regex@1.11.0", &[]), ("memchr@2.7.0", &["std"])],
            9,
        );
        let store_ok = stored("g-3-s", &["itoa@1.0.0"], &[("itoa@1.0.0", &[])], 9);
        let chosen = extend_compatible(vec![earlier], &[store_big, store_ok]);
        let names: Vec<&str> = chosen
            .iter()
            .map(|g| g.record.group.name.as_str())
            .collect();
        assert_eq!(names, ["g-1-a", "g-3-s"]);
    }

    #[test]
    fn the_groups_a_conflict_names_are_found() {
        let shim = stored("cargo-share-group-2-ab", &["shim@1.0.0"], &[], 1);
        let tally = stored("cargo-share-group-1-ab", &["tally@1.0.0"], &[], 1);
        let git = stored("cargo-share-group-3-ab", &["git2@0.18.3"], &[], 1);
        let all = [shim, tally, git];
        let version = "failed to select a version for `shim`.\n    ... required by package \
            `exact-new v0.1.0`\nversions that meet the requirements `=1.1.0` are: 1.1.0\n\
            previously selected package `shim v1.0.0`\n    ... which satisfies dependency \
            `shim = \"=1.0.0\"` of package `cargo-share-group-2-ab v0.1.0`";
        assert_eq!(groups_named(version, &all), ["cargo-share-group-2-ab"]);
        let links = "package `libgit2-sys` links to the native library `git2`, but it conflicts \
            with a previous package which links to `git2` as well:\npackage `libgit2-sys \
            v0.16.2+1.7.2`\n    ... which satisfies dependency `libgit2-sys = \"^0.16.1\"` of \
            package `git2 v0.18.3`";
        assert_eq!(groups_named(links, &all), ["cargo-share-group-3-ab"]);
        assert!(groups_named("error: failed to parse manifest", &all).is_empty());
    }

    #[test]
    fn package_ids_of_each_form_are_parsed() {
        assert_eq!(
            parse_package_id("registry+https://github.com/rust-lang/crates.io-index#regex@1.11.0"),
            Some((
                "registry+https://github.com/rust-lang/crates.io-index".into(),
                "regex".into(),
                "1.11.0".into()
            ))
        );
        assert_eq!(
            parse_package_id("path+file:///src/common-lib#unrelated-common@0.3.0").map(|p| p.1),
            Some("unrelated-common".into())
        );
        assert_eq!(
            parse_package_id("path+file:///src/mylib#0.3.0").map(|p| (p.1, p.2)),
            Some(("mylib".into(), "0.3.0".into()))
        );
    }
}
