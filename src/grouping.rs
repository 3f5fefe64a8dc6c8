//! The grouped layout: which shared crates go into which shared object.
//!
//! Per-crate dylibs lose to static linking on memory and start-up (NOTES.md section 10): every
//! loaded object costs relocation-dirtied private pages, a partly filled last page per segment and
//! loader work, in every process. The grouped layout packs the crates of a program set into a few
//! objects:
//!
//! 1. **Consumers.** For each program of the set, the target crates it links: its normal
//!    dependency closure, without proc-macros (host code) and without the program itself. A
//!    crate's *consumers* are the programs that link it.
//! 2. **Partition.** Crates with two or more consumers are grouped by their exact consumer set.
//!    Crates with one consumer stay static in that program. Since a crate's dependencies are
//!    linked by everyone who links the crate, consumers only grow along dependency edges, so the
//!    groups form a DAG (a group depends only on groups with larger consumer sets).
//! 3. **Merge.** A group whose sources are below a threshold (`--group-min-size`, bytes of `.rs`
//!    in its packages) merges into a group whose consumers include all of its own, the one with
//!    the fewest consumers first, provided the group graph stays acyclic. Every program of the
//!    small group already loads the larger one, so no program loads an object more, and the
//!    programs that did not use the small group only map a little more code.
//! 4. **Exclusions.** Crates that cannot be named exactly from a generated manifest (another
//!    registry than crates.io) and the programs' own packages stay out of groups, and so does
//!    everything that depends on them: a group must contain its members' dependencies or load
//!    them from other groups, or a crate would appear twice in one process.
//!
//! Each group becomes a generated *facade* crate (`crate-type = ["dylib"]`, one
//! `pub extern crate` per member, exact versions, `default-features = false`, as Bevy's
//! `bevy_dylib` does for one engine) in the set's build workspace; see [`crate::program_set`].

use std::collections::{BTreeMap, BTreeSet, VecDeque};
use std::path::{Path, PathBuf};

use anyhow::Result;
use cargo_metadata::{DependencyKind, Metadata, Package, PackageId};
use serde::{Deserialize, Serialize};

use crate::shell::{human_bytes, Shell};

/// Prefix of the generated facade packages; their crate names start with the `_` form.
pub const GROUP_PACKAGE_PREFIX: &str = "cargo-share-group-";
/// The crate-name form of [`GROUP_PACKAGE_PREFIX`]: what the wrapper recognises in `--extern`.
pub const GROUP_CRATE_PREFIX: &str = "cargo_share_group_";

/// Default merge threshold: groups with less Rust source than this merge into a larger one.
pub const DEFAULT_MIN_GROUP_SOURCE_BYTES: u64 = 2 << 20;

/// Where a member package comes from, as a generated manifest names it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case", tag = "kind")]
pub enum MemberSource {
    CratesIo,
    Git { url: String, rev: String },
    Path { dir: PathBuf },
}

/// One crate in a group.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct GroupMember {
    pub name: String,
    pub version: String,
    pub source: MemberSource,
    /// The features it is built with (the union over the set's programs), which the facade
    /// requests explicitly: a later build that reuses the group gets exactly this build.
    pub features: Vec<String>,
    /// Bytes of Rust source in the package (tests, benches and examples left out).
    pub source_bytes: u64,
    pub id: PackageId,
}

impl GroupMember {
    /// The dependency key the facade uses for this member: unique even with two versions.
    pub fn dependency_key(&self) -> String {
        let clean: String = format!("{}_{}", self.name, self.version)
            .chars()
            .map(|c| if c.is_ascii_alphanumeric() { c } else { '_' })
            .collect();
        format!("cs_{clean}")
    }
}

/// One shared object of the grouped layout.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Group {
    /// The facade package name (`cargo-share-group-N-SET`).
    pub name: String,
    pub members: Vec<GroupMember>,
    /// The programs that load it.
    pub consumers: BTreeSet<String>,
    /// Other groups its members depend on (by name).
    pub depends_on: BTreeSet<String>,
    pub source_bytes: u64,
}

impl Group {
    pub fn crate_name(&self) -> String {
        self.name.replace('-', "_")
    }
}

