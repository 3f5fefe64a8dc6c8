//! An installed program's own tests under the versions it is installed with: the baseline its
//! failing tests under a set's new versions are compared with (`install`'s retest).
//!
//! Some tests fail whatever the crate versions: they need the network, a file the package does
//! not ship, a variable such as `XDG_RUNTIME_DIR`, or not to run as root. Such a failure says
//! nothing of the new versions, and reading it as one would leave the program on its old build
//! forever, so that installing programs one at a time would give other sets than installing
//! them together. The same suite is therefore built and run with the installed program alone,
//! under the resolution it is installed with.
//!
//! Outcomes are kept by the program's resolution (`CACHE/installed-tests.json`): this run's,
//! so a later install compares without running it again; the outcome under which a moved
//! program was rebuilt; and an adapted newcomer's under the installed programs' versions
//! (`build::adapt`). The last two are outcomes under the resolution each is then installed
//! with. An install that rebuilds a program without moving a version keeps its outcome under
//! the new resolution too ([`carry_outcomes_forward`]).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result};

use crate::build::options::{BuildOptions, InstalledMember};
use crate::build::prepare::{prepare, PreparedBuild};
use crate::build::test::RecordedTest;
use crate::resolve::set::version_changes;
use crate::shell::{MessageFormat, Shell};
use cargo_share_compile::digest::sha256_hex;
use cargo_share_compile::profile::SharedProfile;

/// `member`'s own test outcome under the resolution it is installed with (or, for a program an
/// install adapts, the one its own `Cargo.lock` gives: `under` says which): recorded, or run
/// now (and recorded).
///
/// Its recorded lock entries seed the resolution, so every crate it was built from keeps its
/// version. Features may differ: a program of a later set was resolved against the groups of
/// the sets before, which can turn on features no program alone does; its tests are then run
/// with the features it asks for itself (the program is not left out for that, as an installed
/// program a set would change is: `retest_installed`).
pub(crate) fn installed_outcome(
    options: &BuildOptions,
    member: &InstalledMember,
    under: &str,
    shell: &Shell,
) -> Result<RecordedTest> {
    if let Some(outcome) = recorded_by_resolution(options, member) {
        return Ok(outcome);
    }
    let alone = BuildOptions {
        programs: Vec::new(),
        installed: vec![member.clone()],
        retest_installed: true,
        kept_resolutions: Default::default(),
        dry_run: false,
        // Named by its program: the install's own sets keep their directories.
        unify: crate::resolve::set::UnifyOptions {
            stable_names: false,
            ..options.unify.clone()
        },
        shared_profile: unoptimised(&options.shared_profile)?,
        ..options.clone()
    };
    // Planning the installed program again says nothing the user needs.
    let prepared = prepare(&alone, &Shell::new(true, MessageFormat::Human))?;
    let index = prepared
        .graph
        .programs
        .iter()
        .position(|p| p.name == member.name)
        .context("its source no longer holds it")?;
    let program = &prepared.graph.programs[index];
    prepared
        .set_of(program)
        .context("Cargo cannot resolve it alone with those versions")?;
    shell.status(
        "Testing",
        format!(
            "{} v{} under {under} (compiled without optimisation), to compare its failing \
             tests",
            member.name, program.version
        ),
    );
    let outcome = prepared.run_own_tests(index, shell)?.outcome;
    record_by_resolution(options, member, &member.resolution, &outcome)?;
    Ok(outcome)
}

/// The shared profile a baseline is compiled with: the same, without optimisation. Nothing it
/// builds is installed, and it only says which tests fail under those versions, which does
/// not depend on optimisation (the profile's assertions and overflow checks stay as they
/// are): compiled at `opt-level = 0` its crates cost a fraction of the release build. It
/// builds in a target directory of its own (`prepare::target_dir_of`).
fn unoptimised(profile: &SharedProfile) -> Result<SharedProfile> {
    profile.clone().with_overrides(&["opt-level=0".to_string()])
}

/// `CACHE/installed-tests.json`: [`resolution_key`] -> outcome.
type OutcomesByResolution = BTreeMap<String, RecordedTest>;

fn outcomes_path(options: &BuildOptions) -> Result<PathBuf> {
    Ok(options.cache()?.join("installed-tests.json"))
}

/// What an outcome of `member`'s tests under `resolution` is kept under: the program, the lock
/// entries it is built from and the features it is built with.
fn resolution_key(member: &InstalledMember, resolution: &str) -> String {
    let features = member.features.join(",");
    let text = format!("{}\n{features}\n{resolution}", member.name);
    sha256_hex(text.as_bytes())
}

fn load_outcomes(path: &Path) -> OutcomesByResolution {
    std::fs::read(path)
        .ok()
        .and_then(|b| serde_json::from_slice(&b).ok())
        .unwrap_or_default()
}

/// The outcome of `member`'s tests kept for the resolution it is installed with.
fn recorded_by_resolution(
    options: &BuildOptions,
    member: &InstalledMember,
) -> Option<RecordedTest> {
    let path = outcomes_path(options).ok()?;
    load_outcomes(&path).remove(&resolution_key(member, &member.resolution))
}

