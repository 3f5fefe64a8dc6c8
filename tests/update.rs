//! Updates that ship only what changed: stable crate identities (a patched copy of a crate
//! keeps its symbol names, so only the files whose code changed differ) and `cargo share
//! update`. Fixture `tests/fixtures/update/`: `fix-one` and `fix-two` use `fixlib` and `fixuser`
//! (compiled against fixlib) from a directory source standing in for crates.io; `patches/`
//! holds fixlib with a body-only fix (`checksum`, non-inlined) and with a fix to an inlined
//! function (`scale`, which only `fix-one` calls).

mod common;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;

use common::*;

struct UpdateEnv {
    _scratch: tempfile::TempDir,
    base: PathBuf,
    /// `CARGO_HOME` for cargo-share and Cargo, when the scratch directory has its own.
    cargo_home: Option<PathBuf>,
}

impl UpdateEnv {
    fn new() -> UpdateEnv {
        let (scratch, base) = scratch_with_directory_source("update/registry");
        UpdateEnv {
            _scratch: scratch,
            base,
            cargo_home: None,
        }
    }

    /// The crates of the directory source under a `CARGO_HOME` of the scratch directory's own,
    /// where Cargo unpacks crates.io's: their paths are written as `/cargo/…`, a patched copy's
    /// as its own unless cargo-share names it as the original.
    fn in_cargo_home() -> UpdateEnv {
        let scratch = tempfile::tempdir().unwrap();
        let base = scratch.path().to_path_buf();
        let cargo_home = base.join("cargo-home");
        let vendor = cargo_home.join("vendor");
        copy_dir(&fixture("update/registry"), &vendor);
        std::fs::create_dir_all(base.join(".cargo")).unwrap();
        std::fs::write(
            base.join(".cargo/config.toml"),
            format!(
                "[source.crates-io]\nreplace-with = \"fixture\"\n[source.fixture]\ndirectory = {:?}\n",
                vendor.display().to_string()
            ),
        )
        .unwrap();
        UpdateEnv {
            _scratch: scratch,
            base,
            cargo_home: Some(cargo_home),
        }
    }

    /// cargo-share in the scratch directory (so Cargo reads its config), cache `cache`.
    fn cmd(&self, cache: &str) -> Command {
        let mut c = Command::new(env!("CARGO_BIN_EXE_cargo-share"));
        c.current_dir(&self.base)
            .arg("--cache-dir")
            .arg(self.base.join(cache));
        if let Some(home) = &self.cargo_home {
            c.env("CARGO_HOME", home);
        }
        c
    }

    /// Both programs built into `OUT` (grouped layout), with `extra` arguments.
    fn build(&self, cache: &str, out: &str, extra: &[&str]) -> PathBuf {
        let out = self.base.join(out);
        run_ok(
            self.cmd(cache)
                .args(["build", "-q", "--manifest-path"])
                .arg(fixture("update/fix-one"))
                .arg("--manifest-path")
                .arg(fixture("update/fix-two"))
                .args(extra)
                .arg("--out")
                .arg(&out),
        );
        out
    }
}

/// Every file under `dir` (relative path -> bytes).
fn files(dir: &Path) -> BTreeMap<String, Vec<u8>> {
    bin_and_lib_files(dir)
}

/// The files of `after` whose bytes differ from `before`'s (or that `before` lacks).
fn changed(before: &Path, after: &Path) -> Vec<String> {
    let (b, a) = (files(before), files(after));
    a.iter()
        .filter(|(name, bytes)| b.get(*name) != Some(*bytes))
        .map(|(name, _)| name.clone())
        .collect()
}

fn patch(name: &str) -> String {
    format!(
        "fixlib={}",
        fixture(&format!("update/patches/{name}")).display()
    )
}

