//! `cargo share update`: installed programs rebuilt with one crate at a new version or a patched
//! copy (or all rebuilt, `--rebuild-all`), shipping only the files whose bytes changed.
//!
//! Stable crate identities (`compile::stable_id`) make a crate's symbol names survive a patch
//! release, so a rebuild of everything the fix touches gives, for every file whose code does
//! not depend on the changed bodies, the very bytes installed before. [`plan`] decides which
//! programs are rebuilt and refuses bad requests before anything changes; [`run`] rebuilds
//! each install command's programs through `store::install` (atomic rebinding per program) and
//! [`compare`] tells what changed.

pub(crate) mod compare;
pub(crate) mod plan;
pub(crate) mod run;

pub use plan::{UpdateOptions, UpdateTarget};
pub use run::update;
