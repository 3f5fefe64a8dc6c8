//! The grouped layout: which shared crates go into which shared object.
//!
//! Per-crate dylibs lose to static linking on memory and start-up (book:
//! docs/src/concepts/how-it-works.md, "Layouts compared"): every
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
//! `bevy_dylib` does for one engine) in the set's build workspace; see [`crate::resolve::set::program_set`].

pub(crate) mod facade;
pub(crate) mod group;
pub(crate) mod plan;
pub(crate) mod report;
pub(crate) mod stored;

pub(crate) use facade::facade_files;
pub use group::DEFAULT_MIN_GROUP_SOURCE_BYTES;
pub(crate) use group::{
    plugins_consumer, Group, GroupPlan, MemberSource, GROUP_CRATE_PREFIX, GROUP_PACKAGE_PREFIX,
};
pub use plan::rust_source_bytes;
pub(crate) use plan::{groups_used, plan_groups};
pub(crate) use report::report;
pub(crate) use stored::parse_package_id;
pub(crate) use stored::{
    compatible_subset, extend_compatible, features_forced_on, groups_named, leaves_a_rest,
    members_to_keep_apart, resolution_of, retain_loadable, reuse_mismatch, GroupRecord,
    StoredGroup,
};
