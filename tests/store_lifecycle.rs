//! The store on hermetic fixtures: install, reuse, uninstall, gc, verify, security, crash safety
//! (SIGKILL at fault points) and concurrency.

mod common;

use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::process::{Command, Output};

use common::store_env::Env;
use common::*;

#[test]
fn install_reuses_entries_and_gc_removes_exactly_what_only_one_program_used() {
    let env = Env::new();
    let out = run_ok(&mut env.install(&fixture("lto")));
    let installed: Vec<_> = env
        .json(&out)
        .into_iter()
        .filter(|m| m["reason"] == "program-installed")
        .collect();
    assert_eq!(installed.len(), 2);
    // The second program reuses the first one's builds (lto-lib and std).
    assert_eq!(
        installed[1]["reused"].as_array().unwrap().len(),
        2,
        "{installed:?}"
    );
    assert!(installed[1]["added"].as_array().unwrap().is_empty());
    assert!(run_clean(&env.root().join("bin/lto-one")).contains("sum_squares(10) = 385"));

    let out = run_ok(&mut env.install(&fixture("suite")));
    let text = String::from_utf8_lossy(&out.stderr);
    assert!(
        text.contains("Reusing std v"),
        "std is shared with the lto programs:\n{text}"
    );
    assert_eq!(
        run_clean(&env.root().join("bin/hard-b")),
        run_clean(&static_build(&fixture("suite"), &env.base).join("hard-b"))
    );
    env.verify_ok();

    let why = run_ok(env.cmd().args(["why", "lto-lib", "--json"]));
    assert_eq!(
        env.json(&why)[0]["programs"],
        serde_json::json!(["lto-one", "lto-two"])
    );

    let before = env.entries();
    run_ok(env.cmd().args(["uninstall", "lto-one"]));
    // lto-lib is still used by lto-two: nothing of it goes.
    let gc = run_ok(env.cmd().args(["gc", "--json"]));
    assert!(env.json(&gc)[0]["entries"].as_array().unwrap().is_empty());
    assert_eq!(env.entries(), before);
    assert!(!env.root().join("bin/lto-one").exists());

    run_ok(env.cmd().args(["uninstall", "lto-two"]));
    let dry = run_ok(env.cmd().args(["gc", "--dry-run", "--json"]));
    let would: Vec<String> = env.json(&dry)[0]["entries"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e.as_str().unwrap().to_string())
        .collect();
    assert_eq!(would.len(), 1, "{would:?}");
    assert!(would[0].starts_with("lto-lib v0.1.0"));
    assert_eq!(env.entries(), before, "--dry-run removed something");
    let gc = run_ok(env.cmd().args(["gc", "--json"]));
    assert!(env.json(&gc)[0]["bytes_freed"].as_u64().unwrap() > 0);
    let after = env.entries();
    let removed: Vec<&String> = before.iter().filter(|e| !after.contains(e)).collect();
    assert_eq!(removed.len(), 1);
    assert!(removed[0].starts_with("lto-lib "));
    env.verify_ok();
    assert!(run_clean(&env.root().join("bin/hard-a"))
        .contains("allocator: every block carried its header"));
}

#[test]
fn store_is_readable_by_all_entries_are_read_only_and_binaries_stay_inside() {
    let env = Env::new();
    run_ok(&mut env.install(&fixture("lto")));
    // Readable by everyone (other users run the programs), writable by its owner only.
    let mode = std::fs::metadata(env.store()).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode, 0o755);
    for sub in ["entries", "programs"] {
        let mode = std::fs::metadata(env.store().join(sub))
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o755, "{sub}");
    }
    for e in std::fs::read_dir(env.store().join("entries")).unwrap() {
        let dir = e.unwrap().path();
        assert_eq!(
            std::fs::metadata(&dir).unwrap().permissions().mode() & 0o777,
            0o555
        );
        for f in std::fs::read_dir(dir.join("lib")).unwrap() {
            let m = std::fs::metadata(f.unwrap().path())
                .unwrap()
                .permissions()
                .mode();
            assert_eq!(m & 0o222, 0, "entry file writable");
        }
    }
    // The binary names its libraries by paths relative to its own (store) directory.
    let bin = std::fs::canonicalize(env.root().join("bin/lto-one")).unwrap();
    assert!(bin.starts_with(std::fs::canonicalize(env.store()).unwrap()));
    assert!(loads_by_path(&bin).iter().any(|n| n.starts_with("libstd-")));

    std::fs::set_permissions(env.store(), std::fs::Permissions::from_mode(0o777)).unwrap();
    let out = env.cmd().arg("list").output().unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("chmod go-w"));
    std::fs::set_permissions(env.store(), std::fs::Permissions::from_mode(0o700)).unwrap();
    env.verify_ok();
}

