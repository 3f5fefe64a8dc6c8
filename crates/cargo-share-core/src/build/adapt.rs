//! An install's first choice: the programs it names adapt to the installed programs' crate
//! versions, proven by their own tests, so that installed programs move only where the
//! newcomers' requirements make them.
//!
//! Installing a program into a store that holds others resolves them as one set. By default
//! the newest version any program locked wins each semver-compatible range, as installing them
//! together does; an installed program that set would build from other versions is proven by
//! its own test suite first (`build::retest`), and rebuilt. That costs a test run and a rebuild
//! per moved program, each install. So an install first tries the other way round: the
//! installed programs' versions win the seed (the newcomers' requirements still decide where
//! they must), and each newcomer built from older versions than its own `Cargo.lock` locks is
//! proven by its own tests under them (one built only from newer releases is not: those are
//! what `cargo install` without `--locked`, or installing it together with the others, gives
//! it untested). When they pass, that resolution is built: the
//! newcomer's test suite, plus one per installed program the newcomers' requirements still
//! move (a crate the newcomer needs newer than installed: those are proven as any move is),
//! instead of one per installed program the newcomer's newer locks would move. When Cargo
//! cannot resolve the newcomers with the installed versions, or a newcomer has no test that
//! passes under them, the install moves the installed programs to the newcomers' versions as
//! before. Adapting is tried even when the newcomers' requirements move the same installed
//! programs their own versions would: it moves only the crates they need newer, where their
//! own versions move every crate they lock newer, and each of those crates and every crate
//! above it in each moved program is compiled again (du-dust 1.2.7 after ripgrep, fd-find,
//! bat, hyperfine and tokei: bat's clap family, 7 crates, against 34; 597 CPU seconds
//! against 727 to 829, its own suite included). Sharing is the same either way: one version
//! per compatible range.

use anyhow::{bail, Result};

use crate::build::options::{BuildOptions, InstalledMember};
use crate::build::prepare::{prepare, PreparedBuild};
use crate::build::retest::{
    failing_again, leave_unprovable, moved_programs, prepare_retested, prepare_retested_from,
    verdict, MovedProgram, OwnTests, Verdict,
};
use crate::build::retest_baseline::{
    carry_outcomes_forward, installed_outcome, record_by_resolution,
};
use crate::build::test::RecordedTest;
use crate::resolve::set::{changes_from_own_lock, describe_changes, VersionChange};
use crate::shell::Shell;
use crate::source::ProgramSource;

/// A newcomer the adapted resolution builds from other versions than its own lockfile.
struct AdaptedProgram {
    index: usize,
    name: String,
    version: String,
    changes: Vec<VersionChange>,
    /// Its package directory and its own `Cargo.lock`: the baseline its failing tests are
    /// compared with.
    package_dir: std::path::PathBuf,
    own_lock: String,
}

impl AdaptedProgram {
    /// Whether the adapted resolution builds it only from newer releases than it locks (each
    /// within its own requirements, which Cargo keeps): what `cargo install` without
    /// `--locked`, or installing it together with the others, gives it untested. Only an older
    /// release than it locks (it may rely on a fix the newer one has) asks for its tests.
    fn only_upgraded(&self) -> bool {
        self.changes.iter().all(|c| {
            match (
                semver::Version::parse(&c.from),
                semver::Version::parse(&c.to),
            ) {
                (Ok(from), Ok(to)) => to > from,
                _ => false,
            }
        })
    }

    /// The newcomer as an installed program built from `resolution`, with the features the
    /// command gives it (what its record will hold): the key its test outcomes are kept by.
    fn as_member(&self, options: &BuildOptions, resolution: String) -> InstalledMember {
        InstalledMember {
            name: self.name.clone(),
            source: ProgramSource::Path(self.package_dir.join("Cargo.toml")),
            resolution,
            features: options.features.of(&self.name).features,
        }
    }
}

/// What a newcomer's own `Cargo.lock` gives, in messages.
const OWN_VERSIONS: &str = "the versions its own Cargo.lock locks";

/// Steps 1 to 3 of an install's build that may move installed programs: the adapted
/// resolution when it holds (`prepare_adapted`), else the installed programs moved to the
/// newcomers' versions, each proven by its own tests (`build::retest::prepare_retested`).
pub(crate) fn prepare_proven(options: &BuildOptions, shell: &Shell) -> Result<PreparedBuild> {
    let prepared = match prepare_adapted(options, shell)? {
        Some(prepared) => prepared,
        None => prepare_retested(options, shell)?,
    };
    if !options.dry_run {
        carry_outcomes_forward(options, &prepared);
    }
    Ok(prepared)
}

