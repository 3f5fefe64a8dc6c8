//! `InstallRequest`: what one install command asked for (its programs, layout, resolution,
//! exports, binding, profile, features and patches), typed, recorded with every program it
//! installed (`program.json`'s `install_origin`), so that `update` builds them again the same
//! way with one crate changed. The build's options are made from it in one place
//! ([`InstallRequest::build_options`]).
//!
//! The request is what the user asked; where each built program came from exactly (the
//! version a `NAME` resolved to, the commit of a branch) is the program's own `origin`, the
//! same [`crate::source::ProgramSource`] pinned. Values are typed in memory; in the JSON
//! record the enums are their command-line names and pins, patches, profile settings and
//! features the strings the command line takes (`CRATE@VERSION`, `CRATE=DIR`, `KEY=VALUE`,
//! `PROGRAM/FEATURE`), which is also what records written before the types existed hold.

use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;

use anyhow::{Context, Result};
use serde::{Deserialize, Serialize};

use crate::build::{
    Binding, BuildOptions, BuiltProgram, CratePatch, GroupExports, Layout, ProgramFeatures,
};
use crate::resolve::set::{Unify, UnifyOptions};
use crate::source::{CrateSpec, ProgramSource};
use cargo_share_compile::profile::SharedProfile;

/// How the programs of one install command were asked to be built.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct InstallRequest {
    /// The programs the command named (a crates.io program at the version installed, a local
    /// program by its absolute path, a git program as given).
    pub(crate) programs: Vec<ProgramSource>,
    pub(crate) layout: Layout,
    pub(crate) unify: Unify,
    pub(crate) exports: GroupExports,
    /// `--bind`; absent (`now`) in records from before it was recorded.
    #[serde(default)]
    pub(crate) binding: Binding,
    pub(crate) own_lock: Vec<String>,
    /// Programs built in a set of their own with exactly their features (`--own-features`, or
    /// after failing with the set's).
    #[serde(default)]
    pub(crate) own_features: Vec<String>,
    pub(crate) pins: Vec<CrateSpec>,
    /// Every setting of the shared-crate profile.
    pub(crate) shared_profile: SharedProfile,
    /// The features each program was built with (`PROGRAM/FEATURE` in the record).
    pub(crate) features: RequestedFeatures,
    pub(crate) all_features: bool,
    pub(crate) no_default_features: bool,
    pub(crate) locked: bool,
    pub(crate) group_min_size: u64,
    /// Crates replaced by patched copies (`--patch`, or an earlier `update`).
    pub(crate) patches: Vec<CratePatch>,
    /// Its sets were named by their place (`UnifyOptions::stable_names`): an update builds it
    /// again so, and its groups keep their names. Absent (false) in records from before.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub(crate) sets_by_place: bool,
    /// `--bin`: the binaries installed of the programs named (empty: all).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub(crate) binaries: Vec<String>,
}

/// The features of each program of a request.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(from = "Vec<String>", into = "Vec<String>")]
pub(crate) struct RequestedFeatures(pub BTreeMap<String, BTreeSet<String>>);

impl From<Vec<String>> for RequestedFeatures {
    fn from(entries: Vec<String>) -> Self {
        let mut out = RequestedFeatures::default();
        for entry in entries {
            if let Some((program, feature)) = entry.split_once('/') {
                out.0
                    .entry(program.to_string())
                    .or_default()
                    .insert(feature.to_string());
            }
        }
        out
    }
}

impl From<RequestedFeatures> for Vec<String> {
    fn from(features: RequestedFeatures) -> Self {
        features
            .0
            .iter()
            .flat_map(|(p, fs)| fs.iter().map(move |f| format!("{p}/{f}")))
            .collect()
    }
}

/// `spec` at the version the install built of it.
fn pinned(spec: &CrateSpec, built: &[BuiltProgram]) -> CrateSpec {
    CrateSpec {
        name: spec.name.clone(),
        version: built
            .iter()
            .find(|b| b.name == spec.name)
            .map(|b| b.version.clone())
            .or_else(|| spec.version.clone()),
    }
}

impl InstallRequest {
    /// The request of an install with `options` that `built` these programs.
    pub(crate) fn of(options: &BuildOptions, built: &[BuiltProgram]) -> Result<InstallRequest> {
        let mut programs = Vec::new();
        for p in &options.programs {
            programs.push(match p {
                ProgramSource::Registry(spec) => ProgramSource::Registry(pinned(spec, built)),
                ProgramSource::OtherRegistry(spec, registry) => {
                    ProgramSource::OtherRegistry(pinned(spec, built), registry.clone())
                }
                ProgramSource::Path(path) => ProgramSource::Path(
                    std::path::absolute(path)
                        .with_context(|| format!("resolving {}", path.display()))?,
                ),
                ProgramSource::Git(spec) => ProgramSource::Git(spec.clone()),
            });
        }
        let mut features = RequestedFeatures::default();
        for b in built.iter().filter(|b| !b.features.features.is_empty()) {
            features
                .0
                .entry(b.name.clone())
                .or_default()
                .extend(b.features.features.iter().cloned());
        }
        Ok(InstallRequest {
            programs,
            layout: options.layout,
            unify: options.unify.policy,
            exports: options.group_exports,
            binding: options.binding,
            own_lock: options.unify.own_lock.clone(),
            own_features: options.unify.own_features.clone(),
            pins: options.unify.pins.clone(),
            shared_profile: options.shared_profile.clone(),
            features,
            all_features: options.features.all_features,
            no_default_features: options.features.no_default_features,
            locked: options.locked,
            group_min_size: options.group_min_size,
            patches: options.patches.clone(),
            sets_by_place: options.unify.stable_names,
            binaries: Vec::new(),
        })
    }

