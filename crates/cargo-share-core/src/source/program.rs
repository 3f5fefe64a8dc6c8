//! `ProgramSource`: a program given as a local manifest, a crates.io package or a git
//! repository, and the manifest it builds from (fetched first unless it is local).

use std::path::{Path, PathBuf};

use anyhow::{bail, Context, Result};

use crate::shell::Shell;
use crate::source::crate_spec::CrateSpec;
use crate::source::fetch::fetch_registry_crate;
use crate::source::git::{fetch_git, GitSpec};
use crate::source::legacy_origin::LegacyOrigin;
use crate::source::registry::Registry;

/// Where a program comes from: as a command names it (recorded in an install's request), or,
/// pinned (an exact version, a commit), where an installed program was built from (its
/// manifest's `origin`), so that a later install builds exactly it again. Recorded as
/// [`SourceRecord`]; the older record of an installed program's origin reads too.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(from = "AnyRecord", into = "SourceRecord")]
pub enum ProgramSource {
    /// `--manifest-path PATH`: a package or workspace manifest on disk.
    Path(PathBuf),
    /// `--crate NAME[@VERSION]`: a package from crates.io.
    Registry(CrateSpec),
    /// `install --registry NAME` or `--index URL`: a package from another registry.
    OtherRegistry(CrateSpec, Registry),
    /// `--git URL`: a package from a git repository.
    Git(GitSpec),
}

/// How a request records a [`ProgramSource`] (the form records have had from the start).
#[derive(serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "kebab-case", tag = "kind")]
enum SourceRecord {
    /// From crates.io (`NAME@VERSION`).
    CratesIo { spec: CrateSpec },
    /// From another registry.
    Registry { spec: CrateSpec, registry: Registry },
    /// A local program: its manifest or directory.
    Path { path: PathBuf },
    /// A git repository, at the reference given.
    Git { spec: GitSpec },
}

/// A record of either form.
#[derive(serde::Deserialize)]
#[serde(untagged)]
enum AnyRecord {
    Source(SourceRecord),
    Origin(LegacyOrigin),
}

impl From<AnyRecord> for ProgramSource {
    fn from(record: AnyRecord) -> Self {
        match record {
            AnyRecord::Source(s) => s.into(),
            AnyRecord::Origin(o) => o.into(),
        }
    }
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

impl From<SourceRecord> for ProgramSource {
    fn from(record: SourceRecord) -> Self {
        match record {
            SourceRecord::CratesIo { spec } => ProgramSource::Registry(spec),
            SourceRecord::Registry { spec, registry } => {
                ProgramSource::OtherRegistry(spec, registry)
            }
            SourceRecord::Path { path } => ProgramSource::Path(path),
            SourceRecord::Git { spec } => ProgramSource::Git(spec),
        }
    }
}

impl From<ProgramSource> for SourceRecord {
    fn from(source: ProgramSource) -> Self {
        match source {
            ProgramSource::Registry(spec) => SourceRecord::CratesIo { spec },
            ProgramSource::OtherRegistry(spec, registry) => {
                SourceRecord::Registry { spec, registry }
            }
            ProgramSource::Path(path) => SourceRecord::Path { path },
            ProgramSource::Git(spec) => SourceRecord::Git { spec },
        }
    }
}

impl ProgramSource {
    /// How `list` and a program's record name where it came from: `crates.io`, `registry
    /// `NAME`` (or `registry URL`), `local` or `git`.
    pub(crate) fn kind(&self) -> String {
        match self {
            ProgramSource::Registry(_) => "crates.io".to_string(),
            ProgramSource::OtherRegistry(_, registry) => registry.to_string(),
            ProgramSource::Path(_) => "local".to_string(),
            ProgramSource::Git(_) => "git".to_string(),
        }
    }

