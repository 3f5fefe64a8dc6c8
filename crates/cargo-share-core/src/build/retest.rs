//! Installed programs a set would build from other crate versions, proven by their own tests
//! before they are rebuilt (`install`, unless `--keep-installed-versions`).
//!
//! A newcomer may require newer versions (always within the semver-compatible ranges the
//! installed programs require: a set never crosses a range) of crates an installed program was
//! built from. Such a program's own test suite is built in shared mode and run under the new
//! resolution, as `cargo share test` does, and the outcome recorded in `SET/test-results.json`
//! like `cargo share test` records it (a later run under the same resolution reuses it). A
//! program whose tests pass stays in the set and is rebuilt and rebound with the others. One
//! whose tests fail, do not build, or that has no test that passes (zero tests prove nothing:
//! the conservative reading) is left as it is, said why, and the set is resolved again without
//! it. `--allow-test-failures` does not apply here: it lets a program the user names be
//! installed, never an installed program be changed in a way its own tests reject.

use std::collections::BTreeMap;
use std::iter::once;

use anyhow::{Context, Result};

use crate::build::installed::announce_left;
use crate::build::options::BuildOptions;
use crate::build::options::InstalledMember;
use crate::build::prepare::{prepare, PreparedBuild};
use crate::build::retest_baseline::{installed_outcome, record_by_resolution};
use crate::build::test::{record_outcomes, recorded_test, RecordedTest, TestCounts};
use crate::build::unprovable_tests::{self, ProgramSources, Unprovable};
use crate::message::{self, Message};
use crate::resolve::set::{closure_fingerprint, describe_changes, version_changes, VersionChange};
use crate::shell::Shell;

/// A program's own test outcome and the names of its failing tests (or, when they did not
/// build, the first compiler errors).
/// A program's own test run: its outcome, the names of its failing tests (or, when they did
/// not build, the first compiler errors), and the system requirement (a library, a tool) the
/// errors of a build that failed point at, if any.
#[derive(Debug, Clone, Default)]
pub(crate) struct OwnTests {
    pub(crate) outcome: RecordedTest,
    pub(crate) failing: Vec<String>,
    pub(crate) missing: Option<String>,
}

/// An installed program the prepared set would build from other crate versions.
pub(crate) struct MovedProgram {
    /// Index in the prepared graph's programs.
    index: usize,
    name: String,
    version: String,
    changes: Vec<VersionChange>,
    /// Its closure under the new resolution ([`closure_fingerprint`]).
    fingerprint: String,
}

impl MovedProgram {
    /// `--dry-run`: what an install would do with it.
    pub(crate) fn announce_would_test(&self, shell: &Shell) {
        shell.status(
            "Would test",
            format!(
                "{} v{} under the new crate versions ({}): rebuilt if its own tests pass, else \
                 left as it is",
                self.name,
                self.version,
                describe_changes(&self.changes)
            ),
        );
    }

    /// `NAME vVERSION (the first changes)`, for a status line.
    pub(crate) fn describe(&self) -> String {
        format!(
            "{} v{} ({})",
            self.name,
            self.version,
            describe_changes(&self.changes)
        )
    }
}

/// What its own tests say of a moved program.
pub(crate) enum Verdict {
    /// They pass under the new versions (counts of the run, or of the recorded one).
    Passed(RecordedTest),
    /// Some fail under the new versions, each of them named: they may fail under the installed
    /// versions too, whatever the versions (a test that needs the network, or not to run as
    /// root).
    Failing(RecordedTest),
    /// They do not prove it: why.
    NotProven(String),
}

/// Steps 1 to 3 ([`prepare`]), with the installed programs the set would move proven by their
/// own tests: each one that is not is left out of `options.installed` and the set is prepared
/// again without it.
pub(crate) fn prepare_retested(options: &BuildOptions, shell: &Shell) -> Result<PreparedBuild> {
    prepare_retested_from(options, None, shell)
}

