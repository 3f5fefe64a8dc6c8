//! `cargo share test`: the programs' own tests run the way `build` compiles them, with each
//! `test result:` line attributed to its program, and the outcome recorded per policy and lock
//! hash for `install` to check.

use std::collections::BTreeMap;
use std::io::BufReader;
use std::path::{Path, PathBuf};

use anyhow::{bail, Context, Result};
use cargo_metadata::Message;
use serde::Serialize;

use crate::build::cargo::CargoVerb;
use crate::build::cargo_stderr::StderrForwarding;
use crate::build::options::BuildOptions;
use crate::build::prepare::{prepare, PreparedBuild};
use crate::failure::ErrorKind;
use crate::message::{Message as Record, Report};
use crate::resolve::graph;
use crate::resolve::set::ProgramSet;
use crate::shell::Shell;

/// Pass and fail counts of one program's test run.
#[derive(Debug, Clone, Default, Serialize, PartialEq, Eq)]
pub struct TestCounts {
    pub(crate) program: String,
    pub(crate) version: String,
    pub(crate) passed: u64,
    pub(crate) failed: u64,
    pub(crate) ignored: u64,
    pub(crate) test_binaries: u64,
    pub success: bool,
    /// "no tests" or "tests did not build".
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) note: Option<String>,
}

impl TestCounts {
    /// Set `success` and `note` once the run of `programs` programs that started `started` test
    /// binaries of this one ended with `status`. In a run of several programs Cargo's status
    /// covers them all: a program passed if every test binary it started reported, with no
    /// failures.
    pub(crate) fn settle(
        &mut self,
        started: u64,
        status: std::process::ExitStatus,
        programs: usize,
    ) {
        self.success = if self.test_binaries == 0 {
            status.success()
        } else {
            self.failed == 0 && self.test_binaries >= started && (status.success() || programs > 1)
        };
        if self.test_binaries == 0 {
            self.note = Some(if status.success() {
                "no tests".into()
            } else {
                "tests did not build".into()
            });
        }
    }
}

/// Add up the `test result:` lines libtest prints.
pub(crate) fn count_test_results(line: &str, counts: &mut TestCounts) {
    let Some(rest) = line.trim().strip_prefix("test result: ") else {
        return;
    };
    counts.test_binaries += 1;
    for part in rest.split(';') {
        let words: Vec<&str> = part.split_whitespace().collect();
        let (num, what) = match words.as_slice() {
            [_, n, w, ..] if n.parse::<u64>().is_ok() => (*n, *w),
            [n, w, ..] => (*n, *w),
            _ => continue,
        };
        let Ok(n) = num.parse::<u64>() else {
            continue;
        };
        match what {
            "passed" => counts.passed += n,
            "failed" => counts.failed += n,
            "ignored" => counts.ignored += n,
            _ => {}
        }
    }
}

