//! The features asked for the programs of a build (`--features`, `--all-features`,
//! `--no-default-features`), as `cargo install` has them, and the Cargo arguments that give each
//! Cargo invocation exactly the features of the programs it builds.
//!
//! A feature is `FEATURE` (only when the build has one program) or `PROGRAM/FEATURE`.
//! `--all-features` and `--no-default-features` apply to every program of the build.

use std::collections::{BTreeMap, BTreeSet};

use anyhow::{bail, Result};
use serde::{Deserialize, Serialize};

/// Features asked on the command line, before the build's programs are known.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ProgramFeatures {
    /// `--features FEATURE` entries, in the order given: valid only for a one-program build.
    bare: Vec<String>,
    /// `--features PROGRAM/FEATURE` entries, by program.
    by_program: BTreeMap<String, BTreeSet<String>>,
    pub(crate) all_features: bool,
    pub(crate) no_default_features: bool,
}

/// What one program was built with (recorded with an installed program).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct FeatureChoice {
    /// The features asked for this program, sorted.
    #[serde(default)]
    pub features: Vec<String>,
    #[serde(default)]
    pub all_features: bool,
    #[serde(default)]
    pub no_default_features: bool,
}

impl FeatureChoice {
    /// Nothing asked: the program's default features.
    pub fn is_default(&self) -> bool {
        self.features.is_empty() && !self.all_features && !self.no_default_features
    }

    /// As Cargo's flags would read, e.g. `--no-default-features --features a,b`.
    pub fn describe(&self) -> String {
        let mut parts = Vec::new();
        if self.all_features {
            parts.push("--all-features".to_string());
        }
        if self.no_default_features {
            parts.push("--no-default-features".to_string());
        }
        if !self.features.is_empty() {
            parts.push(format!("--features {}", self.features.join(",")));
        }
        parts.join(" ")
    }
}

impl ProgramFeatures {
    /// Parse `--features` values (each a comma- or space-separated list).
    pub fn parse(values: &[String], all_features: bool, no_default_features: bool) -> Result<Self> {
        let mut out = ProgramFeatures {
            all_features,
            no_default_features,
            ..Default::default()
        };
        for item in values
            .iter()
            .flat_map(|v| v.split([',', ' ']))
            .map(str::trim)
            .filter(|s| !s.is_empty())
        {
            match item.split_once('/') {
                None => {
                    if !out.bare.iter().any(|b| b == item) {
                        out.bare.push(item.to_string());
                    }
                }
                Some((program, feature))
                    if !program.is_empty() && !feature.is_empty() && !feature.contains('/') =>
                {
                    out.by_program
                        .entry(program.to_string())
                        .or_default()
                        .insert(feature.to_string());
                }
                Some(_) => bail!(
                    "--features {item}: a feature is FEATURE or PROGRAM/FEATURE \
                     (PROGRAM is the program's package name)"
                ),
            }
        }
        Ok(out)
    }

    /// Nothing asked: every program with its default features.
    pub fn is_empty(&self) -> bool {
        self.bare.is_empty()
            && self.by_program.is_empty()
            && !self.all_features
            && !self.no_default_features
    }

    /// Check the features against the build's programs (package names) and give every feature
    /// its program: a bare `FEATURE` goes to the only program, and is an error with several; a
    /// `PROGRAM/FEATURE` must name one of them.
    pub fn bind(&self, programs: &[String]) -> Result<Self> {
        let mut out = self.clone();
        for program in self.by_program.keys() {
            if !programs.contains(program) {
                let feature = self.by_program[program].iter().next().cloned();
                bail!(
                    "--features {program}/{}: no program of this build is named `{program}` \
                     (programs: {}); write PROGRAM/FEATURE with one of them",
                    feature.unwrap_or_default(),
                    programs.join(", ")
                );
            }
        }
        if !self.bare.is_empty() {
            match programs {
                [only] => {
                    out.by_program
                        .entry(only.clone())
                        .or_default()
                        .extend(self.bare.iter().cloned());
                    out.bare.clear();
                }
                _ => bail!(
                    "--features {}: this build has {} programs ({}), so say which one each \
                     feature is for: write PROGRAM/FEATURE, e.g. `--features {}/{}`",
                    self.bare.join(","),
                    programs.len(),
                    programs.join(", "),
                    programs.first().map(String::as_str).unwrap_or("PROGRAM"),
                    self.bare[0]
                ),
            }
        }
        Ok(out)
    }

