//! cargo-share: build Cargo programs so that their library crates are shared Rust dylibs,
//! bound at build time to the exact crate builds they were compiled against.
//!
//! The crate is a library with a thin CLI (`src/main.rs`). The same executable plays three roles:
//! the `cargo share` command ([`build`], [`store`], [`measure`]), the rustc wrapper Cargo runs
//! for every compiler invocation ([`cargo_share_compile::wrapper`]), and, for groups and `-sys`
//! crates that bundle C code, the linker ([`cargo_share_compile::linker`]). The last two, with
//! what they need (ELF, hashing, the toolchain), are the crate `cargo-share-compile`
//! (`crates/cargo-share-compile`), which depends on nothing here. The core (sources, resolution,
//! the driver, the store) is the crate `cargo-share-core` (`crates/cargo-share-core`).

// The documentation is for the engineers who change this code (`cargo doc
// --document-private-items`): links from public items to crate-private ones are meant.
#![allow(rustdoc::private_intra_doc_links)]

pub use cargo_share_cache::{cache, image};
pub use cargo_share_core::{
    build, dirs, failure, layout, message, package, preload, resolve, shell, source, store, update,
};
pub use cargo_share_measure::{adopt, audit, measure};