/// [`prepare_retested`], starting from `first` when the caller has prepared `options`
/// already.
pub(crate) fn prepare_retested_from(
    options: &BuildOptions,
    mut first: Option<PreparedBuild>,
    shell: &Shell,
) -> Result<PreparedBuild> {
    if !options.retest_installed || options.installed.is_empty() {
        return first.map_or_else(|| prepare(options, shell), Ok);
    }

    let mut options = options.clone();
    // Program -> the closure it passed its tests with, this run: a set prepared again
    // without a failing program usually builds the others exactly as before.
    let mut passed: BTreeMap<String, (String, RecordedTest)> = BTreeMap::new();
    loop {
        let prepared = match first.take() {
            Some(prepared) => prepared,
            None => prepare(&options, shell)?,
        };
        let moved = moved_programs(&prepared)?;
        // One whose tests are known not to build from its sources leaves before any test
        // runs: the set it leaves is another resolution, to be prepared again first.
        let unprovable = prepared.unprovable(&moved)?;
        if !unprovable.is_empty() {
            leave_unprovable(&mut options, unprovable, shell);
            continue;
        }
        if options.dry_run {
            for m in &moved {
                m.announce_would_test(shell);
            }
            return Ok(prepared);
        }
        let mut proven = Vec::new();
        let mut compare = Vec::new();
        let mut left = Vec::new();
        let verdicts = prepared.retest(&moved, &mut passed, shell)?;
        for (m, verdict) in moved.iter().zip(verdicts) {
            match verdict {
                (Verdict::Passed(counts), recorded) => proven.push((m, counts, recorded)),
                (Verdict::Failing(outcome), recorded) => compare.push((m, outcome, recorded)),
                (Verdict::NotProven(why), _) => left.push((m.name.clone(), m.left_why(&why))),
            }
        }
        if left.is_empty() && compare.is_empty() {
            for (m, counts, recorded) in proven {
                m.announce_proven(&counts, recorded, shell);
                // Its outcome under the resolution it is now installed with, for the next
                // install that moves it and must compare.
                let member = options.installed.iter().find(|i| i.name == m.name);
                if let (Some(member), Some(p)) = (member, prepared.provenance.get(&m.name)) {
                    record_by_resolution(&options, member, &p.resolution, &counts)?;
                }
            }
            return Ok(prepared);
        }
        for (m, outcome, recorded) in compare {
            let before = options
                .installed
                .iter()
                .find(|i| i.name == m.name)
                .map(|member| outcome_as_installed(&options, member, shell))
                .unwrap_or_else(|| Err("it is not among the installed programs".into()));
            let under = "the versions it is installed with";
            match before.and_then(|before| failing_again(&outcome, &before, under)) {
                Ok(()) => {
                    let outcome = RecordedTest {
                        known_failures: true,
                        ..outcome
                    };
                    passed.insert(m.name.clone(), (m.fingerprint.clone(), outcome));
                }
                Err(why) => {
                    m.json_retested(&outcome, false, recorded, shell);
                    let why = if recorded {
                        format!("{why} (recorded by an earlier run under this resolution)")
                    } else {
                        why
                    };
                    left.push((m.name.clone(), m.left_why(&why)));
                }
            }
        }
        if left.is_empty() {
            // Every failing test fails under the installed versions too: the same resolution,
            // whose outcomes `passed` now holds.
            first = Some(prepared);
            continue;
        }
        for (name, why) in left {
            announce_left(&name, &why, shell);
            options.installed.retain(|m| m.name != name);
        }
    }
}

/// Take the installed programs of `left` (each with why) out of `options`, said as left (or,
/// under `--dry-run`, as what the install would leave).
pub(crate) fn leave_unprovable(
    options: &mut BuildOptions,
    left: Vec<(String, String)>,
    shell: &Shell,
) {
    for (name, why) in left {
        if options.dry_run {
            shell.status("Would leave", format!("{name} as it is: {why}"));
        } else {
            announce_left(&name, &why, shell);
        }
        options.installed.retain(|m| m.name != name);
    }
}

/// Whether every test of `outcome` that fails under the new versions fails under the versions
/// of `before` too (`under`: the installed ones, or a newcomer's own): the failures then say
/// nothing of the new versions. Else why not.
pub(crate) fn failing_again(
    outcome: &RecordedTest,
    before: &RecordedTest,
    under: &str,
) -> Result<(), String> {
    let total = outcome.passed + outcome.failed;
    let new: Vec<&str> = outcome
        .failing
        .iter()
        .filter(|name| !before.failing.contains(name))
        .map(String::as_str)
        .collect();
    if before.note.is_some() || before.passed + before.failed == 0 {
        return Err(format!(
            "{} of its {total} own tests fail with them: {} (and its tests could not be run \
             under {under} to compare)",
            outcome.failed,
            some_names(&outcome.failing)
        ));
    }
    if new.is_empty() {
        return Ok(());
    }
    Err(format!(
        "{} of its {total} own tests fail with them and pass under {under}: {}",
        new.len(),
        some_names(&new)
    ))
}

