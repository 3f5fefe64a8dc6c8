//! `install` into a store that holds programs builds them again with the newcomer as one set
//! (`cargo share install` then `cargo share install` shares what one install of both would):
//! the programs whose build changes are rebound; one the set would build from other crate
//! versions is rebuilt if its own tests pass under them and left as it is if not (or, with
//! `--keep-installed-versions`, untested); `--no-regroup` keeps the old behaviour, and a crash at
//! any point of the rebinding leaves every program on its old or its new build.

mod common;

use std::path::{Path, PathBuf};
use std::process::Output;

use common::store_env::Env;
use common::*;

fn install(env: &Env, fixture_dir: &Path, extra: &[&str]) -> std::process::Command {
    let mut c = env.cmd();
    c.args(["install", "--json"])
        .args(extra)
        .arg("--path")
        .arg(fixture_dir)
        .arg("--root")
        .arg(env.root());
    c
}

fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

/// The `name` field of the JSON records of `reason`.
fn records(env: &Env, out: &Output, reason: &str) -> Vec<String> {
    field_of(env, out, reason, "name")
}

/// The `field` of the JSON records of `reason`.
fn field_of(env: &Env, out: &Output, reason: &str, field: &str) -> Vec<String> {
    env.json(out)
        .into_iter()
        .filter(|m| m["reason"] == reason)
        .map(|m| m[field].as_str().unwrap().to_string())
        .collect()
}

fn all_run(env: &Env) {
    assert_eq!(
        run_clean(&env.root().join("bin/three")),
        "hello, three, from unrelated-common 0.3.0\ngoodbye, three\n"
    );
    for bin in ["two-a", "two-b"] {
        if env.root().join("bin").join(bin).exists() {
            assert!(run_clean(&env.root().join("bin").join(bin)).contains(&format!("hello, {bin}")));
        }
    }
}

#[test]
fn programs_installed_one_at_a_time_share_one_group() {
    let env = Env::new();
    let out = run_ok(&mut install(&env, &fixture("unrelated/ws-three"), &[]));
    assert!(!stderr(&out).contains("warning"), "{}", stderr(&out));
    assert!(
        env.group_libs("three").is_empty(),
        "alone, nothing to share"
    );

    // ws-two's programs use the same path crate: three is built again with them and rebound.
    let out = run_ok(&mut install(&env, &fixture("unrelated/ws-two"), &[]));
    let said = stderr(&out);
    assert!(!said.contains("warning"), "{said}");
    assert_eq!(
        records(&env, &out, "program-regrouped"),
        ["three"],
        "{said}"
    );
    assert_eq!(records(&env, &out, "program-installed"), ["two-a", "two-b"]);
    let group = env.group_libs("three");
    assert_eq!(group.len(), 1, "{said}");
    assert_eq!(env.group_libs("two-a"), group, "the same store entry");
    assert_eq!(env.group_libs("two-b"), group, "the same store entry");
    all_run(&env);
    env.verify_ok();

    // The same again: nothing changes, nothing is rebound.
    let out = run_ok(&mut install(&env, &fixture("unrelated/ws-two"), &[]));
    assert!(records(&env, &out, "program-regrouped").is_empty());
    assert!(stderr(&out).contains("Fresh three"), "{}", stderr(&out));
    assert_eq!(env.group_libs("three"), group);

    // Its old build is garbage now; gc takes it and everything still runs.
    run_ok(env.cmd().arg("gc"));
    all_run(&env);
    env.verify_ok();

    // --no-regroup: today's behaviour, three keeps its static build.
    let env = Env::new();
    run_ok(&mut install(&env, &fixture("unrelated/ws-three"), &[]));
    let out = run_ok(&mut install(
        &env,
        &fixture("unrelated/ws-two"),
        &["--no-regroup"],
    ));
    assert!(records(&env, &out, "program-regrouped").is_empty());
    assert!(env.group_libs("three").is_empty());
    assert_eq!(env.group_libs("two-a").len(), 1);
    all_run(&env);
    env.verify_ok();
}

/// `.cargo/config.toml` in the test's base directory: crates.io replaced by the fixture
/// registry that serves shim 1.0.0 and 1.1.0.
fn with_fixture_registry(env: &Env) {
    replace_crates_io(&env.base, "sets/registry");
}

/// Install the programs in `dirs` (one command) from the test's base directory.
fn install_in_base(env: &Env, dirs: &[PathBuf], extra: &[&str]) -> Output {
    let mut c = env.cmd();
    c.args(["install", "--json"]).args(extra);
    for d in dirs {
        c.arg("--path").arg(d);
    }
    c.arg("--root").arg(env.root()).current_dir(&env.base);
    run_ok(&mut c)
}

/// [`install_in_base`] through a `cargo` that logs each resolution cargo-share asks of it (a
/// `cargo metadata` with `resolver.incompatible-rust-versions`, with the seed lock it starts
/// from and the installed versions it holds, `set::hold`), checking that none is asked twice:
/// planning runs Cargo tens of times, some of them reaching the registry, so an install plans
/// each set once.
fn install_asking_each_resolution_once(env: &Env, dirs: &[PathBuf]) -> Output {
    let log = env.base.join("resolutions.log");
    let _ = std::fs::remove_file(&log);
    let shim = env.base.join("logging-cargo");
    let real = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    std::fs::write(
        &shim,
        format!(
            "#!/bin/sh\ncase \"$*\" in *resolver.incompatible-rust-versions*)\n  \
             for a; do [ \"$prev\" = --manifest-path ] && m=$a; prev=$a; done\n  \
             d=$(dirname \"$m\")\n  \
             seed=$(cat \"$d/Cargo.lock\" \"$d/cargo-share-hold/Cargo.toml\" 2>/dev/null \
             | sha256sum | cut -c1-16)\n  \
             echo \"$* seed=$seed\" >> '{}';;\nesac\nexec '{real}' \"$@\"\n",
            log.display()
        ),
    )
    .unwrap();
    std::fs::set_permissions(&shim, std::os::unix::fs::PermissionsExt::from_mode(0o755)).unwrap();
    let mut c = env.cmd();
    c.args(["install", "--json"]).env("CARGO", &shim);
    for d in dirs {
        c.arg("--path").arg(d);
    }
    c.arg("--root").arg(env.root()).current_dir(&env.base);
    let out = run_ok(&mut c);
    let asked = std::fs::read_to_string(&log).unwrap_or_default();
    assert!(!asked.is_empty(), "no resolution was logged");
    let mut times: std::collections::BTreeMap<&str, usize> = Default::default();
    for line in asked.lines() {
        *times.entry(line).or_default() += 1;
    }
    times.retain(|_, n| *n > 1);
    assert!(
        times.is_empty(),
        "Cargo was asked the same resolution again: {times:#?}\n{}",
        stderr(&out)
    );
    out
}

/// A copy of the fixture `sets/new-shim` in the base directory, renamed `name`, with `edit`
/// applied to its manifest and `src/main.rs`, unlocked (its Cargo.lock removed) when `unlock`,
/// else locked to shim 1.0.0.
fn shim_program(env: &Env, name: &str, edit: &dyn Fn(&str) -> String, unlock: bool) -> PathBuf {
    let dir = env.base.join(name);
    copy_dir(&fixture("sets/new-shim"), &dir);
    for file in ["Cargo.toml", "src/main.rs"] {
        let text = std::fs::read_to_string(dir.join(file)).unwrap();
        let text = text.replace("new-shim", name);
        std::fs::write(dir.join(file), edit(&text)).unwrap();
    }
    let lock = dir.join("Cargo.lock");
    if unlock {
        std::fs::remove_file(lock).unwrap();
    } else {
        let text = std::fs::read_to_string(&lock).unwrap();
        let text = text.replace("new-shim", name).replace("1.1.0", "1.0.0");
        std::fs::write(&lock, text).unwrap();
    }
    dir
}

/// A program with no tests at all (shim 1.0.0): nothing proves it under other versions.
fn untested_shim(env: &Env) -> PathBuf {
    shim_program(
        env,
        "untested-shim",
        &|t| t.split("#[cfg(test)]").next().unwrap().to_string(),
        false,
    )
}

/// A newcomer that requires shim 1.1: the installed programs' shim 1.0.0 would move to 1.1.0.
fn needs_newer(env: &Env) -> PathBuf {
    needing_newer(env, "newer-shim")
}

/// [`needs_newer`] under another name, for another newcomer that moves the same programs.
fn needing_newer(env: &Env, name: &str) -> PathBuf {
    shim_program(
        env,
        name,
        &|t| t.replace("shim = \"1\"", "shim = \"1.1\""),
        true,
    )
}

/// Every file of an installed program's build (its binary and the libraries it is bound to),
/// with its bytes and inode, and where `ROOT/bin/BIN` points.
fn program_files(env: &Env, bin: &str) -> (PathBuf, Vec<(PathBuf, Vec<u8>, u64)>) {
    use std::os::unix::fs::MetadataExt;
    let link = std::fs::read_link(env.root().join("bin").join(bin)).unwrap();
    let dir = link.parent().unwrap().parent().unwrap().to_path_buf();
    let mut files = Vec::new();
    for sub in ["bin", "lib"] {
        for name in file_names(&dir.join(sub)) {
            let path = dir.join(sub).join(name);
            let ino = std::fs::metadata(&path).unwrap().ino();
            files.push((path.clone(), std::fs::read(&path).unwrap(), ino));
        }
    }
    (link, files)
}

