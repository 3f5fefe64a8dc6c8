//! The one profile all shared crates are built with, and the program profile settings that
//! cannot be honoured with dynamic linking.
//!
//! Real programs' release profiles differ (`lto`, `panic`, `codegen-units`, `opt-level`, `debug`),
//! and Cargo hashes the profile into every unit's file name and symbols, so two programs with
//! different profiles would share nothing. Shared crates (all non-workspace packages, which is
//! what Cargo's `profile.release.package."*"` override covers) get one store-wide profile passed
//! as `--config`, which takes precedence over the programs' manifests. A program's own crates keep
//! its profile, except two settings that cannot link against shared libraries:
//!
//! * `lto`: link-time optimisation needs every crate as bitcode in one link; with
//!   `-C prefer-dynamic` rustc refuses it. Overridden to `false`, with a warning.
//! * `panic = "abort"`: the toolchain's `libstd.so` is built with unwinding and a crate compiled
//!   for abort cannot link against it. Overridden to `unwind`, with a warning; the executable
//!   then links the aborting panic runtime, so a panic aborts after its hook as it does static
//!   (`compile::panic_abort`).

use std::path::Path;

use anyhow::{bail, Result};

/// One setting of the shared-crate profile (`profile.release.package."*".KEY = VALUE`); in a
/// record, `KEY=VALUE`.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct ProfileSetting {
    pub(crate) key: String,
    /// The value as TOML (`3`, `false`, `"s"`).
    pub value: String,
}

/// Keys Cargo accepts in a package profile override.
const OVERRIDE_KEYS: &[&str] = &[
    "opt-level",
    "debug",
    "debug-assertions",
    "overflow-checks",
    "codegen-units",
    "incremental",
    "strip",
    "split-debuginfo",
];

impl TryFrom<String> for ProfileSetting {
    type Error = anyhow::Error;

    fn try_from(s: String) -> Result<Self> {
        let Some((key, value)) = s.split_once('=') else {
            bail!("the recorded profile setting `{s}` is not KEY=VALUE");
        };
        Ok(ProfileSetting {
            key: key.to_string(),
            value: value.to_string(),
        })
    }
}

impl From<ProfileSetting> for String {
    fn from(setting: ProfileSetting) -> String {
        format!("{}={}", setting.key, setting.value)
    }
}

/// The store-wide profile for shared crates (in a record, its settings).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(transparent)]
pub struct SharedProfile {
    pub settings: Vec<ProfileSetting>,
}

impl Default for SharedProfile {
    fn default() -> Self {
        let s = |k: &str, v: &str| ProfileSetting {
            key: k.into(),
            value: v.into(),
        };
        SharedProfile {
            settings: vec![
                s("opt-level", "3"),
                s("debug", "false"),
                s("debug-assertions", "false"),
                s("overflow-checks", "false"),
                // One unit per crate: a `const` with pointers is emitted once per codegen unit
                // using it, and every copy is relocated at each start of every program loading
                // the group (regex-syntax's case-folding table twice with 16); measured on the
                // ten reference programs (docs/src/results.md, 2026-12-06): 1.67x -> 1.60x the
                // static instructions per start, 18% fewer library bytes, no more compile CPU.
                s("codegen-units", "1"),
                s("incremental", "false"),
            ],
        }
    }
}

impl SharedProfile {
    /// Apply `KEY=VALUE` overrides from `--shared-profile`.
    pub fn with_overrides(mut self, overrides: &[String]) -> Result<Self> {
        for o in overrides {
            let Some((key, value)) = o.split_once('=') else {
                bail!("--shared-profile `{o}`: expected KEY=VALUE, for example opt-level=2");
            };
            let key = key.trim();
            if !OVERRIDE_KEYS.contains(&key) {
                bail!(
                    "--shared-profile `{o}`: `{key}` cannot be set per package; one of: {}",
                    OVERRIDE_KEYS.join(", ")
                );
            }
            let value = value.trim();
            let parsed: Result<toml::Value, _> = format!("v = {value}")
                .parse::<toml::Table>()
                .map(|t| t["v"].clone());
            let value = match parsed {
                Ok(_) => value.to_string(),
                Err(_) => format!("\"{}\"", value.replace('"', "")),
            };
            match self.settings.iter_mut().find(|s| s.key == key) {
                Some(s) => s.value = value,
                None => self.settings.push(ProfileSetting {
                    key: key.into(),
                    value,
                }),
            }
        }
        Ok(self)
    }

