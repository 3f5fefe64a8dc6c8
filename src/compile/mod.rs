//! Step 3 of a build: what Cargo runs. cargo-share is Cargo's `RUSTC_WRAPPER` ([`wrapper`]) and,
//! for groups and dylibs that bundle C archives, rustc's linker ([`linker`], [`saved_link`]).
//!
//! The driver talks to these only through the [`plan::WrapperPlan`] file and the profile it
//! passes as `--config` ([`profile`]); what a compiled unit was built from is written back as a
//! [`unit_record::UnitRecord`], which the store's identity reads. Nothing here depends on the
//! driver or the store.

pub mod allocator;
pub mod linker;
pub mod panic_abort;
pub mod plan;
pub mod profile;
pub mod rustc_args;
pub mod saved_link;
pub mod stable_id;
pub mod unit_record;
pub mod user_wrapper;
pub mod version_script;
pub mod wrapper;