#[test]
fn a_patched_crate_keeps_its_identity_so_only_changed_code_ships() {
    let env = UpdateEnv::new();
    let before = env.build("cache", "before", &[]);
    assert_eq!(
        run_clean(&before.join("bin/fix-two")),
        "fix-two: two#be248829 be248829\n"
    );
    // A fix inside one non-inlined, non-generic function: only the group holding fixlib (and
    // fixuser, compiled against it) changes; both binaries are byte-identical.
    let body = env.build("cache", "body", &["--patch", &patch("fixlib-body")]);
    let group: Vec<String> = changed(&before, &body);
    assert_eq!(group.len(), 1, "changed: {group:?}");
    assert!(
        group[0].starts_with("lib/libcargo_share_group_"),
        "{group:?}"
    );
    assert_eq!(
        run_clean(&body.join("bin/fix-two")),
        "fix-two: two#ba328dea ba328dea\n",
        "the unchanged binary runs the fixed code"
    );
    assert_eq!(
        run_clean(&body.join("bin/fix-one")),
        "fix-one: one#5c490e14 42 Some(9)\n"
    );
    // A fix to an inlined function: the group, and the program that inlined it.
    let inline = env.build("cache", "inline", &["--patch", &patch("fixlib-inline")]);
    assert_eq!(
        changed(&before, &inline),
        vec!["bin/fix-one".to_string(), group[0].clone()]
    );
    // A full rebuild from scratch (another cache) gives the same bytes as the update.
    let scratch = env.build("fresh-cache", "fresh", &["--patch", &patch("fixlib-body")]);
    assert!(changed(&body, &scratch).is_empty());
    assert!(changed(&scratch, &body).is_empty());
}

/// A body-only fix whose crate's generic code is instantiated in a program (fixlib's `largest`
/// in fix-one, with a panic location naming fixlib's `src/lib.rs`): the patched copy's files
/// are named as the original's, under `CARGO_HOME` as crates.io's are, so the program is
/// byte-identical and only the group holding fixlib changes.
#[test]
fn a_patched_copy_keeps_the_original_source_paths_in_the_programs() {
    let env = UpdateEnv::in_cargo_home();
    let before = env.build("cache", "before", &[]);
    let location = b"/cargo/vendor/fixlib-1/src/lib.rs";
    let fix_one = std::fs::read(before.join("bin/fix-one")).unwrap();
    assert!(
        fix_one.windows(location.len()).any(|w| w == location),
        "fix-one holds the panic location of fixlib's `largest`"
    );
    let body = env.build("cache", "body", &["--patch", &patch("fixlib-body")]);
    let group = changed(&before, &body);
    assert_eq!(group.len(), 1, "changed: {group:?}");
    assert!(
        group[0].starts_with("lib/libcargo_share_group_"),
        "{group:?}"
    );
    assert_eq!(run_clean(&body.join("bin/fix-two")), FIXED.1);
}

#[test]
fn a_patch_directory_that_is_not_the_crate_is_refused() {
    let env = UpdateEnv::new();
    let wrong = fixture("update/registry/fixuser-1.0.0");
    let out = env
        .cmd("cache")
        .args(["build", "--manifest-path"])
        .arg(fixture("update/fix-one"))
        .arg("--patch")
        .arg(format!("fixlib={}", wrong.display()))
        .arg("--out")
        .arg(env.base.join("out"))
        .output()
        .unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("is not a copy of the crate `fixlib`") && err.contains("`fixuser`"),
        "{err}"
    );
    assert!(!env.base.join("out").exists());
}

/// A store and root in the update scratch directory, both fixture programs installed.
struct Installed<'a> {
    env: &'a UpdateEnv,
    store: PathBuf,
    root: PathBuf,
}