/// `member`'s own test outcome under the versions it is installed with, or why it has none.
fn outcome_as_installed(
    options: &BuildOptions,
    member: &InstalledMember,
    shell: &Shell,
) -> Result<RecordedTest, String> {
    installed_outcome(options, member, "the versions it is installed with", shell).map_err(|e| {
        format!(
            "its tests could not be run with the versions it is installed with to compare: {}",
            e.to_string().lines().next().unwrap_or_default()
        )
    })
}

impl MovedProgram {
    /// Why it is left as it is, `why` being what its tests say.
    fn left_why(&self, why: &str) -> String {
        format!(
            "with the new program it would be built from other crate versions ({}), and {why}",
            describe_changes(&self.changes)
        )
    }

    /// Say it is proven by `counts`, recorded before or not.
    fn announce_proven(&self, counts: &RecordedTest, recorded: bool, shell: &Shell) {
        let as_recorded = if recorded { ", as recorded" } else { "" };
        let pass = if counts.failed == 0 {
            format!("its own tests pass ({} passed{as_recorded})", counts.passed)
        } else {
            format!(
                "its own tests pass ({} passed{as_recorded}) but for {} that fail with the \
                 versions it is installed with too ({})",
                counts.passed,
                counts.failed,
                some_names(&counts.failing)
            )
        };
        shell.status(
            "Proven",
            format!(
                "{} v{} with {}: {pass}, so it is rebuilt with them",
                self.name,
                self.version,
                describe_changes(&self.changes),
            ),
        );
        self.json_retested(counts, true, recorded, shell);
    }

    /// The `program-retested` record.
    fn json_retested(&self, outcome: &RecordedTest, proven: bool, recorded: bool, shell: &Shell) {
        shell.message(&Message::ProgramRetested {
            program: &self.name,
            version: &self.version,
            changes: message::value(&self.changes),
            passed: outcome.passed,
            failed: outcome.failed,
            failing: &outcome.failing,
            proven,
            recorded,
        });
    }
}

/// The installed programs of the prepared set that it builds from other crate versions than
/// their recorded resolutions.
pub(crate) fn moved_programs(prepared: &PreparedBuild) -> Result<Vec<MovedProgram>> {
    let mut out = Vec::new();
    for (index, p) in prepared.graph.programs.iter().enumerate() {
        let Some(recorded) = prepared.options.kept_resolutions.get(&p.name) else {
            continue;
        };
        if prepared.set_of(p).is_none() {
            continue;
        }
        let md = &prepared.graph.workspaces[p.workspace].metadata;
        let changes = version_changes(md, &p.name, recorded)?;
        if !changes.is_empty() {
            out.push(MovedProgram {
                index,
                name: p.name.clone(),
                version: p.version.clone(),
                changes,
                fingerprint: closure_fingerprint(md, &p.name).unwrap_or_default(),
            });
        }
    }
    Ok(out)
}

