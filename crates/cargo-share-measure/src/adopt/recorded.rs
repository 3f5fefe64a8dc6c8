//! What `cargo install` recorded in `ROOT/.crates2.json`: each installed package, where it came
//! from, its features and the binaries it put in `ROOT/bin`.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use anyhow::{bail, Context, Result};
use serde::{Deserialize, Serialize};

/// The file Cargo keeps its install records in, in the install root.
pub(crate) const CRATES2_FILE: &str = ".crates2.json";

/// Where a recorded package came from (the source of its Cargo package id).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "kind", content = "at", rename_all = "kebab-case")]
pub(crate) enum RecordedSource {
    /// crates.io (`registry+https://github.com/rust-lang/crates.io-index` or
    /// `sparse+https://index.crates.io/`).
    CratesIo,
    /// `cargo install --path DIR`.
    Path(PathBuf),
    /// Anything else (`git+…`, another registry), as Cargo wrote it.
    Other(String),
}

/// One package `cargo install` installed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub(crate) struct RecordedInstall {
    pub(crate) name: String,
    pub(crate) version: String,
    pub(crate) source: RecordedSource,
    pub(crate) features: Vec<String>,
    pub(crate) all_features: bool,
    pub(crate) no_default_features: bool,
    /// Binary file names in `ROOT/bin`.
    pub(crate) bins: Vec<String>,
}

/// `.crates2.json` as Cargo writes it (fields cargo-share does not need are ignored).
#[derive(Deserialize)]
struct Crates2 {
    installs: BTreeMap<String, Crates2Install>,
}

#[derive(Deserialize)]
struct Crates2Install {
    #[serde(default)]
    bins: Vec<String>,
    #[serde(default)]
    features: Vec<String>,
    #[serde(default)]
    all_features: bool,
    #[serde(default)]
    no_default_features: bool,
}

const CRATES_IO_SOURCES: [&str; 2] = [
    "registry+https://github.com/rust-lang/crates.io-index",
    "sparse+https://index.crates.io/",
];

/// Read `ROOT/.crates2.json`; an error names the file and what to do.
pub(crate) fn read_recorded(root: &Path) -> Result<Vec<RecordedInstall>> {
    let file = root.join(CRATES2_FILE);
    let text = match std::fs::read_to_string(&file) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => bail!(
            "{} does not exist: `cargo install` has recorded no programs in {} (give the root \
             it installed into with --root, or $CARGO_HOME)",
            file.display(),
            root.display()
        ),
        Err(e) => return Err(e).with_context(|| format!("reading {}", file.display())),
    };
    parse_recorded(&text).with_context(|| {
        format!(
            "{} is not a `cargo install` record Cargo would read; nothing was changed (`cargo \
             install --list` shows whether Cargo can read it)",
            file.display()
        )
    })
}

/// The records in a `.crates2.json` text.
pub(crate) fn parse_recorded(text: &str) -> Result<Vec<RecordedInstall>> {
    let parsed: Crates2 = serde_json::from_str(text)?;
    parsed
        .installs
        .into_iter()
        .map(|(id, install)| {
            let (name, version, source) = parse_package_id(&id)?;
            Ok(RecordedInstall {
                name,
                version,
                source,
                features: install.features,
                all_features: install.all_features,
                no_default_features: install.no_default_features,
                bins: install.bins,
            })
        })
        .collect()
}

/// `NAME VERSION (SOURCE)`, Cargo's package id as `.crates2.json` keys it.
fn parse_package_id(id: &str) -> Result<(String, String, RecordedSource)> {
    let mut words = id.splitn(3, ' ');
    let (Some(name), Some(version), Some(source)) = (words.next(), words.next(), words.next())
    else {
        bail!("`{id}` is not a package id (NAME VERSION (SOURCE))");
    };
    let Some(source) = source.strip_prefix('(').and_then(|s| s.strip_suffix(')')) else {
        bail!("`{id}` is not a package id (NAME VERSION (SOURCE))");
    };
    let source = if CRATES_IO_SOURCES.contains(&source) {
        RecordedSource::CratesIo
    } else if let Some(url) = source.strip_prefix("path+file://") {
        let decoded = percent_encoding::percent_decode_str(url)
            .decode_utf8()
            .with_context(|| format!("`{id}`: the path is not UTF-8"))?;
        RecordedSource::Path(PathBuf::from(decoded.as_ref()))
    } else {
        RecordedSource::Other(source.to_string())
    };
    Ok((name.to_string(), version.to_string(), source))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_registry_path_and_git_installs() {
        let text = r#"{"installs":{
            "ripgrep 14.1.0 (registry+https://github.com/rust-lang/crates.io-index)":
                {"version_req":null,"bins":["rg"],"features":["pcre2"],"all_features":false,
                 "no_default_features":false,"profile":"release","target":"x","rustc":"r"},
            "feat-one 0.1.0 (path+file:///src/my%20tools/feat-one)":
                {"bins":["feat-one"],"features":[],"all_features":true,"no_default_features":true},
            "tool 1.0.0 (git+https://example.org/tool#0123abcd)":{"bins":["tool"]}
        }}"#;
        let mut got = parse_recorded(text).unwrap();
        got.sort_by(|a, b| a.name.cmp(&b.name));
        assert_eq!(got[0].name, "feat-one");
        assert_eq!(
            got[0].source,
            RecordedSource::Path(PathBuf::from("/src/my tools/feat-one"))
        );
        assert!(got[0].all_features && got[0].no_default_features);
        assert_eq!(got[1].name, "ripgrep");
        assert_eq!(got[1].version, "14.1.0");
        assert_eq!(got[1].source, RecordedSource::CratesIo);
        assert_eq!(got[1].features, vec!["pcre2".to_string()]);
        assert_eq!(got[1].bins, vec!["rg".to_string()]);
        assert_eq!(
            got[2].source,
            RecordedSource::Other("git+https://example.org/tool#0123abcd".into())
        );
    }

    #[test]
    fn a_damaged_record_is_an_error() {
        assert!(parse_recorded("{\"installs\": [").is_err());
        assert!(parse_recorded("{\"installs\": {\"nonsense\": {}}}").is_err());
        assert!(parse_recorded("{}").is_err());
    }
}