/// `cargo share test`: each program's own test suite, built in shared mode under the chosen
/// resolution. Under `--unify`, the results are recorded against the set's lockfile, and
/// `install` refuses a program whose tests failed there.
pub fn test(options: &BuildOptions, shell: &Shell) -> Result<Vec<TestCounts>> {
    let prepared = prepare(options, shell)?;
    prepared.report_overrides(shell);
    crate::build::path_sources::forget_other_copies(&prepared, shell)?;
    let mut results: Vec<TestCounts> = prepared
        .graph
        .programs
        .iter()
        .map(|p| TestCounts {
            program: p.name.clone(),
            version: p.version.clone(),
            ..Default::default()
        })
        .collect();
    for (wi, programs) in prepared.invocations() {
        let names = prepared.program_names(&programs);
        shell.status("Testing", format!("{} (shared)", names.join(", ")));
        let mut started = vec![0u64; results.len()];
        let mut echo = |_: Option<usize>, line: &str| {
            if !shell.is_json() && !shell.quiet {
                eprintln!("{line}");
            }
        };
        let status = prepared.run_tests(wi, &programs, &mut results, &mut started, &mut echo)?;
        for &p in &programs {
            let counts = &mut results[p];
            counts.settle(started[p], status, programs.len());
            if counts.test_binaries == 0 && !status.success() {
                shell.error(
                    ErrorKind::Failed,
                    format!(
                        "{} v{}: the tests did not build (see the errors above)",
                        counts.program, counts.version
                    ),
                );
            }
            shell.message(&Record::TestFinished(Report::of(counts)));
        }
    }
    shell.result(format!(
        "\n{:<24} {:>8} {:>8} {:>8} {:>8}  {}",
        "program", "run", "passed", "failed", "ignored", "note"
    ));
    for r in &results {
        shell.result(format!(
            "{:<24} {:>8} {:>8} {:>8} {:>8}  {}",
            format!("{} {}", r.program, r.version),
            r.passed + r.failed,
            r.passed,
            r.failed,
            r.ignored,
            r.note.as_deref().unwrap_or("")
        ));
    }
    if let Some(set) = &prepared.set {
        record_tests(set, &prepared, &results)?;
        let failing: Vec<&str> = prepared
            .graph
            .programs
            .iter()
            .zip(&results)
            .filter(|(p, r)| prepared.in_set(p) && !r.success)
            .map(|(p, _)| p.name.as_str())
            .collect();
        if !failing.is_empty() {
            shell.warn(format!(
                "under --unify {}, the tests of {} do not pass. Ways out: build {} with its own lockfile \
                 (--own-lock NAME), or pin the crate that breaks it (--pin CRATE@VERSION). \
                 `cargo share install` refuses these programs under this resolution.",
                set.policy,
                failing.join(", "),
                if failing.len() == 1 { "it" } else { "each" },
            ));
        }
    }
    Ok(results)
}

/// One program's recorded test outcome under a set's resolution.
#[derive(Debug, Clone, Default, Serialize, serde::Deserialize)]
pub(crate) struct RecordedTest {
    pub(crate) version: String,
    pub(crate) passed: u64,
    pub(crate) failed: u64,
    pub(crate) success: bool,
    pub(crate) note: Option<String>,
    /// The names of the failing tests, when every test binary reported and each failure is
    /// named (`install`'s retest compares them with a run under the installed versions).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub(crate) failing: Vec<String>,
    /// Each failing test fails under the versions the program is installed with too
    /// (`install`'s retest ran them): the failures say nothing of this resolution.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub(crate) known_failures: bool,
}

impl From<&TestCounts> for RecordedTest {
    fn from(r: &TestCounts) -> Self {
        RecordedTest {
            version: r.version.clone(),
            passed: r.passed,
            failed: r.failed,
            success: r.success,
            note: r.note.clone(),
            failing: Vec::new(),
            known_failures: false,
        }
    }
}

/// `SET/test-results.json`: [`ProgramSet::resolution_key`] (and features) -> program -> outcome.
type TestRecords = BTreeMap<String, BTreeMap<String, RecordedTest>>;

fn test_records_path(set: &ProgramSet) -> PathBuf {
    set.root.join("test-results.json")
}

fn load_test_records(set: &ProgramSet) -> TestRecords {
    std::fs::read(test_records_path(set))
        .ok()
        .and_then(|b| serde_json::from_slice(&b).ok())
        .unwrap_or_default()
}

/// The outcome recorded for `program` under the test key `key` of `set`, if any.
pub(crate) fn recorded_test(set: &ProgramSet, key: &str, program: &str) -> Option<RecordedTest> {
    load_test_records(set).get(key)?.get(program).cloned()
}

fn record_tests(set: &ProgramSet, prepared: &PreparedBuild, results: &[TestCounts]) -> Result<()> {
    let outcomes = prepared
        .graph
        .programs
        .iter()
        .zip(results)
        .filter(|(program, _)| prepared.in_set(program))
        .map(|(program, r)| (program.name.clone(), RecordedTest::from(r)));
    record_outcomes(set, &prepared.test_key(set), outcomes)
}

