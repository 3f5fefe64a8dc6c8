//! `cargo share audit`: what the Rust binaries already on a machine carry, and what sharing
//! their common crate versions would save, before building anything.
//!
//! Per ELF file ([`scan`] finds them), the best source it has ([`detect`]):
//! 1. the dependency list `cargo auditable` embeds (`.dep-v0`, read with `auditable-info`):
//!    exact crate versions;
//! 2. the symbol table ([`symbols`]): bytes of code per crate from function sizes, names
//!    demangled with `rustc-demangle`; versions from the panic paths;
//! 3. for stripped binaries, the panic-location paths alone ([`panic_paths`]): crates and
//!    versions, bytes estimated from the share of source files.
//!
//! [`estimate`] lends measured sizes to stripped copies, counts copies per crate version and
//! rustc, and projects the saving; [`report`] prints it, [`html`] draws it.

pub(crate) mod detect;
pub(crate) mod estimate;
pub(crate) mod generics;
pub(crate) mod generics_run;
pub(crate) mod html;
pub(crate) mod model;
pub(crate) mod panic_paths;
pub(crate) mod report;
pub(crate) mod run;
pub(crate) mod scan;
pub(crate) mod symbols;

pub use generics_run::generics;
pub(crate) use report::projection_line;
pub(crate) use run::collect;
pub use run::{audit, AuditOptions};
