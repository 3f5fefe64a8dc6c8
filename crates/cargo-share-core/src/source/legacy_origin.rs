//! How program manifests written before 2026-12-06 recorded where an installed program came
//! from (`ProgramOrigin`, a second model of a program's source); `program.rs` reads it into
//! the one model, `ProgramSource`, pinned.

use std::path::PathBuf;

use serde::Deserialize;

use crate::source::git::GitReference;

/// The old record of where an installed program came from.
#[derive(Deserialize)]
#[serde(tag = "kind", rename_all = "kebab-case")]
pub(crate) enum LegacyOrigin {
    /// A crates.io package at an exact version.
    CratesIo { name: String, version: String },
    /// A local package: its own manifest.
    Path { manifest: PathBuf },
    /// A package of a git repository at one commit (`reference`: the branch, tag or rev it
    /// was installed from).
    Git {
        url: String,
        reference: GitReference,
        commit: String,
        package: String,
    },
}