/// Keep each installed program's recorded outcome (of `options.installed`, as the install was
/// asked: `prepared`'s options hold them as programs) under the resolution `prepared` builds it
/// from, when that resolution moves none of its crates' versions: crates that only join or
/// leave its closure through unified features are not a move (`resolve::set::version_changes`;
/// it is rebuilt untested, trusting that features are additive), so the outcome holds for it
/// as much as the rebuild does. The next install that moves it then compares its failing tests
/// with that outcome instead of building and running its suite under its installed versions
/// again (du-dust at just's install, 30 s, on the reference set one at a time). Written to the
/// cache before anything is committed: an outcome is kept by resolution, true whether or not
/// this install completes. A cache that cannot be read or written costs the next install a
/// run, not this one its install: failures are not errors here.
pub(crate) fn carry_outcomes_forward(options: &BuildOptions, prepared: &PreparedBuild) {
    for member in &options.installed {
        let Some(built) = prepared.provenance.get(&member.name) else {
            continue;
        };
        if built.resolution == member.resolution {
            continue;
        }
        let Some(program) = prepared
            .graph
            .programs
            .iter()
            .find(|p| p.name == member.name)
        else {
            continue;
        };
        let md = &prepared.graph.workspaces[program.workspace].metadata;
        let moved = version_changes(md, &member.name, &member.resolution)
            .map_or(true, |changes| !changes.is_empty());
        if moved {
            continue;
        }
        if let Some(outcome) = recorded_by_resolution(options, member) {
            let _ = record_by_resolution(options, member, &built.resolution, &outcome);
        }
    }
}

/// Keep `outcome` as that of `member`'s tests under `resolution` (written whole through a
/// temporary file: a reader sees the old or the new record).
pub(crate) fn record_by_resolution(
    options: &BuildOptions,
    member: &InstalledMember,
    resolution: &str,
    outcome: &RecordedTest,
) -> Result<()> {
    let path = outcomes_path(options)?;
    let mut outcomes = load_outcomes(&path);
    outcomes.insert(resolution_key(member, resolution), outcome.clone());
    let dir = path.parent().context("a cache path without a directory")?;
    let tmp = tempfile::NamedTempFile::new_in(dir)?;
    std::fs::write(tmp.path(), serde_json::to_vec_pretty(&outcomes)?)?;
    tmp.persist(&path)
        .with_context(|| format!("writing {}", path.display()))?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn member(features: &[&str]) -> InstalledMember {
        InstalledMember {
            name: "tool".into(),
            source: crate::source::ProgramSource::Path("tool/Cargo.toml".into()),
            resolution: "[[package]]\nname = \"dep\"\nversion = \"1.0.0\"\n".into(),
            features: features.iter().map(|f| f.to_string()).collect(),
        }
    }

    fn outcome(passed: u64) -> RecordedTest {
        RecordedTest {
            version: "0.1.0".into(),
            passed,
            failed: 1,
            success: false,
            note: None,
            failing: vec!["tests::needs_the_network".into()],
            known_failures: true,
        }
    }

    /// A baseline is compiled without optimisation, and in its own target directory: the
    /// install's group files (named without a hash) are never replaced by a baseline's.
    #[test]
    fn a_baseline_builds_unoptimised_in_a_target_directory_of_its_own() {
        use crate::build::options::{Binding, Layout};
        use crate::build::prepare::target_dir_of;
        let default = SharedProfile::default();
        let baseline = unoptimised(&default).unwrap();
        let args = baseline.cargo_config_args();
        assert!(args.contains(&"profile.release.package.\"*\".opt-level=0".to_string()));
        let dir =
            |p: &SharedProfile| target_dir_of(Path::new("/c"), Layout::Grouped, Binding::Now, p);
        let abi = cargo_share_compile::unit_record::WRAPPER_ABI;
        assert_eq!(
            dir(&default),
            Path::new(&format!("/c/target-{abi}-grouped"))
        );
        assert_ne!(dir(&baseline), dir(&default));
        assert_eq!(dir(&baseline), dir(&unoptimised(&default).unwrap()));
    }

    /// An outcome is found again for the same program, resolution and features only.
    #[test]
    fn outcomes_are_kept_by_resolution_and_features() {
        let cache = tempfile::tempdir().unwrap();
        let options = BuildOptions {
            cache_dir: Some(cache.path().to_path_buf()),
            ..Default::default()
        };
        let plain = member(&[]);
        assert!(recorded_by_resolution(&options, &plain).is_none());
        record_by_resolution(&options, &plain, &plain.resolution, &outcome(3)).unwrap();
        // Another resolution: kept apart, and the first one still there.
        record_by_resolution(&options, &plain, "other", &outcome(5)).unwrap();
        let found = recorded_by_resolution(&options, &plain).unwrap();
        assert_eq!((found.passed, found.failing.len()), (3, 1));
        assert!(found.known_failures);
        assert!(recorded_by_resolution(&options, &member(&["extra"])).is_none());
        let moved = InstalledMember {
            resolution: "other".into(),
            ..plain
        };
        assert_eq!(recorded_by_resolution(&options, &moved).unwrap().passed, 5);
    }
}