impl PreparedBuild {
    /// Whether each moved program's own tests pass under this build's resolution: passed
    /// earlier in this run with the same closure, recorded for this resolution, or run now
    /// (all that need a run in one [`Self::run_own_tests_of`], and recorded); and whether the
    /// outcome was recorded before. In the order of `moved`.
    fn retest(
        &self,
        moved: &[MovedProgram],
        passed: &mut BTreeMap<String, (String, RecordedTest)>,
        shell: &Shell,
    ) -> Result<Vec<(Verdict, bool)>> {
        let mut found: Vec<Option<(RecordedTest, bool, Vec<String>)>> = Vec::new();
        let mut to_run = Vec::new();
        for (i, m) in moved.iter().enumerate() {
            let set = self.set_of_moved(m)?;
            let keys = self.outcome_keys(set, m);
            if let Some((_, counts)) = passed.get(&m.name).filter(|(f, _)| *f == m.fingerprint) {
                if counts.known_failures {
                    // Compared with the installed versions' run: so recorded for this resolution.
                    for key in &keys {
                        record_outcomes(set, key, once((m.name.clone(), counts.clone())))?;
                    }
                }
                found.push(Some((counts.clone(), false, Vec::new())));
                continue;
            }
            match keys.iter().find_map(|key| recorded_test(set, key, &m.name)) {
                Some(r) if r.version == m.version => found.push(Some((r, true, Vec::new()))),
                _ => {
                    shell.status(
                        "Testing",
                        format!(
                            "{} v{} under the new crate versions ({})",
                            m.name,
                            m.version,
                            describe_changes(&m.changes)
                        ),
                    );
                    to_run.push(i);
                    found.push(None);
                }
            }
        }
        let indices: Vec<usize> = to_run.iter().map(|&i| moved[i].index).collect();
        let ran = if indices.is_empty() {
            Vec::new()
        } else {
            self.run_own_tests_of(&indices, shell)?
        };
        for (
            &i,
            OwnTests {
                outcome, failing, ..
            },
        ) in to_run.iter().zip(ran)
        {
            let m = &moved[i];
            if let Some(why) = unprovable_of(&outcome, &failing) {
                self.with_sources(m, |cache, sources| {
                    unprovable_tests::record(cache, sources, why)
                })?;
            }
            let set = self.set_of_moved(m)?;
            for key in self.outcome_keys(set, m) {
                record_outcomes(set, &key, once((m.name.clone(), outcome.clone())))?;
            }
            found[i] = Some((outcome, false, failing));
        }
        let mut out = Vec::new();
        for (m, entry) in moved.iter().zip(found) {
            let (outcome, recorded, failing) =
                entry.context("a moved program without an outcome")?;
            let verdict = match verdict(&outcome, &failing) {
                Verdict::NotProven(why) if recorded => Verdict::NotProven(format!(
                    "{why} (recorded by an earlier run under this resolution)"
                )),
                v => v,
            };
            match &verdict {
                Verdict::Passed(counts) => {
                    passed.insert(m.name.clone(), (m.fingerprint.clone(), counts.clone()));
                }
                Verdict::Failing(_) => {}
                Verdict::NotProven(_) => m.json_retested(&outcome, false, recorded, shell),
            }
            out.push((verdict, recorded));
        }
        Ok(out)
    }

    /// The moved programs whose tests are recorded as proving nothing from their sources
    /// ([`unprovable_tests`]), each with why it is left.
    pub(crate) fn unprovable(&self, moved: &[MovedProgram]) -> Result<Vec<(String, String)>> {
        let mut out = Vec::new();
        for m in moved {
            let recorded = self.with_sources(m, |cache, sources| {
                Ok(unprovable_tests::recorded(cache, sources))
            })?;
            if let Some(why) = recorded.flatten() {
                out.push((m.name.clone(), m.left_why(&why.why_left())));
            }
        }
        Ok(out)
    }

    /// `f` of the cache directory and `m`'s sources (its set copy), if it has a copy.
    fn with_sources<T>(
        &self,
        m: &MovedProgram,
        f: impl FnOnce(&std::path::Path, &ProgramSources) -> Result<T>,
    ) -> Result<Option<T>> {
        let Some(copy) = self.package_dir(m.index) else {
            return Ok(None);
        };
        let sources = ProgramSources {
            name: &m.name,
            version: &m.version,
            copy: &copy,
        };
        f(&self.options.cache()?, &sources).map(Some)
    }

    /// What a moved program's test outcome is recorded and found under: the set's resolution
    /// (as `cargo share test` records it), and the program's own (`closure_fingerprint`: every
    /// package its binaries and tests are built from, with versions and features, and the
    /// content of its sources). The second survives a change of the set that leaves the
    /// program's closure as it was: a program left by the install, or a newcomer's crates.
    fn outcome_keys(&self, set: &crate::resolve::set::ProgramSet, m: &MovedProgram) -> Vec<String> {
        let mut keys = vec![self.test_key(set)];
        let sources = self.with_sources(m, |_, sources| Ok(sources.key()));
        if let (false, Ok(Some(Some(sources)))) = (m.fingerprint.is_empty(), sources) {
            let text = format!("{sources}\n{}", m.fingerprint);
            keys.push(format!(
                "closure:{}",
                cargo_share_compile::digest::sha256_hex(text.as_bytes())
            ));
        }
        keys
    }

    /// The set a moved installed program is built in.
    fn set_of_moved(&self, m: &MovedProgram) -> Result<&crate::resolve::set::ProgramSet> {
        self.set_of(&self.graph.programs[m.index])
            .context("an installed program outside the sets")
    }