/// The `program` field of the JSON records of `reason`.
fn programs_of(env: &Env, out: &Output, reason: &str) -> Vec<String> {
    field_of(env, out, reason, "program")
}

/// A newcomer that moves installed programs to newer versions of a crate (within its range):
/// each one's own tests run under the new versions. One whose tests pass is rebuilt and binds
/// the newcomer's group; one whose test fails, and one without tests, are left byte-identical.
#[test]
fn moved_programs_are_rebuilt_when_their_tests_pass_and_left_when_not() {
    let env = Env::new();
    with_fixture_registry(&env);
    let untested = untested_shim(&env);
    // A program whose tests do not build (they call what shim does not have).
    let broken = shim_program(
        &env,
        "broken-shim",
        &|t| t.replace("shim::answer() > 0", "shim::not_in_shim() > 0"),
        false,
    );
    // A program with a test that fails whatever the versions (it needs what this machine
    // lacks): its failure under the new versions is no reason to leave it.
    let flaky = shim_program(
        &env,
        "flaky-shim",
        &|t| {
            t.replace(
                "mod tests {",
                "mod tests {\n    #[test]\n    fn needs_what_this_machine_lacks() {\n        \
                 assert!(std::env::var_os(\"CARGO_SHARE_TEST_NEVER_SET\").is_some());\n    }\n",
            )
        },
        false,
    );
    let new_shim = shim_program(&env, "new-shim", &|t| t.to_string(), false);
    // All lock shim 1.0.0.
    install_in_base(&env, &[fixture("sets/old-shim")], &[]);
    install_in_base(&env, &[new_shim, untested, broken, flaky], &[]);
    assert_eq!(
        run_clean(&env.root().join("bin/new-shim")),
        "new-shim: shim 1.0.0 answer 41 features extra\n"
    );
    let old_before = program_files(&env, "old-shim");
    let untested_before = program_files(&env, "untested-shim");
    let broken_before = program_files(&env, "broken-shim");

    let out = install_in_base(&env, &[needs_newer(&env)], &["--no-locked"]);
    let said = stderr(&out);
    // new-shim's test (`answer() > 0`) passes with shim 1.1.0: rebuilt with it, same group entry.
    assert!(
        said.contains("Testing new-shim v0.1.0 under the new crate versions (shim 1.0.0 -> 1.1.0)"),
        "{said}"
    );
    assert!(
        said.contains(
            "Proven new-shim v0.1.0 with shim 1.0.0 -> 1.1.0: its own tests pass (1 passed)"
        ),
        "{said}"
    );
    // flaky-shim's failing test fails with shim 1.0.0 too: rebuilt with 1.1.0 all the same.
    assert!(
        said.contains(
            "Testing flaky-shim v0.1.0 under the versions it is installed with (compiled \
             without optimisation), to compare its failing tests"
        ),
        "{said}"
    );
    assert!(
        said.contains(
            "Proven flaky-shim v0.1.0 with shim 1.0.0 -> 1.1.0: its own tests pass (1 passed) \
             but for 1 that fail with the versions it is installed with too \
             (tests::needs_what_this_machine_lacks), so it is rebuilt with them"
        ),
        "{said}"
    );
    let mut regrouped = records(&env, &out, "program-regrouped");
    regrouped.sort();
    assert_eq!(regrouped, ["flaky-shim", "new-shim"], "{said}");
    assert_eq!(
        run_clean(&env.root().join("bin/flaky-shim")),
        "flaky-shim: shim 1.1.0 answer 42 features default\n"
    );
    assert_eq!(records(&env, &out, "program-installed"), ["newer-shim"]);
    let group = env.group_libs("newer-shim");
    assert_eq!(group.len(), 1, "{said}");
    assert_eq!(env.group_libs("new-shim"), group, "the same store entry");
    assert_eq!(
        run_clean(&env.root().join("bin/new-shim")),
        "new-shim: shim 1.1.0 answer 42 features default\n"
    );
    let retested: Vec<serde_json::Value> = env
        .json(&out)
        .into_iter()
        .filter(|m| m["reason"] == "program-retested")
        .collect();
    let proven = |p: &str| {
        retested
            .iter()
            .filter(|m| m["program"] == p)
            .map(|m| m["proven"].as_bool().unwrap())
            .collect::<Vec<_>>()
    };
    assert_eq!(proven("old-shim"), [false], "{retested:?}");
    assert_eq!(proven("untested-shim"), [false], "{retested:?}");
    assert_eq!(proven("broken-shim"), [false], "{retested:?}");
    assert_eq!(proven("new-shim"), [true], "{retested:?}");
    assert_eq!(proven("flaky-shim"), [true], "{retested:?}");
    let old = retested
        .iter()
        .find(|m| m["program"] == "old-shim")
        .unwrap();
    assert_eq!(
        (old["passed"].as_u64(), old["failed"].as_u64()),
        (Some(1), Some(1))
    );
    assert_eq!(
        old["failing"],
        serde_json::json!(["tests::answer_is_what_this_program_was_tested_with"])
    );
    assert_eq!(old["changes"][0]["crate"], "shim");
    assert_eq!(old["changes"][0]["to"], "1.1.0");

    // old-shim's test asserts shim 1.0.0's answer: left, every file as it was.
    assert!(
        said.contains("Leaving old-shim as it is")
            && said.contains(
                "1 of its 2 own tests fail with them and pass under the versions it is \
                 installed with: tests::answer_is_what_this_program_was_tested_with"
            ),
        "{said}"
    );
    assert!(
        said.contains("Leaving untested-shim as it is")
            && said.contains("it has no test that passes"),
        "{said}"
    );
    assert!(
        said.contains("Leaving broken-shim as it is")
            && said.contains("its own tests do not build with them: error"),
        "{said}"
    );
    let mut left = programs_of(&env, &out, "program-left");
    left.sort();
    assert_eq!(left, ["broken-shim", "old-shim", "untested-shim"]);
    assert_eq!(program_files(&env, "old-shim"), old_before);
    assert_eq!(program_files(&env, "untested-shim"), untested_before);
    assert_eq!(program_files(&env, "broken-shim"), broken_before);
    assert_eq!(
        run_clean(&env.root().join("bin/old-shim")),
        "old-shim: shim 1.0.0 answer 41 features extra\n"
    );
    assert!(!said.contains("warning"), "{said}");
    env.verify_ok();

    // The same install again: the recorded outcomes decide, no test runs again.
    let out = install_in_base(&env, &[needs_newer(&env)], &["--no-locked"]);
    let said = stderr(&out);
    assert!(!said.contains("Testing"), "{said}");
    assert!(
        said.contains("Leaving old-shim as it is") && said.contains("recorded by an earlier run"),
        "{said}"
    );
    assert_eq!(program_files(&env, "old-shim"), old_before);
    env.verify_ok();
}

/// A program whose tests cannot build from its sources (it declares a test module whose file
/// its package leaves out) is left as it is by the install that would move it, and the next
/// install that would move it leaves it before running any test: recorded, not found again.
#[test]
fn a_program_whose_tests_miss_a_file_is_left_without_testing_it_again() {
    let env = Env::new();
    with_fixture_registry(&env);
    let unpackaged = shim_program(
        &env,
        "unpackaged-shim",
        &|t| {
            t.replace(
                "#[cfg(test)]\nmod tests {",
                "#[cfg(test)]\nmod missing;\n#[cfg(test)]\nmod tests {",
            )
        },
        false,
    );
    let new_shim = shim_program(&env, "new-shim", &|t| t.to_string(), false);
    install_in_base(&env, &[new_shim, unpackaged], &[]);
    let before = program_files(&env, "unpackaged-shim");

    let out = install_in_base(&env, &[needs_newer(&env)], &["--no-locked"]);
    let said = stderr(&out);
    assert!(
        said.contains("Leaving unpackaged-shim as it is")
            && said.contains("its own tests do not build with them: error[E0583]"),
        "{said}"
    );
    assert_eq!(programs_of(&env, &out, "program-left"), ["unpackaged-shim"]);
    assert_eq!(program_files(&env, "unpackaged-shim"), before);

    // Another newcomer that would move it: left at once, its tests not built again.
    let newest = needing_newer(&env, "newest-shim");
    let out = install_in_base(&env, &[newest], &["--no-locked"]);
    let said = stderr(&out);
    assert!(!said.contains("Testing unpackaged-shim"), "{said}");
    assert!(
        said.contains("Leaving unpackaged-shim as it is")
            && said.contains(
                "its own tests do not build from its sources whatever the versions \
                 (error[E0583]: file not found for module `missing`; found by an earlier install)"
            ),
        "{said}"
    );
    assert_eq!(programs_of(&env, &out, "program-left"), ["unpackaged-shim"]);
    assert_eq!(program_files(&env, "unpackaged-shim"), before);
    // A dry run says so too, instead of a test it would not run.
    let again = needing_newer(&env, "again-shim");
    let out = install_in_base(&env, &[again], &["--no-locked", "--dry-run"]);
    let said = stderr(&out);
    assert!(
        said.contains("Would leave unpackaged-shim as it is")
            && !said.contains("Would test unpackaged-shim"),
        "{said}"
    );
    assert_eq!(
        run_clean(&env.root().join("bin/unpackaged-shim")),
        "unpackaged-shim: shim 1.0.0 answer 41 features default\n"
    );
    env.verify_ok();
}