/// The grouping of one program set.
#[derive(Debug, Clone, Default, Serialize)]
pub struct GroupPlan {
    pub groups: Vec<Group>,
    /// Per program: how many of its crates stay static in it.
    pub static_crates: BTreeMap<String, usize>,
    /// Crates used by two or more programs that could not be grouped, with why.
    pub excluded: BTreeMap<String, String>,
    /// Groups taken from the store as they are (`install`): name -> the store entry.
    pub reused: BTreeMap<String, String>,
}

impl GroupPlan {
    /// The groups a program loads.
    pub fn groups_of(&self, program: &str) -> Vec<&Group> {
        self.groups
            .iter()
            .filter(|g| g.consumers.contains(program))
            .collect()
    }
}

/// How one package of a group's build was resolved: its features and its dependencies (package
/// ids, every kind). With the package id, this is what Cargo's unit hash of the package depends
/// on (the profile and compiler aside, which are the same for every build of one store).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ResolvedPackage {
    pub features: Vec<String>,
    pub dependencies: Vec<String>,
}

/// What a group was built from, kept in its store entry (`entry.json`) so that a later install
/// can build against exactly the same group: the facade, the resolution of every package the
/// group was compiled from (its members and, transitively, their build dependencies and
/// proc-macros, by package id), the set's `Cargo.lock` entries of those packages, and the
/// symbols its run-time copy exports.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct GroupRecord {
    pub group: Group,
    pub resolution: BTreeMap<String, ResolvedPackage>,
    pub lock: String,
    /// The trimmed export list (`None`: the group keeps every export).
    pub exports: Option<Vec<String>>,
}

/// A group in the store that a new build may reuse.
#[derive(Debug, Clone)]
pub struct StoredGroup {
    pub record: GroupRecord,
    /// The store entry's identity hash.
    pub entry: String,
}

/// Of the stored groups, a subset that can be in one build together: one entry per group name
/// (the one exporting most), no two disagreeing on how a package they share is built or holding
/// two semver-compatible versions of a crate (Cargo allows one), and every group with the groups
/// it loads. Larger groups are taken first.
pub fn compatible_subset(stored: &[StoredGroup]) -> Vec<StoredGroup> {
    let mut order: Vec<&StoredGroup> = stored.iter().collect();
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
    let mut chosen: Vec<StoredGroup> = Vec::new();
    let mut built: BTreeMap<&str, &ResolvedPackage> = BTreeMap::new();
    let mut ranges: BTreeMap<(String, String, String), String> = BTreeMap::new();
    for g in order {
        if chosen
            .iter()
            .any(|c| c.record.group.name == g.record.group.name)
        {
            continue;
        }
        let agrees = g.record.resolution.iter().all(|(id, r)| {
            built.get(id.as_str()).is_none_or(|b| *b == r)
                && parse_package_id(id).is_none_or(|(source, name, version)| {
                    ranges
                        .get(&(source, name, compat_range(&version)))
                        .is_none_or(|v| *v == version)
                })
        });
        if !agrees {
            continue;
        }
        for (id, r) in &g.record.resolution {
            built.insert(id, r);
            if let Some((source, name, version)) = parse_package_id(id) {
                ranges.insert((source, name, compat_range(&version)), version);
            }
        }
        chosen.push(g.clone());
    }
    retain_loadable(&mut chosen);
    chosen
}

/// Drop every stored group that loads a group not in `groups` (transitively): a group is usable
/// only together with the groups it loads.
pub fn retain_loadable(groups: &mut Vec<StoredGroup>) {
    loop {
        let names: BTreeSet<String> = groups.iter().map(|g| g.record.group.name.clone()).collect();
        let before = groups.len();
        groups.retain(|g| g.record.group.depends_on.is_subset(&names));
        if groups.len() == before {
            return;
        }
    }
}

/// Source, name and version of a Cargo package id (`SOURCE#NAME@VERSION`, or `SOURCE#VERSION`
/// when the name is the source's last path segment).
fn parse_package_id(id: &str) -> Option<(String, String, String)> {
    let (source, rest) = id.rsplit_once('#')?;
    match rest.split_once('@') {
        Some((name, version)) => Some((source.into(), name.into(), version.into())),
        None => {
            let name = source.trim_end_matches('/').rsplit('/').next()?;
            Some((source.into(), name.into(), rest.into()))
        }
    }
}

