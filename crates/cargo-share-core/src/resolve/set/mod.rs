//! Program sets: one resolution for many programs (`--unify semver|features`).
//!
//! Programs resolved one by one rarely agree on exact versions, so they share little. A program
//! set is a generated Cargo workspace with every unified program as a member, so that Cargo
//! resolves them together: one version per semver-compatible range, one `Cargo.lock`. cargo-share
//! does not resolve anything itself; it only decides what Cargo starts from:
//!
//! * The seed lockfile is the union of the programs' own lockfiles, with each semver-compatible
//!   range of a crate collapsed onto the newest version any program locked. Cargo keeps locked
//!   versions where every requirement accepts them, so the set uses versions at least one program
//!   was released (and tested) with, not whatever is newest on crates.io.
//! * Where a requirement rejects the seeded version (`=1.2.3`, `<1.4`), Cargo reports the crate;
//!   its seed entries are dropped and Cargo resolves it afresh.
//! * `--pin CRATE@VERSION` is applied with `cargo update --precise` on the resolved lock.
//! * `--lock FILE` saves the resolution; a later run with the same file builds exactly it.
//!
//! The workspace uses resolver 1: under resolver 2 a build-dependency can lose a feature the normal
//! dependency enabled, which breaks hyperfine's build script (book:
//! docs/src/concepts/how-it-works.md, "Layouts compared").
//!
//! `semver` builds each program in its own Cargo invocation (features as that program needs
//! them); `features` builds all in one invocation, so each crate version is built once with the
//! union of its consumers' features.

pub(crate) mod generate;
pub(crate) mod grouped;
pub(crate) mod hold;
pub(crate) mod lockfile;
pub(crate) mod pins;
pub(crate) mod program_resolution;
pub(crate) mod program_set;
pub(crate) mod reuse_member;
pub(crate) mod workspace;

pub(crate) use generate::{generate, Generated};
pub(crate) use grouped::grouped_workspace;
pub(crate) use lockfile::{keeps_locked_versions, lock_subset, ResolutionConflict};
pub(crate) use program_resolution::{
    changes_from_own_lock, closure_fingerprint, describe_changes, program_lock, resolution_change,
    version_changes, VersionChange,
};
pub(crate) use program_set::{lock_packages, ProgramSet, SetMember};
pub use program_set::{Unify, UnifyOptions};
pub(crate) use reuse_member::resolved_packages;
pub(crate) use workspace::rewrite_member_manifest;
