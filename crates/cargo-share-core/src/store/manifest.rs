//! The manifests kept in the store: `StoreEntry` (`entry.json`) and `InstalledProgram`
//! (`program.json`).

use std::path::PathBuf;

use serde::{Deserialize, Serialize};

use crate::build::FeatureChoice;
use crate::source::ProgramSource;
use crate::store::identity::CrateIdentity;

/// The manifest of one store entry (`entry.json`).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct StoreEntry {
    pub identity: CrateIdentity,
    /// SHA-256 and size of the runtime copy (`lib/FILE`).
    pub runtime_sha256: String,
    pub runtime_size: u64,
    /// SHA-256 of the full dylib (`dev/FILE`).
    pub dev_sha256: String,
    /// A group (grouped layout): what a later install needs to build against it as it is.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub group: Option<crate::resolve::grouping::GroupRecord>,
}

/// The manifest of one installed program (`program.json`).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct InstalledProgram {
    pub name: String,
    pub version: String,
    /// Where it came from: `crates.io` or a local path.
    pub source: String,
    /// Store-relative directory (`programs/NAME-VERSION-ID`).
    pub dir: String,
    /// Binary name -> SHA-256.
    pub binaries: Vec<(String, String)>,
    /// Identities (hashes) of the entries it loads.
    pub entries: Vec<String>,
    /// The install root whose `bin/` links to its binaries.
    pub root: PathBuf,
    /// The features it was built with (`--features`, `--all-features`,
    /// `--no-default-features`); absent in manifests written before they were recorded.
    #[serde(default)]
    pub features: FeatureChoice,
    /// Its plugins (`install --plugin-for`), in `plugins/` of its directory: file name ->
    /// SHA-256. They load exactly the program's entries (its `lib/`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub(crate) plugins: Vec<(String, String)>,
    /// Where it was built from, so that a later install can build it again; absent in
    /// manifests written before it was recorded (such a program is never rebuilt).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) origin: Option<ProgramSource>,
    /// The `Cargo.lock` entries of every package its binaries were compiled from: the crate
    /// versions a later install keeps it on.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) resolution: Option<String>,
    /// Every package in its normal dependency closure, `(name, version)` (what `update`
    /// looks for); empty in manifests written before it was recorded.
    #[serde(default)]
    pub(crate) crates: Vec<(String, String)>,
    /// How the install command that built it was given (programs, layout, options, patches),
    /// to build it again the same way (`update`); absent in manifests written before it was
    /// recorded.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) install_origin: Option<crate::store::request::InstallRequest>,
}
