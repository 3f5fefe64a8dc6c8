//! `cargo share adopt`: the programs `cargo install` put in `ROOT/bin` (recorded in
//! `ROOT/.crates2.json`) installed again through the store, as one set, with their recorded
//! versions and features.
//!
//! [`recorded`] reads Cargo's record, [`plan`] decides which programs can be adopted (the rest
//! stay as they are, each with its reason) and batches them, [`run`] installs each batch with
//! `store::install_with` and adopt's steps: a program whose build does not match its record is
//! left out, each shared build runs `--version` (else `--help`) from the store ([`check`])
//! before anything links to it, and each binary `cargo install` wrote is kept
//! ([`keep`]) before a link replaces it.

pub(crate) mod check;
pub(crate) mod keep;
pub(crate) mod plan;
pub(crate) mod recorded;
pub(crate) mod run;

pub use run::{adopt, AdoptOptions};
