//! `ProgramOrigin`: where an installed program came from, recorded with it so that a later
//! install can build it again (`install` regroups installed programs with each newcomer).

use std::path::PathBuf;

use serde::{Deserialize, Serialize};

use crate::source::crate_spec::CrateSpec;
use crate::source::git::{GitReference, GitSpec};
use crate::source::program::ProgramSource;
use crate::source::registry::Registry;

/// Where a program was built from.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "kebab-case")]
pub enum ProgramOrigin {
    /// A crates.io package at an exact version.
    CratesIo { name: String, version: String },
    /// A package of another registry at an exact version.
    Registry {
        name: String,
        version: String,
        registry: Registry,
    },
    /// A local package: its own manifest.
    Path { manifest: PathBuf },
    /// A package of a git repository at one commit.
    Git {
        url: String,
        /// The reference it was installed from (`--branch`, `--tag`, `--rev`), for the record.
        reference: GitReference,
        commit: String,
        package: String,
    },
}

impl ProgramOrigin {
    /// The source to build it from again.
    pub fn source(&self) -> ProgramSource {
        match self {
            ProgramOrigin::CratesIo { name, version } => ProgramSource::Registry(CrateSpec {
                name: name.clone(),
                version: Some(version.clone()),
            }),
            ProgramOrigin::Registry {
                name,
                version,
                registry,
            } => ProgramSource::OtherRegistry(
                CrateSpec {
                    name: name.clone(),
                    version: Some(version.clone()),
                },
                registry.clone(),
            ),
            ProgramOrigin::Path { manifest } => ProgramSource::Path(manifest.clone()),
            ProgramOrigin::Git {
                url,
                commit,
                package,
                ..
            } => ProgramSource::Git(GitSpec {
                url: url.clone(),
                reference: GitReference::Rev(commit.clone()),
                package: Some(package.clone()),
            }),
        }
    }

    /// How `list` and the record's `source` name it: `crates.io`, `registry `NAME``
    /// (or `registry URL`), `local` or `git`.
    pub fn kind(&self) -> String {
        match self {
            ProgramOrigin::CratesIo { .. } => "crates.io".to_string(),
            ProgramOrigin::Registry { registry, .. } => registry.to_string(),
            ProgramOrigin::Path { .. } => "local".to_string(),
            ProgramOrigin::Git { .. } => "git".to_string(),
        }
    }
}
