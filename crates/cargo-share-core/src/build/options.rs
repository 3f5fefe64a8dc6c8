//! What a build is asked for: `BuildOptions` (programs, features, layout, unification, exports,
//! patches)
//! and the defaults of the cache directory.

use std::collections::BTreeMap;
use std::path::PathBuf;

use anyhow::{bail, Context, Result};
use serde::Serialize;

use crate::build::features::ProgramFeatures;
use crate::resolve::grouping::StoredGroup;
use crate::resolve::set::UnifyOptions;
use crate::source::ProgramSource;
use cargo_share_compile::profile::SharedProfile;

/// How shared crates are laid out in shared objects.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Default, clap::ValueEnum, Serialize, serde::Deserialize,
)]
#[serde(rename_all = "kebab-case")]
pub enum Layout {
    /// Each shared crate is its own dylib.
    PerCrate,
    /// Crates used by the same programs are packed into one dylib; crates used by one program
    /// stay static in it.
    #[default]
    Grouped,
}

/// What a group's run-time copy (grouped layout) and the relinked run-time libstd export.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Default, clap::ValueEnum, Serialize, serde::Deserialize,
)]
#[serde(rename_all = "kebab-case")]
pub enum GroupExports {
    /// Only the symbols the set's programs import, with unreferenced code dropped (smallest; a
    /// later program that imports more needs another copy of the group).
    #[default]
    Used,
    /// Every symbol of the full build (larger; any later program that can use the group's crate
    /// builds binds to the same file).
    All,
}

/// When the dynamic loader binds a shared build's calls into other objects.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Default, clap::ValueEnum, Serialize, serde::Deserialize,
)]
#[serde(rename_all = "kebab-case")]
pub enum Binding {
    /// Every import bound before `main` (`-z now`) and the GOT read-only after (full RELRO),
    /// as rustc and `cargo install` build: on x86-64 the functions of the program's own
    /// libraries are bound by position, one lookup per library, the rest by name.
    #[default]
    Now,
    /// Calls bound on their first use through the PLT (`-C relro-level=partial`: no `-z now`,
    /// the PLT's GOT stays writable), each looked up by name at its first call: fewer lookups
    /// than `now` only where binding by position does not apply (not x86-64). A hardening
    /// trade: partial instead of full RELRO for the program and its groups.
    Lazy,
}

impl std::fmt::Display for Binding {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Binding::Now => "now",
            Binding::Lazy => "lazy",
        })
    }
}

impl std::fmt::Display for Layout {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Layout::PerCrate => "per-crate",
            Layout::Grouped => "grouped",
        })
    }
}

/// Options shared by `build` and `test`.
#[derive(Debug, Clone, Default)]
pub struct BuildOptions {
    pub programs: Vec<ProgramSource>,
    pub layout: Layout,
    pub locked: bool,
    /// Where cargo-share keeps fetched sources and its Cargo target directory.
    pub cache_dir: Option<PathBuf>,
    pub shared_profile: SharedProfile,
    pub jobs: Option<u32>,
    /// Append one JSON line per target unit the wrapper handled (for tests and debugging).
    pub unit_log: Option<PathBuf>,
    /// The output directory is a staging area (for `install`): do not report what was
    /// assembled there.
    pub staging: bool,
    /// Resolve the programs together (`--unify`), or each with its own lockfile.
    pub unify: UnifyOptions,
    /// Refuse programs whose own tests failed under this resolution (`install`), unless
    /// `allow_test_failures`.
    pub check_tests: bool,
    pub allow_test_failures: bool,
    /// Grouped layout: groups with less Rust source than this merge into a larger one.
    pub group_min_size: u64,
    /// Show the plan (programs, groups) and stop before building.
    pub dry_run: bool,
    /// Crates replaced by local copies for this build (`bench`'s update cost). Cargo may then
    /// rewrite lockfiles; they are put back when the build ends.
    pub patches: Vec<CratePatch>,
    /// Grouped layout: groups already in the store (`install`), used as they are wherever the
    /// set's resolution lets the programs link exactly their crate builds.
    pub stored_groups: Vec<StoredGroup>,
    /// Trim each group's and libstd's exports to what the set imports, or keep them all.
    pub group_exports: GroupExports,
    /// `--features`, `--all-features`, `--no-default-features`. As given on the command line
    /// until `prepare` binds them to the build's programs (`PreparedBuild::options`).
    pub features: ProgramFeatures,
    /// `--plugin-for`: the build's one program is a plugin host (every crate it uses goes into
    /// a group it loads), and `plugins` are built for it.
    pub plugin_host: bool,
    /// The plugins' manifests or directories (`--plugin-for PROGRAM --manifest-path PLUGIN`).
    pub plugins: Vec<PathBuf>,
    /// When imports are bound (`--bind`): at start (full RELRO, the default) or on first call.
    pub binding: Binding,
    /// Installed programs built together with `programs` (`install`, grouped, unless
    /// `--no-regroup`): each keeps its recorded resolution or is left as it is.
    pub installed: Vec<InstalledMember>,
    /// An installed program the set would build from other crate versions stays in the set if
    /// its own tests pass under them, else it is left as it is (`install`); `false` leaves
    /// every such program as it is, untested (`--keep-installed-versions`).
    pub retest_installed: bool,
    /// Set by `prepare`: program name -> the resolution the set must keep for it.
    pub kept_resolutions: BTreeMap<String, String>,
}