/// The adapted resolution, prepared, when Cargo resolves it and every newcomer it builds from
/// other versions than it locked passes its own tests under them; else `None` (the caller
/// moves the installed programs to the newcomers' versions instead), having said why. The
/// installed programs the newcomers' requirements still move under it (a crate the newcomer
/// needs newer than installed) are proven by their own tests first, as
/// [`prepare_retested`] proves any move; the others are not retested.
pub(crate) fn prepare_adapted(
    options: &BuildOptions,
    shell: &Shell,
) -> Result<Option<PreparedBuild>> {
    if !options.retest_installed || !options.unify.newest_locked || options.installed.is_empty() {
        return Ok(None);
    }
    let mut adapted_options = BuildOptions {
        unify: crate::resolve::set::UnifyOptions {
            newest_locked: false,
            hold_installed: true,
            ..options.unify.clone()
        },
        ..options.clone()
    };
    // What the trial says is said only if it is built: else the build that follows it says
    // what it resolves instead.
    shell.status(
        "Resolving",
        "the new programs with the installed programs' crate versions first",
    );
    let recording = shell.recording();
    let trial = match prepare_trial(&mut adapted_options, &recording, shell) {
        Ok(trial) => trial,
        Err(e) => {
            // Cargo's own words come with `-v`: the same error, when it is not about the
            // installed versions, ends the build that follows, and is said once, there.
            let why = match shell.verbose {
                0 => "Cargo cannot resolve them with those versions".to_string(),
                _ => format!(
                    "Cargo cannot resolve them with those versions ({})",
                    e.to_string().lines().next().unwrap_or_default()
                ),
            };
            not_adapting("the new programs", &why, shell);
            return Ok(None);
        }
    };
    let moved = moved_programs(&trial)?;
    let (upgraded, proven): (Vec<_>, Vec<_>) = adapted_programs(&trial)?
        .into_iter()
        .partition(AdaptedProgram::only_upgraded);
    shell.replay(&recording);
    for m in &upgraded {
        announce_upgraded(m, shell);
    }
    if options.dry_run {
        announce_would_adapt(&proven, &moved, shell);
        return Ok(Some(trial));
    }
    if moved.is_empty() && proven.is_empty() {
        // The newcomers are built from what they lock or from newer releases, and nothing
        // installed moves: the other way resolves the same.
        return Ok(Some(trial));
    }
    let prepared = trial;
    let Some(prepared) = prove_newcomers(prepared, &proven, !moved.is_empty(), shell)? else {
        return Ok(None);
    };
    if moved.is_empty() {
        return Ok(Some(prepared));
    }
    let moved: Vec<String> = moved.iter().map(MovedProgram::describe).collect();
    shell.status(
        "Adapting",
        format!(
            "the new programs to the installed programs' crate versions, except where their \
             requirements need newer ones: that moves {}, proven by their own tests; the other \
             installed programs do not move",
            moved.join("; ")
        ),
    );
    let prepared = prepare_retested_from(&adapted_options, Some(prepared), shell)?;
    // A moved program whose tests fail leaves the set, which may then resolve a newcomer
    // otherwise: that resolution is proven again.
    let untested: Vec<AdaptedProgram> = adapted_programs(&prepared)?
        .into_iter()
        .filter(|m| {
            !m.only_upgraded()
                && !proven
                    .iter()
                    .any(|t| t.name == m.name && t.changes == m.changes)
        })
        .collect();
    prove_newcomers(prepared, &untested, true, shell)
}

/// The adapted trial, prepared; an installed program it would move whose tests are known not
/// to build from its sources is left as it is first and the trial prepared again without it
/// (`unprovable_tests`), before any newcomer is tested under a resolution that still held it.
fn prepare_trial(
    adapted_options: &mut BuildOptions,
    recording: &Shell,
    shell: &Shell,
) -> Result<PreparedBuild> {
    loop {
        let trial = prepare(adapted_options, recording)?;
        let left = trial.unprovable(&moved_programs(&trial)?)?;
        if left.is_empty() {
            return Ok(trial);
        }
        leave_unprovable(adapted_options, left, shell);
    }
}

