//! cargo-share: build Cargo programs so that their library crates are shared Rust dylibs,
//! bound at build time to the exact crate builds they were compiled against.
//!
//! The crate is a library with a thin CLI (`src/main.rs`). The same executable plays three roles:
//! the `cargo share` command ([`build`], [`store`], [`measure`]), the rustc wrapper Cargo runs
//! for every compiler invocation ([`cargo_share_compile::wrapper`]), and, for groups and `-sys`
//! crates that bundle C code, the linker ([`cargo_share_compile::linker`]). The last two, with
//! what they need (ELF, hashing, the toolchain), are the crate `cargo-share-compile`
//! (`crates/cargo-share-compile`), which depends on nothing here.
//!
//! The folders follow the path of a build: [`source`] (where programs come from) → [`resolve`]
//! (one resolution for a set, groups, the shared-crate rule) → `cargo_share_compile` (what Cargo
//! runs) → [`build`] (the driver that runs those steps and assembles the output) → [`store`]
//! (identities, entries, installed programs). [`measure`] compares the result with static
//! builds. Below them all: [`shell`] (output), and in `cargo_share_compile`: `digest`
//! (SHA-256), `toolchain` (rustc), `elf` (reading and writing shared objects). See
//! `ARCHITECTURE.md` for the path a build takes and the invariants.

// The documentation is for the engineers who change this code (`cargo doc
// --document-private-items`): links from public items to crate-private ones are meant.
#![allow(rustdoc::private_intra_doc_links)]

pub mod adopt;
pub mod audit;
pub mod build;
pub mod cache;
pub(crate) mod dirs;
pub mod failure;
pub mod image;
pub mod layout;
pub mod measure;
pub(crate) mod message;
pub mod package;
pub mod preload;
pub mod resolve;
pub mod shell;
pub mod source;
pub mod store;
pub mod update;
