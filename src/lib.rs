//! cargo-share: build Cargo programs so that their library crates are shared Rust dylibs,
//! bound at build time to the exact crate builds they were compiled against.
//!
//! The crate is a library with a thin CLI (`src/main.rs`). The same executable plays three roles:
//! the `cargo share` command ([`shared_build`]), the rustc wrapper Cargo runs for every compiler
//! invocation ([`wrapper`]), and, for `-sys` crates that bundle C code, the linker ([`linker`]).
//! See `ARCHITECTURE.md` for the path a build takes and the invariants.

pub mod analyze;
pub mod bench;
pub mod elf;
pub mod fault;
pub mod graph;
pub mod grouping;
pub mod identity;
pub mod lifecycle;
pub mod linker;
pub mod plan;
pub mod profile;
pub mod program;
pub mod program_set;
pub mod shared_build;
pub mod shell;
pub mod store;
pub mod wrapper;
