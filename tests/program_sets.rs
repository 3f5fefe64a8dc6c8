//! Program sets (`--unify`) on hermetic fixtures. `tests/fixtures/sets/registry` is a Cargo
//! directory source that stands in for crates.io (a scratch `.cargo/config.toml` replaces
//! crates.io with it), holding `shim` 1.0.0 and 1.1.0. `old-shim` locks shim 1.0.0 with the
//! `extra` feature and has a test that only passes with 1.0.0; `new-shim` locks 1.1.0, default
//! features.

mod common;

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use common::*;

struct SetEnv {
    _scratch: tempfile::TempDir,
    base: PathBuf,
}

impl SetEnv {
    fn new() -> SetEnv {
        let (scratch, base) = scratch_with_directory_source("sets/registry");
        SetEnv {
            _scratch: scratch,
            base,
        }
    }

    /// cargo-share run inside the scratch directory (so Cargo reads its config), with both
    /// fixture programs.
    fn cmd(&self, verb: &str, unify: &str) -> Command {
        let mut c = cargo_share(&self.base);
        c.current_dir(&self.base)
            .arg(verb)
            .arg("--manifest-path")
            .arg(fixture("sets/old-shim"))
            .arg("--manifest-path")
            .arg(fixture("sets/new-shim"))
            .args(["--unify", unify]);
        // These tests count crate builds per policy: one dylib per crate shows them.
        c.args(["--layout", "per-crate"]);
        c
    }

    /// `cargo-share build` of the fixture programs `programs` (by `--manifest-path`), then `extra`.
    fn build_programs(&self, programs: &[&str], extra: &[&str]) -> Command {
        let mut c = cargo_share(&self.base);
        c.current_dir(&self.base).arg("build");
        for p in programs {
            c.arg("--manifest-path").arg(fixture(&format!("sets/{p}")));
        }
        c.args(extra);
        c
    }

    fn build(&self, unify: &str, extra: &[&str]) -> PathBuf {
        let out = self.base.join(format!("out-{unify}"));
        run_ok(self.cmd("build", unify).args(extra).arg("--out").arg(&out));
        out
    }
}

/// What `old-shim` and `new-shim` in `dir/bin` print after their name.
fn expect_outputs(dir: &Path, old: &str, new: &str) {
    assert_eq!(
        run_clean(&dir.join("bin/old-shim")),
        format!("old-shim: {old}\n")
    );
    assert_eq!(
        run_clean(&dir.join("bin/new-shim")),
        format!("new-shim: {new}\n")
    );
}

fn shim_libraries(out: &Path) -> Vec<String> {
    file_names(&out.join("lib"))
        .into_iter()
        .filter(|n| n.starts_with("libshim-"))
        .collect()
}

/// The JSON records of a `--json` run's stdout.
fn json_records(out: &Output) -> Vec<serde_json::Value> {
    stdout(out)
        .lines()
        .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
        .collect()
}