    /// The build options that build these programs again the same way (`cache_dir`: the
    /// store's build directory unless told otherwise). `keep` chooses which programs of the
    /// command are built (those still installed from it).
    pub(crate) fn build_options(
        &self,
        cache_dir: Option<PathBuf>,
        keep: &dyn Fn(&ProgramSource) -> bool,
    ) -> Result<BuildOptions> {
        for patch in &self.patches {
            patch.check()?;
        }
        let mut features = ProgramFeatures::default();
        features.all_features = self.all_features;
        features.no_default_features = self.no_default_features;
        for (program, chosen) in &self.features.0 {
            features.add_to_program(program, &chosen.iter().cloned().collect::<Vec<_>>());
        }
        Ok(BuildOptions {
            programs: self.programs.iter().filter(|p| keep(p)).cloned().collect(),
            layout: self.layout,
            locked: self.locked,
            cache_dir,
            shared_profile: self.shared_profile.clone(),
            group_min_size: self.group_min_size,
            group_exports: self.exports,
            binding: self.binding,
            unify: UnifyOptions {
                policy: self.unify,
                lock_file: None,
                pins: self.pins.clone(),
                own_lock: self.own_lock.clone(),
                own_features: self.own_features.clone(),
                newest_locked: false,
                hold_installed: false,
                stable_names: self.sets_by_place,
            },
            features,
            patches: self.patches.clone(),
            check_tests: true,
            ..Default::default()
        })
    }

    /// The same request with `pin` replacing any earlier pin of its crate.
    pub(crate) fn with_pin(mut self, pin: &CrateSpec) -> InstallRequest {
        self.pins.retain(|p| p.name != pin.name);
        self.pins.push(pin.clone());
        self
    }

    /// The same request with `patch` replacing any earlier patch of its crate.
    pub(crate) fn with_patch(mut self, patch: &CratePatch) -> InstallRequest {
        self.patches.retain(|p| p.name != patch.name);
        self.patches.push(patch.clone());
        self
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A record as cargo-share wrote it before the request was typed: read as it is, and
    /// written back the same.
    const RECORD: &str = r#"{
        "programs": [
            {"kind": "crates-io", "spec": "sd@1.0.0"},
            {"kind": "path", "path": "/opt/src/tool"},
            {"kind": "git", "spec": {"url": "https://example.com/x.git", "reference": {"branch": "main"}, "package": null}}
        ],
        "layout": "grouped", "unify": "features", "exports": "all",
        "own_lock": [], "own_features": ["sd"], "pins": ["regex@1.10.2"],
        "shared_profile": ["opt-level=3", "strip=\"symbols\""],
        "features": ["sd/extra", "tool/fast"],
        "all_features": false, "no_default_features": true, "locked": true,
        "group_min_size": 4096, "patches": ["regex=/opt/src/regex"], "sets_by_place": true
    }"#;

    #[test]
    fn a_record_of_strings_reads_into_types_and_back() {
        let request: InstallRequest = serde_json::from_str(RECORD).unwrap();
        assert_eq!(request.layout, Layout::Grouped);
        assert_eq!(request.unify, Unify::Features);
        assert_eq!(request.binding, Binding::Now);
        assert_eq!(request.pins[0].version.as_deref(), Some("1.10.2"));
        assert_eq!(request.patches[0].path, PathBuf::from("/opt/src/regex"));
        assert_eq!(request.shared_profile.settings[1].value, "\"symbols\"");
        assert_eq!(
            request.programs[0],
            ProgramSource::Registry("sd@1.0.0".parse().unwrap())
        );
        assert!(request.features.0["tool"].contains("fast"));
        let again: InstallRequest =
            serde_json::from_str(&serde_json::to_string(&request).unwrap()).unwrap();
        assert_eq!(again, request);
        let written: serde_json::Value = serde_json::to_value(&request).unwrap();
        let read: serde_json::Value = serde_json::from_str(RECORD).unwrap();
        for key in [
            "programs",
            "pins",
            "patches",
            "shared_profile",
            "features",
            "layout",
        ] {
            assert_eq!(written[key], read[key], "{key}");
        }
    }

    #[test]
    fn pins_and_patches_replace_those_of_their_crate() {
        let request: InstallRequest = serde_json::from_str(RECORD).unwrap();
        let request = request.with_pin(&"regex@1.11.0".parse().unwrap());
        assert_eq!(request.pins.len(), 1);
        assert_eq!(request.pins[0].version.as_deref(), Some("1.11.0"));
        let request = request.with_patch(&CratePatch {
            name: "regex".into(),
            path: "/elsewhere".into(),
        });
        assert_eq!(request.patches.len(), 1);
        assert_eq!(request.patches[0].path, PathBuf::from("/elsewhere"));
    }
}