/// ouch 0.8.3 after eight programs: its tests did not build with the installed versions (a
/// `-sys` crate's build script needs libclang), so every installed program was moved to its
/// versions and tested (nine minutes) before its own build failed the same way. A build script
/// of its own closure that fails for want of a system library fails the install at once.
#[test]
fn a_newcomer_whose_build_needs_a_missing_system_library_fails_before_anything_is_moved() {
    let env = Env::new();
    with_fixture_registry(&env);
    install_in_base(&env, &[fixture("sets/old-shim")], &[]);
    let before = program_files(&env, "old-shim");
    let newcomer = new_shim_with_main(&env, &|t| t.to_string());
    std::fs::write(
        newcomer.join("build.rs"),
        "fn main() {\n    panic!(\"Unable to find libclang: couldn't find any valid shared \
         libraries matching: ['libclang.so']\");\n}\n",
    )
    .unwrap();
    let out = env
        .cmd()
        .args(["install", "--path"])
        .arg(&newcomer)
        .arg("--root")
        .arg(env.root())
        .current_dir(&env.base)
        .output()
        .unwrap();
    let said = stderr(&out);
    assert_eq!(out.status.code(), Some(101), "{said}");
    assert!(
        said.contains(
            "new-shim v0.1.0 cannot be built on this machine: the build script of `new-shim \
             v0.1.0` failed; it needs libclang (Debian/Ubuntu: libclang-dev; Fedora: \
             clang-devel); nothing was installed or changed"
        ),
        "{said}"
    );
    assert!(!said.contains("Testing old-shim"), "{said}");
    assert_eq!(
        said.matches("cannot be built on this machine").count(),
        1,
        "{said}"
    );
    assert!(!env.root().join("bin/new-shim").exists());
    assert_eq!(program_files(&env, "old-shim"), before);
    env.verify_ok();
}

/// A program with no test at all (kondo 0.9.0) proves nothing under any versions: the first
/// install that would move it runs its empty suite and leaves it; a later one leaves it at once,
/// as soon as its set resolves, so the sets are planned once (they were planned a second time
/// without it).
#[test]
fn a_program_without_tests_is_left_without_building_its_tests_again() {
    let env = Env::new();
    with_fixture_registry(&env);
    let new_shim = shim_program(&env, "new-shim", &|t| t.to_string(), false);
    install_in_base(&env, &[new_shim, untested_shim(&env)], &[]);
    let before = program_files(&env, "untested-shim");

    let out = install_in_base(&env, &[needs_newer(&env)], &["--no-locked"]);
    let said = stderr(&out);
    assert!(
        said.contains("Testing untested-shim") && said.contains("Leaving untested-shim as it is"),
        "{said}"
    );
    let newest = needing_newer(&env, "newest-shim");
    let out = install_in_base(&env, &[newest], &["--no-locked"]);
    let said = stderr(&out);
    assert!(!said.contains("Testing untested-shim"), "{said}");
    // Left as soon as the first set resolves, so its groups are planned once, without it.
    assert_eq!(
        said.matches("Group cargo-share-group-").count(),
        1,
        "{said}"
    );
    assert!(
        said.lines()
            .filter(|l| l.contains("Group cargo-share-group-"))
            .all(|l| !l.contains("untested-shim")),
        "{said}"
    );
    assert!(
        said.contains(
            "Leaving untested-shim as it is (installed, not rebuilt): with the new program it \
             would be built from other crate versions (shim 1.0.0 -> 1.1.0), and it has no test \
             to run whatever the versions (found by an earlier install)"
        ),
        "{said}"
    );
    assert_eq!(programs_of(&env, &out, "program-left"), ["untested-shim"]);
    assert_eq!(program_files(&env, "untested-shim"), before);
    env.verify_ok();
}

/// A program's tests are compiled as Cargo's release profile compiles them, without debug
/// assertions: its harness is unoptimised, and rustc would turn them on by default at
/// `opt-level=0` while the program's library, which the harness uses, has them off. Code that
/// exists only with debug assertions on both sides (rust-embed's derive: vivid 0.10.1) then
/// failed to build, and the program was left on its old versions at every install.
#[test]
fn a_moved_programs_tests_are_built_without_debug_assertions_as_its_library_is() {
    let env = Env::new();
    with_fixture_registry(&env);
    let asserting = shim_program(
        &env,
        "asserting-shim",
        &|t| {
            t.replace(
                "#[cfg(test)]\nmod tests {",
                "#[cfg(test)]\nmod tests {\n    #[cfg(debug_assertions)]\n    #[test]\n    \
                 fn checked() {\n        asserting_shim::checked();\n    }\n",
            )
        },
        false,
    );
    std::fs::write(
        asserting.join("src/lib.rs"),
        "#[cfg(debug_assertions)]\npub fn checked() {}\n",
    )
    .unwrap();
    let new_shim = shim_program(&env, "new-shim", &|t| t.to_string(), false);
    install_in_base(&env, &[new_shim, asserting], &[]);

    let out = install_in_base(&env, &[needs_newer(&env)], &["--no-locked"]);
    let said = stderr(&out);
    assert!(
        said.contains("Proven asserting-shim") && !said.contains("Leaving asserting-shim"),
        "{said}"
    );
    assert_eq!(
        run_clean(&env.root().join("bin/asserting-shim")),
        "asserting-shim: shim 1.1.0 answer 42 features default\n"
    );
    env.verify_ok();
}

/// A program left on its old build (it has no tests, so a move never proves it) locks older
/// versions than the programs in step with each other: the versions most installed programs
/// lock are held for the next newcomer, so the programs in step are not moved back to the left
/// one's versions and retested.
#[test]
fn the_versions_most_installed_programs_lock_are_held_over_a_left_programs() {
    let env = Env::new();
    with_fixture_registry(&env);
    let untested = untested_shim(&env);
    let new_shim = shim_program(&env, "new-shim", &|t| t.to_string(), false);
    let other = shim_program(&env, "other-shim", &|t| t.to_string(), false);
    install_in_base(&env, &[new_shim, other, untested], &[]);
    // Moves new-shim and other-shim to shim 1.1.0; untested-shim stays on 1.0.0.
    let out = install_in_base(&env, &[needs_newer(&env)], &["--no-locked"]);
    assert_eq!(programs_of(&env, &out, "program-left"), ["untested-shim"]);
    // Nothing installed requires 1.1 any more: two programs lock 1.1.0, one 1.0.0.
    run_ok(
        env.cmd()
            .args(["uninstall", "newer-shim", "--root"])
            .arg(env.root()),
    );

    // A newcomer locking shim 1.0.0, requiring "1": adapted to the 1.1.0 two programs lock.
    let plain = shim_program(&env, "plain-shim", &|t| t.to_string(), false);
    let out = install_in_base(&env, &[plain], &[]);
    let said = stderr(&out);
    assert!(!said.contains("Testing new-shim"), "{said}");
    assert!(!said.contains("Testing other-shim"), "{said}");
    for (bin, shim) in [
        ("plain-shim", "1.1.0 answer 42"),
        ("new-shim", "1.1.0 answer 42"),
        ("other-shim", "1.1.0 answer 42"),
        ("untested-shim", "1.0.0 answer 41"),
    ] {
        assert_eq!(
            run_clean(&env.root().join("bin").join(bin)),
            format!("{bin}: shim {shim} features default\n"),
            "{said}"
        );
    }
    env.verify_ok();
}

