//! Which recorded programs can be adopted, and the installs that adopt them.
//!
//! A program is adopted when cargo share can build it from the source Cargo recorded (crates.io
//! at the recorded version, or the recorded local directory) with the recorded features, and
//! every binary Cargo recorded is still the file `cargo install` wrote in `ROOT/bin`. The rest
//! stay as they are, each with its reason. `--all-features` and `--no-default-features` hold for
//! every program of a cargo-share build, so programs are installed in one set per combination
//! of the two (the later sets build against the groups the first installed).

use std::path::{Path, PathBuf};

use serde::Serialize;

use crate::adopt::recorded::{RecordedInstall, RecordedSource};
use cargo_share_core::build::ProgramFeatures;
use cargo_share_core::source::{CrateSpec, ProgramSource};

/// A program to adopt.
#[derive(Debug, Clone)]
pub(crate) struct Candidate {
    pub(crate) recorded: RecordedInstall,
    pub(crate) source: ProgramSource,
    /// `ROOT/bin/BIN` for each recorded binary.
    pub(crate) binaries: Vec<PathBuf>,
}

/// A program that stays as it was, and why (`--json`: `program-kept`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub(crate) struct KeptProgram {
    pub(crate) name: String,
    pub(crate) version: String,
    pub(crate) why: String,
}

impl KeptProgram {
    pub(crate) fn new(name: &str, version: &str, why: impl Into<String>) -> KeptProgram {
        KeptProgram {
            name: name.to_string(),
            version: version.to_string(),
            why: why.into(),
        }
    }
}

/// Programs installed together: the same `--all-features` and `--no-default-features`.
#[derive(Debug, Clone)]
pub(crate) struct Batch {
    pub(crate) all_features: bool,
    pub(crate) no_default_features: bool,
    pub(crate) programs: Vec<Candidate>,
}

impl Batch {
    /// The batch's features as cargo-share's `--features PROGRAM/FEATURE` reads them.
    pub(crate) fn features(&self) -> anyhow::Result<ProgramFeatures> {
        let values: Vec<String> = self
            .programs
            .iter()
            .flat_map(|c| {
                c.recorded
                    .features
                    .iter()
                    .map(|f| format!("{}/{f}", c.recorded.name))
            })
            .collect();
        ProgramFeatures::parse(&values, self.all_features, self.no_default_features)
    }

    pub(crate) fn sources(&self) -> Vec<ProgramSource> {
        self.programs.iter().map(|c| c.source.clone()).collect()
    }
}

#[derive(Debug, Clone, Default)]
pub(crate) struct AdoptPlan {
    pub(crate) batches: Vec<Batch>,
    pub(crate) kept: Vec<KeptProgram>,
}

impl AdoptPlan {
    pub(crate) fn candidates(&self) -> impl Iterator<Item = &Candidate> {
        self.batches.iter().flat_map(|b| b.programs.iter())
    }
}

/// Sort the recorded programs into batches to adopt and programs kept as they are.
pub(crate) fn plan(root: &Path, recorded: Vec<RecordedInstall>) -> AdoptPlan {
    let mut out = AdoptPlan::default();
    for r in recorded {
        match candidate(root, &r) {
            Ok(c) => {
                let key = (r.all_features, r.no_default_features);
                match out
                    .batches
                    .iter_mut()
                    .find(|b| (b.all_features, b.no_default_features) == key)
                {
                    Some(b) => b.programs.push(c),
                    None => out.batches.push(Batch {
                        all_features: key.0,
                        no_default_features: key.1,
                        programs: vec![c],
                    }),
                }
            }
            Err(why) => out.kept.push(KeptProgram::new(&r.name, &r.version, why)),
        }
    }
    // Most programs have neither flag: that set goes first, the others build against its groups.
    out.batches
        .sort_by_key(|b| (b.all_features, b.no_default_features));
    out
}

