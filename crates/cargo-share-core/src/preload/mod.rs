//! `cargo share preload`: bring the shared files most installed programs load into the page
//! cache before any of them starts, as preloading did for system libraries; optionally keep
//! them locked in memory.
//!
//! The files come from the store's index (`select`: entries ranked by how many installed
//! programs load them); each is opened only if it is a file of the store (`open`); then every
//! file gets `posix_fadvise(WILLNEED)` (the kernel reads them all at once, in the background),
//! and each is read through so that the command returns when they are in memory
//! (`page_cache`). With `--lock` each is mapped and `mlock`ed where `RLIMIT_MEMLOCK` allows,
//! and the command stays running to hold them (locks end with the process). `unit` writes the
//! systemd user unit that runs it at login.

pub(crate) mod open;
pub mod page_cache;
pub(crate) mod run;
pub(crate) mod select;
pub mod unit;

pub use run::{preload, PreloadOptions};
pub use select::Selection;