    /// `--config` arguments for `cargo build --release`.
    pub fn cargo_config_args(&self) -> Vec<String> {
        let mut args = vec![
            "--config".to_string(),
            "profile.release.lto=false".to_string(),
            "--config".to_string(),
            "profile.release.panic=\"unwind\"".to_string(),
        ];
        for s in &self.settings {
            args.push("--config".into());
            args.push(format!(
                "profile.release.package.\"*\".{}={}",
                s.key, s.value
            ));
        }
        args
    }
}

/// A program profile setting that cargo-share overrides, and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProfileOverride {
    pub setting: String,
    pub reason: &'static str,
}

/// `[profile.release]` of a workspace root manifest, if it has one.
fn release_profile(workspace_manifest: &Path) -> Option<toml::Table> {
    let text = std::fs::read_to_string(workspace_manifest).ok()?;
    let mut doc = text.parse::<toml::Table>().ok()?;
    match doc.remove("profile")?.as_table_mut()?.remove("release")? {
        toml::Value::Table(release) => Some(release),
        _ => None,
    }
}

/// Whether a workspace's release profile asks for `panic = "abort"`: its programs then get the
/// aborting panic runtime at their link (`compile::panic_abort`).
pub fn aborts_on_panic(workspace_manifest: &Path) -> bool {
    release_profile(workspace_manifest)
        .is_some_and(|r| r.get("panic").and_then(|p| p.as_str()) == Some("abort"))
}

/// Read `[profile.release]` of a workspace root manifest and list what will be overridden.
pub fn overridden_settings(workspace_manifest: &Path) -> Vec<ProfileOverride> {
    let Some(release) = release_profile(workspace_manifest) else {
        return Vec::new();
    };
    let mut out = Vec::new();
    match release.get("lto") {
        None => {}
        Some(toml::Value::Boolean(false)) => {}
        Some(toml::Value::String(s)) if s == "off" => {}
        Some(v) => out.push(ProfileOverride {
            setting: format!("profile.release.lto = {v}"),
            reason: "link-time optimisation cannot cross shared libraries; built with lto = false",
        }),
    }
    if let Some(toml::Value::String(s)) = release.get("panic") {
        if s == "abort" {
            out.push(ProfileOverride {
                setting: "profile.release.panic = \"abort\"".into(),
                reason: "the shared libstd is built to unwind; compiled with panic = \"unwind\", \
                         and a panic still aborts the process after the panic hook, as with \
                         \"abort\"",
            });
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn overrides_are_validated() {
        let p = SharedProfile::default()
            .with_overrides(&["opt-level=s".into(), "codegen-units=4".into()])
            .unwrap();
        let args = p.cargo_config_args().join(" ");
        assert!(
            args.contains("profile.release.package.\"*\".opt-level=\"s\""),
            "{args}"
        );
        assert!(
            args.contains("profile.release.package.\"*\".codegen-units=4"),
            "{args}"
        );
        assert!(SharedProfile::default()
            .with_overrides(&["lto=true".into()])
            .is_err());
        assert!(SharedProfile::default()
            .with_overrides(&["opt-level".into()])
            .is_err());
    }

    #[test]
    fn lto_and_abort_are_reported() {
        let dir = tempfile::tempdir().unwrap();
        let m = dir.path().join("Cargo.toml");
        std::fs::write(&m, "[profile.release]\nlto = \"fat\"\npanic = \"abort\"\n").unwrap();
        let o = overridden_settings(&m);
        assert_eq!(o.len(), 2);
        assert!(aborts_on_panic(&m));
        std::fs::write(&m, "[profile.release]\nlto = false\n").unwrap();
        assert!(overridden_settings(&m).is_empty());
        assert!(!aborts_on_panic(&m));
    }
}
