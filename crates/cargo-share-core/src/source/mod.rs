//! Where programs come from: a local manifest, or a crates.io package fetched the way
//! `cargo install` would, with the `Cargo.lock` it ships.
//!
//! Fetching goes through Cargo itself: a throwaway manifest that depends on `NAME = "=VERSION"`,
//! `cargo generate-lockfile` to resolve the version, `cargo fetch` to download and unpack the
//! package into Cargo's registry cache (this works for binary-only packages too), then a private
//! copy of the unpacked sources so that building or testing never writes into Cargo's cache.

pub(crate) mod crate_spec;
pub(crate) mod fetch;
pub(crate) mod git;
mod legacy_origin;
pub(crate) mod program;
pub(crate) mod registry;
mod tree_sync;

pub use crate_spec::{read_program_list, CrateSpec};
pub use fetch::{cargo_command, cargo_home, copy_tree, locked_version};
pub(crate) use fetch::{fetch_registry_crate, fetch_registry_crate_matching};
pub use git::{GitReference, GitSpec};
pub use program::{install_sources, ProgramSource};
pub use registry::Registry;
pub(crate) use tree_sync::sync_tree;