    /// Run the own test suite of the graph's program `index` in shared mode: its outcome (with
    /// the failing tests named when every test binary reported) and the names of its failing
    /// tests (or, when they did not build, the first compiler errors).
    pub(crate) fn run_own_tests(&self, index: usize, shell: &Shell) -> Result<OwnTests> {
        let mut outcomes = self.run_own_tests_of(&[index], shell)?;
        Ok(outcomes.remove(0))
    }

    /// [`Self::run_own_tests`] of several programs, in one `cargo test` per workspace: Cargo
    /// then compiles their test targets side by side and each unit they share once. The
    /// outcomes are in the order of `indices`. When some of a program's tests fail and others
    /// pass, its suite runs once more (its binaries are built: only the run is paid): a test
    /// that fails once and then passes is flaky, timing or load, and says nothing of the crate
    /// versions; the second run's outcome is the answer then.
    pub(crate) fn run_own_tests_of(
        &self,
        indices: &[usize],
        shell: &Shell,
    ) -> Result<Vec<OwnTests>> {
        let mut outcomes = self.run_own_tests_once(indices, shell)?;
        let failing: Vec<usize> = (0..indices.len())
            .filter(|&i| {
                let run = &outcomes[i];
                matches!(verdict(&run.outcome, &run.failing), Verdict::Failing(_))
            })
            .collect();
        if failing.is_empty() {
            return Ok(outcomes);
        }
        for &i in &failing {
            let program = &self.graph.programs[indices[i]];
            let OwnTests {
                outcome,
                failing: names,
                ..
            } = &outcomes[i];
            shell.status(
                "Retesting",
                format!(
                    "{} v{}: {} of its {} own tests failed ({}); running them once more to tell a \
                     flaky test from a failing one",
                    program.name,
                    program.version,
                    outcome.failed,
                    outcome.passed + outcome.failed,
                    some_names(names)
                ),
            );
        }
        let again_of: Vec<usize> = failing.iter().map(|&i| indices[i]).collect();
        let again = self.run_own_tests_once(&again_of, shell)?;
        for (&i, run) in failing.iter().zip(again) {
            let outcome = &run.outcome;
            if !(matches!(verdict(outcome, &run.failing), Verdict::Passed(_))
                && outcome.failed == 0)
            {
                continue;
            }
            let program = &self.graph.programs[indices[i]];
            shell.status(
                "Flaky",
                format!(
                    "{} v{}: every test passed the second time ({} passed); the first run's \
                     failures ({}) are not held against the new versions",
                    program.name,
                    program.version,
                    outcome.passed,
                    some_names(&outcomes[i].failing)
                ),
            );
            outcomes[i] = run;
        }
        Ok(outcomes)
    }

    /// One run of [`Self::run_own_tests_of`]: one `cargo test` per workspace. A program of a
    /// run of several whose tests did not run (another's failed to build, and Cargo stopped)
    /// is run again alone, so that one program's broken tests are never held against another.
    fn run_own_tests_once(&self, indices: &[usize], shell: &Shell) -> Result<Vec<OwnTests>> {
        // A workspace whose programs are built alone (`--unify semver`: features resolved per
        // program) has them tested alone too.
        let mut runs: BTreeMap<(usize, Option<usize>), Vec<usize>> = BTreeMap::new();
        for &index in indices {
            let workspace = self.graph.programs[index].workspace;
            let alone = self.graph.workspaces[workspace].build_programs_alone
                || self.builds_programs_apart(workspace);
            let run = (workspace, alone.then_some(index));
            runs.entry(run).or_default().push(index);
        }
        let mut found: BTreeMap<usize, OwnTests> = BTreeMap::new();
        for ((workspace, _), programs) in runs {
            let (outcomes, status) = self.run_tests_in(workspace, &programs, shell)?;
            for (index, run) in programs.iter().zip(outcomes) {
                let unrun = programs.len() > 1
                    && !status.success()
                    && run.outcome.passed + run.outcome.failed == 0;
                let run = if unrun {
                    let (mut alone, _) = self.run_tests_in(workspace, &[*index], shell)?;
                    alone.remove(0)
                } else {
                    run
                };
                found.insert(*index, run);
            }
        }
        Ok(indices
            .iter()
            .map(|i| found.get(i).cloned().unwrap_or_default())
            .collect())
    }

