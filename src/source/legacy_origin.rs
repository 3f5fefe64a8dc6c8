//! How program manifests written before 2026-12-06 recorded where an installed program came
//! from (`ProgramOrigin`, a second model of a program's source): read into the one model,
//! [`ProgramSource`], pinned.

use std::path::PathBuf;

use serde::Deserialize;

use crate::source::crate_spec::CrateSpec;
use crate::source::git::{GitReference, GitSpec};
use crate::source::program::ProgramSource;

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

impl From<LegacyOrigin> for ProgramSource {
    fn from(origin: LegacyOrigin) -> Self {
        match origin {
            LegacyOrigin::CratesIo { name, version } => ProgramSource::Registry(CrateSpec {
                name,
                version: Some(version),
            }),
            LegacyOrigin::Path { manifest } => ProgramSource::Path(manifest),
            LegacyOrigin::Git {
                url,
                reference,
                commit,
                package,
            } => ProgramSource::Git(GitSpec {
                url,
                reference,
                package: Some(package),
                commit: Some(commit),
            }),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn read(json: &str) -> ProgramSource {
        serde_json::from_str(json).unwrap()
    }

    #[test]
    fn an_origin_recorded_the_old_way_reads_as_the_source_pinned() {
        assert_eq!(
            read(r#"{"kind":"crates-io","name":"sd","version":"1.0.0"}"#),
            ProgramSource::Registry("sd@1.0.0".parse().unwrap())
        );
        assert_eq!(
            read(r#"{"kind":"path","manifest":"/src/tool/Cargo.toml"}"#),
            ProgramSource::Path("/src/tool/Cargo.toml".into())
        );
        assert_eq!(
            read(
                r#"{"kind":"git","url":"file:///r","reference":{"branch":"main"},
                    "commit":"abc123","package":"tool"}"#
            ),
            ProgramSource::Git(GitSpec {
                url: "file:///r".into(),
                reference: GitReference::Branch("main".into()),
                package: Some("tool".into()),
                commit: Some("abc123".into()),
            })
        );
    }

    #[test]
    fn a_source_is_recorded_one_way_and_read_back() {
        for source in [
            ProgramSource::Registry("sd@1.0.0".parse().unwrap()),
            ProgramSource::Path("/src/tool".into()),
            ProgramSource::OtherRegistry(
                "tool@2.0.0".parse().unwrap(),
                crate::source::Registry::Named("company".into()),
            ),
        ] {
            let json = serde_json::to_string(&source).unwrap();
            assert_eq!(read(&json), source, "{json}");
        }
    }
}