fn stdout(out: &Output) -> String {
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

#[test]
fn each_policy_resolves_and_builds_as_documented() {
    let env = SetEnv::new();

    // none: each program's own lock. Two builds of shim (1.0.0+extra, 1.1.0).
    let none = env.build("none", &[]);
    assert_eq!(shim_libraries(&none).len(), 2);
    expect_outputs(
        &none,
        "shim 1.0.0 answer 41 features extra",
        "shim 1.1.0 answer 42 features default",
    );

    // semver: one version (the newest either program locked), features per program.
    let lock = env.base.join("set.lock");
    let semver = env.build("semver", &["--lock", lock.to_str().unwrap()]);
    assert_eq!(shim_libraries(&semver).len(), 2);
    expect_outputs(
        &semver,
        "shim 1.1.0 answer 42 features extra",
        "shim 1.1.0 answer 42 features default",
    );
    let saved = std::fs::read_to_string(&lock).unwrap();
    assert!(
        saved.contains("name = \"shim\"\nversion = \"1.1.0\""),
        "{saved}"
    );
    assert!(!saved.contains("1.0.0\""), "{saved}");

    // features: one build of shim, with the union of the features.
    let features = env.build("features", &[]);
    assert_eq!(shim_libraries(&features).len(), 1);
    assert_eq!(
        run_clean(&features.join("bin/new-shim")),
        "new-shim: shim 1.1.0 answer 42 features extra\n"
    );

    // A pin moves the set to another version of the range; --own-lock keeps a program out.
    let pinned = env.build("semver", &["--pin", "shim@1.0.0"]);
    assert_eq!(
        run_clean(&pinned.join("bin/new-shim")),
        "new-shim: shim 1.0.0 answer 41 features default\n"
    );
    let own = env.build("features", &["--own-lock", "old-shim"]);
    expect_outputs(
        &own,
        "shim 1.0.0 answer 41 features extra",
        "shim 1.1.0 answer 42 features default",
    );
}

#[test]
fn a_saved_resolution_is_reused_exactly_and_refused_for_another_set() {
    let env = SetEnv::new();
    let lock = env.base.join("set.lock");
    // A resolution pinned to shim 1.0.0, saved.
    env.build(
        "semver",
        &["--lock", lock.to_str().unwrap(), "--pin", "shim@1.0.0"],
    );
    // Reused without the pin: still 1.0.0, because the file decides.
    let out = run_ok(
        env.cmd("build", "semver")
            .args(["--lock", lock.to_str().unwrap(), "--out"])
            .arg(env.base.join("again")),
    );
    assert!(
        stderr(&out).contains("Using the resolution in"),
        "{}",
        stderr(&out)
    );
    assert_eq!(
        run_clean(&env.base.join("again/bin/new-shim")),
        "new-shim: shim 1.0.0 answer 41 features default\n"
    );
    // The same file for a different set of programs is refused, and nothing is built.
    let other = env.base.join("other");
    let out = cargo_share(&env.base)
        .current_dir(&env.base)
        .args([
            "build",
            "--unify",
            "semver",
            "--layout",
            "per-crate",
            "--manifest-path",
        ])
        .arg(fixture("sets/new-shim"))
        .arg("--lock")
        .arg(&lock)
        .arg("--out")
        .arg(&other)
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(
        stderr(&out).contains("was made for the programs new-shim@0.1.0, old-shim@0.1.0"),
        "{}",
        stderr(&out)
    );
    assert!(!other.exists());
}

#[test]
fn tests_under_unification_are_reported_and_gate_install() {
    let env = SetEnv::new();
    let store = env.base.join("store");
    let root = env.base.join("root");

    let out = env.cmd("test", "semver").arg("--json").output().unwrap();
    assert!(
        !out.status.success(),
        "a failing test suite must fail the command"
    );
    let records: Vec<serde_json::Value> = stdout(&out)
        .lines()
        .filter_map(|l| serde_json::from_str(l).ok())
        .filter(|v: &serde_json::Value| v["reason"] == "test-finished")
        .collect();
    let by_name = |n: &str| {
        records
            .iter()
            .find(|r| r["program"] == n)
            .unwrap_or_else(|| panic!("no result for {n}: {records:?}"))
            .clone()
    };
    assert_eq!(by_name("old-shim")["passed"], 1);
    assert_eq!(by_name("old-shim")["failed"], 1);
    assert_eq!(by_name("old-shim")["success"], false);
    assert_eq!(by_name("new-shim")["passed"], 1);
    assert_eq!(by_name("new-shim")["success"], true);

    // The human table names both programs with their counts.
    let out = env.cmd("test", "features").arg("-q").output().unwrap();
    let table = stdout(&out);
    assert!(
        table.lines().any(|l| l.starts_with("old-shim 0.1.0")
            && l.split_whitespace().skip(2).take(3).eq(["2", "1", "1"])),
        "{table}"
    );

    // Results are per policy: the semver failure says nothing of --unify features builds. A
    // set of one on its own lockfile's versions is what its own tests cover: no warning.
    let install_into = |store: &str, extra: &[&str], programs: &[&str]| {
        let mut c = cargo_share(&env.base);
        c.current_dir(&env.base).arg("install").args(extra);
        for p in programs {
            c.arg("--path").arg(fixture(&format!("sets/{p}")));
        }
        c.arg("--store")
            .arg(env.base.join(store))
            .arg("--root")
            .arg(env.base.join(format!("{store}-root")));
        c.output().unwrap()
    };
    let out = install_into("other-store", &["--unify", "features"], &["new-shim"]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(!stderr(&out).contains("not tested"), "{}", stderr(&out));
    // Two programs under a resolution nobody tested (a pin): installed, with a warning.
    let out = install_into(
        "third-store",
        &["--unify", "features", "--pin", "shim@1.0.0"],
        &["old-shim", "new-shim"],
    );
    assert!(out.status.success(), "{}", stderr(&out));
    let said = stderr(&out);
    assert!(
        said.contains("not tested under this resolution")
            && said.contains("old-shim")
            && said.contains("new-shim"),
        "{said}"
    );

    // install refuses the program that failed under this resolution, and changes nothing.
    let install = |extra: &[&str]| {
        cargo_share(&env.base)
            .current_dir(&env.base)
            .args([
                "install",
                "--unify",
                "semver",
                "--layout",
                "per-crate",
                "--path",
            ])
            .arg(fixture("sets/old-shim"))
            .arg("--path")
            .arg(fixture("sets/new-shim"))
            .arg("--store")
            .arg(&store)
            .arg("--root")
            .arg(&root)
            .args(extra)
            .output()
            .unwrap()
    };
    let out = install(&[]);
    assert!(!out.status.success());
    let err = stderr(&out);
    assert!(
        err.contains("old-shim") && err.contains("--own-lock") && err.contains("--pin"),
        "{err}"
    );
    assert!(!root.join("bin/old-shim").exists() && !root.join("bin/new-shim").exists());

    // The way out: old-shim keeps its own lockfile; its tests pass, both install and run.
    let out = run_ok(env.cmd("test", "semver").args(["--own-lock", "old-shim"]));
    assert!(stdout(&out).contains("old-shim 0.1.0"));
    let out = install(&["--own-lock", "old-shim"]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(!stderr(&out).contains("not tested"), "{}", stderr(&out));
    expect_outputs(
        &root,
        "shim 1.0.0 answer 41 features extra",
        "shim 1.1.0 answer 42 features default",
    );
}

#[test]
fn analyze_counts_the_crate_builds_of_each_policy() {
    let env = SetEnv::new();
    let out = run_ok(
        cargo_share(&env.base)
            .current_dir(&env.base)
            .args(["analyze", "--json", "--manifest-path"])
            .arg(fixture("sets/old-shim"))
            .arg("--manifest-path")
            .arg(fixture("sets/new-shim")),
    );
    let analyses: Vec<serde_json::Value> = stdout(&out)
        .lines()
        .map(|l| serde_json::from_str::<serde_json::Value>(l).unwrap())
        .filter(|v| v["reason"] == "analysis")
        .collect();
    let builds: Vec<(String, u64)> = analyses
        .iter()
        .map(|v| {
            (
                v["unify"].as_str().unwrap().to_string(),
                v["crate_builds"].as_u64().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        builds,
        [
            ("none".into(), 2),
            ("semver".into(), 2),
            ("features".into(), 1)
        ]
    );
    // Projected saving by source size: without unification each program has its own shim
    // build (nothing saved); with features one build serves both (half of it saved).
    let source = |i: usize| {
        (
            analyses[i]["static_source_bytes"].as_u64().unwrap(),
            analyses[i]["shared_source_bytes"].as_u64().unwrap(),
        )
    };
    let (static_none, shared_none) = source(0);
    assert!(static_none > 0);
    assert_eq!(static_none, shared_none);
    let (static_features, shared_features) = source(2);
    assert_eq!(static_features, 2 * shared_features);
    // Nothing was built.
    assert!(!env
        .base
        .join(format!(
            "cache/target-{}",
            cargo_share_compile::unit_record::WRAPPER_ABI
        ))
        .read_dir()
        .unwrap()
        .any(|e| e.unwrap().file_name() != "CACHEDIR.TAG"));
}

#[test]
fn unification_options_are_checked_before_building() {
    let env = SetEnv::new();
    let fails_with = |c: &mut Command, needle: &str| {
        let out = c.arg("--out").arg(env.base.join("never")).output().unwrap();
        assert!(!out.status.success());
        assert!(stderr(&out).contains(needle), "{}", stderr(&out));
        assert!(!env.base.join("never").exists());
    };
    fails_with(
        env.cmd("build", "none").args(["--pin", "shim@1.0.0"]),
        "add --unify semver",
    );
    fails_with(
        env.cmd("build", "semver").args(["--own-lock", "nosuch"]),
        "no program of this build is named `nosuch`",
    );
    fails_with(
        env.cmd("build", "semver").args(["--pin", "shim@2.0.0"]),
        "none semver-compatible with 2.0.0",
    );
    fails_with(
        env.cmd("build", "semver").args(["--pin", "shim"]),
        "give the exact version",
    );
    fails_with(
        env.cmd("build", "semver").args(["--pin", "nosuch@1.0.0"]),
        "no program in the set uses `nosuch`",
    );
}

/// `exact-old` requires `shim = "=1.0.0"`, `exact-new` `shim = "=1.1.0"`: one semver range, so
/// Cargo cannot resolve them together. The build splits one off by itself, says why, and the
/// others still share.
#[test]
fn programs_cargo_cannot_resolve_together_are_split_off() {
    let env = SetEnv::new();
    let out = env.base.join("out-split");
    let cmd = |extra: &[&str]| env.build_programs(&["exact-old", "exact-new", "new-shim"], extra);
    let plan = run_ok(&mut cmd(&["--dry-run", "--json"]));
    let split: Vec<serde_json::Value> = json_records(&plan)
        .into_iter()
        .filter(|v| v["reason"] == "set-split")
        .collect();
    assert_eq!(split.len(), 1, "{}", stdout(&plan));
    assert_eq!(split[0]["program"], "exact-new");
    assert_eq!(split[0]["conflicts_with"], serde_json::json!(["exact-old"]));
    assert!(split[0]["requirement"].as_str().unwrap().contains("`shim`"));

    let built = run_ok(cmd(&["--out"]).arg(&out));
    assert!(
        stderr(&built).contains("Splitting exact-new from the set"),
        "{}",
        stderr(&built)
    );
    for (bin, says) in [
        ("exact-old", "shim 1.0.0 answer 41"),
        ("exact-new", "shim 1.1.0 answer 42"),
    ] {
        assert_eq!(
            run_clean(&out.join("bin").join(bin)),
            format!("{bin}: {says}\n")
        );
    }
    // The two that resolve together share shim 1.0.0 through their group; the one split off
    // has shim static in its binary.
    let group_of = |bin: &str| -> Vec<String> {
        loads_by_path(&out.join("bin").join(bin))
            .into_iter()
            .filter(|n| n.starts_with("libcargo_share_group_"))
            .collect()
    };
    assert_eq!(group_of("exact-old").len(), 1);
    assert_eq!(group_of("exact-old"), group_of("new-shim"));
    assert!(group_of("exact-new").is_empty());
    assert!(run_clean(&out.join("bin/new-shim")).contains("shim 1.0.0"));

    // A resolution the user fixed (--pin) is not split: Cargo's refusal is the answer.
    let pinned = cmd(&["--dry-run", "--pin", "shim@1.1.0"]).output().unwrap();
    assert!(!pinned.status.success());
    let refusal = stderr(&pinned);
    assert!(
        refusal.contains("exact-new and exact-old cannot share one resolution")
            && refusal.contains("--own-lock exact-new"),
        "{refusal}"
    );
}

/// `inherits/`: `inh-app` takes its version and edition from its workspace, so its manifest
/// cannot move into a set's workspace. It is kept out of the set by itself (built with its own
/// lockfile, as --own-lock would) and says why; `plain-app` still builds in the set.
#[test]
fn a_program_whose_manifest_cannot_join_a_set_is_kept_out_by_itself() {
    let scratch = tempfile::tempdir().unwrap();
    let out = scratch.path().join("out");
    let built = run_ok(
        cargo_share(scratch.path())
            .args(["build", "--json", "--manifest-path"])
            .arg(fixture("inherits"))
            .arg("--out")
            .arg(&out),
    );
    let said = stderr(&built);
    assert!(
        said.contains("Keeping inh-app out of the set, built with its own lockfile: `package.")
            && said.contains("is inherited from its workspace"),
        "{said}"
    );
    let kept: Vec<serde_json::Value> = json_records(&built)
        .into_iter()
        .filter(|v| v["reason"] == "set-split")
        .collect();
    assert_eq!(kept.len(), 1);
    assert_eq!(kept[0]["program"], "inh-app");
    for app in ["plain-app", "inh-app"] {
        assert_eq!(
            run_clean(&out.join("bin").join(app)),
            format!("inh-lib greets {app}\n")
        );
    }
}

/// `pair-old` (`shim = "=1.0.0"`) and `pair-new` (`=1.1.0`) cannot be resolved together;
/// `pair-any` (shim 1) and `tally-only` are resolved with `pair-old`. All four use `tally` and
/// `counted` the same way. With `--group-min-size 0`, the first set makes two groups: tally and
/// counted (all three) and shim 1.0.0 (pair-old, pair-any). `pair-new`, split off, is resolved
/// as set 2 against them: Cargo cannot resolve it with the shim group, which alone is left out,
/// and it loads the tally group; its shim 1.1.0 stays static in it. `counted` is compiled with
/// the proc-macro `derive-x`, whose host dependency `hostdep` has feature `extra` in the first
/// set (`tally-only` asks for it) and not in pair-new's own resolution: the set's reuse member
/// keeps it as the group was built, or the group would be left out.
#[test]
fn a_program_split_off_a_set_still_loads_the_groups_it_can_use() {
    let env = SetEnv::new();
    let programs = ["pair-old", "pair-new", "pair-any", "tally-only"];
    let cmd = |verb: &str, extra: &[&str]| {
        let mut c = cargo_share(&env.base);
        c.current_dir(&env.base)
            .arg(verb)
            .args(["--group-min-size", "0"]);
        for p in programs {
            c.arg(if verb == "install" {
                "--path"
            } else {
                "--manifest-path"
            })
            .arg(fixture(&format!("sets/{p}")));
        }
        c.args(extra);
        c
    };
    let plan = run_ok(&mut cmd("build", &["--dry-run", "--json"]));
    let records = json_records(&plan);
    let of = |reason: &str| -> Vec<&serde_json::Value> {
        records.iter().filter(|v| v["reason"] == reason).collect()
    };
    let split = of("set-split");
    assert_eq!(split.len(), 1, "{}", stdout(&plan));
    assert_eq!(split[0]["program"], "pair-new");
    assert_eq!(split[0]["next_set"], 2);
    let later = of("set-groups");
    assert_eq!(later.len(), 1, "{}", stdout(&plan));
    assert_eq!(later[0]["set"], 2);
    assert_eq!(later[0]["programs"], serde_json::json!(["pair-new"]));
    // The first set's plan: which group holds which crate.
    let first_plan = &of("group-plan")[0]["plan"]["groups"];
    let group_holding = |krate: &str| -> String {
        first_plan
            .as_array()
            .unwrap()
            .iter()
            .find(|g| {
                g["members"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .any(|m| m["name"] == krate)
            })
            .unwrap_or_else(|| panic!("no group holds {krate}: {first_plan}"))["name"]
            .as_str()
            .unwrap()
            .to_string()
    };
    let (tally_group, shim_group) = (group_holding("tally"), group_holding("shim"));
    assert_eq!(later[0]["shares"], serde_json::json!([tally_group]));
    let left = later[0]["not_reused"].as_array().unwrap();
    assert_eq!(left.len(), 1, "{}", later[0]);
    assert_eq!(left[0]["group"], shim_group.as_str());
    assert_eq!(left[0]["from"], "of set 1");
    assert!(
        left[0]["why"].as_str().unwrap().contains("`shim`"),
        "{}",
        left[0]
    );

    let out = env.base.join("out-later-set");
    let built = run_ok(cmd("build", &["--out"]).arg(&out));
    let said = stderr(&built);
    assert!(
        said.contains(
            "Splitting pair-new from the set (it conflicts with pair-old), resolved as set 2"
        ) && said.contains(&format!(
            "Not reusing {shim_group} of set 1: Cargo cannot resolve"
        )),
        "{said}"
    );
    // A group's file without its set's tag (`libcargo_share_group_1_TAG.so` ->
    // `libcargo_share_group_1`): `build` names its sets by their programs, `install` by their
    // place, and the two are compared group for group.
    let untagged = |file: &str| {
        file.rsplit_once('_')
            .map_or(file, |(head, _)| head)
            .to_string()
    };
    let file = |group: &str| untagged(&format!("lib{}.so", group.replace('-', "_")));
    let check = |dir: &Path| {
        for (bin, says) in [
            ("pair-old", "shim 1.0.0 answer 41, tally 3, seven 7"),
            ("pair-any", "shim 1.0.0 answer 41, tally 3, seven 7"),
            ("pair-new", "shim 1.1.0 answer 42, tally 3, seven 7"),
            ("tally-only", "tally 3, seven 7, hostdep extra"),
        ] {
            let binary = dir.join("bin").join(bin);
            assert_eq!(run_clean(&binary), format!("{bin}: {says}\n"));
            let groups: Vec<String> = loads_by_path(&binary)
                .into_iter()
                .filter(|n| n.starts_with("libcargo_share_group_"))
                .map(|n| untagged(&n))
                .collect();
            let expected = match bin {
                "pair-old" | "pair-any" => vec![file(&tally_group), file(&shim_group)],
                _ => vec![file(&tally_group)],
            };
            let mut groups = groups;
            groups.sort();
            let mut expected = expected;
            expected.sort();
            assert_eq!(groups, expected, "{bin}");
        }
        // shim 1.0.0 is in its group for pair-old; pair-new's shim 1.1.0 is in pair-new itself.
        // Imports are bound by short dynamic names (`_cs` + 16 hex digits); the symbol table
        // keeps the v0 names.
        let imports_shim = |bin: &str| {
            use object::{Object, ObjectSymbol};
            let binary = std::fs::canonicalize(dir.join("bin").join(bin)).unwrap();
            let data = std::fs::read(&binary).unwrap();
            let file = object::File::parse(&*data).unwrap();
            file.symbols()
                .any(|s| s.is_undefined() && s.name().is_ok_and(|n| n.contains("4shim")))
        };
        assert!(imports_shim("pair-old"));
        assert!(!imports_shim("pair-new"));
        // Next to the binary (an installed one is a link into the store).
        let binary = std::fs::canonicalize(dir.join("bin/pair-old")).unwrap();
        let lib_dir = binary.parent().unwrap().join("../lib");
        let lib = file_names(&lib_dir)
            .into_iter()
            .find(|n| untagged(n) == file(&shim_group))
            .map(|n| lib_dir.join(n))
            .unwrap();
        let data = std::fs::read(&lib).unwrap();
        let file = object::File::parse(&*data).unwrap();
        assert!(
            object::Object::symbols(&file).any(|s| {
                use object::ObjectSymbol;
                s.is_definition() && s.name().is_ok_and(|n| n.contains("4shim"))
            }),
            "{} defines no shim code",
            lib.display()
        );
    };
    check(&out);
    // One copy of each group file: set 2 made none of its own.
    let group_files: Vec<String> = file_names(&out.join("lib"))
        .into_iter()
        .filter(|n| n.starts_with("libcargo_share_group_"))
        .collect();
    assert_eq!(group_files.len(), 2, "{group_files:?}");
    // Each group is compiled once, by its set: set 2 finds it fresh. So a second build compiles
    // nothing and gives the same files (an update compares a build with the one before).
    let compiles = said
        .lines()
        .filter(|l| l.contains("Compiling cargo-share-group-"))
        .count();
    assert_eq!(compiles, 2, "{said}");
    let again = env.base.join("out-later-set-again");
    let rebuilt = run_ok(cmd("build", &["--out"]).arg(&again));
    assert!(
        !stderr(&rebuilt).contains("Compiling"),
        "{}",
        stderr(&rebuilt)
    );
    let (first, second) = (bin_and_lib_files(&out), bin_and_lib_files(&again));
    let differ: Vec<&String> = first
        .iter()
        .filter(|(name, bytes)| second.get(*name) != Some(*bytes))
        .map(|(name, _)| name)
        .collect();
    assert!(
        differ.is_empty() && first.len() == second.len(),
        "{differ:?}"
    );

    // Installing the same programs: the same sets, the same sharing.
    let root = env.base.join("root");
    let installed = run_ok(
        cmd("install", &["--root"])
            .arg(&root)
            .arg("--store")
            .arg(env.base.join("store")),
    );
    assert!(
        stderr(&installed).contains("set 2 (pair-new) loads 1 group of the earlier sets"),
        "{}",
        stderr(&installed)
    );
    check(&root);
    // Installed again: set 2's copy of set 1's group is the same unit, so no group is compiled
    // again (cleaning the copy as a package built from another directory compiled the earlier
    // groups at every install with a later set).
    let again = run_ok(
        cmd("install", &["--root"])
            .arg(&root)
            .arg("--store")
            .arg(env.base.join("store")),
    );
    let said = stderr(&again);
    assert!(
        !said.contains("Rebuilding cargo-share-group")
            && !said.contains("Compiling cargo-share-group"),
        "{said}"
    );
    check(&root);
}

/// Without `tally-only`, the first set's crates all have the same consumers (pair-old and
/// pair-any), so a plan that ignores later sets puts shim, tally and counted into one group,
/// which pair-new (set 2, shim 1.1.0) cannot load at all. cargo-share plans the sets again with
/// shim kept apart: tally and counted in one group, shim in another; pair-new loads the first.
#[test]
fn an_earlier_group_is_split_along_the_crate_a_later_set_builds_otherwise() {
    let env = SetEnv::new();
    let cmd = |extra: &[&str]| {
        let mut c = env.build_programs(
            &["pair-old", "pair-new", "pair-any"],
            &["--group-min-size", "0"],
        );
        c.args(extra);
        c
    };
    let plan = run_ok(&mut cmd(&["--dry-run", "--json"]));
    let records = json_records(&plan);
    let of = |reason: &str| -> Vec<&serde_json::Value> {
        records.iter().filter(|v| v["reason"] == reason).collect()
    };
    let regrouped = of("sets-regrouped");
    assert_eq!(regrouped.len(), 1, "{}", stdout(&plan));
    assert_eq!(regrouped[0]["apart"], serde_json::json!(["shim"]));
    // The last plan of set 1 (each pass plans it once): shim alone, tally and counted together.
    let plans = of("group-plan");
    let first = &plans[plans.len() - 2]["plan"]["groups"];
    let members = |g: &serde_json::Value| -> Vec<String> {
        g["members"]
            .as_array()
            .unwrap()
            .iter()
            .map(|m| m["name"].as_str().unwrap().to_string())
            .collect()
    };
    let mut groups: Vec<Vec<String>> = first.as_array().unwrap().iter().map(members).collect();
    groups.sort();
    assert_eq!(
        groups,
        vec![vec!["counted", "tally"], vec!["shim"]],
        "{}",
        stdout(&plan)
    );
    let later = of("set-groups");
    let last = later.last().unwrap();
    assert_eq!(last["programs"], serde_json::json!(["pair-new"]));
    assert_eq!(last["shares"].as_array().unwrap().len(), 1, "{last}");

    let out = env.base.join("out");
    let built = run_ok(cmd(&["--out"]).arg(&out));
    assert!(
        stderr(&built).contains("Regrouping the sets with shim"),
        "{}",
        stderr(&built)
    );
    // The sets are planned in two passes; each of cargo-share's status lines is said once.
    let ours = [
        "Grouping",
        "Sharing",
        "Not reusing",
        "Splitting",
        "Regrouping",
    ];
    let text = stderr(&built);
    let lines: Vec<&str> = text
        .lines()
        .filter(|l| ours.iter().any(|v| l.trim_start().starts_with(v)))
        .collect();
    let unique: std::collections::BTreeSet<&str> = lines.iter().copied().collect();
    assert!(lines.len() > 2, "{text}");
    assert_eq!(
        lines.len(),
        unique.len(),
        "a status line said twice:\n{text}"
    );
    for (bin, says, groups) in [
        ("pair-old", "shim 1.0.0 answer 41, tally 3, seven 7", 2),
        ("pair-any", "shim 1.0.0 answer 41, tally 3, seven 7", 2),
        ("pair-new", "shim 1.1.0 answer 42, tally 3, seven 7", 1),
    ] {
        let binary = out.join("bin").join(bin);
        assert_eq!(run_clean(&binary), format!("{bin}: {says}\n"));
        let loaded = loads_by_path(&binary)
            .into_iter()
            .filter(|n| n.starts_with("libcargo_share_group_"))
            .count();
        assert_eq!(loaded, groups, "{bin}");
    }
}

#[test]
fn a_program_that_fails_with_its_sets_features_is_built_with_its_own() {
    // `styled`'s `underline` feature adds a field to `Style` (as ratatui's `underline-color`
    // does); styled-lit builds it without and writes `Style { bold }`, so it cannot compile in a
    // set where styled-full and styled-bold turn the feature on.
    let env = SetEnv::new();
    let out = env.base.join("out");
    let built = run_ok(
        env.build_programs(
            &["styled-lit", "styled-full", "styled-bold"],
            &["--group-min-size", "0", "--json", "--out"],
        )
        .arg(&out),
    );
    let records = json_records(&built);
    let retried: Vec<&serde_json::Value> = records
        .iter()
        .filter(|v| v["reason"] == "programs-retried")
        .collect();
    assert_eq!(retried.len(), 1, "{}", stderr(&built));
    assert_eq!(retried[0]["programs"], serde_json::json!(["styled-lit"]));
    let finished = records
        .iter()
        .find(|v| v["reason"] == "build-finished")
        .unwrap();
    assert_eq!(finished["success"], true, "{finished}");
    assert_eq!(finished["own_features"], serde_json::json!(["styled-lit"]));
    let groups = |bin: &str| -> Vec<String> {
        loads_by_path(&out.join("bin").join(bin))
            .into_iter()
            .filter(|n| n.starts_with("libcargo_share_group_"))
            .collect()
    };
    for (bin, says) in [
        ("styled-lit", "bold, tally 2"),
        ("styled-full", "plain underlined, tally 3"),
        ("styled-bold", "bold, tally 1"),
    ] {
        assert_eq!(
            run_clean(&out.join("bin").join(bin)),
            format!("{bin}: {says}\n")
        );
    }
    // styled-lit still shares tally: the earlier set's groups were split along styled, which it
    // builds with other features, and it loads the one holding tally.
    let full = groups("styled-full");
    assert_eq!(full.len(), 2, "{full:?}");
    assert_eq!(groups("styled-bold"), full);
    let lit = groups("styled-lit");
    assert_eq!(lit.len(), 1, "{lit:?}");
    assert!(full.contains(&lit[0]), "{lit:?} {full:?}");
}

#[test]
fn a_dependency_cargo_lists_but_does_not_build_stays_out_of_the_groups() {
    // weakdep names `trap` only through a weak feature (`trap?/std`), as jiff 0.2 names defmt:
    // `cargo metadata` lists the edge, Cargo builds no trap. In a group, trap's call to
    // `_trap_write` (defined by no program) made both programs fail to link.
    let env = SetEnv::new();
    let out = env.base.join("out");
    let built = run_ok(
        env.build_programs(
            &["weak-a", "weak-b"],
            &["--group-min-size", "0", "--json", "--out"],
        )
        .arg(&out),
    );
    let plans: Vec<serde_json::Value> = json_records(&built)
        .into_iter()
        .filter(|v| v["reason"] == "group-plan")
        .collect();
    let members: Vec<String> = plans
        .iter()
        .flat_map(|p| p["plan"]["groups"].as_array().unwrap().clone())
        .flat_map(|g| g["members"].as_array().unwrap().clone())
        .map(|m| m["name"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(members, ["tally", "weakdep"], "{}", stderr(&built));
    for bin in ["weak-a", "weak-b"] {
        assert_eq!(
            run_clean(&out.join("bin").join(bin)),
            format!("{bin}: double 42, tally 3\n")
        );
    }
}

/// A program named and versioned as a crates.io library another program of the set uses
/// (`stamp` 1.0.0; in the desktop set, git-delta uses bat): two packages answer to
/// `stamp@1.0.0`, so `analyze` names each program by its package id, and both analyses and
/// builds go through.
#[test]
fn a_program_named_as_a_library_of_the_set_is_analyzed_and_built() {
    let env = SetEnv::new();
    let out = run_ok(
        env.build_programs(&["stamp-program", "uses-stamp"], &["--json"])
            .arg("--out")
            .arg(env.base.join("out")),
    );
    assert!(stdout(&out).contains("build-finished"));
    assert_eq!(
        run_clean(&env.base.join("out/bin/stamp")),
        "stamp program\n"
    );
    assert_eq!(
        run_clean(&env.base.join("out/bin/uses-stamp")),
        "uses-stamp: 10\n"
    );
    let out = run_ok(
        cargo_share(&env.base)
            .current_dir(&env.base)
            .args(["analyze", "--json", "--manifest-path"])
            .arg(fixture("sets/stamp-program"))
            .arg("--manifest-path")
            .arg(fixture("sets/uses-stamp")),
    );
    let policies = stdout(&out)
        .lines()
        .map(|l| serde_json::from_str::<serde_json::Value>(l).unwrap())
        .filter(|v| v["reason"] == "analysis")
        .map(|v| v["programs"].as_u64().unwrap())
        .collect::<Vec<_>>();
    assert_eq!(policies, [2, 2, 2]);
}