    /// The program's manifest: the given file (or `DIR/Cargo.toml`), or the manifest of the
    /// crates.io package's private source copy in `cache` (fetched if needed).
    pub fn manifest(&self, cache: &Path, shell: &Shell) -> Result<PathBuf> {
        match self {
            ProgramSource::Path(p) => {
                let p = if p.is_dir() {
                    p.join("Cargo.toml")
                } else {
                    p.clone()
                };
                if !p.is_file() {
                    bail!(
                        "the program {}: no such file; give the path of its Cargo.toml or of \
                         the directory that holds it",
                        p.display()
                    );
                }
                p.canonicalize()
                    .with_context(|| format!("resolving the program path {}", p.display()))
            }
            ProgramSource::Registry(spec) => fetch_registry_crate(spec, None, cache, shell),
            ProgramSource::OtherRegistry(spec, registry) => {
                fetch_registry_crate(spec, Some(registry), cache, shell)
            }
            ProgramSource::Git(spec) => fetch_git(spec, cache, shell),
        }
    }
}

/// The programs `install` names: crates.io packages (`NAME[@VERSION]`, or one `NAME` with
/// `--version VERSION`), or with `--git` the packages of that repository (`NAME`s pick them;
/// none: the repository's one program).
pub fn install_sources(
    crates: Vec<CrateSpec>,
    git: Option<GitSpec>,
    version: Option<String>,
    registry: Option<Registry>,
) -> Result<Vec<ProgramSource>> {
    if let Some(git) = git {
        if let Some(with_version) = crates.iter().find(|c| c.version.is_some()) {
            bail!(
                "--git {}: `{with_version}` names a version; a git program is chosen by \
                 --branch, --tag or --rev, and NAME picks its package",
                git.url
            );
        }
        if crates.is_empty() {
            return Ok(vec![ProgramSource::Git(git)]);
        }
        return Ok(crates
            .into_iter()
            .map(|c| {
                ProgramSource::Git(GitSpec {
                    package: Some(c.name),
                    ..git.clone()
                })
            })
            .collect());
    }
    let mut crates = crates;
    if let Some(version) = version {
        match crates.as_mut_slice() {
            [one] if one.version.is_none() => {
                one.version = Some(version.trim_start_matches('=').to_string());
            }
            [one] => {
                bail!("--version {version}: `{one}` names a version already; give one of them")
            }
            _ => bail!(
                "--version {version}: name exactly one crates.io program (or write NAME@VERSION \
                 for each)"
            ),
        }
        let spec = crates[0].to_string();
        crates[0] = spec.parse()?;
    }
    Ok(crates
        .into_iter()
        .map(|spec| match &registry {
            Some(r) => ProgramSource::OtherRegistry(spec, r.clone()),
            None => ProgramSource::Registry(spec),
        })
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::source::git::GitReference;

    fn specs(names: &[&str]) -> Vec<CrateSpec> {
        names.iter().map(|n| n.parse().unwrap()).collect()
    }

    #[test]
    fn version_and_git_options_read_like_cargo_install() {
        let got = install_sources(specs(&["sd"]), None, Some("=1.0.0".into()), None).unwrap();
        assert_eq!(got, [ProgramSource::Registry("sd@1.0.0".parse().unwrap())]);
        assert!(install_sources(specs(&["sd@1.0.0"]), None, Some("1.0.0".into()), None).is_err());
        assert!(install_sources(specs(&["sd", "fd-find"]), None, Some("1".into()), None).is_err());
        let git = GitSpec {
            url: "file:///repo".into(),
            reference: GitReference::Tag("v1".into()),
            package: None,
            commit: None,
        };
        let got = install_sources(specs(&["a", "b"]), Some(git.clone()), None, None).unwrap();
        assert_eq!(got.len(), 2);
        assert!(
            matches!(&got[1], ProgramSource::Git(s) if s.package.as_deref() == Some("b") && s.reference == git.reference)
        );
        assert_eq!(
            install_sources(Vec::new(), Some(git.clone()), None, None).unwrap(),
            [ProgramSource::Git(git.clone())]
        );
        assert!(install_sources(specs(&["a@1.0.0"]), Some(git), None, None).is_err());
    }

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
