//! cargo-share's wrapper and linker side: what Cargo runs for every compiler invocation and
//! link, and what that needs below it. The `cargo-share` executable plays these roles from here:
//! Cargo's `RUSTC_WRAPPER` ([`wrapper`]) and, for shared libraries and executables, rustc's
//! linker ([`linker`], [`saved_link`]).
//!
//! The driver (the `cargo-share` crate) talks to these only through the [`plan::WrapperPlan`]
//! file and the profile it passes as `--config` ([`profile`]); what a compiled unit was built
//! from is written back as a [`unit_record::UnitRecord`], which the store's identity reads.
//! This crate depends on no other crate of cargo-share, nor on the store's database or the
//! network (no rusqlite, no ureq): the layer rule is the dependency graph.
//!
//! Below the wrapper, and used by the driver too: [`elf`], [`elf_rewrite`], [`elf_position`]
//! (reading and writing shared objects), [`digest`] (SHA-256), [`toolchain`] (rustc) and
//! [`semver_range`] (the one compatible-range rule).

// The documentation is for the engineers who change this code (`cargo doc
// --document-private-items`): links from public items to crate-private ones are meant.
#![allow(rustdoc::private_intra_doc_links)]

pub mod allocator;
pub mod digest;
pub mod elf;
pub mod elf_position;
pub mod elf_rewrite;
mod import_order;
pub mod linker;
pub mod panic_abort;
pub mod plan;
pub mod profile;
mod program_objects;
mod rustc_args;
pub mod saved_link;
pub mod semver_range;
mod stable_id;
pub mod toolchain;
pub mod unit_record;
pub mod user_wrapper;
mod version_script;
pub mod wrapper;