    /// `cargo test` of `programs` (of workspace `workspace`): each one's outcome and failing
    /// tests (or, for one whose tests did not build, the first compiler errors of the run), and
    /// Cargo's status.
    fn run_tests_in(
        &self,
        workspace: usize,
        programs: &[usize],
        shell: &Shell,
    ) -> Result<(Vec<OwnTests>, std::process::ExitStatus)> {
        let mut results = vec![TestCounts::default(); self.graph.programs.len()];
        let mut started = vec![0u64; results.len()];
        let mut failing: BTreeMap<usize, Vec<String>> = BTreeMap::new();
        let mut errors = BuildErrors::default();
        // What Cargo says before any test binary runs: the build, and why it failed.
        let mut build_output = String::new();
        let mut testing = false;
        let progress = !shell.quiet && !shell.is_json();
        let mut on_line = |current: Option<usize>, line: &str| {
            let trimmed = line.trim();
            testing |= trimmed.starts_with("Running ") || trimmed.starts_with("Doc-tests ");
            if !testing {
                build_output.push_str(line);
                build_output.push('\n');
            }
            if errors.continues(line) {
                return;
            }
            if let Some(name) = trimmed
                .strip_prefix("test ")
                .and_then(|t| t.strip_suffix(" ... FAILED"))
            {
                if let Some(p) = current {
                    failing.entry(p).or_default().push(name.to_string());
                }
            } else if !errors.take(trimmed) && progress && trimmed.starts_with("Compiling ") {
                // Cargo's progress, as a build shows it.
                eprintln!("{line}");
            }
        };
        let status = self.run_tests(
            workspace,
            programs,
            &mut results,
            &mut started,
            &mut on_line,
        )?;
        let mut out = Vec::new();
        for &index in programs {
            let program = &self.graph.programs[index];
            let mut counts = std::mem::take(&mut results[index]);
            counts.settle(started[index], status, programs.len());
            counts.program = program.name.clone();
            counts.version = program.version.clone();
            let mut outcome = RecordedTest::from(&counts);
            let mut names = failing.remove(&index).unwrap_or_default();
            let mut missing = None;
            if counts.test_binaries == 0 && !status.success() {
                names = errors.kept.clone();
                missing = crate::build::failures::missing_requirement(&build_output);
            } else if counts.test_binaries >= started[index] && names.len() as u64 == counts.failed
            {
                outcome.failing = names.clone();
            }
            out.push(OwnTests {
                outcome,
                failing: names,
                missing,
            });
        }
        Ok((out, status))
    }
}

/// The first errors of a test build that failed, as the install says why its tests did not
/// build.
#[derive(Debug, Default)]
struct BuildErrors {
    kept: Vec<String>,
    /// The last error kept ends with a colon: the indented lines after it complete it.
    listing: bool,
}

impl BuildErrors {
    /// Keep the line (trimmed) if it is an error, the first three of them, each once (the same
    /// error at two places of the code); whether it was one.
    fn take(&mut self, trimmed: &str) -> bool {
        // A link error's cause is on a note line (`rust-lld: error: undefined ...`).
        if !(trimmed.starts_with("error") || trimmed.contains("error: undefined")) {
            return false;
        }
        if self.kept.len() < 3 && !self.kept.iter().any(|e| e == trimmed) {
            self.kept.push(trimmed.to_string());
            self.listing = trimmed.ends_with(':');
        }
        true
    }

    /// Whether `line` completes the last error: the list it announces (`rustc 1.95.0 is not
    /// supported by the following packages:`, then one indented line per package).
    fn continues(&mut self, line: &str) -> bool {
        let trimmed = line.trim();
        if !(std::mem::take(&mut self.listing)
            && line.starts_with(char::is_whitespace)
            && !trimmed.is_empty())
        {
            return false;
        }
        if let Some(last) = self.kept.last_mut() {
            last.push(' ');
            last.push_str(trimmed);
        }
        self.listing = true;
        true
    }
}

/// At most five test names (or errors), and how many more: a suite can fail by the hundred, and
/// its JSON records carry every name.
pub(crate) fn some_names(names: &[impl std::fmt::Display]) -> String {
    crate::shell::first_few(names, 5)
}