/// `--dry-run`: the tests an install would run first, adapting the newcomers (the plan shown
/// is this one; should a newcomer's tests fail, the install moves the installed programs to the
/// newcomers' versions instead, each proven by its own tests).
fn announce_would_adapt(proven: &[AdaptedProgram], moved: &[MovedProgram], shell: &Shell) {
    for m in proven {
        shell.status(
            "Would test",
            format!(
                "{} v{} with the installed programs' crate versions ({}): installed with them if \
                 its own tests pass, else with {OWN_VERSIONS}, moving the installed programs to \
                 them, each proven by its own tests",
                m.name,
                m.version,
                describe_changes(&m.changes)
            ),
        );
    }
    for m in moved {
        m.announce_would_test(shell);
    }
}

/// Prove each adapted newcomer by its own tests under `prepared`: `None` (said why) when one
/// is not proven. A newcomer whose failing tests fail with its own versions too is proven as
/// well (its tests run alone under them, sharing the cache lock `prepared` holds).
fn prove_newcomers(
    prepared: PreparedBuild,
    newcomers: &[AdaptedProgram],
    moves_installed: bool,
    shell: &Shell,
) -> Result<Option<PreparedBuild>> {
    let mut compare = Vec::new();
    for m in newcomers {
        match newcomer_tests(&prepared, m, shell)? {
            Verdict::Passed(counts) => {
                announce_adapted(m, &counts, moves_installed, shell);
                record_as_installed(&prepared, m, &counts)?;
            }
            Verdict::Failing(outcome) => compare.push((m, outcome)),
            Verdict::NotProven(why) => {
                not_adapting(&format!("{} v{}", m.name, m.version), &why, shell);
                return Ok(None);
            }
        }
    }
    for (m, outcome) in compare {
        if let Err(why) = failing_with_own_versions(&prepared.options, m, &outcome, shell) {
            not_adapting(&format!("{} v{}", m.name, m.version), &why, shell);
            return Ok(None);
        }
        announce_adapted(m, &outcome, moves_installed, shell);
        let outcome = RecordedTest {
            known_failures: true,
            ..outcome
        };
        record_as_installed(&prepared, m, &outcome)?;
    }
    Ok(Some(prepared))
}

/// Keep an adapted newcomer's test outcome under the resolution `prepared` builds it from,
/// which is the one it is installed with: a later install that moves it compares its failing
/// tests with this outcome instead of building and running its suite under it again
/// (`retest_baseline::installed_outcome`).
fn record_as_installed(
    prepared: &PreparedBuild,
    m: &AdaptedProgram,
    outcome: &RecordedTest,
) -> Result<()> {
    let Some(built) = prepared.provenance.get(&m.name) else {
        return Ok(());
    };
    let member = m.as_member(&prepared.options, built.resolution.clone());
    record_by_resolution(&prepared.options, &member, &member.resolution, outcome)
}

/// Run an adapted newcomer's own tests under the prepared resolution: their verdict (a
/// failing run that does not prove it says why in the newcomer's words).
fn newcomer_tests(prepared: &PreparedBuild, m: &AdaptedProgram, shell: &Shell) -> Result<Verdict> {
    shell.status(
        "Testing",
        format!(
            "{} v{} with the installed programs' crate versions ({})",
            m.name,
            m.version,
            describe_changes(&m.changes)
        ),
    );
    let run = prepared.run_own_tests(m.index, shell)?;
    if let Some(why) = missing_for_its_build(prepared, m.index, &run) {
        // No resolution builds it here: moving the installed programs to its versions and
        // testing each would end in the same failure.
        bail!(
            "{} v{} cannot be built on this machine: {why}; nothing was installed or changed: \
             install what it needs and run the command again",
            m.name,
            m.version
        );
    }
    let OwnTests {
        outcome, failing, ..
    } = run;
    Ok(match verdict(&outcome, &failing) {
        Verdict::NotProven(_) => {
            let names = match failing.is_empty() {
                true => String::new(),
                false => format!(" ({})", crate::build::retest::some_names(&failing)),
            };
            Verdict::NotProven(if outcome.note.as_deref() == Some("tests did not build") {
                format!("its own tests do not build with them{names}")
            } else if outcome.failed > 0 {
                format!(
                    "{} of its {} own tests fail with them{names}",
                    outcome.failed,
                    outcome.passed + outcome.failed
                )
            } else {
                "it has no test that passes with them".to_string()
            })
        }
        proven => proven,
    })
}