#[test]
fn bad_input_leaves_store_and_programs_unchanged() {
    let env = Env::new();
    run_ok(&mut env.install(&fixture("lto")));
    let before = env.entries();
    let missing = env.base.join("missing");
    let out = env.install(&missing).output().unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("no such file"));

    // A build that fails: the library both programs use (one program failing alone does not
    // stop the others, `--keep-going`).
    let broken = env.base.join("broken");
    copy_dir(&fixture("lto"), &broken);
    std::fs::write(broken.join("lto-lib/src/lib.rs"), "pub fn f() { nope }").unwrap();
    let out = env.install(&broken).output().unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("no program was built") && err.contains("nothing was installed"),
        "{err}"
    );

    let out = env
        .cmd()
        .args(["uninstall", "not-installed"])
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("is not installed"));

    // A binary that cargo share did not install is not overwritten without --force.
    let foreign = env.base.join("foreign");
    copy_dir(&fixture("panic-abort"), &foreign);
    std::fs::write(env.root().join("bin/pa-one"), "#!/bin/sh\necho mine\n").unwrap();
    let out = env.install(&foreign).output().unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("--force"));
    assert_eq!(
        std::fs::read_to_string(env.root().join("bin/pa-one")).unwrap(),
        "#!/bin/sh\necho mine\n"
    );

    assert_eq!(env.entries(), before);
    env.verify_ok();
    assert!(run_clean(&env.root().join("bin/lto-two")).contains("sum_squares(100)"));
}

/// Kill `install`, `uninstall` and `gc` with SIGKILL at each fault point; after each, verify
/// passes, the programs installed before still run, and nothing half-installed is visible.
#[test]
fn crashes_at_any_point_leave_a_consistent_store() {
    let env = Env::new();
    run_ok(&mut env.install(&fixture("lto")));
    let killed = |out: &Output| {
        use std::os::unix::process::ExitStatusExt;
        assert_eq!(
            out.status.signal(),
            Some(9),
            "not killed: {:?}\n{}",
            out.status,
            String::from_utf8_lossy(&out.stderr)
        );
    };
    for point in [
        "entry-staged",
        "entry-renamed",
        "entries-added",
        "program-staged",
        "program-renamed",
        "program-recorded",
        "first-link-swapped",
    ] {
        let out = env
            .install(&fixture("panic-abort"))
            .env("CARGO_SHARE_FAULT", point)
            .output()
            .unwrap();
        killed(&out);
        env.verify_ok();
        assert!(
            run_clean(&env.root().join("bin/lto-one")).contains("385"),
            "after {point}"
        );
        // Whatever is linked in ROOT/bin runs.
        for b in ["pa-one", "pa-two"] {
            let link = env.root().join("bin").join(b);
            if link.exists() {
                assert!(run_clean(&link).contains("Hello"), "{b} after {point}");
            }
        }
    }
    // Finish the install, then crash uninstall and gc.
    run_ok(&mut env.install(&fixture("panic-abort")));
    env.verify_ok();
    for point in ["links-removed", "program-unrecorded"] {
        let out = env
            .cmd()
            .args(["uninstall", "pa-one"])
            .env("CARGO_SHARE_FAULT", point)
            .output()
            .unwrap();
        killed(&out);
        env.verify_ok();
        assert!(run_clean(&env.root().join("bin/lto-two")).contains("sum_squares(100)"));
    }
    // The crash after the index commit completed the uninstall of pa-one; its link is gone.
    assert!(!env.root().join("bin/pa-one").exists());
    run_ok(env.cmd().args(["uninstall", "pa-two"]));
    let out = env
        .cmd()
        .arg("gc")
        .env("CARGO_SHARE_FAULT", "gc-row-deleted")
        .output()
        .unwrap();
    killed(&out);
    env.verify_ok();
    run_ok(env.cmd().arg("gc"));
    env.verify_ok();
    assert!(run_clean(&env.root().join("bin/lto-one")).contains("385"));
    // Nothing is left of pa-lib once gc completes.
    assert!(!env.entries().iter().any(|e| e.starts_with("pa-lib ")));
    let tmp_left = std::fs::read_dir(env.store().join("tmp")).unwrap().count();
    assert_eq!(tmp_left, 0);
}