/// What a test outcome says of a moved program; `failing` names its failing tests (or the
/// errors that kept them from building).
pub(crate) fn verdict(outcome: &RecordedTest, failing: &[String]) -> Verdict {
    let names = if failing.is_empty() {
        String::new()
    } else {
        format!(": {}", some_names(failing))
    };
    if (outcome.success || outcome.known_failures) && outcome.passed > 0 {
        return Verdict::Passed(outcome.clone());
    }
    if outcome.passed > 0 && outcome.failed > 0 && outcome.failing.len() as u64 == outcome.failed {
        return Verdict::Failing(outcome.clone());
    }
    Verdict::NotProven(if outcome.note.as_deref() == Some("tests did not build") {
        format!("its own tests do not build with them{names}")
    } else if outcome.failed > 0 {
        format!(
            "{} of its {} own tests fail with them{names}",
            outcome.failed,
            outcome.passed + outcome.failed
        )
    } else if outcome.success {
        "it has no test that passes, so nothing shows it works with them (a program \
         without tests keeps the versions it was installed with)"
            .to_string()
    } else {
        format!("its test run with them did not finish{names}")
    })
}

/// What a moved program's test run (`outcome`, with the compiler `errors` of a failed
/// build) says of its sources alone, if anything.
fn unprovable_of(outcome: &RecordedTest, errors: &[String]) -> Option<Unprovable> {
    if outcome.note.as_deref() == Some("tests did not build") {
        return unprovable_tests::missing_file_error(errors)
            .map(|e| Unprovable::MissingFile(e.to_string()));
    }
    // No test target (`no tests`), or test targets without a test.
    let ran_none = outcome.note.is_none() || outcome.note.as_deref() == Some("no tests");
    (outcome.success && ran_none && outcome.passed + outcome.failed == 0)
        .then_some(Unprovable::NoTests)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_a_missing_file_or_an_empty_suite_is_a_property_of_the_sources() {
        let ran = |success, passed, failed, note: Option<&str>| RecordedTest {
            success,
            passed,
            failed,
            note: note.map(String::from),
            ..Default::default()
        };
        assert_eq!(
            unprovable_of(&ran(true, 0, 0, None), &[]),
            Some(Unprovable::NoTests)
        );
        assert_eq!(
            unprovable_of(&ran(true, 0, 0, Some("no tests")), &[]),
            Some(Unprovable::NoTests)
        );
        assert_eq!(unprovable_of(&ran(true, 3, 0, None), &[]), None);
        assert_eq!(unprovable_of(&ran(false, 2, 1, None), &[]), None);
        let missing = "error[E0583]: file not found for module `tests`".to_string();
        assert_eq!(
            unprovable_of(
                &ran(false, 0, 0, Some("tests did not build")),
                std::slice::from_ref(&missing)
            ),
            Some(Unprovable::MissingFile(missing))
        );
        assert_eq!(
            unprovable_of(
                &ran(false, 0, 0, Some("tests did not build")),
                &["error[E0425]: cannot find function `x`".to_string()]
            ),
            None
        );
    }

    /// csvlens 0.15.1: 82 of its 109 tests fail under any versions (their data files are not in
    /// the package), and every name was on one line, twice.
    #[test]
    fn a_long_list_of_failing_tests_is_cut_to_five() {
        let names: Vec<String> = (1..=82).map(|i| format!("app::tests::t{i}")).collect();
        assert_eq!(
            some_names(&names),
            "app::tests::t1, app::tests::t2, app::tests::t3, app::tests::t4, app::tests::t5 \
             (and 77 more)"
        );
        assert_eq!(some_names(&names[..2]), "app::tests::t1, app::tests::t2");
    }

    /// hyperfine 2.0.0's tests under the installed versions: Cargo lists the packages after
    /// the error line, which alone said nothing.
    #[test]
    fn an_error_keeps_the_list_it_announces() {
        let mut errors = BuildErrors::default();
        for line in [
            "error: rustc 1.95.0 is not supported by the following packages:",
            "  foo@2.1.0 requires rustc 1.96",
            "  bar@1.0.0 requires rustc 1.97",
            "",
            "  unrelated indented line",
            "error[E0425]: cannot find function `x`",
            "error[E0425]: cannot find function `x`",
        ] {
            if !errors.continues(line) {
                errors.take(line.trim());
            }
        }
        assert_eq!(
            errors.kept,
            [
                "error: rustc 1.95.0 is not supported by the following packages: foo@2.1.0 \
                 requires rustc 1.96 bar@1.0.0 requires rustc 1.97",
                "error[E0425]: cannot find function `x`"
            ]
        );
    }
}