/// Add outcomes (program, outcome) under the test key `key` of `set`.
pub(crate) fn record_outcomes(
    set: &ProgramSet,
    key: &str,
    outcomes: impl Iterator<Item = (String, RecordedTest)>,
) -> Result<()> {
    let mut records = load_test_records(set);
    records.entry(key.to_string()).or_default().extend(outcomes);
    let path = test_records_path(set);
    let tmp = tempfile::NamedTempFile::new_in(&set.root)?;
    std::fs::write(tmp.path(), serde_json::to_vec_pretty(&records)?)?;
    tmp.persist(&path)
        .with_context(|| format!("writing {}", path.display()))?;
    Ok(())
}

impl PreparedBuild {
    /// What a test outcome is recorded under: the set's resolution and, when features were
    /// asked, the features of its programs (they change what is built and tested).
    pub(crate) fn test_key(&self, set: &ProgramSet) -> String {
        let names: Vec<&str> = set.members.iter().map(|m| m.name.as_str()).collect();
        let features = self.options.features.cargo_args(&names);
        if features.is_empty() {
            set.resolution_key()
        } else {
            format!("{} {}", set.resolution_key(), features.join(" "))
        }
    }

    /// The set a program is built in: the first or a later one (`None`: with its own lockfile).
    pub(crate) fn set_of(&self, program: &graph::Program) -> Option<&ProgramSet> {
        self.set
            .iter()
            .chain(&self.later_sets)
            .find(|set| set.members.iter().any(|m| m.name == program.name))
    }

    /// Whether a program is built in the unified set (not with `--own-lock`).
    pub(crate) fn in_set(&self, program: &graph::Program) -> bool {
        // By name: program names are unique in a build, and the set's programs may be built
        // from its grouped build workspace rather than the set workspace itself.
        self.set
            .as_ref()
            .is_some_and(|set| set.members.iter().any(|m| m.name == program.name))
    }

    /// Whether a set of one program resolved it exactly as its own lockfile does: its own tests
    /// already cover that resolution (features are its own too), so there is nothing to warn of.
    fn own_resolution(&self, set: &ProgramSet, program: &str) -> bool {
        let [member] = set.members.as_slice() else {
            return false;
        };
        let set_lock = std::fs::read_to_string(set.manifest_path.with_file_name("Cargo.lock"));
        member.name == program
            && member
                .lock
                .as_deref()
                .zip(set_lock.ok())
                .is_some_and(|(own, set)| {
                    crate::resolve::set::keeps_locked_versions(own, &set).unwrap_or(false)
                })
    }

    /// Before an install under `--unify`: programs whose own tests failed under this exact
    /// resolution are refused; untested ones get a warning when the user fixed the resolution.
    pub(crate) fn check_recorded_tests(&self, shell: &Shell) -> Result<()> {
        let Some(set) = &self.set else {
            return Ok(());
        };
        if !self.options.check_tests {
            return Ok(());
        }
        let records = load_test_records(set);
        let recorded = records.get(&self.test_key(set));
        let mut failed = Vec::new();
        let mut untested = Vec::new();
        for program in self.graph.programs.iter().filter(|p| self.in_set(p)) {
            match recorded.and_then(|r| r.get(&program.name)) {
                Some(r) if !r.success && !r.known_failures => failed.push(format!(
                    "{} ({} of {} tests failed)",
                    program.name,
                    r.failed,
                    r.passed + r.failed
                )),
                Some(_) => {}
                None if self.own_resolution(set, &program.name) => {}
                None => untested.push(program.name.clone()),
            }
        }
        // Only a resolution the user fixed (`--pin`, `--lock`) is worth a warning: one chosen
        // by cargo-share (a set, an install among installed programs) is nothing to act on.
        let fixed = self.options.unify.lock_file.is_some() || !self.options.unify.pins.is_empty();
        if !untested.is_empty() && fixed {
            shell.warn(format!(
                "{} not tested under this resolution (--unify {}); `cargo share test` with the same programs and options runs their own test suites",
                untested.join(", "),
                set.policy
            ));
        }
        if !failed.is_empty() {
            let message = format!(
                "under --unify {}, the tests of {} failed (`cargo share test`). Ways out: install it with its own lockfile \
                 (--own-lock NAME), pin the crate that breaks it (--pin CRATE@VERSION), or accept it with --allow-test-failures",
                set.policy,
                failed.join(", ")
            );
            if !self.options.allow_test_failures {
                bail!("{message}");
            }
            shell.warn(message);
        }
        Ok(())
    }