impl<'a> Installed<'a> {
    fn new(env: &'a UpdateEnv, name: &str) -> Installed<'a> {
        let installed = Installed {
            env,
            store: env.base.join(format!("{name}-store")),
            root: env.base.join(format!("{name}-root")),
        };
        run_ok(
            installed
                .cmd()
                .args(["install", "-q", "--path"])
                .arg(fixture("update/fix-one"))
                .arg("--path")
                .arg(fixture("update/fix-two"))
                .arg("--root")
                .arg(&installed.root),
        );
        installed
    }

    fn cmd(&self) -> Command {
        let mut c = self.env.cmd("cache");
        c.arg("--store").arg(&self.store);
        c
    }

    fn update(&self, args: &[&str]) -> std::process::Output {
        self.cmd().arg("update").args(args).output().unwrap()
    }

    /// What the two installed programs print.
    fn outputs(&self) -> (String, String) {
        (
            run_clean(&self.root.join("bin/fix-one")),
            run_clean(&self.root.join("bin/fix-two")),
        )
    }

    /// Every path under the store and the root, with the target of each link and the
    /// contents of each file: equal before and after a command that changes nothing.
    fn snapshot(&self) -> BTreeMap<PathBuf, Vec<u8>> {
        fn walk(dir: &Path, out: &mut BTreeMap<PathBuf, Vec<u8>>) {
            for e in std::fs::read_dir(dir).into_iter().flatten().flatten() {
                let path = e.path();
                let kind = e.file_type().unwrap();
                if path.ends_with("build") || path.ends_with("tmp") {
                    continue;
                }
                if kind.is_symlink() {
                    let to = std::fs::read_link(&path).unwrap();
                    out.insert(path, to.into_os_string().into_encoded_bytes());
                } else if kind.is_dir() {
                    out.insert(path.clone(), Vec::new());
                    walk(&path, out);
                } else {
                    out.insert(path.clone(), std::fs::read(&path).unwrap());
                }
            }
        }
        let mut out = BTreeMap::new();
        walk(&self.store, &mut out);
        walk(&self.root, &mut out);
        out
    }

    /// The files the installed `program` runs (`bin/`, `lib/`), by name.
    fn program_files(&self, program: &str) -> BTreeMap<String, Vec<u8>> {
        let bin = std::fs::canonicalize(self.root.join("bin").join(program)).unwrap();
        files(bin.parent().unwrap().parent().unwrap())
    }
}

const OLD: (&str, &str) = (
    "fix-one: one#ba2719ef 42 Some(9)\n",
    "fix-two: two#be248829 be248829\n",
);
const FIXED: (&str, &str) = (
    "fix-one: one#5c490e14 42 Some(9)\n",
    "fix-two: two#ba328dea ba328dea\n",
);

fn json_lines(out: &std::process::Output) -> Vec<serde_json::Value> {
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter_map(|l| serde_json::from_str(l).ok())
        .collect()
}

fn record<'a>(lines: &'a [serde_json::Value], reason: &str) -> &'a serde_json::Value {
    lines
        .iter()
        .find(|l| l["reason"] == reason)
        .unwrap_or_else(|| panic!("no `{reason}` record in {lines:?}"))
}

