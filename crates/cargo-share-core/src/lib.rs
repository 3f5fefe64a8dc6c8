//! cargo-share's core: build Cargo programs so that their library crates are shared Rust dylibs,
//! bound at build time to the exact crate builds they were compiled against, and install them
//! in a content-addressed store.
//!
//! The folders follow the path of a build: [`source`] (where programs come from) → [`resolve`]
//! (one resolution for a set, groups, the shared-crate rule) → `cargo_share_compile` (what Cargo
//! runs, its own crate below this one) → [`build`] (the driver that runs those steps and
//! assembles the output) → [`store`] (identities, entries, installed programs), with [`update`]
//! and [`preload`] over the store, and [`layout`] and [`package`] shipping what a build made.
//! Below them all: [`shell`] (output), [`message`] (the JSON records), [`failure`] (the failures
//! with their own exit codes) and [`dirs`] (default locations). The binary cache, the bench and
//! the audit are crates above this one; see `ARCHITECTURE.md` ("Crates") for what each holds.

// The documentation is for the engineers who change this code (`cargo doc
// --document-private-items`): links from public items to crate-private ones are meant.
#![allow(rustdoc::private_intra_doc_links)]

pub mod build;
pub mod dirs;
pub mod failure;
pub mod layout;
pub mod message;
pub mod package;
pub mod preload;
pub mod resolve;
pub mod shell;
pub mod source;
pub mod store;
pub mod update;
