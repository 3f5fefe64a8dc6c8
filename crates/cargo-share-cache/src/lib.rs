//! cargo-share's binary cache and images: [`cache`], a signed binary cache of store entries and
//! programs on OCI registries (one file per backend behind one trait), and [`image`], one OCI
//! image per program with the shared file sets in shared layers, pushed through the cache's
//! registry client and keys. Both sit above the core (`cargo_share_core`), which depends on
//! neither; see `ARCHITECTURE.md` ("Crates").

// The documentation is for the engineers who change this code (`cargo doc
// --document-private-items`): links from public items to crate-private ones are meant.
#![allow(rustdoc::private_intra_doc_links)]

pub mod cache;
pub mod image;