/// A newcomer whose own tests fail with the installed versions keeps the versions it was
/// released with: installed after old-shim (shim 1.0.0), picky-shim (its lock: 1.1.0, its
/// requirement: 1, a test that wants 1.1.0's answer) is built with 1.1.0, as installing both
/// together would, and old-shim, whose test fails with 1.1.0, is left as it is. With
/// `--keep-installed-versions` the installed versions win instead: new-shim adapts to 1.0.0 and
/// shares old-shim's group, and a newcomer that requires 1.1 leaves the installed programs as
/// they are, untested.
#[test]
fn keep_installed_versions_leaves_moved_programs_untested() {
    let env = Env::new();
    with_fixture_registry(&env);
    install_in_base(&env, &[fixture("sets/old-shim")], &[]);
    let before = program_files(&env, "old-shim");
    // A newcomer whose own test fails with the installed versions is not adapted to them: its
    // versions win, and old-shim, whose test fails with 1.1.0, is left as it is.
    let picky = picky_shim(&env);
    let out = install_in_base(&env, &[picky], &[]);
    let said = stderr(&out);
    assert!(
        said.contains(
            "Testing picky-shim v0.1.0 with the installed programs' crate versions (shim 1.1.0 -> \
             1.0.0)"
        ) && said.contains("Not adapting picky-shim v0.1.0")
            && said.contains("1 of its 1 own tests fail with them"),
        "{said}"
    );
    assert!(
        said.contains("Testing old-shim v0.1.0 under the new crate versions (shim 1.0.0 -> 1.1.0)")
            && said.contains("Leaving old-shim as it is"),
        "{said}"
    );
    assert_eq!(
        run_clean(&env.root().join("bin/picky-shim")),
        "picky-shim: shim 1.1.0 answer 42 features default\n"
    );
    assert_eq!(program_files(&env, "old-shim"), before);
    env.verify_ok();

    let env = Env::new();
    with_fixture_registry(&env);
    let keep = "--keep-installed-versions";
    install_in_base(&env, &[fixture("sets/old-shim")], &[]);
    let out = install_in_base(&env, &[fixture("sets/new-shim")], &[keep]);
    assert_eq!(
        records(&env, &out, "program-regrouped"),
        ["old-shim"],
        "{}",
        stderr(&out)
    );
    assert!(
        !stderr(&out).contains("Testing"),
        "nothing moved: {}",
        stderr(&out)
    );
    assert_eq!(env.group_libs("old-shim"), env.group_libs("new-shim"));
    assert_eq!(
        run_clean(&env.root().join("bin/new-shim")),
        "new-shim: shim 1.0.0 answer 41 features extra\n"
    );

    let before = program_files(&env, "old-shim");
    let out = install_in_base(&env, &[needs_newer(&env)], &["--no-locked", keep]);
    let said = stderr(&out);
    assert!(
        said.contains("Leaving old-shim as it is") && said.contains("(shim 1.0.0 -> 1.1.0)"),
        "{said}"
    );
    assert!(!said.contains("Testing"), "{said}");
    let mut left = programs_of(&env, &out, "program-left");
    left.sort();
    assert_eq!(left, ["new-shim", "old-shim"]);
    assert!(programs_of(&env, &out, "program-retested").is_empty());
    assert_eq!(program_files(&env, "old-shim"), before);
    assert!(!said.contains("warning"), "{said}");
    env.verify_ok();
}

/// A crash (SIGKILL) at every step of rebinding leaves each program on its old or its new build:
/// every program runs, the same install then succeeds, and `verify` passes.
#[test]
fn a_crash_while_rebinding_leaves_each_program_on_its_old_or_new_build() {
    // The steps the second install reaches.
    let probe = Env::new();
    run_ok(&mut install(&probe, &fixture("unrelated/ws-three"), &[]));
    let log = probe.base.join("fault-log");
    run_ok(install(&probe, &fixture("unrelated/ws-two"), &[]).env("CARGO_SHARE_FAULT_LOG", &log));
    let sites: Vec<String> = std::fs::read_to_string(&log)
        .unwrap()
        .lines()
        .map(str::to_string)
        .collect();
    assert!(sites.len() > 10, "{sites:?}");
    // Every site of the first program bound (three, rebound), up to the next one's first.
    let binds: Vec<usize> = (0..sites.len())
        .filter(|&i| sites[i].starts_with("entries-added"))
        .collect();
    assert_eq!(binds.len(), 3, "three, two-a, two-b: {sites:?}");
    eprintln!(
        "{} sites: {:?}",
        binds[1] + 1 - binds[0],
        &sites[binds[0]..=binds[1]]
    );
    for site in &sites[binds[0]..=binds[1]] {
        let env = Env::new();
        run_ok(&mut install(&env, &fixture("unrelated/ws-three"), &[]));
        let out = install(&env, &fixture("unrelated/ws-two"), &[])
            .env("CARGO_SHARE_FAULT", format!("{site}:kill"))
            .output()
            .unwrap();
        use std::os::unix::process::ExitStatusExt;
        assert_eq!(
            out.status.signal(),
            Some(9),
            "{site}: not killed\n{}",
            stderr(&out)
        );
        all_run(&env);
        run_ok(&mut install(&env, &fixture("unrelated/ws-two"), &[]));
        all_run(&env);
        assert_eq!(env.group_libs("three").len(), 1, "{site}");
        assert_eq!(env.group_libs("three"), env.group_libs("two-a"), "{site}");
        env.verify_ok();
    }
}

#[test]
fn programs_installed_one_at_a_time_load_the_files_programs_installed_together_load() {
    // pair-new cannot be resolved with pair-old (shim =1.1.0 against =1.0.0): installed together
    // it is split off into a second set that loads the first set's groups it can use. One at a
    // time, each install plans the groups afresh over every installed program and the newcomer,
    // and an installed program that must leave the first set goes to the second as a newcomer
    // would: the last install ends where installing all four together does, file for file.
    let programs = ["pair-old", "pair-new", "pair-any", "tally-only"];
    let dirs: Vec<PathBuf> = programs
        .iter()
        .map(|p| fixture(&format!("sets/{p}")))
        .collect();
    let apart = Env::new();
    with_fixture_registry(&apart);
    for d in &dirs {
        install_in_base(&apart, std::slice::from_ref(d), &[]);
    }
    let together = Env::new();
    with_fixture_registry(&together);
    install_in_base(&together, &dirs, &[]);
    let loaded = |env: &Env, program: &str| -> Vec<(String, Vec<u8>)> {
        let target = std::fs::read_link(env.root().join("bin").join(program)).unwrap();
        let lib = target.parent().unwrap().parent().unwrap().join("lib");
        env.group_libs(program)
            .into_iter()
            .map(|(name, _)| {
                let bytes = std::fs::read(lib.join(&name)).unwrap();
                (name, bytes)
            })
            .collect()
    };
    let mut groups = 0;
    for p in programs {
        let (one, all) = (loaded(&apart, p), loaded(&together, p));
        let names = |l: &[(String, Vec<u8>)]| l.iter().map(|(n, _)| n.clone()).collect::<Vec<_>>();
        assert_eq!(names(&one), names(&all), "{p}");
        assert!(one == all, "{p}: the group files differ in content");
        assert_eq!(
            std::fs::read(apart.root().join("bin").join(p)).unwrap(),
            std::fs::read(together.root().join("bin").join(p)).unwrap(),
            "{p}: the binaries differ"
        );
        groups += one.len();
    }
    assert!(groups >= 4, "the programs share groups: {groups}");
    apart.verify_ok();
}

/// new-shim as picky-shim: locked to shim 1.1.0 (requiring `1`), with a test that passes only
/// with 1.1.0's answer.
fn picky_shim(env: &Env) -> PathBuf {
    let dir = env.base.join("picky-shim");
    copy_dir(&fixture("sets/new-shim"), &dir);
    for file in ["Cargo.toml", "Cargo.lock", "src/main.rs"] {
        let text = std::fs::read_to_string(dir.join(file)).unwrap();
        let text = text.replace("new-shim", "picky-shim").replace(
            "assert!(shim::answer() > 0)",
            "assert_eq!(shim::answer(), 42)",
        );
        std::fs::write(dir.join(file), text).unwrap();
    }
    dir
}

/// A copy of the fixture `sets/new-shim` in the base directory, its `src/main.rs` edited.
fn new_shim_with_main(env: &Env, edit: &dyn Fn(&str) -> String) -> PathBuf {
    let dir = env.base.join("new-shim");
    copy_dir(&fixture("sets/new-shim"), &dir);
    let main = dir.join("src/main.rs");
    let text = std::fs::read_to_string(&main).unwrap();
    std::fs::write(main, edit(&text)).unwrap();
    dir
}

/// new-shim whose test writes `data.txt` into its working directory, its package directory,
/// as ruplacer 0.10.0's doc test does.
fn writing_shim(env: &Env) -> PathBuf {
    new_shim_with_main(env, &|text| {
        text.replace(
            "assert!(shim::answer() > 0)",
            "std::fs::write(\"data.txt\", \"written by a test\").unwrap();\n        \
             assert!(shim::answer() > 0)",
        )
    })
}