#[test]
fn two_installs_and_a_gc_at_once_end_consistent() {
    let env = Env::new();
    run_ok(&mut env.install(&fixture("lto")));
    run_ok(env.cmd().args(["uninstall", "lto-one"]));
    let mut a = env.install(&fixture("panic-abort")).spawn().unwrap();
    let mut b = env.install(&fixture("suite")).spawn().unwrap();
    let mut g = env.cmd().arg("gc").arg("-q").spawn().unwrap();
    for (name, child) in [("install a", &mut a), ("install b", &mut b), ("gc", &mut g)] {
        assert!(child.wait().unwrap().success(), "{name} failed");
    }
    env.verify_ok();
    for bin in ["pa-one", "hard-a", "lto-two"] {
        let out = run_clean(&env.root().join("bin").join(bin));
        assert!(!out.is_empty(), "{bin}");
    }
}

/// The crates the wrapper compiled, from its `--unit-log`.
fn compiled_crates(log: &Path) -> Vec<String> {
    std::fs::read_to_string(log)
        .unwrap_or_default()
        .lines()
        .map(|l| {
            serde_json::from_str::<serde_json::Value>(l).unwrap()["crate_name"]
                .as_str()
                .unwrap()
                .to_string()
        })
        .collect()
}

/// Build once across unrelated projects: two workspaces that share nothing but a library crate
/// (the shape of a registry crate). Installing the second compiles that crate zero times and
/// reuses its store entry.
#[test]
fn a_crate_is_built_once_across_unrelated_projects() {
    let env = Env::new();
    // No --cache-dir: installs build inside the store, which owns that build state.
    let install = |ws: &str, log: &Path| {
        let mut c = Command::new(env!("CARGO_BIN_EXE_cargo-share"));
        c.arg("--store")
            .arg(env.store())
            .args(["install", "--json", "--layout", "per-crate", "--path"])
            .arg(fixture(ws))
            .arg("--root")
            .arg(env.root())
            .arg("--unit-log")
            .arg(log);
        run_ok(&mut c)
    };
    let log_one = env.base.join("one.jsonl");
    install("unrelated/ws-one", &log_one);
    assert!(env.store().join("build").is_dir());
    assert!(compiled_crates(&log_one).contains(&"unrelated_common".to_string()));

    let log_two = env.base.join("two.jsonl");
    let out = install("unrelated/ws-two", &log_two);
    let second = compiled_crates(&log_two);
    assert!(
        !second.contains(&"unrelated_common".to_string()),
        "compiled again: {second:?}"
    );
    assert!(second.contains(&"two_a".to_string()), "{second:?}");
    let installed: Vec<serde_json::Value> = env
        .json(&out)
        .into_iter()
        .filter(|m| m["reason"] == "program-installed")
        .collect();
    for p in &installed {
        assert!(p["added"].as_array().unwrap().is_empty(), "{p}");
        assert_eq!(p["reused"].as_array().unwrap().len(), 2, "{p}");
    }
    assert!(run_clean(&env.root().join("bin/two-b")).contains("hello, two-b"));
    let why = run_ok(env.cmd().args(["why", "unrelated-common", "--json"]));
    assert_eq!(
        env.json(&why)[0]["programs"],
        serde_json::json!(["one-a", "one-b", "two-a", "two-b"])
    );
    env.verify_ok();
}

