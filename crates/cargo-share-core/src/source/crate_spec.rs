//! `NAME[@VERSION]` as `cargo install` reads it, and program list files.

use std::path::Path;

use anyhow::{bail, Context, Result};

/// `NAME[@VERSION]` as `cargo install` accepts it (and as records hold it).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct CrateSpec {
    pub name: String,
    pub version: Option<String>,
}

impl std::str::FromStr for CrateSpec {
    type Err = anyhow::Error;

    fn from_str(s: &str) -> Result<Self> {
        let (name, version) = match s.split_once('@') {
            Some((n, v)) => (n, Some(v.trim_start_matches('=').to_string())),
            None => (s, None),
        };
        let valid_name = !name.is_empty()
            && name
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_');
        if !valid_name {
            bail!("`{s}` is not a crate name: expected NAME or NAME@VERSION, for example ripgrep@15.2.0");
        }
        if let Some(v) = &version {
            let valid_version = !v.is_empty()
                && v.chars()
                    .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '+'));
            if !valid_version {
                bail!("`{s}` has no valid version after `@`: expected for example {name}@1.2.3");
            }
        }
        Ok(CrateSpec {
            name: name.to_string(),
            version,
        })
    }
}

impl TryFrom<String> for CrateSpec {
    type Error = anyhow::Error;

    fn try_from(s: String) -> Result<Self> {
        s.parse()
    }
}

impl From<CrateSpec> for String {
    fn from(spec: CrateSpec) -> String {
        spec.to_string()
    }
}

impl std::fmt::Display for CrateSpec {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match &self.version {
            Some(v) => write!(f, "{}@{}", self.name, v),
            None => write!(f, "{}", self.name),
        }
    }
}

/// Read a program list: one `NAME@VERSION` a line; blank lines and `#` comments are skipped.
pub fn read_program_list(path: &Path) -> Result<Vec<CrateSpec>> {
    let text = std::fs::read_to_string(path)
        .with_context(|| format!("reading the program list {}", path.display()))?;
    let mut out = Vec::new();
    for (n, line) in text.lines().enumerate() {
        let line = line.split('#').next().unwrap_or_default().trim();
        if line.is_empty() {
            continue;
        }
        let spec: CrateSpec = line
            .parse()
            .with_context(|| format!("{}:{}", path.display(), n + 1))?;
        out.push(spec);
    }
    if out.is_empty() {
        bail!(
            "{} names no programs (expected one NAME@VERSION a line)",
            path.display()
        );
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn crate_specs_parse_like_cargo_install() {
        let s: CrateSpec = "ripgrep@15.2.0".parse().unwrap();
        assert_eq!(s.name, "ripgrep");
        assert_eq!(s.version.as_deref(), Some("15.2.0"));
        let s: CrateSpec = "fd-find".parse().unwrap();
        assert_eq!(s.version, None);
        assert!("rip grep".parse::<CrateSpec>().is_err());
        assert!("ripgrep@".parse::<CrateSpec>().is_err());
        assert!("x@1\"]".parse::<CrateSpec>().is_err());
    }
}