impl BuildOptions {
    /// The cache directory: `--cache-dir`, else [`default_cache_dir`].
    pub(crate) fn cache(&self) -> Result<PathBuf> {
        match &self.cache_dir {
            Some(d) => Ok(d.clone()),
            None => default_cache_dir(),
        }
    }
}

/// An installed program that joins a build, as its record has it.
#[derive(Debug, Clone)]
pub struct InstalledMember {
    pub(crate) name: String,
    pub(crate) source: ProgramSource,
    /// The lock entries of what it was built from (`resolve::set::program_lock`).
    pub(crate) resolution: String,
    /// `--features` it was installed with.
    pub(crate) features: Vec<String>,
}

/// A crates.io crate replaced by a local copy of the same version (`[patch.crates-io]`). In a
/// record, `CRATE=DIR`; read back unchecked (the directory is checked where a build uses it).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct CratePatch {
    pub name: String,
    pub path: PathBuf,
}

impl TryFrom<String> for CratePatch {
    type Error = anyhow::Error;

    fn try_from(s: String) -> Result<Self> {
        let Some((name, dir)) = s.split_once('=') else {
            bail!("the recorded patch `{s}` is not CRATE=DIR");
        };
        Ok(CratePatch {
            name: name.to_string(),
            path: PathBuf::from(dir),
        })
    }
}

impl From<CratePatch> for String {
    fn from(patch: CratePatch) -> String {
        format!("{}={}", patch.name, patch.path.display())
    }
}

impl CratePatch {
    /// `CRATE=DIR` (`--patch`): DIR must hold a package named CRATE.
    pub fn parse(spec: &str) -> Result<CratePatch> {
        let Some((name, dir)) = spec.split_once('=') else {
            bail!("--patch {spec}: expected CRATE=DIR (a crate and the directory of its patched copy)");
        };
        let patch = CratePatch {
            name: name.to_string(),
            path: std::path::absolute(dir)
                .with_context(|| format!("--patch {spec}: resolving {dir}"))?,
        };
        patch.check()?;
        Ok(patch)
    }

    /// Refuse a directory that is not a package named like the crate it patches.
    pub(crate) fn check(&self) -> Result<()> {
        let manifest = self.path.join("Cargo.toml");
        let text = std::fs::read_to_string(&manifest).with_context(|| {
            format!(
                "{} is not a copy of the crate `{}`: it has no readable Cargo.toml ({}); give \
                 the directory of the crate's patched copy",
                self.path.display(),
                self.name,
                manifest.display()
            )
        })?;
        let value: toml::Value = toml::from_str(&text)
            .with_context(|| format!("{} is not a valid manifest", manifest.display()))?;
        let found = value
            .get("package")
            .and_then(|p| p.get("name"))
            .and_then(|n| n.as_str());
        if found != Some(self.name.as_str()) {
            bail!(
                "{} is not a copy of the crate `{}`: its package is {}; give the directory of \
                 a patched copy of `{}`",
                self.path.display(),
                self.name,
                found.map_or("not named".to_string(), |f| format!("`{f}`")),
                self.name
            );
        }
        Ok(())
    }

    /// The version of the patched copy.
    pub(crate) fn version(&self) -> Result<String> {
        let manifest = self.path.join("Cargo.toml");
        let text = std::fs::read_to_string(&manifest)
            .with_context(|| format!("reading {}", manifest.display()))?;
        let value: toml::Value = toml::from_str(&text)
            .with_context(|| format!("{} is not a valid manifest", manifest.display()))?;
        value
            .get("package")
            .and_then(|p| p.get("version"))
            .and_then(|n| n.as_str())
            .map(str::to_string)
            .with_context(|| format!("{} names no package version", manifest.display()))
    }
}

/// The default cache: `$CARGO_SHARE_CACHE`, else `$XDG_CACHE_HOME/cargo-share`, else
/// `~/.cache/cargo-share`.
pub fn default_cache_dir() -> Result<PathBuf> {
    if let Some(d) = std::env::var_os("CARGO_SHARE_CACHE") {
        return Ok(PathBuf::from(d));
    }
    let cache = crate::dirs::cache_home().context("pass --cache-dir")?;
    Ok(cache.join("cargo-share"))
}
