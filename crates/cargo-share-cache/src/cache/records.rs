//! What an artifact's config blob carries, and the checks a puller makes on it before anything
//! reaches the store.
//!
//! An entry's config is its `entry.json` ([`StoreEntry`]) with the identity's recorded inputs, so
//! the puller computes the identity again and compares it with the tag and the manifest; a
//! program's is its `program.json` (without the pusher's install root) with the entries it
//! loads (`libraries`, its `lib/`) and every entry it was built against (`entries`, with the
//! package that names each one's repository).

use cargo_share_compile::toolchain::release_of;
use std::collections::BTreeSet;

use anyhow::{bail, Context, Result};
use serde::{Deserialize, Serialize};

use crate::cache::names::{check_file_name, check_hash, check_package_name, check_version};
use cargo_share_compile::unit_record::UnitRecord;
use cargo_share_core::store::identity::IdentityInputs;
use cargo_share_core::store::{InstalledProgram, StoreEntry};

/// The config of an entry artifact.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct EntryConfig {
    pub(crate) entry: StoreEntry,
}

/// An entry a program needs, and the package whose repository holds it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct EntryRef {
    pub(crate) hash: String,
    pub(crate) package: String,
    pub(crate) version: String,
}

/// The config of a program artifact.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct ProgramConfig {
    pub(crate) program: InstalledProgram,
    /// Hashes of the entries in the program's `lib/`.
    pub(crate) libraries: Vec<String>,
    /// Every entry of `program.entries`.
    pub(crate) entries: Vec<EntryRef>,
}

impl EntryConfig {
    /// The entry's identity computed again from its inputs must be `tag`, and the inputs must
    /// agree with the manifest's file, dependencies and (libstd) file hash.
    pub(crate) fn check(&self, tag: &str, what: &str) -> Result<()> {
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
        check_package_name(&id.package, what)?;
        check_version(&id.version, what)?;
        for d in &id.dependencies {
            check_hash(d, what)?;
        }
        check_hash(&self.entry.runtime_sha256, what)?;
        check_hash(&self.entry.dev_sha256, what)?;
        if let Some(record) = &self.entry.group {
            // Used by a later grouped install that builds against the group.
            check_package_name(&record.group.name, what)?;
            for m in &record.group.members {
                check_package_name(&m.name, what)?;
                check_version(&m.version, what)?;
            }
        }
        let consistent = match inputs {
            IdentityInputs::Toolchain {
                file,
                file_sha256,
                rustc_version,
                ..
            } => {
                file == &id.file
                    && file_sha256 == &self.entry.dev_sha256
                    && id.package == "std"
                    && Some(id.version.as_str()) == release_of(rustc_version)
            }
            IdentityInputs::Crate {
                file,
                dependencies,
                unit_record,
                ..
            } => {
                let record: UnitRecord = serde_json::from_str(unit_record).with_context(|| {
                    format!("{what}: its identity inputs hold no unit record; refused")
                })?;
                file == &id.file
                    && dependencies == &id.dependencies
                    && record.package == id.package
                    && record.version == id.version
            }
        };
        if !consistent {
            bail!(
                "{what}: its manifest ({} {}, {}) does not match its identity inputs: the entry \
                 was altered; refused",
                id.package,
                id.version,
                id.file
            );
        }
        Ok(())
    }

    /// The entry is the one `reference` (a program's list of entries) names.
    pub(crate) fn check_named(&self, reference: &EntryRef, what: &str) -> Result<()> {
        let id = &self.entry.identity;
        if id.package != reference.package || id.version != reference.version {
            bail!(
                "{what}: the cache's entry is {} {}, but its program names it {} {}; refused",
                id.package,
                id.version,
                reference.package,
                reference.version
            );
        }
        Ok(())
    }
}

impl ProgramConfig {
    /// Names are plain, the entry lists agree, and the program is the one asked for.
    pub(crate) fn check(&self, name: &str, what: &str) -> Result<()> {
        if self.program.name != name {
            bail!(
                "{what}: the cache's artifact is the program `{}`, not `{name}`; refused",
                self.program.name
            );
        }
        check_package_name(&self.program.name, what)?;
        check_version(&self.program.version, what)?;
        for (bin, sha) in &self.program.binaries {
            check_file_name(bin, what)?;
            check_hash(sha, what)?;
        }
        for e in &self.entries {
            check_hash(&e.hash, what)?;
            check_package_name(&e.package, what)?;
            check_version(&e.version, what)?;
        }
        let listed: BTreeSet<&String> = self.entries.iter().map(|e| &e.hash).collect();
        let recorded: BTreeSet<&String> = self.program.entries.iter().collect();
        if listed != recorded || !self.libraries.iter().all(|l| listed.contains(l)) {
            bail!("{what}: its lists of entries disagree; refused");
        }
        Ok(())
    }
}