/// Why the program `index` cannot be built on this machine whatever the versions, if its test
/// `run` says so: the build script of a crate its binaries need (not one only its tests reach)
/// failed for want of a system requirement (`build::failures`: libclang, a `-dev` package).
fn missing_for_its_build(prepared: &PreparedBuild, index: usize, run: &OwnTests) -> Option<String> {
    let missing = run.missing.as_deref()?;
    let script = run
        .failing
        .iter()
        .find_map(|e| crate::build::failures::failed_build_script(e))?;
    let name = script.split(" v").next()?;
    let program = &prepared.graph.programs[index];
    let metadata = &prepared.graph.workspaces[program.workspace].metadata;
    let test_only = crate::build::test_only::test_only_packages(metadata, &[&program.package_id]);
    (!test_only.contains(name))
        .then(|| format!("the build script of `{script}` failed; it needs {missing}"))
}

/// Say a newcomer is adapted: its tests pass (`counts`), but for those that fail with its own
/// versions too.
fn announce_adapted(
    m: &AdaptedProgram,
    counts: &RecordedTest,
    moves_installed: bool,
    shell: &Shell,
) {
    let but = if counts.failed == 0 {
        String::new()
    } else {
        format!(
            " but for {} that fail with {OWN_VERSIONS} too ({})",
            counts.failed,
            crate::build::retest::some_names(&counts.failing)
        )
    };
    shell.status(
        "Adapted",
        format!(
            "{} v{} to the installed programs' crate versions: its own tests pass ({} \
             passed){but}, so {}",
            m.name,
            m.version,
            counts.passed,
            if moves_installed {
                "only the installed programs its requirements move are retested"
            } else {
                "no installed program is moved"
            }
        ),
    );
}

/// Say a newcomer is built from the installed programs' newer releases of crates it locks
/// older, untested (`AdaptedProgram::only_upgraded`).
fn announce_upgraded(m: &AdaptedProgram, shell: &Shell) {
    shell.status(
        "Adapted",
        format!(
            "{} v{} to the installed programs' crate versions: newer releases than its \
             Cargo.lock locks ({}), within its requirements, as `cargo install` without \
             `--locked` would take them, so its tests are not run",
            m.name,
            m.version,
            describe_changes(&m.changes)
        ),
    );
}

/// Whether every test of an adapted newcomer that fails under the installed programs' versions
/// (`outcome`) fails under the versions its own `Cargo.lock` locks too: such a failure (a test
/// that needs the network, or not to run as root) says nothing of the adaptation, as
/// [`failing_again`] reads a moved program's. Else why not. The baseline is run as an
/// installed program's is (`retest_baseline::installed_outcome`), and kept by resolution.
fn failing_with_own_versions(
    options: &BuildOptions,
    m: &AdaptedProgram,
    outcome: &RecordedTest,
    shell: &Shell,
) -> Result<(), String> {
    let own = m.as_member(options, m.own_lock.clone());
    let before = installed_outcome(options, &own, OWN_VERSIONS, shell).map_err(|e| {
        format!(
            "{} of its {} own tests fail with them, and its tests could not be run with \
             {OWN_VERSIONS} to compare: {}",
            outcome.failed,
            outcome.passed + outcome.failed,
            e.to_string().lines().next().unwrap_or_default()
        )
    })?;
    failing_again(outcome, &before, OWN_VERSIONS)
}

/// Say why `subject` (the new programs, or one of them) is not adapted to the installed
/// programs' versions: the installed programs move to the new programs' versions instead.
fn not_adapting(subject: &str, why: &str, shell: &Shell) {
    shell.status(
        "Not adapting",
        format!(
            "{subject} to the installed programs' crate versions: {why}; the installed programs \
             move to the new programs' versions instead, each proven by its own tests"
        ),
    );
}

/// The programs the command names that `prepared` builds from other versions than their own
/// lockfiles (a program without one has nothing to differ from).
fn adapted_programs(prepared: &PreparedBuild) -> Result<Vec<AdaptedProgram>> {
    let mut out = Vec::new();
    for (index, p) in prepared.graph.programs.iter().enumerate() {
        if prepared.options.kept_resolutions.contains_key(&p.name) || p.plugin_for.is_some() {
            continue;
        }
        let Some(set) = prepared.set_of(p) else {
            continue;
        };
        let Some((lock, package_dir)) = set
            .members
            .iter()
            .find(|m| m.name == p.name)
            .and_then(|m| Some((m.lock.as_deref()?, &m.package_dir)))
        else {
            continue;
        };
        let md = &prepared.graph.workspaces[p.workspace].metadata;
        let changes = changes_from_own_lock(md, &p.name, lock)?;
        if !changes.is_empty() {
            out.push(AdaptedProgram {
                index,
                name: p.name.clone(),
                version: p.version.clone(),
                changes,
                package_dir: package_dir.clone(),
                own_lock: lock.to_string(),
            });
        }
    }
    Ok(out)
}
