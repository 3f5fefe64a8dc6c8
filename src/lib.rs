//! cargo-share: build Cargo programs so that their library crates are shared Rust dylibs,
//! bound at build time to the exact crate builds they were compiled against.
//!
//! The crate is a library with a thin CLI (`src/main.rs`). The same executable plays three roles:
//! the `cargo share` command ([`build`], [`store`], [`measure`]), the rustc wrapper Cargo runs
//! for every compiler invocation ([`compile::wrapper`]), and, for groups and `-sys` crates that
//! bundle C code, the linker ([`compile::linker`]).
//!
//! The folders follow the path of a build: [`source`] (where programs come from) → [`resolve`]
//! (one resolution for a set, groups, the shared-crate rule) → [`compile`] (what Cargo runs) →
//! [`build`] (the driver that runs those steps and assembles the output) → [`store`] (identities,
//! entries, installed programs). [`measure`] compares the result with static builds. Below them
//! all: [`shell`] (output), [`digest`] (SHA-256), [`toolchain`] (rustc), [`elf`] (reading and
//! writing shared objects). See `ARCHITECTURE.md` for the path a build takes and the invariants.

pub mod adopt;
pub mod audit;
pub mod build;
pub mod cache;
pub mod compile;
pub mod digest;
pub mod dirs;
pub mod elf;
pub mod elf_position;
pub mod elf_rewrite;
pub mod failure;
pub mod image;
pub mod layout;
pub mod measure;
pub mod package;
pub mod preload;
pub mod resolve;
pub mod semver_range;
pub mod shell;
pub mod source;
pub mod store;
pub mod toolchain;
pub mod update;
