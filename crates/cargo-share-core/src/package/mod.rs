//! `cargo share package --format deb`: native packages whose shared Rust crates are packages
//! of their own, so the system's package manager installs each shared library once, upgrades
//! exactly the ones a fix changes and removes them with the last program that loads them
//! (book: docs/src/guide/packages.md).
//!
//! Files by job: Debian's names, versions, dependencies and `control` file (`control`), the
//! `.deb` archive written and read (`deb`), the command: build, one package per program and per
//! shared library, revisions against the packages already in the output directory (`run`). The
//! files and their layout under a prefix are [`crate::layout`]'s, shared with `image`.

mod control;
pub mod deb;
pub mod run;

pub use run::{package, PackageArgs, PackageFormat, DEFAULT_PREFIX};
