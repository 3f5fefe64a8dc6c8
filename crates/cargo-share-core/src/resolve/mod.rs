//! Step 2 of a build: which crate builds the programs use, and which of them are shared.
//!
//! [`set`] makes one Cargo resolution for many programs (the generated set workspace, its seed
//! lockfile, pins, saved locks); [`grouping`] packs the crates used by the same programs into
//! groups and decides which stored groups a new build can reuse exactly; [`graph`] reads every
//! workspace with `cargo metadata` and applies the shared-crate rule; [`cargo_memo`] remembers
//! Cargo's answers about a generated workspace for the rest of the process.

pub(crate) mod cargo_memo;
pub mod graph;
pub mod grouping;
pub(crate) mod inactive_deps;
pub mod set;
