//! The contract between the build driver and the rustc wrapper.
//!
//! The driver decides *which* packages become shared dylibs (it sees every program of the build
//! through `cargo metadata`); the wrapper, started by Cargo once per compiler invocation, only sees
//! one unit at a time. The driver writes a [`WrapperPlan`] to a JSON file and points the wrapper at
//! it with the `CARGO_SHARE_PLAN` environment variable.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use serde::{Deserialize, Serialize};

/// Environment variable naming the plan file; its presence puts the binary in wrapper mode.
pub const PLAN_ENV: &str = "CARGO_SHARE_PLAN";

/// The crate-name form of the generated group facades' package prefix (`cargo-share-group-`,
/// `resolve::grouping::GROUP_PACKAGE_PREFIX` in the driver): what the wrapper recognises in
/// `--extern`.
pub const GROUP_CRATE_PREFIX: &str = "cargo_share_group_";

/// Whether `value` (an `--extern` value, with or without modifiers) names a group facade.
pub(crate) fn is_group_extern(value: &str) -> bool {
    let name = value.split_once('=').map_or(value, |(name, _)| name);
    name.rsplit(':')
        .next()
        .unwrap_or(name)
        .starts_with(GROUP_CRATE_PREFIX)
}

/// Everything the rustc wrapper needs to know about the build it is part of.
#[derive(Debug, Clone, Serialize, Deserialize, Default)]
pub struct WrapperPlan {
    /// Canonical package directories (`CARGO_MANIFEST_DIR`) of the library crates that are built
    /// as shared dylibs.
    pub shared_packages: BTreeSet<PathBuf>,
    /// Cargo's target directory for this build; remapped so outputs do not depend on it.
    pub target_dir: PathBuf,
    /// `CARGO_HOME`; remapped so registry sources do not embed the user's home.
    pub cargo_home: PathBuf,
    /// This executable, used as the linker wrapper for crates that bundle static C libraries.
    pub self_exe: PathBuf,
    /// When set, the wrapper appends one JSON line per target unit it handled to this file.
    pub unit_log: Option<PathBuf>,
    /// The grouped layout: the shared packages are the group facades, every other library an
    /// rlib. The wrapper then writes a unit record for every target library (a group's identity
    /// covers the static crates it contains) and leaves `--extern` paths as Cargo gave them.
    #[serde(default)]
    pub grouped: bool,
    /// Programs from crates.io: their own crates are compiled with `--cap-lints allow`, as
    /// `cargo install` compiles registry packages (their warnings are nothing a user can act on).
    #[serde(default)]
    pub quiet_packages: BTreeSet<String>,
    /// Canonical package directories of the plugins of this build (`--plugin-for`): their
    /// `dylib`/`cdylib` is linked against the program's shared objects, never static std.
    #[serde(default)]
    pub plugin_packages: BTreeSet<PathBuf>,
    /// `--bind lazy`: every target unit is compiled with `-C relro-level=partial` (calls into
    /// other objects through the PLT, bound on first call; no `-z now`).
    #[serde(default)]
    pub lazy_binding: bool,
    /// Program packages whose workspace's release profile says `panic = "abort"`: their
    /// executables get the aborting panic runtime (`compile::panic_abort`).
    #[serde(default)]
    pub abort_on_panic: BTreeSet<String>,
    /// The toolchain's `libpanic_abort-<hash>.rlib`, which those executables link.
    #[serde(default)]
    pub panic_abort_rlib: Option<PathBuf>,
    /// Canonical directory of each patched copy (`--patch`) -> the directory of the crates.io
    /// package it replaces: the copy's sources are named by the original's paths in what rustc
    /// writes (`build::patch_paths`).
    #[serde(default)]
    pub patched_sources: BTreeMap<PathBuf, PathBuf>,
}

impl WrapperPlan {
    pub(crate) fn load(path: &Path) -> Result<Self> {
        let text = std::fs::read_to_string(path)
            .with_context(|| format!("reading the cargo-share plan {}", path.display()))?;
        serde_json::from_str(&text)
            .with_context(|| format!("parsing the cargo-share plan {}", path.display()))
    }

    pub fn save(&self, path: &Path) -> Result<()> {
        let text = serde_json::to_string_pretty(self)?;
        std::fs::write(path, text)
            .with_context(|| format!("writing the cargo-share plan {}", path.display()))
    }

    /// What the binding adds to every target unit (`--bind lazy`): partial RELRO, with which
    /// rustc calls other objects through the PLT and links without `-z now`, so the loader binds
    /// a call when it is first made. The wrapper adds it, and it is part of every unit's record,
    /// hence of its store identity.
    pub(crate) fn binding_args(&self) -> Vec<String> {
        if self.lazy_binding {
            vec!["-Crelro-level=partial".into()]
        } else {
            Vec::new()
        }
    }

    /// Whether the package whose sources live in `manifest_dir` is built as a shared dylib.
    pub(crate) fn is_shared(&self, manifest_dir: &Path) -> bool {
        let dir = manifest_dir
            .canonicalize()
            .unwrap_or_else(|_| manifest_dir.to_path_buf());
        self.shared_packages.contains(&dir)
    }

    /// Whether the package whose sources live in `manifest_dir` is a plugin of this build.
    pub(crate) fn is_plugin(&self, manifest_dir: &Path) -> bool {
        let dir = manifest_dir
            .canonicalize()
            .unwrap_or_else(|_| manifest_dir.to_path_buf());
        self.plugin_packages.contains(&dir)
    }
}