    /// Run `cargo test` for some programs of one workspace, attributing each test binary's
    /// results to its program: Cargo's stderr ("Running ... (PATH)", "Doc-tests NAME") and the
    /// tests' stdout share one pipe, so the order is kept.
    /// Every line of the run goes to `on_line`, with the program whose tests it is from (as far
    /// as the `Running` lines tell).
    pub(crate) fn run_tests(
        &self,
        workspace: usize,
        programs: &[usize],
        results: &mut [TestCounts],
        started: &mut [u64],
        on_line: &mut dyn FnMut(Option<usize>, &str),
    ) -> Result<std::process::ExitStatus> {
        let quiet = Shell::new(true, crate::shell::MessageFormat::Human);
        let mut cmd = self.cargo(CargoVerb::Test, workspace, programs, &quiet)?;
        let (reader, writer) = std::io::pipe()?;
        cmd.stdout(writer.try_clone()?).stderr(writer);
        let mut child = cmd.spawn().context("running cargo test")?;
        drop(cmd);
        let md = &self.graph.workspaces[workspace].metadata;
        let mut by_executable: BTreeMap<String, usize> = BTreeMap::new();
        let mut by_lib: BTreeMap<String, usize> = BTreeMap::new();
        for &p in programs {
            let id = &self.graph.programs[p].package_id;
            if let Some(pkg) = md.packages.iter().find(|k| &k.id == id) {
                for t in pkg.targets.iter().filter(|t| t.is_lib()) {
                    by_lib.insert(t.name.replace('-', "_"), p);
                }
            }
        }
        let forwarding = self.user_facing(&StderrForwarding::default(), programs);
        let replacements = forwarding.replacements(&std::env::current_dir().unwrap_or_default());
        let mut current = programs.first().copied();
        for message in Message::parse_stream(BufReader::new(reader)) {
            match message? {
                Message::CompilerArtifact(a) => {
                    if let (Some(exe), Some(&p)) = (
                        &a.executable,
                        programs
                            .iter()
                            .find(|&&p| self.graph.programs[p].package_id == a.package_id),
                    ) {
                        if let Some(name) = exe.file_name() {
                            by_executable.insert(name.to_string(), p);
                        }
                    }
                }
                Message::TextLine(line) => {
                    let trimmed = line.trim();
                    if let Some(rest) = trimmed.strip_prefix("Running ") {
                        let path = rest
                            .rsplit_once('(')
                            .map(|(_, p)| p.trim_end_matches(')'))
                            .unwrap_or(rest);
                        let name = Path::new(path)
                            .file_name()
                            .map(|n| n.to_string_lossy().into_owned())
                            .unwrap_or_default();
                        current = by_executable.get(&name).copied().or(current);
                        current.inspect(|&p| started[p] += 1);
                    } else if let Some(lib) = trimmed.strip_prefix("Doc-tests ") {
                        current = by_lib.get(lib.trim()).copied().or(current);
                        current.inspect(|&p| started[p] += 1);
                    }
                    if let Some(p) = current {
                        count_test_results(&line, &mut results[p]);
                    }
                    on_line(current, &forwarding.for_user(&line, &replacements));
                }
                _ => {}
            }
        }
        let status = child.wait()?;
        let tested: Vec<PathBuf> = programs
            .iter()
            .filter_map(|&p| self.package_dir(p))
            .collect();
        crate::resolve::set::workspace::restore_copies(&tested)?;
        Ok(status)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn libtest_summaries_are_added_up() {
        let mut c = TestCounts::default();
        count_test_results(
            "test result: ok. 12 passed; 0 failed; 1 ignored; 0 measured; 0 filtered out; finished in 0.01s",
            &mut c,
        );
        count_test_results(
            "test result: FAILED. 3 passed; 2 failed; 0 ignored; 0 measured; 0 filtered out",
            &mut c,
        );
        count_test_results("running 5 tests", &mut c);
        assert_eq!(
            (c.passed, c.failed, c.ignored, c.test_binaries),
            (15, 2, 1, 2)
        );
    }
}
