//! `InstallOrigin`: how an installed program was built (the install command's programs, layout,
//! resolution, exports, profile, features and patches), recorded in its `program.json` so that
//! `cargo share update` can build it again the same way with one crate changed.

use std::path::PathBuf;

use anyhow::{Context, Result};
use clap::ValueEnum;
use serde::{Deserialize, Serialize};

use crate::build::{BuildOptions, BuiltProgram, CratePatch, ProgramFeatures};
use crate::compile::profile::SharedProfile;
use crate::resolve::set::UnifyOptions;
use crate::source::{CrateSpec, GitSpec, ProgramSource};

/// One program of the install command.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq, PartialOrd, Ord)]
#[serde(rename_all = "kebab-case", tag = "kind")]
pub enum OriginSource {
    /// From crates.io, at the version installed (`NAME@VERSION`).
    CratesIo { spec: String },
    /// A local program: its manifest or directory, absolute.
    Path { path: PathBuf },
    /// A git repository (`--git`), at the reference given.
    Git { spec: GitSpec },
}

/// How the programs of one install command were built.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct InstallOrigin {
    pub programs: Vec<OriginSource>,
    pub layout: String,
    pub unify: String,
    pub exports: String,
    pub own_lock: Vec<String>,
    /// Programs built in a set of their own with exactly their features (`--own-features`, or
    /// after failing with the set's).
    #[serde(default)]
    pub own_features: Vec<String>,
    pub pins: Vec<String>,
    /// Every setting of the shared-crate profile, `KEY=VALUE`.
    pub shared_profile: Vec<String>,
    /// `PROGRAM/FEATURE`, and the two switches every program got.
    pub features: Vec<String>,
    pub all_features: bool,
    pub no_default_features: bool,
    pub locked: bool,
    pub group_min_size: u64,
    /// Crates replaced by patched copies (`--patch`, or an earlier `update`): `CRATE=DIR`.
    pub patches: Vec<String>,
    /// Its sets were named by their place (`UnifyOptions::stable_names`): an update builds it
    /// again so, and its groups keep their names. Absent (false) in records from before.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub sets_by_place: bool,
}

fn value_name<T: ValueEnum>(v: &T) -> String {
    v.to_possible_value()
        .map(|p| p.get_name().to_string())
        .unwrap_or_default()
}

fn parse_value<T: ValueEnum>(s: &str, what: &str) -> Result<T> {
    T::from_str(s, true)
        .map_err(|e| anyhow::anyhow!("the recorded {what} `{s}` is not known here: {e}"))
}

impl InstallOrigin {
    /// The origin of the programs `built` by an install with `options`.
    pub fn of(options: &BuildOptions, built: &[BuiltProgram]) -> Result<InstallOrigin> {
        let mut programs = Vec::new();
        for p in &options.programs {
            programs.push(match p {
                ProgramSource::Registry(spec) => {
                    let version = built
                        .iter()
                        .find(|b| b.name == spec.name)
                        .map(|b| b.version.clone())
                        .or_else(|| spec.version.clone());
                    OriginSource::CratesIo {
                        spec: CrateSpec {
                            name: spec.name.clone(),
                            version,
                        }
                        .to_string(),
                    }
                }
                ProgramSource::Path(path) => OriginSource::Path {
                    path: std::path::absolute(path)
                        .with_context(|| format!("resolving {}", path.display()))?,
                },
                ProgramSource::Git(spec) => OriginSource::Git { spec: spec.clone() },
            });
        }
        let mut features = Vec::new();
        for b in built {
            features.extend(
                b.features
                    .features
                    .iter()
                    .map(|f| format!("{}/{f}", b.name)),
            );
        }
        Ok(InstallOrigin {
            programs,
            layout: value_name(&options.layout),
            unify: value_name(&options.unify.policy),
            exports: value_name(&options.group_exports),
            own_lock: options.unify.own_lock.clone(),
            own_features: options.unify.own_features.clone(),
            pins: options.unify.pins.iter().map(|p| p.to_string()).collect(),
            shared_profile: options
                .shared_profile
                .settings
                .iter()
                .map(|s| format!("{}={}", s.key, s.value))
                .collect(),
            features,
            all_features: options.features.all_features,
            no_default_features: options.features.no_default_features,
            locked: options.locked,
            group_min_size: options.group_min_size,
            patches: options
                .patches
                .iter()
                .map(|p| format!("{}={}", p.name, p.path.display()))
                .collect(),
            sets_by_place: options.unify.stable_names,
        })
    }

    /// The build options that build these programs again the same way (`cache_dir`: the
    /// store's build directory unless told otherwise). `keep` chooses which programs of the
    /// command are built (those still installed from it).
    pub fn build_options(
        &self,
        cache_dir: Option<PathBuf>,
        keep: &dyn Fn(&OriginSource) -> bool,
    ) -> Result<BuildOptions> {
        let programs = self
            .programs
            .iter()
            .filter(|p| keep(p))
            .map(|p| -> Result<ProgramSource> {
                Ok(match p {
                    OriginSource::CratesIo { spec } => ProgramSource::Registry(spec.parse()?),
                    OriginSource::Path { path } => ProgramSource::Path(path.clone()),
                    OriginSource::Git { spec } => ProgramSource::Git(spec.clone()),
                })
            })
            .collect::<Result<Vec<_>>>()?;
        let features = if self.features.is_empty() {
            Vec::new()
        } else {
            vec![self.features.join(",")]
        };
        Ok(BuildOptions {
            programs,
            layout: parse_value(&self.layout, "layout")?,
            locked: self.locked,
            cache_dir,
            shared_profile: SharedProfile::default().with_overrides(&self.shared_profile)?,
            group_min_size: self.group_min_size,
            group_exports: parse_value(&self.exports, "exports")?,
            unify: UnifyOptions {
                policy: parse_value(&self.unify, "unify policy")?,
                lock_file: None,
                pins: self.pins.iter().map(|p| p.parse()).collect::<Result<_>>()?,
                own_lock: self.own_lock.clone(),
                own_features: self.own_features.clone(),
                newest_locked: false,
                stable_names: self.sets_by_place,
            },
            features: ProgramFeatures::parse(
                &features,
                self.all_features,
                self.no_default_features,
            )?,
            patches: self
                .patches
                .iter()
                .map(|p| CratePatch::parse(p))
                .collect::<Result<_>>()?,
            check_tests: true,
            ..Default::default()
        })
    }

    /// The same origin with `pin` (`CRATE@VERSION`) replacing any earlier pin of its crate.
    pub fn with_pin(mut self, pin: &CrateSpec) -> InstallOrigin {
        self.pins
            .retain(|p| p.split('@').next() != Some(pin.name.as_str()));
        self.pins.push(pin.to_string());
        self
    }

    /// The same origin with `patch` replacing any earlier patch of its crate.
    pub fn with_patch(mut self, patch: &CratePatch) -> InstallOrigin {
        self.patches
            .retain(|p| p.split_once('=').map(|(n, _)| n) != Some(patch.name.as_str()));
        self.patches
            .push(format!("{}={}", patch.name, patch.path.display()));
        self
    }
}
