//! `cargo share image`: one OCI image per program, whose layers are the file sets of
//! [`cargo_share_core::layout`]: the files several programs load ship once, in a layer those images share,
//! and a fix to a shared crate changes one layer (book: docs/src/guide/images.md).
//!
//! Files by job: where an image is (`reference`), the base image read from its registry
//! (`base`), layers, configs, manifests and their signature (`compose`), pushing to a registry
//! and writing an OCI layout directory (`publish`), the command (`run`), a pushed image's
//! signature checked (`check`, `verify-image`). The registry client
//! and signing keys are the binary cache's ([`crate::cache`]).

pub mod base;
mod check;
pub mod compose;
pub(crate) mod publish;
mod reference;
mod run;

pub use check::verify_pushed;
pub use compose::verify_image;
pub use run::{image, ImageOptions, DEFAULT_PREFIX};
