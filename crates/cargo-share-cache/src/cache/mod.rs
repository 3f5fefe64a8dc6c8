//! A signed binary cache of store entries and program builds on OCI registries: `cargo share
//! push`, `cargo share pull`, signing keys (book: docs/src/guide/binary-cache.md).
//!
//! Files by job: the one trait a backend implements and the cache address (`remote`), the OCI
//! registry backend over HTTP (`oci`) with its credentials (`credentials`), keys and signatures
//! (`keys`), the checks on names and versions read from a cache (`names`), the signed artifact
//! format (`artifact`), what an entry and a program carry (`records`), one file per command
//! (`push`, `pull`), and the substituters `install` asks first (`substitute`). What is verified
//! and what is not: `docs/src/security-binary-cache.md`.

pub mod artifact;
pub(crate) mod credentials;
pub mod keys;
pub(crate) mod names;
pub mod oci;
pub(crate) mod pull;
pub(crate) mod push;
pub(crate) mod records;
pub(crate) mod remote;
pub(crate) mod substitute;

pub(crate) use artifact::check_signature;
pub use keys::PublicKey;
pub(crate) use keys::SecretKey;
pub use oci::OciRegistry;
pub use pull::{pull, PullOptions};
pub use push::{push, PushOptions};
pub use remote::{CacheUrl, Remote};
pub use substitute::substitute;