/// Two builds of one crate name and version with different identities coexist; upgrading one
/// program never changes another; the old build goes at gc once nothing uses it.
#[test]
fn different_builds_of_one_crate_version_coexist_and_upgrades_break_nothing() {
    let env = Env::new();
    let tree = env.base.join("tree");
    copy_dir(&fixture("unrelated"), &tree);
    run_ok(&mut env.install(&tree.join("ws-one")));
    let lib = tree.join("common-lib/src/lib.rs");
    let text = std::fs::read_to_string(&lib).unwrap();
    std::fs::write(&lib, text.replace("hello, {who}", "HELLO, {who}")).unwrap();
    run_ok(&mut env.install(&tree.join("ws-two")));

    // Same package and version, same Cargo file name, two identities.
    let common: Vec<String> = env
        .entries()
        .into_iter()
        .filter(|e| e.starts_with("unrelated-common "))
        .collect();
    assert_eq!(common.len(), 2, "{common:?}");
    assert!(run_clean(&env.root().join("bin/one-a")).starts_with("hello, one-a"));
    assert!(run_clean(&env.root().join("bin/two-a")).starts_with("HELLO, two-a"));

    // Upgrade ws-one to the new library: the old build is garbage only after that.
    let gc = run_ok(env.cmd().args(["gc", "--json"]));
    assert!(env.json(&gc)[0]["entries"].as_array().unwrap().is_empty());
    run_ok(&mut env.install(&tree.join("ws-one")));
    assert!(run_clean(&env.root().join("bin/one-a")).starts_with("HELLO, one-a"));
    let gc = run_ok(env.cmd().args(["gc", "--json"]));
    let removed = env.json(&gc)[0]["entries"].as_array().unwrap().clone();
    assert_eq!(removed.len(), 1, "{removed:?}");
    assert!(removed[0]
        .as_str()
        .unwrap()
        .starts_with("unrelated-common v0.3.0"));
    env.verify_ok();
}

#[test]
fn verify_finds_damage_and_repair_rebuilds_the_index() {
    let env = Env::new();
    run_ok(&mut env.install(&fixture("lto")));
    // A lost index is rebuilt from the manifests.
    std::fs::remove_file(env.store().join("index.sqlite")).unwrap();
    let out = env.cmd().arg("verify").output().unwrap();
    assert!(
        !out.status.success(),
        "an empty index should not verify the linked programs"
    );
    run_ok(env.cmd().args(["verify", "--repair"]));
    env.verify_ok();
    assert_eq!(env.entries().len(), 2);

    // A changed library file is found and named.
    env.damage_entry("lto-lib");
    let out = env.cmd().arg("verify").output().unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("entry lto-lib v0.1.0") && err.contains("changed"),
        "{err}"
    );
    // Repair cannot make the damaged entry right: it says so and verify still fails.
    let out = env.cmd().args(["verify", "--repair"]).output().unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("damaged"));
}

/// gc takes what is live from the index, never from files it may fail to read: a recorded
/// program with a damaged manifest keeps its directory (and verify names the damage).
#[test]
fn gc_never_removes_a_recorded_program_even_with_a_damaged_manifest() {
    let env = Env::new();
    run_ok(&mut env.install(&fixture("lto")));
    let bin = std::fs::canonicalize(env.root().join("bin/lto-one")).unwrap();
    let dir = bin.parent().unwrap().parent().unwrap().to_path_buf();
    std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o700)).unwrap();
    std::fs::remove_file(dir.join("program.json")).unwrap();
    run_ok(env.cmd().arg("gc"));
    assert!(dir.is_dir(), "gc removed a recorded program's directory");
    assert!(run_clean(&env.root().join("bin/lto-one")).contains("385"));
    let out = env.cmd().arg("verify").output().unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("lto-one: manifest missing"));
}