/// The part of a version that must match for semver compatibility: `1.x.y` -> 1, `0.4.z` ->
/// 0.4, `0.0.3` -> 0.0.3.
pub fn compat_range(version: &str) -> String {
    match cargo_metadata::semver::Version::parse(version) {
        Ok(v) if v.major > 0 => format!("{}", v.major),
        Ok(v) if v.minor > 0 => format!("0.{}", v.minor),
        Ok(v) => format!("0.0.{}", v.patch),
        Err(_) => version.to_string(),
    }
}

/// The resolution of everything `facade` (a group's package in `md`) is compiled from: every
/// package reachable from its members through dependencies of any kind, other groups' facades
/// left out (they are compared as groups of their own).
pub fn resolution_of(md: &Metadata, facade: &str) -> Option<BTreeMap<String, ResolvedPackage>> {
    let nodes: BTreeMap<&PackageId, &cargo_metadata::Node> = md
        .resolve
        .iter()
        .flat_map(|r| r.nodes.iter())
        .map(|n| (&n.id, n))
        .collect();
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
pub fn reuse_mismatch(md: &Metadata, record: &GroupRecord) -> Option<String> {
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

/// The packages each program of `programs` links (its normal, non-proc-macro closure, itself
/// left out).
fn consumers_of(
    programs: &[(String, PackageId)],
    edges: &BTreeMap<PackageId, BTreeSet<PackageId>>,
) -> BTreeMap<PackageId, BTreeSet<usize>> {
    let mut consumers: BTreeMap<PackageId, BTreeSet<usize>> = BTreeMap::new();
    for (pi, (_, root)) in programs.iter().enumerate() {
        let mut seen = BTreeSet::new();
        let mut queue = VecDeque::from([root.clone()]);
        while let Some(id) = queue.pop_front() {
            if !seen.insert(id.clone()) {
                continue;
            }
            if &id != root {
                consumers.entry(id.clone()).or_default().insert(pi);
            }
            for dep in edges.get(&id).into_iter().flatten() {
                queue.push_back(dep.clone());
            }
        }
    }
    consumers
}

/// Which of `groups` the programs load: those holding a crate a program links, and the groups
/// those load. By name.
pub fn groups_used(
    md: &Metadata,
    programs: &[(String, PackageId)],
    groups: &[Group],
) -> BTreeSet<String> {
    let consumers = consumers_of(programs, &target_edges(md));
    let mut used: BTreeSet<String> = groups
        .iter()
        .filter(|g| g.members.iter().any(|m| consumers.contains_key(&m.id)))
        .map(|g| g.name.clone())
        .collect();
    loop {
        let more: Vec<String> = groups
            .iter()
            .filter(|g| used.contains(&g.name))
            .flat_map(|g| g.depends_on.iter().cloned())
            .filter(|d| !used.contains(d))
            .collect();
        if more.is_empty() {
            return used;
        }
        used.extend(more);
    }
}

fn is_proc_macro(pkg: &Package) -> bool {
    pkg.targets
        .iter()
        .any(|t| t.kind.iter().any(|k| k.to_string() == "proc-macro"))
}

fn member_source(pkg: &Package) -> std::result::Result<MemberSource, String> {
    let Some(source) = &pkg.source else {
        let dir = pkg
            .manifest_path
            .parent()
            .map(|d| d.as_std_path().to_path_buf())
            .unwrap_or_default();
        return Ok(MemberSource::Path { dir });
    };
    let repr = source.repr.as_str();
    if source.is_crates_io() {
        return Ok(MemberSource::CratesIo);
    }
    if let Some(rest) = repr.strip_prefix("git+") {
        if let Some((url, rev)) = rest.split_once('#') {
            let url = url.split('?').next().unwrap_or(url).to_string();
            return Ok(MemberSource::Git {
                url,
                rev: rev.to_string(),
            });
        }
    }
    Err(format!(
        "its source `{repr}` cannot be named in a generated manifest"
    ))
}

/// Bytes of `.rs` files under a package directory, without tests, benches and examples.
pub fn rust_source_bytes(dir: &Path) -> u64 {
    fn walk(dir: &Path, top: bool) -> u64 {
        let Ok(entries) = std::fs::read_dir(dir) else {
            return 0;
        };
        let mut total = 0;
        for entry in entries.flatten() {
            let path = entry.path();
            let name = entry.file_name();
            let name = name.to_string_lossy();
            let Ok(kind) = entry.file_type() else {
                continue;
            };
            if kind.is_dir() {
                let skipped = ["target", ".git"].contains(&name.as_ref())
                    || (top && ["tests", "benches", "examples"].contains(&name.as_ref()));
                if !skipped {
                    total += walk(&path, false);
                }
            } else if kind.is_file() && name.ends_with(".rs") {
                total += entry.metadata().map(|m| m.len()).unwrap_or(0);
            }
        }
        total
    }
    walk(dir, true)
}

/// The target dependency graph of a resolved workspace: package -> its normal, non-proc-macro
/// dependencies.
fn target_edges(md: &Metadata) -> BTreeMap<PackageId, BTreeSet<PackageId>> {
    let pkgs: BTreeMap<&PackageId, &Package> = md.packages.iter().map(|p| (&p.id, p)).collect();
    let mut edges = BTreeMap::new();
    for node in md.resolve.iter().flat_map(|r| r.nodes.iter()) {
        let deps = node
            .deps
            .iter()
            .filter(|d| d.dep_kinds.iter().any(|k| k.kind == DependencyKind::Normal))
            .filter(|d| pkgs.get(&d.pkg).is_some_and(|p| !is_proc_macro(p)))
            .map(|d| d.pkg.clone())
            .collect();
        edges.insert(node.id.clone(), deps);
    }
    edges
}

/// Plan the groups of a program set from its resolved metadata. `programs` are the set's program
/// packages (by name and id).
///
/// `set_tag` goes into every group name: Cargo names a path package's dylib without a hash
/// (`libNAME.so`), so groups of different sets sharing one target directory need distinct names.
///
/// `fixed` are groups taken as they are (from the store, checked with [`reuse_mismatch`] and
/// loaded by the programs, see [`groups_used`]): their members are theirs whoever uses them, and
/// new groups are made only from the other crates (and may load fixed ones).
pub fn plan_groups(
    md: &Metadata,
    programs: &[(String, PackageId)],
    min_source_bytes: u64,
    set_tag: &str,
    fixed: &[StoredGroup],
) -> Result<GroupPlan> {
    let pkgs: BTreeMap<&PackageId, &Package> = md.packages.iter().map(|p| (&p.id, p)).collect();
    let edges = target_edges(md);
    let program_ids: BTreeSet<&PackageId> = programs.iter().map(|(_, id)| id).collect();

    // 1. Consumers.
    let consumers = consumers_of(programs, &edges);
    let fixed_member: BTreeSet<&PackageId> = fixed
        .iter()
        .flat_map(|g| g.record.group.members.iter().map(|m| &m.id))
        .collect();

    // 4. Exclusions, propagated to dependents.
    let mut excluded: BTreeMap<PackageId, String> = BTreeMap::new();
    for id in consumers.keys() {
        let Some(pkg) = pkgs.get(id) else { continue };
        if program_ids.contains(id) {
            excluded.insert(id.clone(), "it is a program of the set".into());
        } else if let Err(why) = member_source(pkg) {
            excluded.insert(id.clone(), why);
        }
    }
    loop {
        let mut more = Vec::new();
        for id in consumers.keys() {
            if excluded.contains_key(id) {
                continue;
            }
            if let Some(dep) = edges
                .get(id)
                .into_iter()
                .flatten()
                .find(|d| excluded.contains_key(*d))
            {
                let name = pkgs
                    .get(dep)
                    .map_or("?".to_string(), |p| p.name.to_string());
                more.push((
                    id.clone(),
                    format!("it depends on `{name}`, which is not grouped"),
                ));
            }
        }
        if more.is_empty() {
            break;
        }
        excluded.extend(more);
    }

    // 2. Partition by consumer set.
    let mut by_consumers: BTreeMap<BTreeSet<usize>, BTreeSet<PackageId>> = BTreeMap::new();
    let mut static_crates: BTreeMap<String, usize> = BTreeMap::new();
    for (id, who) in &consumers {
        if fixed_member.contains(id) {
            continue;
        }
        if who.len() >= 2 && !excluded.contains_key(id) {
            by_consumers
                .entry(who.clone())
                .or_default()
                .insert(id.clone());
        } else {
            for &p in who {
                *static_crates.entry(programs[p].0.clone()).or_default() += 1;
            }
        }
    }
    let mut bytes_of: BTreeMap<PackageId, u64> = BTreeMap::new();
    for ids in by_consumers.values() {
        for id in ids {
            let dir = pkgs[id]
                .manifest_path
                .parent()
                .map(|d| d.as_std_path().to_path_buf())
                .unwrap_or_default();
            bytes_of.insert(id.clone(), rust_source_bytes(&dir));
        }
    }
    let mut clusters: Vec<Cluster> = by_consumers
        .into_iter()
        .map(|(consumers, members)| Cluster {
            bytes: members.iter().map(|m| bytes_of[m]).sum(),
            consumers,
            members,
        })
        .collect();

    // 3. Merge small groups.
    merge_small(&mut clusters, &edges, min_source_bytes);

    // Name the groups: most consumers first, then largest.
    clusters.sort_by(|a, b| {
        b.consumers
            .len()
            .cmp(&a.consumers.len())
            .then(b.bytes.cmp(&a.bytes))
            .then(a.members.cmp(&b.members))
    });
    // Fixed groups keep their names; new ones never take a name a fixed one has.
    let taken: BTreeSet<&str> = fixed.iter().map(|g| g.record.group.name.as_str()).collect();
    let names: Vec<String> = (1..)
        .map(|i| format!("{GROUP_PACKAGE_PREFIX}{i}-{set_tag}"))
        .filter(|n| !taken.contains(n.as_str()))
        .take(clusters.len())
        .collect();
    let cluster_of: BTreeMap<&PackageId, usize> = clusters
        .iter()
        .enumerate()
        .flat_map(|(ci, c)| c.members.iter().map(move |m| (m, ci)))
        .collect();
    let fixed_of: BTreeMap<&PackageId, &str> = fixed
        .iter()
        .flat_map(|g| {
            g.record
                .group
                .members
                .iter()
                .map(|m| (&m.id, g.record.group.name.as_str()))
        })
        .collect();
    let consumer_names = |who: &BTreeSet<usize>| -> BTreeSet<String> {
        who.iter().map(|&p| programs[p].0.clone()).collect()
    };
    let mut groups = Vec::new();
    let mut reused = BTreeMap::new();
    for stored in fixed {
        let mut group = stored.record.group.clone();
        // Who loads it now: the programs that link a member (and so its dependency groups).
        group.consumers = group
            .members
            .iter()
            .filter_map(|m| consumers.get(&m.id))
            .flat_map(consumer_names)
            .collect();
        reused.insert(group.name.clone(), stored.entry.clone());
        groups.push(group);
    }
    for (ci, cluster) in clusters.iter().enumerate() {
        let mut depends_on = BTreeSet::new();
        for m in &cluster.members {
            for dep in edges.get(m).into_iter().flatten() {
                if let Some(&other) = cluster_of.get(dep) {
                    if other != ci {
                        depends_on.insert(names[other].clone());
                    }
                } else if let Some(&name) = fixed_of.get(dep) {
                    depends_on.insert(name.to_string());
                }
            }
        }
        let mut members: Vec<GroupMember> = cluster
            .members
            .iter()
            .map(|id| {
                let pkg = pkgs[id];
                GroupMember {
                    name: pkg.name.to_string(),
                    version: pkg.version.to_string(),
                    source: member_source(pkg).expect("excluded sources are not grouped"),
                    features: member_features(pkg.features.get("default"), features_of(md, id)),
                    source_bytes: bytes_of[id],
                    id: id.clone(),
                }
            })
            .collect();
        members.sort_by(|a, b| (&a.name, &a.version).cmp(&(&b.name, &b.version)));
        groups.push(Group {
            name: names[ci].clone(),
            members,
            consumers: consumer_names(&cluster.consumers),
            depends_on,
            source_bytes: cluster.bytes,
        });
    }
    let excluded = excluded
        .into_iter()
        .filter(|(id, _)| consumers.get(id).is_some_and(|c| c.len() >= 2))
        .map(|(id, why)| {
            let pkg = pkgs[&id];
            (format!("{} v{}", pkg.name, pkg.version), why)
        })
        .collect();
    Ok(GroupPlan {
        groups,
        static_crates,
        excluded,
        reused,
    })
}

/// The features a group builds a member with: the resolved ones, plus `default` when every
/// feature it turns on is on already. That compiles the same code (unless the crate tests
/// `cfg(feature = "default")`), but Cargo hashes feature names: a later program that asks for the
/// crate's default features then resolves it to exactly the group's build, so the group can be
/// reused for it (seen on real programs: `crossbeam-utils` built `[std]` for ripgrep and fd-find,
/// `[default, std]` for sd and tokei).
fn member_features(default: Option<&Vec<String>>, mut features: Vec<String>) -> Vec<String> {
    let Some(default) = default else {
        return features;
    };
    // Only plain feature names: `dep:x` and `x/y` would pull in more than is on.
    let on = default.iter().all(|f| features.contains(f));
    if on && !features.iter().any(|f| f == "default") {
        features.push("default".into());
        features.sort();
    }
    features
}

/// A package's resolved features, sorted.
fn features_of(md: &Metadata, id: &PackageId) -> Vec<String> {
    md.resolve
        .iter()
        .flat_map(|r| r.nodes.iter())
        .find(|n| &n.id == id)
        .map(sorted_features)
        .unwrap_or_default()
}

fn sorted_features(node: &cargo_metadata::Node) -> Vec<String> {
    let mut features: Vec<String> = node.features.iter().map(|f| f.to_string()).collect();
    features.sort();
    features
}

/// Show a plan: one status line per group before a build; with `full` (`--dry-run`), the
/// members, the crates that stay static and the exclusions as the command's result. In JSON mode
/// one `group-plan` record.
pub fn report(plan: &GroupPlan, shell: &Shell, full: bool) {
    shell.json(&serde_json::json!({"reason": "group-plan", "plan": plan}));
    for g in &plan.groups {
        let loads = if g.depends_on.is_empty() {
            String::new()
        } else {
            format!(
                "; loads {}",
                g.depends_on.iter().cloned().collect::<Vec<_>>().join(", ")
            )
        };
        let origin = match plan.reused.get(&g.name) {
            Some(entry) => format!(" (in the store as {}, reused)", &entry[..12]),
            None => String::new(),
        };
        let line = format!(
            "{}{origin}: {} crates, {} of source, for {}{loads}",
            g.name,
            g.members.len(),
            human_bytes(g.source_bytes),
            g.consumers.iter().cloned().collect::<Vec<_>>().join(", ")
        );
        if full {
            shell.result(format!("group {line}"));
            let members: Vec<String> = g
                .members
                .iter()
                .map(|m| format!("{} {}", m.name, m.version))
                .collect();
            shell.result(format!("    {}", members.join(", ")));
        } else {
            shell.status("Group", line);
        }
    }
    if full {
        for (program, n) in &plan.static_crates {
            shell.result(format!("static in {program}: {n} crates used by it alone"));
        }
        for (krate, why) in &plan.excluded {
            shell.result(format!("not grouped: {krate}: {why}"));
        }
    }
}

#[derive(Debug, Clone)]
struct Cluster {
    consumers: BTreeSet<usize>,
    members: BTreeSet<PackageId>,
    bytes: u64,
}

/// Whether the cluster graph (an edge where a member depends on another cluster's member) has no
/// cycle.
fn acyclic(clusters: &[Cluster], edges: &BTreeMap<PackageId, BTreeSet<PackageId>>) -> bool {
    let cluster_of: BTreeMap<&PackageId, usize> = clusters
        .iter()
        .enumerate()
        .flat_map(|(ci, c)| c.members.iter().map(move |m| (m, ci)))
        .collect();
    let mut out: Vec<BTreeSet<usize>> = vec![BTreeSet::new(); clusters.len()];
    for (ci, c) in clusters.iter().enumerate() {
        for m in &c.members {
            for dep in edges.get(m).into_iter().flatten() {
                if let Some(&other) = cluster_of.get(dep) {
                    if other != ci {
                        out[ci].insert(other);
                    }
                }
            }
        }
    }
    let mut indegree = vec![0usize; clusters.len()];
    for targets in &out {
        for &t in targets {
            indegree[t] += 1;
        }
    }
    let mut ready: Vec<usize> = (0..clusters.len()).filter(|&c| indegree[c] == 0).collect();
    let mut done = 0;
    while let Some(c) = ready.pop() {
        done += 1;
        for &t in &out[c] {
            indegree[t] -= 1;
            if indegree[t] == 0 {
                ready.push(t);
            }
        }
    }
    done == clusters.len()
}

/// Step 3 of the module docs.
fn merge_small(
    clusters: &mut Vec<Cluster>,
    edges: &BTreeMap<PackageId, BTreeSet<PackageId>>,
    min_bytes: u64,
) {
    let mut settled: BTreeSet<BTreeSet<PackageId>> = BTreeSet::new();
    loop {
        let Some(small) = clusters
            .iter()
            .enumerate()
            .filter(|(_, c)| c.bytes < min_bytes && !settled.contains(&c.members))
            .min_by_key(|(_, c)| (c.bytes, c.members.clone()))
            .map(|(i, _)| i)
        else {
            return;
        };
        let mut targets: Vec<usize> = (0..clusters.len())
            .filter(|&t| {
                t != small
                    && clusters[t]
                        .consumers
                        .is_superset(&clusters[small].consumers)
            })
            .collect();
        targets.sort_by_key(|&t| {
            (
                clusters[t].consumers.len(),
                std::cmp::Reverse(clusters[t].bytes),
            )
        });
        let mut merged = false;
        for t in targets {
            let mut trial = clusters.clone();
            let moved = trial[small].clone();
            trial[t].members.extend(moved.members);
            trial[t].bytes += moved.bytes;
            trial.remove(small);
            if acyclic(&trial, edges) {
                *clusters = trial;
                merged = true;
                break;
            }
        }
        if !merged {
            settled.insert(clusters[small].members.clone());
        }
    }
}

/// The facade crate of a group: its `Cargo.toml` and `lib.rs`. `group_dir` maps group names to
/// their directories (for the dependencies between groups).
pub fn facade_files(group: &Group, group_dir: &dyn Fn(&str) -> PathBuf) -> (String, String) {
    let mut deps = toml::Table::new();
    let mut lib = String::from(
        "//! Generated by cargo-share: one shared object for the crates below (grouped layout).\n",
    );
    for m in &group.members {
        let mut spec = toml::Table::new();
        spec.insert("package".into(), m.name.clone().into());
        match &m.source {
            MemberSource::CratesIo => {
                spec.insert("version".into(), format!("={}", m.version).into());
            }
            MemberSource::Git { url, rev } => {
                spec.insert("git".into(), url.clone().into());
                spec.insert("rev".into(), rev.clone().into());
            }
            MemberSource::Path { dir } => {
                spec.insert("path".into(), dir.display().to_string().into());
            }
        }
        spec.insert("default-features".into(), false.into());
        if !m.features.is_empty() {
            spec.insert(
                "features".into(),
                toml::Value::Array(m.features.iter().map(|f| f.clone().into()).collect()),
            );
        }
        deps.insert(m.dependency_key(), toml::Value::Table(spec));
        lib.push_str(&format!("pub extern crate {};\n", m.dependency_key()));
    }
    for other in &group.depends_on {
        let mut spec = toml::Table::new();
        spec.insert("path".into(), group_dir(other).display().to_string().into());
        deps.insert(other.clone(), toml::Value::Table(spec));
        lib.push_str(&format!("pub extern crate {};\n", other.replace('-', "_")));
    }
    let mut manifest = toml::Table::new();
    let mut package = toml::Table::new();
    package.insert("name".into(), group.name.clone().into());
    package.insert("version".into(), "0.1.0".into());
    package.insert("edition".into(), "2021".into());
    package.insert("publish".into(), false.into());
    manifest.insert("package".into(), toml::Value::Table(package));
    let mut lib_table = toml::Table::new();
    lib_table.insert("path".into(), "lib.rs".into());
    lib_table.insert(
        "crate-type".into(),
        toml::Value::Array(vec!["dylib".into()]),
    );
    manifest.insert("lib".into(), toml::Value::Table(lib_table));
    manifest.insert("dependencies".into(), toml::Value::Table(deps));
    // The programs that load it are left out: a later set reusing the group writes the same
    // files, so Cargo's fingerprints hold.
    let text = format!(
        "# Generated by cargo-share (grouped layout).\n{}",
        toml::to_string(&manifest).unwrap_or_default()
    );
    (text, lib)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cluster(consumers: &[usize], members: &[&str], bytes: u64) -> Cluster {
        Cluster {
            consumers: consumers.iter().copied().collect(),
            members: members
                .iter()
                .map(|m| PackageId {
                    repr: m.to_string(),
                })
                .collect(),
            bytes,
        }
    }

    fn edges(list: &[(&str, &str)]) -> BTreeMap<PackageId, BTreeSet<PackageId>> {
        let mut out: BTreeMap<PackageId, BTreeSet<PackageId>> = BTreeMap::new();
        for (a, b) in list {
            out.entry(PackageId {
                repr: a.to_string(),
            })
            .or_default()
            .insert(PackageId {
                repr: b.to_string(),
            });
        }
        out
    }

    #[test]
    fn small_groups_merge_into_the_nearest_superset_without_cycles() {
        // g: {0,1}, k: {0,1,2}, h: {0,1,2,3}; g -> k, g -> h, k -> h.
        let e = edges(&[("g", "k"), ("g", "h"), ("k", "h")]);
        let mut cs = vec![
            cluster(&[0, 1], &["g"], 10),
            cluster(&[0, 1, 2], &["k"], 1000),
            cluster(&[0, 1, 2, 3], &["h"], 5000),
        ];
        merge_small(&mut cs, &e, 100);
        assert_eq!(cs.len(), 2);
        let k = cs
            .iter()
            .find(|c| c.members.iter().any(|m| m.repr == "k"))
            .unwrap();
        assert!(
            k.members.iter().any(|m| m.repr == "g"),
            "g joins k, the smallest superset"
        );
        assert!(acyclic(&cs, &e));

        // Merging k into h would close a cycle if g had been merged into h first: never happens.
        let mut cs = vec![
            cluster(&[0, 1], &["g"], 10),
            cluster(&[0, 1, 2], &["k"], 20),
            cluster(&[0, 1, 2, 3], &["h"], 5000),
        ];
        merge_small(&mut cs, &e, 100);
        assert_eq!(cs.len(), 1, "both small groups end in h: {cs:?}");
    }

    #[test]
    fn a_merge_that_would_close_a_cycle_is_refused() {
        // a {0,1} depends on c {0,1,2}; b {0,1,2,3} is independent, c depends on nothing.
        // a is small; its only supersets are c and b. Merging into c is fine.
        // Build a case where the only superset target creates a cycle: x {0,1} -> y {0,1,2},
        // and y -> z {0,1,2}? Same consumers cannot be two groups, so use z {0,1,2,3}
        // with z -> x (impossible by monotonic consumers); check acyclic() itself instead.
        let e = edges(&[("x", "y"), ("y", "x")]);
        let cs = vec![cluster(&[0, 1], &["x"], 1), cluster(&[0, 1, 2], &["y"], 1)];
        assert!(!acyclic(&cs, &e));
        let merged = vec![cluster(&[0, 1, 2], &["x", "y"], 2)];
        assert!(acyclic(&merged, &e));
    }

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
    fn default_joins_a_member_whose_default_features_are_all_on() {
        let v = |l: &[&str]| l.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        assert_eq!(
            member_features(Some(&v(&["std"])), v(&["std"])),
            v(&["default", "std"])
        );
        assert_eq!(
            member_features(Some(&v(&["std", "alloc"])), v(&["alloc"])),
            v(&["alloc"])
        );
        assert_eq!(
            member_features(Some(&v(&["dep:log"])), v(&["std"])),
            v(&["std"])
        );
        assert_eq!(member_features(None, v(&["std"])), v(&["std"]));
        assert_eq!(
            member_features(Some(&v(&[])), v(&[])),
            v(&["default"]),
            "an empty default turns nothing on"
        );
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

    #[test]
    fn member_keys_are_unique_per_version() {
        let m = |v: &str| GroupMember {
            name: "twover".into(),
            version: v.into(),
            source: MemberSource::CratesIo,
            features: Vec::new(),
            source_bytes: 0,
            id: PackageId { repr: v.into() },
        };
        assert_ne!(m("1.0.0").dependency_key(), m("2.0.0").dependency_key());
        assert_eq!(m("1.0.0-rc.1").dependency_key(), "cs_twover_1_0_0_rc_1");
    }
}
