//! cargo-share's measurements and what they lead to: [`measure`] (`bench`, `analyze`: what
//! sharing buys against static builds), [`audit`] (what the Rust binaries already on a machine
//! carry, drawn with the bench report's HTML) and [`adopt`] (the programs `cargo install` put in
//! `ROOT/bin`, installed through the store; its `--dry-run` is the audit's projection). They sit
//! above the core (`cargo_share_core`), which depends on none of them; see `ARCHITECTURE.md`
//! ("Crates").

// The documentation is for the engineers who change this code (`cargo doc
// --document-private-items`): links from public items to crate-private ones are meant.
#![allow(rustdoc::private_intra_doc_links)]

pub mod adopt;
pub mod audit;
pub mod measure;