#[test]
fn a_group_is_one_store_entry_reused_when_the_same_set_is_installed_again() {
    let env = Env::new();
    let grouped = |fixture_dir: &Path| {
        let mut c = env.cmd();
        c.args(["install", "--json", "--path"])
            .arg(fixture_dir)
            .arg("--root")
            .arg(env.root());
        c
    };
    let out = run_ok(&mut grouped(&fixture("suite")));
    let installed: Vec<_> = env
        .json(&out)
        .into_iter()
        .filter(|m| m["reason"] == "program-installed")
        .collect();
    assert_eq!(installed.len(), 2, "{installed:?}");
    // The suite's ten shared crates are one group entry; with libstd, two entries in all.
    let entries = env.entries();
    assert_eq!(entries.len(), 2, "{entries:?}");
    assert!(
        entries
            .iter()
            .any(|e| e.starts_with("cargo-share-group-1-")),
        "{entries:?}"
    );
    for bin in ["hard-a", "hard-b"] {
        let text = run_clean(&env.root().join("bin").join(bin));
        assert!(text.contains("twover2: v2.0.0"), "{bin}: {text}");
    }
    env.verify_ok();

    // The same set again: the group's identity is unchanged, so nothing is added.
    let out = run_ok(&mut grouped(&fixture("suite")));
    let again: Vec<_> = env
        .json(&out)
        .into_iter()
        .filter(|m| m["reason"] == "program-installed")
        .collect();
    assert_eq!(again.len(), 2, "{again:?}");
    for p in again {
        assert!(p["added"].as_array().unwrap().is_empty(), "{p}");
        assert_eq!(p["reused"].as_array().unwrap().len(), 2, "{p}");
    }
    assert_eq!(env.entries(), entries);
    env.verify_ok();
}

/// A later install builds against the groups already in the store wherever it can use their
/// crate builds exactly: the same entry when it imports nothing the entry does not export (with
/// install's default `--exports all`, always), a relinked entry exporting more when it does
/// (`--exports used`; programs installed before keep theirs), and no reuse, said why, when it
/// needs the crate built with other features.
#[test]
fn a_later_install_builds_against_the_groups_in_the_store() {
    later_installs(None);
    later_installs(Some("used"));
}

