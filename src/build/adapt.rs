//! An install's first choice: the programs it names adapt to the installed programs' crate
//! versions, proven by their own tests, so that no installed program moves.
//!
//! Installing a program into a store that holds others resolves them as one set. By default
//! the newest version any program locked wins each semver-compatible range, as installing them
//! together does; an installed program that set would build from other versions is proven by
//! its own test suite first (`build::retest`), and rebuilt. That costs a test run and a rebuild
//! per moved program, each install. So an install first tries the other way round: the
//! installed programs' versions win the seed (the newcomers' requirements still decide where
//! they must), and when that moves no installed program, each newcomer built from other
//! versions than its own `Cargo.lock` locks is proven by its own tests under them. When they
//! pass, that resolution is built: one test suite (the newcomer's) instead of one per installed
//! program, and nothing installed is rebuilt for its versions. When the newcomers' requirements
//! move an installed program anyway, or a newcomer has no test that passes under the installed
//! versions, the install moves the installed programs as before. Sharing is the same either way:
//! one version per compatible range.

use anyhow::Result;

use crate::build::options::BuildOptions;
use crate::build::prepare::{prepare, PreparedBuild};
use crate::build::retest::{moved_programs, prepare_retested, verdict, Verdict};
use crate::resolve::set::{changes_from_own_lock, describe_changes, VersionChange};
use crate::shell::Shell;

/// A newcomer the adapted resolution builds from other versions than its own lockfile.
struct AdaptedProgram {
    index: usize,
    name: String,
    version: String,
    changes: Vec<VersionChange>,
}

/// Steps 1 to 3 of an install's build that may move installed programs: the adapted
/// resolution when it holds (`prepare_adapted`), else the installed programs moved to the
/// newcomers' versions, each proven by its own tests (`build::retest::prepare_retested`).
pub fn prepare_proven(options: &BuildOptions, shell: &Shell) -> Result<PreparedBuild> {
    if let Some(prepared) = prepare_adapted(options, shell)? {
        return Ok(prepared);
    }
    prepare_retested(options, shell)
}

/// The adapted resolution, prepared, when it moves no installed program and every newcomer it
/// builds from other versions than it locked passes its own tests under them; else `None` (the
/// caller moves the installed programs instead), having said why.
pub(crate) fn prepare_adapted(
    options: &BuildOptions,
    shell: &Shell,
) -> Result<Option<PreparedBuild>> {
    if options.dry_run
        || !options.retest_installed
        || !options.unify.newest_locked
        || options.installed.is_empty()
    {
        return Ok(None);
    }
    let adapted_options = BuildOptions {
        unify: crate::resolve::set::UnifyOptions {
            newest_locked: false,
            ..options.unify.clone()
        },
        ..options.clone()
    };
    let quiet = Shell::new(true, crate::shell::MessageFormat::Human);
    let Ok(trial) = prepare(&adapted_options, &quiet) else {
        return Ok(None);
    };
    if !moved_programs(&trial)?.is_empty() {
        return Ok(None);
    }
    if adapted_programs(&trial)?.is_empty() {
        // The newcomers are built from what they lock: the other way gives the same.
        return Ok(None);
    }
    drop(trial);
    let prepared = prepare(&adapted_options, shell)?;
    for m in adapted_programs(&prepared)? {
        shell.status(
            "Testing",
            format!(
                "{} v{} with the installed programs' crate versions ({})",
                m.name,
                m.version,
                describe_changes(&m.changes)
            ),
        );
        let (outcome, failing) = prepared.run_own_tests(m.index, shell)?;
        match verdict(&outcome, &failing) {
            Verdict::Passed(counts) => shell.status(
                "Adapted",
                format!(
                    "{} v{} to the installed programs' crate versions: its own tests pass ({} \
                     passed), so no installed program is moved",
                    m.name, m.version, counts.passed
                ),
            ),
            Verdict::Failing(_) | Verdict::NotProven(_) => {
                let why = if outcome.note.as_deref() == Some("tests did not build") {
                    "its own tests do not build with them".to_string()
                } else if outcome.failed > 0 {
                    format!(
                        "{} of its {} own tests fail with them",
                        outcome.failed,
                        outcome.passed + outcome.failed
                    )
                } else {
                    "it has no test that passes with them".to_string()
                };
                shell.status(
                    "Not adapting",
                    format!(
                        "{} v{} to the installed programs' crate versions: {why}; the installed \
                         programs move to its versions instead, each proven by its own tests",
                        m.name, m.version
                    ),
                );
                return Ok(None);
            }
        }
    }
    Ok(Some(prepared))
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
        let Some(lock) = set
            .members
            .iter()
            .find(|m| m.name == p.name)
            .and_then(|m| m.lock.as_deref())
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
            });
        }
    }
    Ok(out)
}
