//! The generated member that holds the installed programs' crate versions while a newcomer is
//! adapted to them (`UnifyOptions::hold_installed`, an install's first try: `build::adapt`).
//!
//! Seeding the lock with the installed versions is a preference, not a requirement: when a
//! newcomer's locked version of a crate no installed program uses needs a newer release of one
//! they do (du-dust 1.2.7 locks `clap_mangen` 0.3.3, which needs `clap` 4.6.6 or later), Cargo
//! keeps the newcomer's version and moves the installed crate, and every installed program built
//! from it is compiled and tested again. Held, Cargo picks a release of the newcomer's crate that
//! fits the installed versions instead (`clap_mangen` 0.3.1 with `clap` 4.6.1), as it does for
//! any crate a lock does not fix. Only what the newcomers' own requirements rule out is let go:
//! each crate Cargo then fails to select a version for is released from the hold and the set
//! resolved again (`lockfile::resolve`); should Cargo still fail, the hold goes entirely and the
//! set resolves as without it.
//!
//! The requirements are `=VERSION` with default features off, under a target no platform
//! matches (`cfg(any())`): Cargo's resolver honours every target's requirements (a lockfile is
//! for all platforms), while the build graph (`cargo metadata --filter-platform`) and the
//! features of every package stay as they were.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

use anyhow::Result;

use crate::resolve::set::workspace::write_if_changed;
use cargo_share_compile::semver_range::compatible_range;

/// The package name (and directory) of the generated member.
pub(crate) const HOLD_PACKAGE: &str = "cargo-share-hold";

/// The crates.io package versions held: (name, version).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct Holds {
    held: BTreeSet<(String, String)>,
}

impl Holds {
    /// Every crates.io package version among `locked`, the (name, version, source) entries of
    /// the installed members' recorded resolutions, one list per member. Cargo selects one
    /// version per semver-compatible range, so where members lock several versions of one range
    /// only one can be held: the one most members lock. Those are the members in step with the
    /// others; the rest are programs an earlier install left on their old build (a program
    /// without tests is never moved) or programs of another set, and holding theirs, or holding
    /// none, let Cargo move every program in step to the odd one's version. A tie holds none.
    pub(crate) fn of_locked(locked: Vec<Vec<(String, String, Option<String>)>>) -> Holds {
        let mut members_locking: BTreeMap<(String, String), usize> = BTreeMap::new();
        for member in locked {
            let versions: BTreeSet<(String, String)> = member
                .into_iter()
                .filter(|(_, _, source)| source.as_deref().is_some_and(is_crates_io))
                .map(|(name, version, _)| (name, version))
                .collect();
            for version in versions {
                *members_locking.entry(version).or_default() += 1;
            }
        }
        let mut ranges: BTreeMap<(&str, String), Vec<(usize, &String)>> = BTreeMap::new();
        for ((name, version), count) in &members_locking {
            ranges
                .entry((name, compatible_range(version)))
                .or_default()
                .push((*count, version));
        }
        let held = ranges
            .into_iter()
            .filter_map(|((name, _), mut versions)| {
                versions.sort_by_key(|v| std::cmp::Reverse(v.0));
                match versions.as_slice() {
                    [(most, version), rest @ ..] if rest.first().is_none_or(|r| r.0 < *most) => {
                        Some((name.to_string(), version.to_string()))
                    }
                    _ => None,
                }
            })
            .collect();
        Holds { held }
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.held.is_empty()
    }

    /// Whether a version of `name` is held.
    pub(crate) fn holds(&self, name: &str) -> bool {
        self.held.iter().any(|(n, _)| n == name)
    }

    /// Let go of every held version of `name`; whether one was held.
    pub(crate) fn release(&mut self, name: &str) -> bool {
        let before = self.held.len();
        self.held.retain(|(n, _)| n != name);
        self.held.len() != before
    }

    /// Let go of every held version that another version of its compatible range rules out:
    /// `pinned` are `(name, version)` pairs the workspace requires exactly (the crates of the
    /// stored groups it builds against, `reuse_member`). Cargo selects one version per range, so
    /// such a hold can never resolve; released here, it costs no `cargo metadata` run that fails
    /// (with a later set against eighty crates of an earlier one's groups, one run each). The
    /// names released.
    pub(crate) fn release_ruled_out(
        &mut self,
        pinned: impl IntoIterator<Item = (String, String)>,
    ) -> BTreeSet<String> {
        let pinned: BTreeSet<(String, String, String)> = pinned
            .into_iter()
            .map(|(name, version)| (name, compatible_range(&version), version))
            .collect();
        let ruled_out: BTreeSet<String> = self
            .held
            .iter()
            .filter(|(name, version)| {
                let range = compatible_range(version);
                pinned
                    .iter()
                    .any(|(n, r, v)| n == name && *r == range && v != version)
            })
            .map(|(name, _)| name.clone())
            .collect();
        for name in &ruled_out {
            self.release(name);
        }
        ruled_out
    }

    pub(crate) fn clear(&mut self) {
        self.held.clear();
    }