fn later_installs(exports: Option<&str>) {
    let env = Env::new();
    let install = |ws: &str| {
        let log = env.base.join(format!("{}.jsonl", ws.replace('/', "-")));
        let mut c = env.cmd();
        // What stored groups alone give (the installed programs are not built again).
        c.args(["install", "--json", "--no-regroup"]);
        if let Some(e) = exports {
            c.args(["--exports", e]);
        }
        c.arg("--path")
            .arg(fixture(ws))
            .arg("--root")
            .arg(env.root())
            .arg("--unit-log")
            .arg(&log);
        let out = run_ok(&mut c);
        (out, compiled_crates(&log))
    };
    let groups = || -> Vec<String> {
        env.entries()
            .into_iter()
            .filter(|e| e.starts_with("cargo-share-group-"))
            .collect()
    };
    let program_libs = |bin: &str| env.group_libs(bin);

    // ws-one: two programs, so unrelated-common becomes a group.
    let (_, first) = install("unrelated/ws-one");
    assert!(first.contains(&"unrelated_common".to_string()), "{first:?}");
    let group = groups();
    assert_eq!(group.len(), 1, "{group:?}");
    let group_hash = group[0].split(' ').nth(1).unwrap().to_string();

    // The plan says which stored group it builds against.
    let plan = run_ok(
        env.cmd()
            .args(["install", "--dry-run", "--no-regroup", "--path"])
            .arg(fixture("unrelated/ws-two")),
    );
    let said = String::from_utf8_lossy(&plan.stdout);
    assert!(
        said.contains(&format!("(in the store as {}, reused)", &group_hash[..12])),
        "{said}"
    );

    // ws-two imports only what ws-one does: the same entry, nothing compiled but its own code.
    let (out, second) = install("unrelated/ws-two");
    assert!(
        !second.contains(&"unrelated_common".to_string()),
        "{second:?}"
    );
    for p in env
        .json(&out)
        .into_iter()
        .filter(|m| m["reason"] == "program-installed")
    {
        assert!(p["added"].as_array().unwrap().is_empty(), "{p}");
        assert!(
            p["reused"]
                .as_array()
                .unwrap()
                .contains(&serde_json::json!(group_hash)),
            "{p}"
        );
    }
    assert_eq!(groups(), group);
    assert_eq!(program_libs("one-a").len(), 1);
    assert_eq!(
        program_libs("two-a"),
        program_libs("one-a"),
        "the same entry"
    );
    assert!(run_clean(&env.root().join("bin/two-a")).contains("hello, two-a"));

    // ws-three calls a function nobody imported. `--exports all`: the group exports it, the same
    // entry. `--exports used`: the same crate builds, relinked to export it, as a new entry;
    // ws-one and ws-two keep the entry they were installed with.
    let (out, third) = install("unrelated/ws-three");
    assert!(
        !third.contains(&"unrelated_common".to_string()),
        "{third:?}"
    );
    let stderr = String::from_utf8_lossy(&out.stderr);
    let (three_lib, three_ino) = program_libs("three")[0].clone();
    let (one_lib, one_ino) = program_libs("one-a")[0].clone();
    assert_eq!(three_lib, one_lib, "the same group");
    let now = groups();
    assert!(now.contains(&group[0]));
    if exports == Some("used") {
        assert!(stderr.contains("Extending"), "{stderr}");
        assert_eq!(now.len(), 2, "{now:?}");
        assert_ne!(three_ino, one_ino, "another entry of it");
    } else {
        assert!(!stderr.contains("Extending"), "{stderr}");
        assert_eq!(now, group);
        assert_eq!(three_ino, one_ino, "the same entry");
    }
    assert_eq!(program_libs("two-b"), program_libs("one-a"));
    assert_eq!(
        run_clean(&env.root().join("bin/three")),
        "hello, three, from unrelated-common 0.3.0\ngoodbye, three\n"
    );

    // ws-four needs unrelated-common with the `shout` feature: no stored group fits, it says why
    // and builds the crate into the program.
    let (out, fourth) = install("unrelated/ws-four");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("Not reusing") && stderr.contains("features [shout]"),
        "{stderr}"
    );
    assert!(
        fourth.contains(&"unrelated_common".to_string()),
        "{fourth:?}"
    );
    assert!(program_libs("four").is_empty());
    assert_eq!(
        run_clean(&env.root().join("bin/four")),
        "HELLO, FOUR, FROM UNRELATED-COMMON 0.3.0\n"
    );
    assert_eq!(groups(), now);
    for (bin, text) in [("one-a", "hello, one-a"), ("two-b", "hello, two-b")] {
        assert!(run_clean(&env.root().join("bin").join(bin)).contains(text));
    }
    env.verify_ok();
}

/// A program installed on its own (the grouped layout resolves it as a set of one) keeps its own
/// lockfile's versions: its own tests cover that, so the install warns of nothing.
#[test]
fn a_program_installed_alone_is_not_called_untested() {
    let env = Env::new();
    let out = run_ok(
        env.cmd()
            .args(["install", "--path"])
            .arg(fixture("unrelated/ws-three"))
            .arg("--root")
            .arg(env.root()),
    );
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("Installing three"), "{stderr}");
    assert!(!stderr.contains("not tested"), "{stderr}");
    assert!(!stderr.contains("warning"), "{stderr}");
    env.verify_ok();
}