    /// The features asked for one program (after [`ProgramFeatures::bind`]).
    pub(crate) fn of(&self, program: &str) -> FeatureChoice {
        FeatureChoice {
            features: self
                .by_program
                .get(program)
                .map(|f| f.iter().cloned().collect())
                .unwrap_or_default(),
            all_features: self.all_features,
            no_default_features: self.no_default_features,
        }
    }

    /// Add `PROGRAM/FEATURE` entries for one program (an installed program joining a build).
    pub(crate) fn add_to_program(&mut self, program: &str, features: &[String]) {
        if !features.is_empty() {
            self.by_program
                .entry(program.to_string())
                .or_default()
                .extend(features.iter().cloned());
        }
    }

    /// Programs with `PROGRAM/FEATURE` entries and their features (after `bind`).
    pub(crate) fn by_program(&self) -> &BTreeMap<String, BTreeSet<String>> {
        &self.by_program
    }

    /// Cargo's arguments for an invocation (or a `cargo metadata`) that covers exactly these
    /// programs: `--features PROGRAM/FEATURE,...` for each of their features (Cargo's form for a
    /// selected workspace member), `--all-features`, `--no-default-features`. Features of other
    /// programs are left out.
    pub fn cargo_args<S: AsRef<str>>(&self, programs: &[S]) -> Vec<String> {
        let mut args = Vec::new();
        let features: Vec<String> = programs
            .iter()
            .filter_map(|p| self.by_program.get(p.as_ref()).map(|f| (p.as_ref(), f)))
            .flat_map(|(p, f)| f.iter().map(move |f| format!("{p}/{f}")))
            .collect();
        if !features.is_empty() {
            args.push("--features".to_string());
            args.push(features.join(","));
        }
        if self.all_features {
            args.push("--all-features".to_string());
        }
        if self.no_default_features {
            args.push("--no-default-features".to_string());
        }
        args
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names(n: &[&str]) -> Vec<String> {
        n.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn lists_split_on_commas_and_spaces_and_repeat() {
        let f = ProgramFeatures::parse(&names(&["a,b", "c d", " a "]), false, false).unwrap();
        let f = f.bind(&names(&["prog"])).unwrap();
        assert_eq!(f.of("prog").features, names(&["a", "b", "c", "d"]));
        assert_eq!(
            f.cargo_args(&["prog"]),
            names(&["--features", "prog/a,prog/b,prog/c,prog/d"])
        );
    }

    #[test]
    fn program_features_go_only_to_their_invocation() {
        let f = ProgramFeatures::parse(&names(&["one/x,two/y", "one/z"]), false, true).unwrap();
        let f = f.bind(&names(&["one", "two"])).unwrap();
        assert_eq!(
            f.cargo_args(&["one"]),
            names(&["--features", "one/x,one/z", "--no-default-features"])
        );
        assert_eq!(
            f.cargo_args(&["two"]),
            names(&["--features", "two/y", "--no-default-features"])
        );
        assert_eq!(
            f.cargo_args(&["one", "two"]),
            names(&["--features", "one/x,one/z,two/y", "--no-default-features"])
        );
        assert_eq!(f.of("two").features, names(&["y"]));
        assert!(f.of("two").no_default_features);
    }

    #[test]
    fn a_bare_feature_needs_exactly_one_program() {
        let f = ProgramFeatures::parse(&names(&["x"]), false, false).unwrap();
        let e = f.bind(&names(&["one", "two"])).unwrap_err().to_string();
        assert!(e.contains("PROGRAM/FEATURE") && e.contains("one/x"), "{e}");
        assert!(e.contains("one, two"), "{e}");
    }

    #[test]
    fn an_unknown_program_is_named_with_the_programs() {
        let f = ProgramFeatures::parse(&names(&["nope/x"]), false, false).unwrap();
        let e = f.bind(&names(&["one", "two"])).unwrap_err().to_string();
        assert!(
            e.contains("`nope`") && e.contains("programs: one, two"),
            "{e}"
        );
    }

    #[test]
    fn malformed_features_are_refused() {
        for bad in ["a/b/c", "/x", "p/"] {
            let e = ProgramFeatures::parse(&names(&[bad]), false, false).unwrap_err();
            assert!(e.to_string().contains("PROGRAM/FEATURE"), "{e}");
        }
    }

    #[test]
    fn nothing_asked_gives_no_arguments() {
        let f = ProgramFeatures::parse(&[], false, false).unwrap();
        assert!(f.is_empty());
        assert!(f.cargo_args(&["one"]).is_empty());
        assert!(f.of("one").is_default());
        let all = ProgramFeatures::parse(&[], true, false).unwrap();
        assert_eq!(all.cargo_args(&["one"]), names(&["--all-features"]));
        assert_eq!(all.of("one").describe(), "--all-features");
    }
}