/// A newcomer locked to newer versions than the installed programs, whose requirements allow
/// theirs, adapts to them when its own tests pass with them: no installed program is moved or
/// tested, new-shim is built with shim 1.0.0 and loads old-shim's group. Its test writes into
/// its package directory, which the build that follows does not see.
#[test]
fn a_newcomer_adapts_to_the_installed_versions_when_its_own_tests_pass() {
    let env = Env::new();
    with_fixture_registry(&env);
    install_in_base(&env, &[fixture("sets/old-shim")], &[]);
    // `--dry-run` shows the plan the install follows first: new-shim tested under the
    // installed versions, old-shim not moved.
    let index_before = std::fs::read(env.store().join("index.sqlite")).unwrap();
    let planned = stderr(&install_in_base(
        &env,
        &[writing_shim(&env)],
        &["--dry-run"],
    ));
    assert!(
        planned.contains(
            "Would test new-shim v0.1.0 with the installed programs' crate versions (shim 1.1.0 \
             -> 1.0.0): installed with them if its own tests pass"
        ),
        "{planned}"
    );
    assert!(!planned.contains("Would test old-shim"), "{planned}");
    assert_eq!(
        std::fs::read(env.store().join("index.sqlite")).unwrap(),
        index_before
    );
    let out = install_in_base(&env, &[writing_shim(&env)], &[]);
    let said = stderr(&out);
    assert!(
        said.contains(
            "Testing new-shim v0.1.0 with the installed programs' crate versions (shim 1.1.0 -> \
             1.0.0)"
        ),
        "{said}"
    );
    assert!(
        said.contains(
            "Adapted new-shim v0.1.0 to the installed programs' crate versions: its own tests \
             pass (1 passed), so no installed program is moved"
        ),
        "{said}"
    );
    assert!(!said.contains("Testing old-shim"), "{said}");
    assert!(
        programs_of(&env, &out, "program-retested").is_empty(),
        "{said}"
    );
    assert_eq!(
        run_clean(&env.root().join("bin/new-shim")),
        "new-shim: shim 1.0.0 answer 41 features extra\n"
    );
    assert_eq!(
        run_clean(&env.root().join("bin/old-shim")),
        "old-shim: shim 1.0.0 answer 41 features extra\n"
    );
    assert_eq!(env.group_libs("old-shim"), env.group_libs("new-shim"));
    assert!(!said.contains("warning"), "{said}");
    env.verify_ok();
}

/// A program whose build script rewrites a file of its own package directory each build, as
/// du-dust 1.2.7's rewrites its shell completions (a confined build may: `cargo install` lets
/// it).
fn completions_shim(env: &Env) -> PathBuf {
    let dir = shim_program(env, "completions-shim", &|t| t.to_string(), false);
    std::fs::create_dir_all(dir.join("completions")).unwrap();
    std::fs::write(dir.join("completions/shim.bash"), "# as released\n").unwrap();
    std::fs::write(
        dir.join("build.rs"),
        "fn main() {\n    let out = std::env::var(\"OUT_DIR\").unwrap();\n    \
         std::fs::write(\"completions/shim.bash\", format!(\"# generated in {out}\\n\")).unwrap();\n}\n",
    )
    .unwrap();
    dir
}

/// Two programs built apart in one install (builds confined), the first one's build script
/// rewriting a file of its own package directory: the check after the second one's build finds
/// the first one's copy as it was copied (put back after its build), and both are installed.
#[test]
fn a_build_script_that_rewrites_its_own_sources_does_not_fail_the_next_programs_build() {
    if !kernel_has_landlock() {
        // Unconfined, no build may write into a program's sources, and the check refuses it.
        assert!(
            std::env::var_os("CI").is_none(),
            "CI: this kernel has no Landlock"
        );
        eprintln!("skipped: this kernel has no Landlock");
        return;
    }
    let env = Env::new();
    with_fixture_registry(&env);
    let out = install_in_base(
        &env,
        &[completions_shim(&env), fixture("sets/old-shim")],
        &[],
    );
    let said = stderr(&out);
    assert!(
        !said.contains("changed while the programs were built"),
        "{said}"
    );
    assert_eq!(
        run_clean(&env.root().join("bin/completions-shim")),
        "completions-shim: shim 1.0.0 answer 41 features extra\n"
    );
    assert_eq!(
        run_clean(&env.root().join("bin/old-shim")),
        "old-shim: shim 1.0.0 answer 41 features extra\n"
    );
    env.verify_ok();
}

/// new-shim with a second test that fails whatever the crate versions, as a test that needs
/// the network does.
fn shim_with_a_failing_test(env: &Env) -> PathBuf {
    new_shim_with_main(env, &|text| {
        text.replace(
            "    fn answer_is_positive() {",
            "    fn needs_the_network() {\n        panic!(\"no network here\");\n    }\n\n    \
             #[test]\n    fn answer_is_positive() {",
        )
    })
}

/// A newcomer whose test fails under the installed programs' versions and under the versions
/// its own Cargo.lock locks alike is adapted all the same: the failure says nothing of the
/// versions, and no installed program is moved for it. Its outcome is kept under the
/// resolution it is installed with: a later install that moves it compares its failing test
/// with that outcome, without building and running its suite under those versions again.
#[test]
fn a_newcomer_whose_tests_fail_with_its_own_versions_too_is_adapted() {
    let env = Env::new();
    with_fixture_registry(&env);
    install_in_base(&env, &[fixture("sets/old-shim")], &[]);
    let out = install_asking_each_resolution_once(&env, &[shim_with_a_failing_test(&env)]);
    let said = stderr(&out);
    assert!(
        said.contains(
            "Testing new-shim v0.1.0 under the versions its own Cargo.lock locks (compiled \
             without optimisation), to compare its failing tests"
        ),
        "{said}"
    );
    assert!(
        said.contains(
            "Adapted new-shim v0.1.0 to the installed programs' crate versions: its own tests \
             pass (1 passed) but for 1 that fail with the versions its own Cargo.lock locks \
             too (tests::needs_the_network), so no installed program is moved"
        ),
        "{said}"
    );
    assert!(!said.contains("Testing old-shim"), "{said}");
    assert!(
        programs_of(&env, &out, "program-retested").is_empty(),
        "{said}"
    );
    assert_eq!(
        run_clean(&env.root().join("bin/new-shim")),
        "new-shim: shim 1.0.0 answer 41 features extra\n"
    );
    assert_eq!(env.group_libs("old-shim"), env.group_libs("new-shim"));
    env.verify_ok();

    // A third program needs shim 1.1: both installed programs move to it (old-shim's own test
    // asserts shim 1.0.0's answer, so it fails and old-shim is left as it is).
    let third = locked_program(
        &env,
        "needs-shim-1-1",
        "shim = \"1.1\"",
        "",
        "fn main() {\n    println!(\"needs-shim-1-1: shim {}\", shim::version());\n}\n",
        &[],
    );
    let out = install_asking_each_resolution_once(&env, &[third]);
    let said = stderr(&out);
    assert!(
        said.contains(
            "Proven new-shim v0.1.0 with shim 1.0.0 -> 1.1.0: its own tests pass (1 passed) \
             but for 1 that fail with the versions it is installed with too \
             (tests::needs_the_network)"
        ),
        "{said}"
    );
    assert!(
        !said.contains("Testing new-shim v0.1.0 under the versions it is installed with"),
        "{said}"
    );
    assert_eq!(
        run_clean(&env.root().join("bin/new-shim")),
        "new-shim: shim 1.1.0 answer 42 features default\n"
    );
    env.verify_ok();
}

/// A program in the base directory: `name` with `dependencies` and `dev_dependencies` (manifest
/// lines), `main.rs` as given, locked by Cargo against the fixture registry (the newest
/// versions: 1.1.0 for shim and stamp), then each `(crate, version)` of `precise` locked to
/// that version.
fn locked_program(
    env: &Env,
    name: &str,
    dependencies: &str,
    dev_dependencies: &str,
    main: &str,
    precise: &[(&str, &str)],
) -> PathBuf {
    let dir = env.base.join(name);
    std::fs::create_dir_all(dir.join("src")).unwrap();
    std::fs::write(
        dir.join("Cargo.toml"),
        format!(
            "[package]\nname = \"{name}\"\nversion = \"0.1.0\"\nedition = \"2021\"\n\
             publish = false\n\n[dependencies]\n{dependencies}\n\n[dev-dependencies]\n\
             {dev_dependencies}\n\n[workspace]\n"
        ),
    )
    .unwrap();
    std::fs::write(dir.join("src/main.rs"), main).unwrap();
    run_ok(
        std::process::Command::new("cargo")
            .args(["generate-lockfile", "--offline"])
            .current_dir(&dir),
    );
    // `cargo update --precise` does not move within a directory source: edit the lock.
    let lock = dir.join("Cargo.lock");
    let mut text = std::fs::read_to_string(&lock).unwrap();
    for (krate, version) in precise {
        let newest = format!("name = \"{krate}\"\nversion = \"1.1.0\"");
        assert!(text.contains(&newest), "{text}");
        text = text.replace(
            &newest,
            &format!("name = \"{krate}\"\nversion = \"{version}\""),
        );
    }
    std::fs::write(&lock, text).unwrap();
    dir
}

/// `both-user`: shim and stamp, locked at 1.0.0 each; its test holds under either stamp.
fn both_user_on_shim_1_0(env: &Env) -> PathBuf {
    locked_program(
        env,
        "both-user",
        "shim = \"1\"\nstamp = \"1\"",
        "",
        "fn main() {\n    println!(\"both-user: shim {} stamp {}\", shim::version(), \
         stamp::value());\n}\n\n#[cfg(test)]\nmod tests {\n    #[test]\n    fn works() {\n        \
         assert!(stamp::value() >= 10);\n    }\n}\n",
        &[("shim", "1.0.0"), ("stamp", "1.0.0")],
    )
}

