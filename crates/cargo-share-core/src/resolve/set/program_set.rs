//! The policy (`Unify`), its options, and a generated `ProgramSet` with its members.

use std::collections::BTreeSet;
use std::path::PathBuf;

use anyhow::{bail, Result};
use cargo_metadata::semver::Version;
use serde::Serialize;

use crate::source::CrateSpec;

/// How the programs of one build are resolved.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Default, clap::ValueEnum, Serialize, serde::Deserialize,
)]
#[serde(rename_all = "kebab-case")]
pub enum Unify {
    /// Each program with its own `Cargo.lock`, exactly.
    #[default]
    None,
    /// One version per semver-compatible range across the set; features per program.
    Semver,
    /// As `semver`, and each crate version built once with the union of its consumers' features.
    Features,
}

impl std::fmt::Display for Unify {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Unify::None => "none",
            Unify::Semver => "semver",
            Unify::Features => "features",
        })
    }
}

/// The unification choices of one build.
#[derive(Debug, Clone, Default)]
pub struct UnifyOptions {
    pub policy: Unify,
    /// Save the resolution here, or reuse it exactly if the file exists.
    pub lock_file: Option<PathBuf>,
    /// `CRATE@VERSION`: force that version in the set's resolution.
    pub pins: Vec<CrateSpec>,
    /// Programs kept out of the set: built with their own lockfile.
    pub own_lock: Vec<String>,
    /// Programs resolved after the others, each in a set of its own, with exactly the features
    /// it asks for: it loads only the earlier groups built with the same features (grouped
    /// layout; otherwise it is built with its own lockfile). A program that fails to build with
    /// the features its set unifies is retried so (`build::own_features`).
    pub own_features: Vec<String>,
    /// With installed programs in the set (`SetMember::keep_resolution`): the seed takes the
    /// newest version any of them, any stored group or any newcomer locked in each range, as
    /// installing them together does, instead of the installed versions winning (a newcomer
    /// then builds from at least the versions it was released with; an installed program moved
    /// by it is retested, `build::retest`).
    pub newest_locked: bool,
    /// With installed programs in the set: their crate versions are required exactly while
    /// Cargo resolves, except those the new programs' requirements rule out (`set::hold`), so a
    /// crate only a newcomer uses is resolved to a release that fits them. An install's first
    /// try (`build::adapt`).
    pub hold_installed: bool,
    /// Name the sets of the build by their place (`set1`, `set2`, …) instead of by their
    /// programs: an install's, in the store's own build directory, where no stored group is
    /// offered (a regrouping install, or the first). Each install then builds in the same
    /// directories, so Cargo's fingerprints of the programs' own crates and of the facades hold,
    /// and a group keeps its name while the partition does (its programs are not relinked for a
    /// new name). Trial sets (a split's, a program alone) keep names by their programs.
    pub stable_names: bool,
}

impl UnifyOptions {
    /// Reject combinations that mean nothing, before anything is built.
    pub(crate) fn validate(&self) -> Result<()> {
        if self.policy == Unify::None {
            if let Some(flag) = [
                self.lock_file.as_ref().map(|_| "--lock"),
                self.pins.first().map(|_| "--pin"),
                self.own_lock.first().map(|_| "--own-lock"),
                self.own_features.first().map(|_| "--own-features"),
            ]
            .into_iter()
            .flatten()
            .next()
            {
                bail!("{flag} only applies to a unified program set: add --unify semver or --unify features");
            }
        }
        for pin in &self.pins {
            let Some(v) = &pin.version else {
                bail!(
                    "--pin {pin}: give the exact version, for example --pin {}@1.2.3",
                    pin.name
                );
            };
            if Version::parse(v).is_err() {
                bail!("--pin {pin}: `{v}` is not an exact version (expected MAJOR.MINOR.PATCH)");
            }
        }
        Ok(())
    }
}

/// One program that joins the set.
#[derive(Debug, Clone)]
pub(crate) struct SetMember {
    pub(crate) name: String,
    pub(crate) version: String,
    /// The package directory (where its Cargo.toml is).
    pub(crate) package_dir: PathBuf,
    /// The program's own `Cargo.lock`, if it has one: part of the seed.
    pub(crate) lock: Option<String>,
    /// A plugin (`--plugin-for`): the program it is built for. Plugins are resolved with the
    /// set but are not part of its identity (the set's directory, so its group names, stay
    /// those of its programs) and consume nothing of their own (see `grouping::plugins_consumer`).
    pub(crate) plugin_for: Option<String>,
    /// An installed program whose recorded resolution (`lock`) the set keeps: its versions win
    /// the seed, as stored groups' do (unless `UnifyOptions::newest_locked`), and the set checks
    /// whether it still builds it exactly.
    pub(crate) keep_resolution: bool,
    /// How many packages its own `Cargo.lock` holds (0 without one). Which program leaves a set
    /// Cargo cannot resolve depends on this, never on a recorded resolution, so programs
    /// installed one at a time split as they do installed together (`build::set_split`).
    pub(crate) own_lock_packages: usize,
    /// An installed program's own `Cargo.lock` (its `lock` is then its recorded resolution):
    /// candidates in the seed like a newcomer's lock, so the crates the recorded resolution
    /// does not hold (its dev-dependencies, which the tests that prove it need) get the
    /// versions installing the programs together gives them, not whatever version another
    /// program locked.
    pub(crate) released_lock: Option<String>,
    /// The crates its own `Cargo.lock` (and `released_lock`) holds only for its tests (reached
    /// through a dev-dependency alone, `build::test_only`): they fill the seed's gaps but never
    /// move a crate another program is built from (`resolve::set::lockfile::SeedLock`).
    pub(crate) test_only: BTreeSet<String>,
}

/// The number of packages in a `Cargo.lock` text.
pub(crate) fn lock_packages(lock: Option<&str>) -> usize {
    lock.map_or(0, |l| l.matches("[[package]]").count())
}

/// A generated workspace holding the programs of a set.
#[derive(Debug, Clone)]
pub(crate) struct ProgramSet {
    pub(crate) root: PathBuf,
    pub(crate) manifest_path: PathBuf,
    /// SHA-256 of the resolved `Cargo.lock`.
    pub(crate) lock_sha256: String,
    pub(crate) policy: Unify,
    /// The programs of the set, as given to [`generate`](fn@crate::resolve::set::generate).
    pub(crate) members: Vec<SetMember>,
}

impl ProgramSet {
    /// What test results are recorded against: the policy (it decides the features each crate
    /// is built with) and the exact resolution.
    pub(crate) fn resolution_key(&self) -> String {
        format!("{}:{}", self.policy, self.lock_sha256)
    }
}
