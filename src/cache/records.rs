//! What an artifact's config blob carries, and the checks a puller makes on it before anything
//! reaches the store.
//!
//! An entry's config is its `entry.json` ([`StoreEntry`]) with the identity's recorded inputs, so
//! the puller computes the identity again and compares it with the tag and the manifest; a
//! program's is its `program.json` (without the pusher's install root) with the entries it
//! loads (`libraries`, its `lib/`) and every entry it was built against (`entries`, with the
//! package that names each one's repository).

use std::collections::BTreeSet;

use anyhow::{bail, Context, Result};
use serde::{Deserialize, Serialize};

use crate::store::identity::IdentityInputs;
use crate::store::{InstalledProgram, StoreEntry};

/// The config of an entry artifact.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct EntryConfig {
    pub entry: StoreEntry,
}

/// An entry a program needs, and the package whose repository holds it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct EntryRef {
    pub hash: String,
    pub package: String,
    pub version: String,
}

/// The config of a program artifact.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ProgramConfig {
    pub program: InstalledProgram,
    /// Hashes of the entries in the program's `lib/`.
    pub libraries: Vec<String>,
    /// Every entry of `program.entries`.
    pub entries: Vec<EntryRef>,
}

/// A file name from a cache as a path component: no directories, nothing hidden.
pub fn check_file_name(name: &str, what: &str) -> Result<()> {
    if name.is_empty() || name.contains('/') || name.starts_with('.') || name.contains('\0') {
        bail!("{what}: the file name `{name}` is not a plain file name; refused");
    }
    Ok(())
}

impl EntryConfig {
    /// The entry's identity computed again from its inputs must be `tag`, and the inputs must
    /// agree with the manifest's file, dependencies and (libstd) file hash.
    pub fn check(&self, tag: &str, what: &str) -> Result<()> {
        let id = &self.entry.identity;
        let inputs = id
            .inputs
            .as_ref()
            .with_context(|| format!("{what}: the entry records no identity inputs; refused"))?;
        let computed = inputs.hash();
        if computed != tag || id.hash != tag {
            bail!(
                "{what}: its recorded inputs give the identity {computed}, not {tag} (its tag) \
                 and {} (its manifest): the entry was altered; refused",
                id.hash
            );
        }
        check_file_name(&id.file, what)?;
        let consistent = match inputs {
            IdentityInputs::Toolchain {
                file, file_sha256, ..
            } => file == &id.file && file_sha256 == &self.entry.dev_sha256,
            IdentityInputs::Crate {
                file, dependencies, ..
            } => file == &id.file && dependencies == &id.dependencies,
        };
        if !consistent {
            bail!("{what}: its manifest does not match its identity inputs; refused");
        }
        Ok(())
    }
}

impl ProgramConfig {
    /// Names are plain, the entry lists agree, and the program is the one asked for.
    pub fn check(&self, name: &str, what: &str) -> Result<()> {
        if self.program.name != name {
            bail!(
                "{what}: the cache's artifact is the program `{}`, not `{name}`; refused",
                self.program.name
            );
        }
        for (bin, _) in &self.program.binaries {
            check_file_name(bin, what)?;
        }
        let listed: BTreeSet<&String> = self.entries.iter().map(|e| &e.hash).collect();
        let recorded: BTreeSet<&String> = self.program.entries.iter().collect();
        if listed != recorded || !self.libraries.iter().all(|l| listed.contains(l)) {
            bail!("{what}: its lists of entries disagree; refused");
        }
        Ok(())
    }
}