/// A moved installed program's tests are built with the dev-dependency versions its own
/// lockfile gives them, as installing it together with the newcomer would: dev-tested's test,
/// written against its dev-dependency stamp 1.1.0, passes when a newcomer that locks stamp
/// 1.0.0 (and moves dev-tested from shim 1.0.0 to 1.1.0) is installed after it. Before, its
/// recorded resolution held no dev-dependency, stamp came from the newcomer's lock alone, the
/// test failed and dev-tested was left on its old build.
#[test]
fn a_moved_programs_tests_get_the_dev_dependencies_its_own_lockfile_gives_them() {
    let env = Env::new();
    with_fixture_registry(&env);
    let tested = locked_program(
        &env,
        "dev-tested",
        "shim = \"1\"",
        "stamp = \"1\"",
        "fn main() {\n    println!(\"dev-tested: shim {}\", shim::version());\n}\n\n\
         #[cfg(test)]\nmod tests {\n    #[test]\n    fn written_against_stamp_1_1() {\n        \
         assert_eq!(stamp::value(), 11);\n    }\n}\n",
        &[("shim", "1.0.0")],
    );
    let newcomer = locked_program(
        &env,
        "stamp-user",
        "shim = \"1.1\"\nstamp = \"1\"",
        "",
        "fn main() {\n    println!(\"stamp-user: shim {} stamp {}\", shim::version(), \
         stamp::value());\n}\n",
        &[("stamp", "1.0.0")],
    );
    install_in_base(&env, &[tested], &[]);
    assert_eq!(
        run_clean(&env.root().join("bin/dev-tested")),
        "dev-tested: shim 1.0.0\n"
    );
    let out = install_in_base(&env, &[newcomer], &[]);
    let said = stderr(&out);
    assert!(
        said.contains(
            "Proven dev-tested v0.1.0 with shim 1.0.0 -> 1.1.0: its own tests pass (1 passed)"
        ),
        "{said}"
    );
    assert!(programs_of(&env, &out, "program-left").is_empty(), "{said}");
    assert_eq!(
        records(&env, &out, "program-regrouped"),
        ["dev-tested"],
        "{said}"
    );
    assert_eq!(
        run_clean(&env.root().join("bin/dev-tested")),
        "dev-tested: shim 1.1.0\n"
    );
    // As installing both together gives it: stamp 1.1.0, the newest either lockfile has.
    assert_eq!(
        run_clean(&env.root().join("bin/stamp-user")),
        "stamp-user: shim 1.1.0 stamp 11\n"
    );
    env.verify_ok();
}

/// A program in the base directory, unlocked: `name` with `dependencies` (manifest lines) and
/// `main.rs` text `main`, with one passing test.
fn program_with(env: &Env, name: &str, dependencies: &str, main: &str) -> PathBuf {
    let dir = env.base.join(name);
    std::fs::create_dir_all(dir.join("src")).unwrap();
    std::fs::write(
        dir.join("Cargo.toml"),
        format!(
            "[package]\nname = \"{name}\"\nversion = \"0.1.0\"\nedition = \"2021\"\n\
             publish = false\n\n[dependencies]\n{dependencies}\n\n[workspace]\n"
        ),
    )
    .unwrap();
    std::fs::write(dir.join("src/main.rs"), main).unwrap();
    dir
}

/// A crate that joins an installed program's closure only because the newcomer turns on a
/// feature (painted's `color` brings in tally) moves no version the program was built with:
/// the program is rebuilt with the unified features and rebound, and no test of it runs.
#[test]
fn a_crate_joining_through_a_feature_moves_no_installed_program() {
    let env = Env::new();
    with_fixture_registry(&env);
    let main = |name: &str| {
        format!(
            "fn main() {{\n    println!(\"{{}}\", painted::paint(\"{name}\"));\n}}\n\n\
             #[cfg(test)]\nmod tests {{\n    #[test]\n    fn paints() {{\n        \
             assert!(painted::paint(\"x\").ends_with(\"x\"));\n    }}\n}}\n"
        )
    };
    let plain = program_with(&env, "plain-painted", "painted = \"1\"", &main("plain"));
    let color = program_with(
        &env,
        "color-painted",
        "painted = { version = \"1\", features = [\"color\"] }",
        &main("color"),
    );
    install_in_base(&env, &[plain], &["--no-locked"]);
    assert_eq!(
        run_clean(&env.root().join("bin/plain-painted")),
        "[plain] plain\n"
    );
    let out = install_in_base(&env, &[color], &["--no-locked"]);
    let said = stderr(&out);
    assert!(!said.contains("Testing"), "{said}");
    assert!(
        programs_of(&env, &out, "program-retested").is_empty(),
        "{said}"
    );
    assert!(programs_of(&env, &out, "program-left").is_empty(), "{said}");
    assert_eq!(
        records(&env, &out, "program-regrouped"),
        ["plain-painted"],
        "{said}"
    );
    // Built with the set's features, as an install of both together builds it.
    assert_eq!(
        run_clean(&env.root().join("bin/plain-painted")),
        "[color] plain\n"
    );
    assert_eq!(
        env.group_libs("plain-painted"),
        env.group_libs("color-painted")
    );
    env.verify_ok();
}

/// An installed program's recorded test outcome follows it when an install rebuilds it without
/// moving a version (a newcomer turns on painted's `color`, which brings tally into its
/// closure): the next install that moves it compares its failing test with that outcome and
/// does not run its suite under its installed versions again. Before, the outcome was kept only
/// under the resolution it had been proven with, and the suite ran again.
#[test]
fn a_test_outcome_follows_a_program_rebuilt_without_a_version_move() {
    let env = Env::new();
    with_fixture_registry(&env);
    let main = "fn main() {\n    println!(\"{} {} {}\", shim::version(), stamp::value(), \
                painted::paint(\"k\"));\n}\n\n#[cfg(test)]\nmod tests {\n    #[test]\n    \
                fn answers() {\n        assert!(shim::answer() > 0);\n    }\n\n    #[test]\n    \
                fn needs_the_network() {\n        panic!(\"no network here\");\n    }\n}\n";
    let kept = locked_program(
        &env,
        "kept-outcome",
        "shim = \"1\"\nstamp = \"1\"\npainted = \"1\"",
        "",
        main,
        &[("shim", "1.0.0"), ("stamp", "1.0.0")],
    );
    let newcomer = |name: &str, dependency: &str, call: &str| {
        let main = format!("fn main() {{\n    println!(\"{name} {{}}\", {call});\n}}\n");
        locked_program(&env, name, dependency, "", &main, &[])
    };
    let baseline = "Testing kept-outcome v0.1.0 under the versions it is installed with";
    install_in_base(&env, &[kept], &[]);
    // Moved to shim 1.1.0: its failing test is compared with a run under its installed versions.
    let needs_shim = newcomer("needs-shim", "shim = \"1.1\"", "shim::version()");
    let said = stderr(&install_in_base(&env, &[needs_shim], &[]));
    assert!(said.contains(baseline), "{said}");
    assert!(
        said.contains("Proven kept-outcome v0.1.0 with shim 1.0.0 -> 1.1.0"),
        "{said}"
    );
    // Rebuilt with tally in its closure, no version moved, no test run.
    let color = newcomer(
        "color-user",
        "painted = { version = \"1\", features = [\"color\"] }",
        "painted::paint(\"c\")",
    );
    let out = install_in_base(&env, &[color], &[]);
    let said = stderr(&out);
    assert!(!said.contains("Testing"), "{said}");
    assert!(
        records(&env, &out, "program-regrouped").contains(&"kept-outcome".to_string()),
        "{said}"
    );
    // Moved to stamp 1.1.0: the outcome kept under the resolution it is installed with answers.
    let needs_stamp = newcomer("needs-stamp", "stamp = \"1.1\"", "stamp::value()");
    let out = install_in_base(&env, &[needs_stamp], &[]);
    let said = stderr(&out);
    assert!(!said.contains(baseline), "{said}");
    assert!(
        said.contains("Proven kept-outcome v0.1.0 with stamp 1.0.0 -> 1.1.0"),
        "{said}"
    );
    assert_eq!(
        programs_of(&env, &out, "program-retested"),
        ["kept-outcome"],
        "{said}"
    );
    assert_eq!(
        run_clean(&env.root().join("bin/kept-outcome")),
        "1.1.0 11 [color] k\n"
    );
    env.verify_ok();
}

/// A moved program's test that fails once and passes when run again is flaky, not a reason to
/// leave the program: the suite runs a second time, and the program is proven by that run.
#[test]
fn a_test_that_fails_once_is_run_again_before_a_program_is_left() {
    let env = Env::new();
    with_fixture_registry(&env);
    let marker = env.base.join("flaky-once-ran");
    let flaky_once = shim_program(
        &env,
        "once-shim",
        &|t| {
            t.replace(
                "mod tests {",
                &format!(
                    "mod tests {{\n    #[test]\n    fn fails_the_first_time() {{\n        \
                     let marker = std::path::Path::new({marker:?});\n        \
                     if !marker.exists() {{\n            std::fs::write(marker, \"\").unwrap();\n            \
                     panic!(\"first run\");\n        }}\n    }}\n"
                ),
            )
        },
        false,
    );
    install_in_base(&env, &[flaky_once], &[]);
    let out = install_in_base(&env, &[needs_newer(&env)], &["--no-locked"]);
    let said = stderr(&out);
    assert!(
        said.contains(
            "Retesting once-shim v0.1.0: 1 of its 2 own tests failed \
             (tests::fails_the_first_time)"
        ),
        "{said}"
    );
    assert!(said.contains("Flaky once-shim v0.1.0"), "{said}");
    assert!(
        said.contains(
            "Proven once-shim v0.1.0 with shim 1.0.0 -> 1.1.0: its own tests pass (2 passed)"
        ),
        "{said}"
    );
    assert_eq!(
        records(&env, &out, "program-regrouped"),
        ["once-shim"],
        "{said}"
    );
    assert_eq!(
        run_clean(&env.root().join("bin/once-shim")),
        "once-shim: shim 1.1.0 answer 42 features default\n"
    );
    env.verify_ok();
}