#[test]
fn update_with_a_patched_copy_ships_one_file_and_equals_a_fresh_install() {
    let env = UpdateEnv::new();
    let installed = Installed::new(&env, "a");
    assert_eq!(installed.outputs(), (OLD.0.into(), OLD.1.into()));
    let body = fixture("update/patches/fixlib-body");
    let body = body.to_str().unwrap();

    // The plan, and nothing changed.
    let before = installed.snapshot();
    let out =
        run_ok(
            installed
                .cmd()
                .args(["update", "--json", "fixlib", "--path", body, "--dry-run"]),
        );
    let plan = json_lines(&out);
    let sets = record(&plan, "update-plan")["sets"]
        .as_array()
        .unwrap()
        .clone();
    assert_eq!(sets.len(), 1);
    assert_eq!(sets[0]["affected"]["fix-one"], "1.0.0");
    assert_eq!(sets[0]["affected"]["fix-two"], "1.0.0");
    assert!(
        installed.snapshot() == before,
        "--dry-run changed the store"
    );

    let out = run_ok(
        installed
            .cmd()
            .args(["update", "--json", "fixlib", "--path", body]),
    );
    let lines = json_lines(&out);
    let report = record(&lines, "update-finished");
    assert_eq!(report["shipped"]["files"], 1, "{report}");
    for p in report["programs"].as_array().unwrap() {
        let changed: Vec<&str> = p["files"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|f| f["changed"] == true)
            .map(|f| f["file"].as_str().unwrap())
            .collect();
        assert_eq!(changed.len(), 1, "{p}");
        assert!(changed[0].starts_with("lib/libcargo_share_group_"), "{p}");
    }
    assert_eq!(installed.outputs(), (FIXED.0.into(), FIXED.1.into()));
    run_ok(installed.cmd().arg("verify"));

    // A full install from scratch of the fixed crate gives the same bytes, file by file.
    let fresh = env.base.join("fresh");
    run_ok(
        env.cmd("fresh-cache")
            .arg("--store")
            .arg(fresh.join("store"))
            .args(["install", "-q", "--path"])
            .arg(fixture("update/fix-one"))
            .arg("--path")
            .arg(fixture("update/fix-two"))
            .args(["--patch", &patch("fixlib-body")])
            .arg("--root")
            .arg(fresh.join("root")),
    );
    for program in ["fix-one", "fix-two"] {
        let bin = std::fs::canonicalize(fresh.join("root/bin").join(program)).unwrap();
        assert!(
            files(bin.parent().unwrap().parent().unwrap()) == installed.program_files(program),
            "{program}: the update and a fresh install differ"
        );
    }

    // The fix released as 1.0.1 (`--to`): the resolution moves, the binaries stay the same.
    let bins = |i: &Installed| {
        (
            i.program_files("fix-one")["bin/fix-one"].clone(),
            i.program_files("fix-two")["bin/fix-two"].clone(),
        )
    };
    let bins_before = bins(&installed);
    run_ok(
        installed
            .cmd()
            .args(["update", "-q", "fixlib", "--to", "1.0.1"]),
    );
    assert_eq!(bins(&installed), bins_before);
    assert_eq!(installed.outputs(), (FIXED.0.into(), FIXED.1.into()));
    run_ok(installed.cmd().arg("verify"));
}

#[test]
fn bad_update_requests_are_refused_and_change_nothing() {
    let env = UpdateEnv::new();
    let installed = Installed::new(&env, "b");
    let before = installed.snapshot();
    let wrong = fixture("update/registry/fixuser-1.0.0");
    let cases: [(Vec<&str>, &str); 3] = [
        (
            vec!["nosuch"],
            "no installed program uses the crate `nosuch`",
        ),
        (
            vec!["fixlib", "--to", "2.0.0"],
            "outside the semver-compatible range of every installed program",
        ),
        (
            vec!["fixlib", "--path", wrong.to_str().unwrap()],
            "is not a copy of the crate `fixlib`",
        ),
    ];
    for (args, said) in cases {
        let out = installed.update(&args);
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(!out.status.success(), "{args:?} succeeded");
        assert!(
            err.contains(said) && err.contains("nothing was changed") || err.contains(said),
            "{args:?}: {err}"
        );
        assert!(installed.snapshot() == before, "{args:?} changed the store");
    }
    assert_eq!(installed.outputs(), (OLD.0.into(), OLD.1.into()));
}

#[test]
fn rebuild_all_rebinds_every_program_to_the_same_bytes() {
    let env = UpdateEnv::new();
    let installed = Installed::new(&env, "c");
    let files_before = installed.program_files("fix-one");
    let out = run_ok(installed.cmd().args(["update", "--json", "--rebuild-all"]));
    let lines = json_lines(&out);
    let report = record(&lines, "update-finished");
    assert_eq!(report["programs"].as_array().unwrap().len(), 2);
    // The same toolchain and sources: nothing to ship.
    assert_eq!(report["shipped"]["files"], 0, "{report}");
    assert!(installed.program_files("fix-one") == files_before);
    assert_eq!(installed.outputs(), (OLD.0.into(), OLD.1.into()));
    run_ok(installed.cmd().arg("verify"));
}

