//! Where programs come from: a local manifest, or a crates.io package fetched the way
//! `cargo install` would, with the `Cargo.lock` it ships.
//!
//! Fetching goes through Cargo itself: a throwaway manifest that depends on `NAME = "=VERSION"`,
//! `cargo generate-lockfile` to resolve the version, `cargo fetch` to download and unpack the
//! package into Cargo's registry cache (this works for binary-only packages too), then a private
//! copy of the unpacked sources so that building or testing never writes into Cargo's cache.

use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{bail, Context, Result};

use crate::shell::Shell;

/// A program named on the command line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ProgramSource {
    /// `--manifest-path PATH`: a package or workspace manifest on disk.
    Path(PathBuf),
    /// `--crate NAME[@VERSION]`: a package from crates.io.
    Registry(CrateSpec),
}

/// `NAME[@VERSION]` as `cargo install` accepts it.
#[derive(Debug, Clone, PartialEq, Eq)]
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

impl std::fmt::Display for CrateSpec {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match &self.version {
            Some(v) => write!(f, "{}@{}", self.name, v),
            None => write!(f, "{}", self.name),
        }
    }
}

/// `CARGO_HOME`, as Cargo finds it.
pub fn cargo_home() -> Result<PathBuf> {
    if let Some(h) = std::env::var_os("CARGO_HOME") {
        return Ok(PathBuf::from(h));
    }
    let home = std::env::var_os("HOME").context("neither CARGO_HOME nor HOME is set")?;
    Ok(PathBuf::from(home).join(".cargo"))
}

/// The `cargo` to run: `$CARGO` when Cargo started us as a subcommand, else `cargo` on PATH.
pub fn cargo_command() -> Command {
    Command::new(std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into()))
}

impl ProgramSource {
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
                        "--manifest-path {}: no such file; point it at a Cargo.toml (or its directory)",
                        p.display()
                    );
                }
                Ok(p.canonicalize()?)
            }
            ProgramSource::Registry(spec) => fetch_registry_crate(spec, cache, shell),
        }
    }
}

/// Download a crates.io package and return the path of its private source copy's manifest.
pub fn fetch_registry_crate(spec: &CrateSpec, cache: &Path, shell: &Shell) -> Result<PathBuf> {
    let scratch_root = cache.join("tmp");
    std::fs::create_dir_all(&scratch_root)
        .with_context(|| format!("creating {}", scratch_root.display()))?;
    let scratch = tempfile::Builder::new()
        .prefix("fetch-")
        .tempdir_in(&scratch_root)?;
    let req = spec
        .version
        .as_deref()
        .map_or_else(|| "*".to_string(), |v| format!("={v}"));
    let manifest = format!(
        "[package]\nname = \"cargo-share-fetch\"\nversion = \"0.0.0\"\nedition = \"2021\"\n\
         [lib]\npath = \"lib.rs\"\n[dependencies]\n{} = \"{req}\"\n",
        spec.name
    );
    std::fs::write(scratch.path().join("Cargo.toml"), manifest)?;
    std::fs::write(scratch.path().join("lib.rs"), "")?;
    shell.status("Resolving", format!("{spec} on crates.io"));
    run_quiet(
        cargo_command()
            .arg("generate-lockfile")
            .current_dir(scratch.path()),
        &format!("`{spec}` could not be resolved on crates.io (check the name and version; `cargo search {}` lists candidates)", spec.name),
    )?;
    let lock = std::fs::read_to_string(scratch.path().join("Cargo.lock"))?;
    let version = locked_version(&lock, &spec.name)
        .with_context(|| format!("`{spec}` is missing from the resolved lockfile"))?;
    shell.status("Downloading", format!("{} v{version}", spec.name));
    run_quiet(
        cargo_command()
            .args(["fetch", "--locked"])
            .current_dir(scratch.path()),
        &format!("downloading `{}` v{version} failed", spec.name),
    )?;
    let unpacked = find_unpacked(&cargo_home()?, &spec.name, &version)?;
    let dest = cache
        .join("sources")
        .join(format!("{}-{version}", spec.name));
    if !dest.join(".cargo-share-complete").is_file() {
        let staging = tempfile::Builder::new()
            .prefix("src-")
            .tempdir_in(&scratch_root)?;
        copy_tree(&unpacked, staging.path(), &[])?;
        std::fs::write(staging.path().join(".cargo-share-complete"), "")?;
        if dest.exists() {
            std::fs::remove_dir_all(&dest)?;
        }
        std::fs::create_dir_all(dest.parent().unwrap())?;
        let staged = staging.keep();
        std::fs::rename(&staged, &dest)
            .with_context(|| format!("moving sources into {}", dest.display()))?;
    }
    if !dest.join("Cargo.lock").is_file() {
        shell.warn(format!(
            "{} v{version} ships no Cargo.lock; its dependencies are resolved anew",
            spec.name
        ));
    }
    Ok(dest.join("Cargo.toml"))
}

fn run_quiet(cmd: &mut Command, what: &str) -> Result<()> {
    let out = cmd
        .output()
        .with_context(|| format!("running {:?}", cmd.get_program()))?;
    if !out.status.success() {
        let stderr = String::from_utf8_lossy(&out.stderr);
        bail!("{what}\n\ncargo said:\n{}", stderr.trim_end());
    }
    Ok(())
}

/// The version of `name` recorded in a Cargo.lock.
pub fn locked_version(lock: &str, name: &str) -> Option<String> {
    let doc: toml::Value = lock.parse().ok()?;
    doc.get("package")?
        .as_array()?
        .iter()
        .find(|p| p.get("name").and_then(|n| n.as_str()) == Some(name))
        .and_then(|p| p.get("version")?.as_str().map(String::from))
}

fn find_unpacked(cargo_home: &Path, name: &str, version: &str) -> Result<PathBuf> {
    let src = cargo_home.join("registry").join("src");
    let dir_name = format!("{name}-{version}");
    if let Ok(entries) = std::fs::read_dir(&src) {
        for index in entries.flatten() {
            let candidate = index.path().join(&dir_name);
            if candidate.join("Cargo.toml").is_file() {
                return Ok(candidate);
            }
        }
    }
    bail!(
        "cargo fetched {name} v{version} but its sources are not under {}",
        src.display()
    )
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

/// Copy a directory tree (regular files and directories; symlinks are copied as what they point
/// to), leaving out the top-level entries named in `skip`.
pub fn copy_tree(from: &Path, to: &Path, skip: &[&str]) -> Result<()> {
    std::fs::create_dir_all(to)?;
    for entry in std::fs::read_dir(from).with_context(|| format!("reading {}", from.display()))? {
        let entry = entry?;
        if skip.iter().any(|s| entry.file_name() == *s) {
            continue;
        }
        let target = to.join(entry.file_name());
        let meta = std::fs::metadata(entry.path())?;
        if meta.is_dir() {
            copy_tree(&entry.path(), &target, &[])?;
        } else {
            std::fs::copy(entry.path(), &target)
                .with_context(|| format!("copying {}", entry.path().display()))?;
        }
    }
    Ok(())
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

    #[test]
    fn locked_version_reads_cargo_lock() {
        let lock = "version = 3\n[[package]]\nname = \"a\"\nversion = \"1.2.3\"\n";
        assert_eq!(locked_version(lock, "a").as_deref(), Some("1.2.3"));
        assert_eq!(locked_version(lock, "b"), None);
    }
}