/// A newcomer locked to older releases than the installed programs' (old-shim, shim 1.0.0,
/// after new-shim with 1.1.0) is built from the installed newer ones without running its
/// tests, as `cargo install` without `--locked`, or installing both together, builds it: only
/// a move to an older release than it locks asks for its tests. Before, its tests ran, one
/// failed under 1.1.0 (it asserts 1.0.0's answer), and the install then took the newer
/// versions all the same.
#[test]
fn a_newcomer_given_only_newer_releases_than_it_locks_is_not_tested() {
    let env = Env::new();
    with_fixture_registry(&env);
    install_in_base(&env, &[fixture("sets/new-shim")], &[]);
    let out = install_in_base(&env, &[fixture("sets/old-shim")], &[]);
    let said = stderr(&out);
    assert!(
        said.contains(
            "Adapted old-shim v0.1.0 to the installed programs' crate versions: newer releases \
             than its Cargo.lock locks (shim 1.0.0 -> 1.1.0), within its requirements, as \
             `cargo install` without `--locked` would take them, so its tests are not run"
        ),
        "{said}"
    );
    assert!(!said.contains("Testing"), "{said}");
    assert!(
        programs_of(&env, &out, "program-retested").is_empty(),
        "{said}"
    );
    assert_eq!(
        run_clean(&env.root().join("bin/old-shim")),
        "old-shim: shim 1.1.0 answer 42 features extra\n"
    );
    assert_eq!(env.group_libs("old-shim"), env.group_libs("new-shim"));
    env.verify_ok();
}

/// A newcomer whose requirements move the one installed program its own lock would move too
/// (it needs shim 1.1 and locks stamp 1.1.0; both-user has 1.0.0 of each) is still adapted:
/// its own versions would move both of both-user's crates, its requirements move shim alone, so
/// stamp and everything above it stays as it is built. Its test runs under stamp 1.0.0, and
/// both-user moves to shim 1.1.0 only, proven by its own test. Before, the newcomer kept its
/// versions untested and both-user moved to both.
#[test]
fn a_newcomer_adapts_when_its_requirements_move_the_programs_its_own_versions_would() {
    let env = Env::new();
    with_fixture_registry(&env);
    let program = |name: &str, dependencies: &str, precise: &[(&str, &str)]| {
        let main = format!(
            "fn main() {{\n    println!(\"{name}: shim {{}} stamp {{}}\", shim::version(), \
             stamp::value());\n}}\n\n#[cfg(test)]\nmod tests {{\n    #[test]\n    fn works() \
             {{\n        assert!(stamp::value() >= 10);\n    }}\n}}\n"
        );
        locked_program(&env, name, dependencies, "", &main, precise)
    };
    let installed = program(
        "both-user",
        "shim = \"1\"\nstamp = \"1\"",
        &[("shim", "1.0.0"), ("stamp", "1.0.0")],
    );
    let newcomer = program("needs-shim", "shim = \"1.1\"\nstamp = \"1\"", &[]);
    install_in_base(&env, &[installed], &[]);
    let out = install_in_base(&env, &[newcomer], &[]);
    let said = stderr(&out);
    assert!(
        said.contains(
            "Adapted needs-shim v0.1.0 to the installed programs' crate versions: its own tests \
             pass (1 passed), so only the installed programs its requirements move are retested"
        ),
        "{said}"
    );
    assert!(
        said.contains("that moves both-user v0.1.0 (shim 1.0.0 -> 1.1.0), proven by"),
        "{said}"
    );
    assert_eq!(
        programs_of(&env, &out, "program-retested"),
        ["both-user"],
        "{said}"
    );
    assert_eq!(
        run_clean(&env.root().join("bin/needs-shim")),
        "needs-shim: shim 1.1.0 stamp 10\n"
    );
    assert_eq!(
        run_clean(&env.root().join("bin/both-user")),
        "both-user: shim 1.1.0 stamp 10\n"
    );
    assert_eq!(env.group_libs("both-user"), env.group_libs("needs-shim"));
    env.verify_ok();
}

/// A newcomer's locked version of a crate no installed program uses does not move the installed
/// ones: wraps-shim locks shim-user 1.1.0, which needs shim 1.1, while both-user is built from
/// shim 1.0.0. The installed versions are held while the newcomer is adapted (`set::hold`), so
/// Cargo picks shim-user 1.0.0, which takes shim 1.0.0: the newcomer is tested under those
/// (an older release than it locks) and both-user is neither moved nor retested. Before, the
/// seed kept shim-user 1.1.0, Cargo moved shim to 1.1.0, and both-user was retested and rebuilt.
#[test]
fn a_newcomer_takes_a_release_of_its_own_crate_that_fits_the_installed_versions() {
    let env = Env::new();
    with_fixture_registry(&env);
    let installed = both_user_on_shim_1_0(&env);
    let newcomer = locked_program(
        &env,
        "wraps-shim",
        "shim-user = \"1\"",
        "",
        "fn main() {\n    println!(\"wraps-shim: {}\", shim_user::describe());\n}\n\n\
         #[cfg(test)]\nmod tests {\n    #[test]\n    fn works() {\n        \
         assert!(shim_user::describe().starts_with(\"shim-user\"));\n    }\n}\n",
        &[],
    );
    let lock = std::fs::read_to_string(newcomer.join("Cargo.lock")).unwrap();
    assert!(
        lock.contains("name = \"shim-user\"\nversion = \"1.1.0\""),
        "{lock}"
    );
    install_in_base(&env, &[installed], &[]);
    let out = install_in_base(&env, &[newcomer], &[]);
    let said = stderr(&out);
    assert!(
        said.contains("Adapted wraps-shim v0.1.0 to the installed programs' crate versions"),
        "{said}"
    );
    // Regrouped (shim now has two users, so it moves into a group), not moved nor retested.
    assert!(!said.contains("Testing both-user"), "{said}");
    assert!(!said.contains("that moves both-user"), "{said}");
    assert!(
        programs_of(&env, &out, "program-retested").is_empty(),
        "{said}"
    );
    assert_eq!(
        run_clean(&env.root().join("bin/wraps-shim")),
        "wraps-shim: shim-user 1.0.0 on shim 1.0.0\n"
    );
    assert_eq!(
        run_clean(&env.root().join("bin/both-user")),
        "both-user: shim 1.0.0 stamp 10\n"
    );
    assert_eq!(env.group_libs("both-user"), env.group_libs("wraps-shim"));
    env.verify_ok();
}

/// What a newcomer's lockfile holds only for its tests moves no installed program and asks for
/// no test run: needs-shim-tests needs shim 1.1 (so both-user moves to it, proven by its own
/// test) and locks stamp 1.1.0 for its test alone; both-user keeps stamp 1.0.0, and the
/// newcomer, built from exactly what it locks, is not tested. Before, its test-only stamp
/// 1.1.0 counted as a version it was built from: both-user moved to stamp 1.1.0 as well.
#[test]
fn what_a_newcomer_locks_only_for_its_tests_moves_no_installed_program() {
    let env = Env::new();
    with_fixture_registry(&env);
    let installed = both_user_on_shim_1_0(&env);
    let newcomer = locked_program(
        &env,
        "needs-shim-tests",
        "shim = \"1.1\"",
        "stamp = \"1\"",
        "fn main() {\n    println!(\"needs-shim-tests: shim {}\", shim::version());\n}\n\n\
         #[cfg(test)]\nmod tests {\n    #[test]\n    fn works() {\n        \
         assert_eq!(stamp::value(), 11);\n    }\n}\n",
        &[],
    );
    install_in_base(&env, &[installed], &[]);
    let out = install_in_base(&env, &[newcomer], &[]);
    let said = stderr(&out);
    assert!(!said.contains("Testing needs-shim-tests"), "{said}");
    assert_eq!(
        programs_of(&env, &out, "program-retested"),
        ["both-user"],
        "{said}"
    );
    assert_eq!(
        run_clean(&env.root().join("bin/both-user")),
        "both-user: shim 1.1.0 stamp 10\n"
    );
    assert_eq!(
        run_clean(&env.root().join("bin/needs-shim-tests")),
        "needs-shim-tests: shim 1.1.0\n"
    );
    env.verify_ok();
}