/// An install killed after its commit point (`program-recorded`: the index records the new
/// build, the link still points at the old one) is rolled forward by `verify --repair`, as by
/// any command that opens the store to write: the new build is installed and linked. It was
/// rolled back when the old build's directory came last in the directory listing; four
/// versions in turn make that order come up.
#[test]
fn verify_repair_rolls_a_committed_install_forward() {
    use std::os::unix::process::ExitStatusExt;
    let env = Env::new();
    let fixtures = env.base.join("unrelated");
    copy_dir(&fixture("unrelated"), &fixtures);
    let three = fixtures.join("ws-three/three");
    run_ok(&mut env.install(&fixtures.join("ws-three")));
    assert!(run_clean(&env.root().join("bin/three")).starts_with("hello, three"));
    let mut version = "0.1.0".to_string();
    for next in ["0.2.0", "0.4.0", "0.5.0", "0.6.0"] {
        // The next version, which says so (not 0.3.0: unrelated-common has it).
        for file in [
            three.join("Cargo.toml"),
            fixtures.join("ws-three/Cargo.lock"),
        ] {
            let text = std::fs::read_to_string(&file).unwrap();
            std::fs::write(&file, text.replace(&version, next)).unwrap();
        }
        let main = three.join("src/main.rs");
        let text = std::fs::read_to_string(&main).unwrap();
        let text = match text.split_once("    println!(\"three ") {
            Some((head, rest)) => format!("{head}{}", rest.split_once('\n').unwrap().1),
            None => text,
        };
        std::fs::write(
            &main,
            text.replace(
                "fn main() {",
                &format!("fn main() {{\n    println!(\"three {next}\");"),
            ),
        )
        .unwrap();
        let out = env
            .install(&fixtures.join("ws-three"))
            .env("CARGO_SHARE_FAULT", "program-recorded")
            .output()
            .unwrap();
        assert_eq!(out.status.signal(), Some(9), "not killed: {out:?}");
        run_ok(env.cmd().args(["verify", "--repair"]));
        assert!(
            run_clean(&env.root().join("bin/three")).starts_with(&format!("three {next}\n")),
            "{next} rolled back"
        );
        let list = run_ok(env.cmd().args(["list", "--json"]));
        let list = env.json(&list).remove(0);
        let recorded = list["programs"]
            .as_array()
            .unwrap()
            .iter()
            .find(|p| p["name"] == "three")
            .unwrap()["version"]
            .clone();
        assert_eq!(recorded, next, "{list}");
        env.verify_ok();
        version = next.to_string();
    }
}

/// Every group binds its calls to its own functions at link time, with install's defaults
/// (grouped, `--exports all`) too: a relocation against a function the same file defines is a
/// symbol lookup at every start (sd's largest group made 520 of them before 2026-12-07, when
/// only `--exports used` relinks bound them so). The allocator shim stays interposable: hard-a's
/// `#[global_allocator]` aborts on a block another allocator made.
#[test]
fn an_installed_group_binds_calls_to_its_own_functions_at_link_time() {
    let env = Env::new();
    run_ok(
        env.cmd()
            .args(["install", "--json", "--path"])
            .arg(fixture("suite"))
            .arg("--root")
            .arg(env.root()),
    );
    let mut groups = 0;
    for entry in std::fs::read_dir(env.store().join("entries")).unwrap() {
        for lib in std::fs::read_dir(entry.unwrap().path().join("lib")).unwrap() {
            let lib = lib.unwrap().path();
            let name = lib.file_name().unwrap().to_string_lossy().into_owned();
            if name.starts_with("libcargo_share_group_") {
                groups += 1;
                let own = calls_to_own_functions(&lib);
                assert!(own.is_empty(), "{name} looks up its own functions: {own:?}");
            }
        }
    }
    assert!(groups > 0, "the suite installs no group");
    assert!(run_clean(&env.root().join("bin/hard-a"))
        .contains("allocator: every block carried its header"));
    assert_eq!(
        run_clean(&env.root().join("bin/hard-b")),
        run_clean(&static_build(&fixture("suite"), &env.base).join("hard-b"))
    );
    env.verify_ok();
}

/// The functions a shared object defines that its own dynamic relocations name: each is a
/// symbol lookup at start, where a link-time binding would do.
fn calls_to_own_functions(lib: &Path) -> Vec<String> {
    use object::{Object, ObjectSymbol, ObjectSymbolTable, RelocationTarget, SymbolKind};
    let data = std::fs::read(lib).unwrap();
    let file = object::File::parse(&*data).unwrap();
    let Some(table) = file.dynamic_symbol_table() else {
        return Vec::new();
    };
    let mut own: Vec<String> = file
        .dynamic_relocations()
        .into_iter()
        .flatten()
        .filter_map(|(_, r)| match r.target() {
            RelocationTarget::Symbol(i) => table.symbol_by_index(i).ok(),
            _ => None,
        })
        .filter(|s| s.kind() == SymbolKind::Text && !s.is_undefined())
        .filter_map(|s| s.name().ok().map(String::from))
        .collect();
    own.sort();
    own.dedup();
    own
}