/// Every step an update reaches, killed there: the even steps and the odd ones run as two tests
/// side by side (each in a scratch directory and cache of its own), which halves the wall time
/// of the longest test of this file.
#[test]
fn an_update_killed_at_any_even_step_leaves_each_program_on_its_old_or_new_closure() {
    killed_at_every_step(0);
}

#[test]
fn an_update_killed_at_any_odd_step_leaves_each_program_on_its_old_or_new_closure() {
    killed_at_every_step(1);
}

/// The steps an update reaches, found by a probe run, and each `i` with `i % 2 == half` killed:
/// each program then runs its old closure or its new one, and the update run again completes.
fn killed_at_every_step(half: usize) {
    let env = UpdateEnv::new();
    let body = fixture("update/patches/fixlib-body");
    let body = body.to_str().unwrap();
    let probe = Installed::new(&env, "probe");
    let log = env.base.join("fault-log");
    run_ok(
        probe
            .cmd()
            .args(["update", "-q", "fixlib", "--path", body])
            .env("CARGO_SHARE_FAULT_LOG", &log),
    );
    let sites: Vec<String> = std::fs::read_to_string(&log)
        .unwrap()
        .lines()
        .map(str::to_string)
        .collect();
    assert!(sites.len() >= 8, "{sites:?}");
    let mine: Vec<(usize, &String)> = sites
        .iter()
        .enumerate()
        .filter(|(i, _)| i % 2 == half)
        .collect();
    for &(i, site) in &mine {
        let installed = Installed::new(&env, &format!("k{i}"));
        let out = installed
            .cmd()
            .args(["update", "-q", "fixlib", "--path", body])
            .env("CARGO_SHARE_FAULT", format!("{site}:kill"))
            .output()
            .unwrap();
        use std::os::unix::process::ExitStatusExt;
        assert_eq!(out.status.signal(), Some(9), "{site}: not killed");
        // Each program runs its old closure or its new one, never a mix.
        let (one, two) = installed.outputs();
        assert!(
            one == OLD.0 || one == FIXED.0,
            "{site}: fix-one printed {one}"
        );
        assert!(
            two == OLD.1 || two == FIXED.1,
            "{site}: fix-two printed {two}"
        );
        // The update again completes it, and the store verifies.
        run_ok(
            installed
                .cmd()
                .args(["update", "-q", "fixlib", "--path", body]),
        );
        assert_eq!(installed.outputs(), (FIXED.0.into(), FIXED.1.into()));
        run_ok(installed.cmd().arg("verify"));
    }
    eprintln!(
        "update: {} of {} fault sites, each killed; programs lost: 0",
        mine.len(),
        sites.len()
    );
}

/// A crate the programs have from a local path is not a crates.io crate: `update` neither
/// patches nor pins it (Cargo would say the patch "was not used" and build the same programs,
/// and the update reported success). It is refused, before anything changes, with what to do.
#[test]
fn a_local_path_crate_is_refused_not_reported_updated() {
    let env = UpdateEnv::new();
    let installed = Installed {
        env: &env,
        store: env.base.join("path-store"),
        root: env.base.join("path-root"),
    };
    run_ok(
        installed
            .cmd()
            .args(["install", "-q", "--path"])
            .arg(fixture("unrelated/ws-two"))
            .arg("--root")
            .arg(&installed.root),
    );
    let before = installed.snapshot();
    let copy = env.base.join("common-copy");
    copy_dir(&fixture("unrelated/common-lib"), &copy);
    for args in [
        vec!["unrelated-common", "--path", copy.to_str().unwrap()],
        vec!["unrelated-common"],
    ] {
        let out = installed.update(&args);
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(!out.status.success(), "{args:?} succeeded: {err}");
        assert!(
            err.contains(
                "`unrelated-common` is not a crates.io crate (two-a has it a local path crate"
            ) && err.contains("nothing was changed")
                && err.contains("cargo share update --rebuild-all"),
            "{args:?}: {err}"
        );
        assert!(installed.snapshot() == before, "{args:?} changed the store");
    }
}