    /// The member's manifest: one renamed requirement per held version.
    fn manifest(&self) -> String {
        let mut text = format!(
            "# Generated by cargo-share: the installed programs' crate versions, held while new \
             programs are adapted to them.\n[package]\nname = \"{HOLD_PACKAGE}\"\n\
             version = \"0.0.0\"\nedition = \"2021\"\npublish = false\n\n\
             [target.'cfg(any())'.dependencies]\n"
        );
        for (i, (name, version)) in self.held.iter().enumerate() {
            // Build metadata never takes part in matching, and a requirement may not carry it.
            let version = version.split('+').next().unwrap_or(version);
            text.push_str(&format!(
                "hold{i} = {{ package = {name:?}, version = \"={version}\", default-features = false }}\n"
            ));
        }
        text
    }

    /// Write the member under `root` (its manifest and an empty library).
    pub(crate) fn write(&self, root: &Path) -> Result<()> {
        let dir = root.join(HOLD_PACKAGE);
        std::fs::create_dir_all(dir.join("src"))?;
        write_if_changed(&dir.join("src/lib.rs"), "")?;
        write_if_changed(&dir.join("Cargo.toml"), &self.manifest())
    }
}

/// Whether a lockfile `source` is crates.io (its git index or its sparse index).
fn is_crates_io(source: &str) -> bool {
    source == "registry+https://github.com/rust-lang/crates.io-index"
        || source == "sparse+https://index.crates.io/"
}

#[cfg(test)]
mod tests {
    use super::*;

    const REG: &str = "registry+https://github.com/rust-lang/crates.io-index";

    /// Three members' recorded resolutions.
    fn locked() -> Vec<Vec<(String, String, Option<String>)>> {
        let reg = |name: &str, version: &str| (name.into(), version.into(), Some(REG.into()));
        vec![
            vec![
                ("app".into(), "1.0.0".into(), None),
                reg("clap", "4.6.1"),
                reg("toml_datetime", "0.7.5+spec-1.1.0"),
                (
                    "private".into(),
                    "0.1.0".into(),
                    Some("registry+https://example.com/index".into()),
                ),
                reg("getrandom", "0.2.15"),
                reg("getrandom", "0.3.4"),
                reg("bitflags", "2.11.0"),
            ],
            // A program left on its old build: its getrandom is the odd one, and its bitflags
            // ties with the first member's.
            vec![reg("getrandom", "0.2.14"), reg("bitflags", "2.13.1")],
            vec![reg("getrandom", "0.2.15")],
        ]
    }

    #[test]
    fn only_crates_io_versions_are_held() {
        let manifest = Holds::of_locked(locked()).manifest();
        assert!(
            manifest.contains("[target.'cfg(any())'.dependencies]"),
            "{manifest}"
        );
        assert!(
            manifest.contains(
                r#"hold0 = { package = "clap", version = "=4.6.1", default-features = false }"#
            ),
            "{manifest}"
        );
        // Build metadata is dropped from the requirement.
        assert!(manifest.contains(r#"version = "=0.7.5","#), "{manifest}");
        // The path package (the program itself) and another registry's crate are not held.
        assert!(!manifest.contains(r#""app""#), "{manifest}");
        assert!(!manifest.contains(r#""private""#), "{manifest}");
        // Several versions of one range: the one most members lock is held, a tie holds none.
        assert!(
            manifest.contains(r#"package = "getrandom", version = "=0.2.15""#),
            "{manifest}"
        );
        assert!(!manifest.contains(r#"version = "=0.2.14"#), "{manifest}");
        assert!(!manifest.contains(r#""bitflags""#), "{manifest}");
        // Another range of the same crate is held on its own.
        assert!(
            manifest.contains(r#"package = "getrandom", version = "=0.3.4""#),
            "{manifest}"
        );
        assert!(Holds::of_locked(Vec::new()).is_empty());
    }

    #[test]
    fn a_hold_another_version_of_its_range_rules_out_is_released() {
        let mut holds = Holds::of_locked(locked());
        let pin = |name: &str, version: &str| (name.to_string(), version.to_string());
        let released = holds.release_ruled_out([
            // Another version of a held range: released.
            pin("clap", "4.5.56"),
            // The held version itself, and another range of a held crate: kept.
            pin("getrandom", "0.2.15"),
            pin("toml_datetime", "0.6.11"),
        ]);
        assert_eq!(released, BTreeSet::from(["clap".to_string()]));
        let manifest = holds.manifest();
        assert!(!manifest.contains("\"clap\""), "{manifest}");
        assert!(manifest.contains("\"getrandom\""), "{manifest}");
        assert!(manifest.contains("\"toml_datetime\""), "{manifest}");
    }

    #[test]
    fn a_released_crate_is_no_longer_held() {
        let mut holds = Holds::of_locked(locked());
        assert!(holds.release("clap"));
        assert!(!holds.release("clap"));
        assert!(!holds.manifest().contains("\"clap\""));
        assert!(holds.manifest().contains("\"toml_datetime\""));
    }
}