/// A newcomer the installed versions give only another version of a test tool is built exactly
/// as it locks itself: it is not tested, and nothing installed moves. stamp-user has stamp
/// 1.0.0; only-tests-stamp locks stamp 1.1.0 for its test alone (which asserts 11). Before,
/// the older stamp counted as a change to prove: its test ran under 1.0.0, failed, and
/// stamp-user moved to 1.1.0 instead, retested.
#[test]
fn a_newcomer_given_other_test_tools_only_is_not_tested() {
    let env = Env::new();
    with_fixture_registry(&env);
    let installed = locked_program(
        &env,
        "stamp-user",
        "stamp = \"1\"",
        "",
        "fn main() {\n    println!(\"stamp-user: stamp {}\", stamp::value());\n}\n",
        &[("stamp", "1.0.0")],
    );
    let newcomer = locked_program(
        &env,
        "only-tests-stamp",
        "shim = \"1\"",
        "stamp = \"1\"",
        "fn main() {\n    println!(\"only-tests-stamp: shim {}\", shim::version());\n}\n\n\
         #[cfg(test)]\nmod tests {\n    #[test]\n    fn works() {\n        \
         assert_eq!(stamp::value(), 11);\n    }\n}\n",
        &[],
    );
    install_in_base(&env, &[installed], &[]);
    let before = std::fs::read(env.root().join("bin/stamp-user")).unwrap();
    let out = install_in_base(&env, &[newcomer], &[]);
    let said = stderr(&out);
    assert!(!said.contains("Testing"), "{said}");
    assert!(
        programs_of(&env, &out, "program-retested").is_empty(),
        "{said}"
    );
    assert_eq!(
        std::fs::read(env.root().join("bin/stamp-user")).unwrap(),
        before,
        "{said}"
    );
    assert_eq!(
        run_clean(&env.root().join("bin/stamp-user")),
        "stamp-user: stamp 10\n"
    );
    env.verify_ok();
}

/// A newcomer whose requirements move one installed program (it needs shim 1.1, shim-user has
/// 1.0.0) and whose lock is newer than another's (stamp 1.1.0, stamp-user has 1.0.0, which its
/// requirement allows) adapts to the installed versions where it can: only shim-user moves and
/// is retested; stamp-user keeps its versions and is not tested, and the newcomer, proven by its own
/// test, is built with stamp 1.0.0. Before, the newcomer's newer lock moved stamp-user too, and
/// both installed programs' tests ran.
#[test]
fn a_newcomer_moves_only_the_installed_programs_its_requirements_move() {
    let env = Env::new();
    with_fixture_registry(&env);
    let test = |assertion: &str| {
        format!("\n#[cfg(test)]\nmod tests {{\n    #[test]\n    fn works() {{\n        {assertion};\n    }}\n}}\n")
    };
    let shim_user = locked_program(
        &env,
        "shim-user",
        "shim = \"1\"",
        "",
        &format!(
            "fn main() {{\n    println!(\"shim-user: shim {{}}\", shim::version());\n}}\n{}",
            test("assert!(shim::answer() > 40)")
        ),
        &[("shim", "1.0.0")],
    );
    let stamp_user = locked_program(
        &env,
        "stamp-user",
        "stamp = \"1\"",
        "",
        &format!(
            "fn main() {{\n    println!(\"stamp-user: stamp {{}}\", stamp::value());\n}}\n{}",
            test("assert!(stamp::value() >= 10)")
        ),
        &[("stamp", "1.0.0")],
    );
    let newcomer = locked_program(
        &env,
        "needs-shim",
        "shim = \"1.1\"\nstamp = \"1\"",
        "",
        &format!(
            "fn main() {{\n    println!(\"needs-shim: shim {{}} stamp {{}}\", shim::version(), \
             stamp::value());\n}}\n{}",
            test("assert!(stamp::value() >= 10)")
        ),
        &[],
    );
    install_in_base(&env, &[shim_user, stamp_user], &[]);
    let out = install_in_base(&env, &[newcomer], &[]);
    let said = stderr(&out);
    assert!(
        said.contains(
            "Testing needs-shim v0.1.0 with the installed programs' crate versions (stamp 1.1.0 \
             -> 1.0.0)"
        ),
        "{said}"
    );
    assert!(
        said.contains("that moves shim-user v0.1.0 (shim 1.0.0 -> 1.1.0)"),
        "{said}"
    );
    assert!(!said.contains("Testing stamp-user"), "{said}");
    assert_eq!(
        programs_of(&env, &out, "program-retested"),
        ["shim-user"],
        "{said}"
    );
    // Relinked against the group it now shares with the newcomer, on the versions it had.
    assert_eq!(
        run_clean(&env.root().join("bin/stamp-user")),
        "stamp-user: stamp 10\n"
    );
    assert_eq!(
        run_clean(&env.root().join("bin/needs-shim")),
        "needs-shim: shim 1.1.0 stamp 10\n"
    );
    assert_eq!(
        run_clean(&env.root().join("bin/shim-user")),
        "shim-user: shim 1.1.0\n"
    );
    env.verify_ok();
}

/// Every file below the slots of the programs' compiled code (`cargo-share-objects` in the
/// build cache's target directory) whose name starts with `prefix`, with its modification time.
fn slot_files(env: &Env, prefix: &str) -> Vec<(PathBuf, std::time::SystemTime)> {
    fn walk(
        dir: &Path,
        inside: bool,
        prefix: &str,
        out: &mut Vec<(PathBuf, std::time::SystemTime)>,
    ) {
        for entry in std::fs::read_dir(dir).into_iter().flatten().flatten() {
            let path = entry.path();
            let name = entry.file_name().to_string_lossy().into_owned();
            if path.is_dir() {
                let slot = inside && name.starts_with(prefix);
                walk(&path, inside || name == "cargo-share-objects", prefix, out);
                if slot {
                    for file in std::fs::read_dir(&path).unwrap().flatten() {
                        let modified = file.metadata().unwrap().modified().unwrap();
                        out.push((file.path(), modified));
                    }
                }
            }
        }
    }
    let mut out = Vec::new();
    walk(&env.base, false, prefix, &mut out);
    out.sort();
    out
}

/// An installed program whose crate versions do not move is relinked against the new groups,
/// not compiled again: three (a library and a binary) shares its path crate with the
/// newcomers, so that crate moves into a group, and three's own code is taken as it was
/// compiled at its first install (the slots of its library and binary are untouched) and linked
/// against the group.
#[test]
fn a_program_whose_versions_do_not_move_is_relinked_not_compiled_again() {
    let env = Env::new();
    let fixtures = env.base.join("unrelated");
    copy_dir(&fixture("unrelated"), &fixtures);
    let three = fixtures.join("ws-three/three");
    std::fs::write(
        three.join("src/lib.rs"),
        "pub fn both(who: &str) -> String {\n    format!(\"{}\\n{}\", \
         unrelated_common::greet(who), unrelated_common::farewell(who))\n}\n",
    )
    .unwrap();
    std::fs::write(
        three.join("src/main.rs"),
        "fn main() {\n    println!(\"{}\", three::both(\"three\"));\n}\n",
    )
    .unwrap();
    run_ok(&mut install(&env, &fixtures.join("ws-three"), &[]));
    assert!(
        env.group_libs("three").is_empty(),
        "alone, nothing to share"
    );
    let compiled = slot_files(&env, "three-");
    assert!(
        compiled
            .iter()
            .any(|(p, _)| p.extension().is_some_and(|e| e == "o"))
            && compiled
                .iter()
                .any(|(p, _)| p.extension().is_some_and(|e| e == "rlib")),
        "three's binary objects and library kept: {compiled:?}"
    );

    let out = run_ok(&mut install(&env, &fixtures.join("ws-two"), &[]));
    let said = stderr(&out);
    assert_eq!(
        records(&env, &out, "program-regrouped"),
        ["three"],
        "{said}"
    );
    assert_eq!(env.group_libs("three").len(), 1, "{said}");
    assert_eq!(env.group_libs("three"), env.group_libs("two-a"));
    assert_eq!(
        slot_files(&env, "three-"),
        compiled,
        "three's code was compiled again: {said}"
    );
    all_run(&env);
    env.verify_ok();
}

/// A crates.io program installed before and built again with a newcomer (here compiled again,
/// since the newcomer turns on a feature of a crate it shares) keeps its lints capped, as when
/// it was installed: its warnings are nothing the user can act on, and a lint a newer rustc
/// denies would fail the newcomer's install for it.
#[test]
fn an_installed_crates_io_program_built_again_keeps_its_lints_capped() {
    let env = Env::new();
    with_fixture_registry(&env);
    let mut first = env.cmd();
    first
        .args(["install", "--json", "noisy-tool@0.1.0", "--root"])
        .arg(env.root())
        .current_dir(&env.base);
    run_ok(&mut first);
    let extra = shim_program(
        &env,
        "extra-shim",
        &|text| {
            text.replace(
                "shim = \"1\"",
                "shim = { version = \"1\", features = [\"extra\"] }",
            )
        },
        true,
    );
    let out = install_in_base(&env, &[extra], &["--no-locked"]);
    let said = stderr(&out);
    assert!(
        said.contains("Compiling noisy-tool v0.1.0"),
        "not compiled again:\n{said}"
    );
    assert!(!said.contains("unused_in_program"), "{said}");
    assert!(run_clean(&env.root().join("bin/noisy-tool")).starts_with("noisy-tool: "));
}
