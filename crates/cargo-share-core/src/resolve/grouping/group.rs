//! What a group is: its members (`GroupMember`, exact version, source and features), the
//! groups it loads, and a set's `GroupPlan`.

use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;

use cargo_metadata::PackageId;
use serde::{Deserialize, Serialize};

/// Prefix of the generated facade packages; their crate names start with the `_` form.
pub(crate) const GROUP_PACKAGE_PREFIX: &str = "cargo-share-group-";
pub(crate) use cargo_share_compile::plan::GROUP_CRATE_PREFIX;

/// Default merge threshold: groups with less Rust source than this merge into a larger one.
pub const DEFAULT_MIN_GROUP_SOURCE_BYTES: u64 = 2 << 20;

/// Where a member package comes from, as a generated manifest names it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case", tag = "kind")]
pub(crate) enum MemberSource {
    CratesIo,
    Git { url: String, rev: String },
    Path { dir: PathBuf },
}

/// One crate in a group.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct GroupMember {
    pub name: String,
    pub version: String,
    pub(crate) source: MemberSource,
    /// The features it is built with (the union over the set's programs), which the facade
    /// requests explicitly: a later build that reuses the group gets exactly this build.
    pub(crate) features: Vec<String>,
    /// Bytes of Rust source in the package (tests, benches and examples left out).
    pub(crate) source_bytes: u64,
    pub(crate) id: PackageId,
}

impl GroupMember {
    /// The dependency key the facade uses for this member: unique even with two versions.
    pub(crate) fn dependency_key(&self) -> String {
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
    pub(crate) consumers: BTreeSet<String>,
    /// Other groups its members depend on (by name).
    pub(crate) depends_on: BTreeSet<String>,
    pub(crate) source_bytes: u64,
}

impl Group {
    pub(crate) fn crate_name(&self) -> String {
        self.name.replace('-', "_")
    }
}

/// The grouping of one program set.
#[derive(Debug, Clone, Default, Serialize)]
pub(crate) struct GroupPlan {
    pub(crate) groups: Vec<Group>,
    /// Per program: how many of its crates stay static in it.
    pub(crate) static_crates: BTreeMap<String, usize>,
    /// Crates used by two or more programs that could not be grouped, with why.
    pub(crate) excluded: BTreeMap<String, String>,
    /// Groups taken from the store as they are (`install`): name -> the store entry.
    pub(crate) reused: BTreeMap<String, String>,
    /// Groups taken as they are from an earlier set of this build: name -> that set's number
    /// (1 for the first). Their facades live in that set's build workspace.
    pub(crate) earlier: BTreeMap<String, usize>,
}

impl GroupPlan {
    /// The groups a program loads.
    pub(crate) fn groups_of(&self, program: &str) -> Vec<&Group> {
        self.groups
            .iter()
            .filter(|g| g.consumers.contains(program))
            .collect()
    }
}

/// The consumer that stands for the plugins of `host` (`--plugin-for`) in a group plan: it uses
/// every crate the host uses, so each of them is in a group the host loads (none stays static
/// in the host, where a plugin could not bind to it), and the plugins load those groups.
pub(crate) fn plugins_consumer(host: &str) -> String {
    format!("plugins of {host}")
}

pub(crate) fn sorted_features(node: &cargo_metadata::Node) -> Vec<String> {
    let mut features: Vec<String> = node.features.iter().map(|f| f.to_string()).collect();
    features.sort();
    features
}
