//! An installed program's own tests under the versions it is installed with: the baseline its
//! failing tests under a set's new versions are compared with (`install`'s retest).
//!
//! Some tests fail whatever the crate versions: they need the network, a file the package does
//! not ship, a variable such as `XDG_RUNTIME_DIR`, or not to run as root. Such a failure says
//! nothing of the new versions, and reading it as one would leave the program on its old build
//! forever, so that installing programs one at a time would give other sets than installing
//! them together. The same suite is therefore built and run with the installed program alone,
//! under the resolution it is installed with, and its outcome recorded with that resolution (a
//! later install compares without running it again).

use std::iter::once;

use anyhow::{Context, Result};

use crate::build::options::{BuildOptions, InstalledMember};
use crate::build::prepare::prepare;
use crate::build::test::{record_outcomes, recorded_test, RecordedTest};
use crate::shell::{MessageFormat, Shell};

/// `member`'s own test outcome under the resolution it is installed with: recorded, or run
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
    shell: &Shell,
) -> Result<RecordedTest> {
    let alone = BuildOptions {
        programs: Vec::new(),
        installed: vec![member.clone()],
        retest_installed: true,
        kept_resolutions: Default::default(),
        dry_run: false,
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
    let set = prepared
        .set_of(program)
        .context("Cargo cannot resolve it alone with those versions")?;
    let key = prepared.test_key(set);
    if let Some(outcome) =
        recorded_test(set, &key, &member.name).filter(|r| r.version == program.version)
    {
        return Ok(outcome);
    }
    shell.status(
        "Testing",
        format!(
            "{} v{} under the versions it is installed with, to compare its failing tests",
            member.name, program.version
        ),
    );
    let (outcome, _) = prepared.run_own_tests(index, shell)?;
    record_outcomes(set, &key, once((member.name.clone(), outcome.clone())))?;
    Ok(outcome)
}