fn candidate(root: &Path, r: &RecordedInstall) -> Result<Candidate, String> {
    // The package of the executable (this crate is `cargo-share-measure`).
    if r.name == "cargo-share" {
        return Err("cargo-share does not adopt itself: it runs the builds \
                    (`cargo share install --path` of its source can install it)"
            .into());
    }
    let source = match &r.source {
        RecordedSource::CratesIo => ProgramSource::Registry(CrateSpec {
            name: r.name.clone(),
            version: Some(r.version.clone()),
        }),
        RecordedSource::Path(dir) => {
            if !dir.join("Cargo.toml").is_file() {
                return Err(format!(
                    "installed from {}, which has no Cargo.toml any more",
                    dir.display()
                ));
            }
            ProgramSource::Path(dir.clone())
        }
        RecordedSource::Other(s) if s.starts_with("git+") => {
            return Err(format!(
                "installed from git ({s}): cargo share installs crates.io and local programs only"
            ))
        }
        RecordedSource::Other(s) => {
            return Err(format!(
                "installed from {s}: cargo share installs crates.io and local programs only"
            ))
        }
    };
    if let Some(f) = r.features.iter().find(|f| f.contains('/')) {
        return Err(format!(
            "installed with the feature `{f}` of a dependency, which cargo share's \
             --features (PROGRAM/FEATURE) cannot express"
        ));
    }
    if r.bins.is_empty() {
        return Err("cargo install recorded no binaries for it".into());
    }
    let mut binaries = Vec::new();
    for b in &r.bins {
        let path = root.join("bin").join(b);
        match std::fs::symlink_metadata(&path) {
            Err(_) => {
                return Err(format!(
                    "{} is gone (removed since cargo install wrote it)",
                    path.display()
                ))
            }
            Ok(m) if m.file_type().is_symlink() => {
                let to = std::fs::read_link(&path)
                    .map(|t| t.display().to_string())
                    .unwrap_or_default();
                return Err(format!(
                    "{} is a link to {to}, not the binary cargo install wrote (installed by \
                     cargo share already, or put there by hand)",
                    path.display()
                ));
            }
            Ok(m) if !m.is_file() => return Err(format!("{} is not a file", path.display())),
            Ok(_) => binaries.push(path),
        }
    }
    Ok(Candidate {
        recorded: r.clone(),
        source,
        binaries,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn recorded(name: &str, source: RecordedSource, bins: &[&str]) -> RecordedInstall {
        RecordedInstall {
            name: name.into(),
            version: "1.0.0".into(),
            source,
            features: vec![],
            all_features: false,
            no_default_features: false,
            bins: bins.iter().map(|b| b.to_string()).collect(),
        }
    }

    #[test]
    fn sources_binaries_and_feature_flags_decide() {
        let root = tempfile::tempdir().unwrap();
        let bin = root.path().join("bin");
        std::fs::create_dir(&bin).unwrap();
        for b in ["rg", "fd", "tool", "allf"] {
            std::fs::write(bin.join(b), b"ELF").unwrap();
        }
        std::os::unix::fs::symlink("/elsewhere/bat", bin.join("bat")).unwrap();
        let src = root.path().join("src");
        std::fs::create_dir(&src).unwrap();
        std::fs::write(src.join("Cargo.toml"), "").unwrap();
        let mut all = recorded("allf", RecordedSource::CratesIo, &["allf"]);
        all.all_features = true;
        let mut dep_feature = recorded("fd-find", RecordedSource::CratesIo, &["fd"]);
        dep_feature.features = vec!["regex/unicode".into()];
        let plan = plan(
            root.path(),
            vec![
                all,
                recorded("ripgrep", RecordedSource::CratesIo, &["rg"]),
                recorded("tool", RecordedSource::Path(src.clone()), &["tool"]),
                recorded("bat", RecordedSource::CratesIo, &["bat"]),
                recorded("gone", RecordedSource::CratesIo, &["gone"]),
                recorded(
                    "gitty",
                    RecordedSource::Other("git+https://x/y#abc".into()),
                    &["g"],
                ),
                recorded(
                    "moved",
                    RecordedSource::Path(root.path().join("nowhere")),
                    &["m"],
                ),
                dep_feature,
                recorded("cargo-share", RecordedSource::Path(src), &["cargo-share"]),
            ],
        );
        let batches: Vec<(bool, Vec<&str>)> = plan
            .batches
            .iter()
            .map(|b| {
                (
                    b.all_features,
                    b.programs
                        .iter()
                        .map(|c| c.recorded.name.as_str())
                        .collect(),
                )
            })
            .collect();
        assert_eq!(
            batches,
            vec![(false, vec!["ripgrep", "tool"]), (true, vec!["allf"])]
        );
        let why = |n: &str| plan.kept.iter().find(|k| k.name == n).unwrap().why.clone();
        assert!(why("bat").contains("is a link to /elsewhere/bat"));
        assert!(why("gone").contains("is gone"));
        assert!(why("gitty").starts_with("installed from git (git+https://x/y#abc)"));
        assert!(why("moved").contains("has no Cargo.toml any more"));
        assert!(why("fd-find").contains("`regex/unicode`"));
        assert!(why("cargo-share").contains("does not adopt itself"));
        assert_eq!(plan.kept.len(), 6);
    }

    #[test]
    fn features_become_program_features() {
        let mut r = recorded("fd-find", RecordedSource::CratesIo, &["fd"]);
        r.features = vec!["use-jemalloc".into()];
        let batch = Batch {
            all_features: false,
            no_default_features: true,
            programs: vec![Candidate {
                recorded: r,
                source: ProgramSource::Path(PathBuf::from("x")),
                binaries: vec![],
            }],
        };
        let expected = ProgramFeatures::parse(&["fd-find/use-jemalloc".into()], false, true);
        assert_eq!(batch.features().unwrap(), expected.unwrap());
    }
}
