//! The store never loses a program (issue 15): a lost, empty or damaged index is refused, not
//! taken for an empty store; gc removes only what it can prove unneeded and lists exactly that;
//! a directory that is not a store is never touched; a store, cache or install root that other
//! users could take over is refused.

mod common;

use std::os::unix::fs::PermissionsExt;
use std::path::Path;

use common::store_env::Env;
use common::*;

fn fails_with(cmd: &mut std::process::Command, needle: &str) -> String {
    let out = cmd.output().unwrap();
    let err = String::from_utf8_lossy(&out.stderr).into_owned();
    assert!(!out.status.success(), "{cmd:?} succeeded:\n{err}");
    assert!(err.contains(needle), "{cmd:?}: no `{needle}` in:\n{err}");
    err
}

/// Every file below `dir` (relative) with its contents' hash: to check nothing changed.
fn snapshot(dir: &Path) -> Vec<(String, String)> {
    let mut out = Vec::new();
    fn walk(base: &Path, dir: &Path, out: &mut Vec<(String, String)>) {
        let Ok(entries) = std::fs::read_dir(dir) else {
            return;
        };
        for e in entries {
            let p = e.unwrap().path();
            let rel = p.strip_prefix(base).unwrap().display().to_string();
            let meta = std::fs::symlink_metadata(&p).unwrap();
            if meta.is_dir() {
                out.push((rel, "dir".into()));
                walk(base, &p, out);
            } else if meta.file_type().is_symlink() {
                out.push((rel, std::fs::read_link(&p).unwrap().display().to_string()));
            } else {
                out.push((rel, cargo_share_compile::digest::file_sha256(&p).unwrap()));
            }
        }
    }
    walk(dir, dir, &mut out);
    out.sort();
    out
}

#[test]
fn a_lost_or_empty_index_is_refused_and_repair_brings_the_programs_back() {
    let env = Env::new();
    run_ok(&mut env.install(&fixture("lto")));
    let index = env.store().join("index.sqlite");
    for damage in ["removed", "emptied", "truncated"] {
        let saved = std::fs::read(&index).unwrap();
        match damage {
            "removed" => std::fs::remove_file(&index).unwrap(),
            "emptied" => std::fs::write(&index, b"").unwrap(),
            _ => std::fs::write(&index, &saved[..saved.len() / 3]).unwrap(),
        }
        let before = snapshot(&env.base);
        for args in [&["gc"][..], &["gc", "--dry-run"], &["list"], &["verify"]] {
            fails_with(env.cmd().args(args), "cargo share verify --repair");
        }
        // Nothing was removed: the programs are there and run.
        assert_eq!(snapshot(&env.base), before, "{damage}: something changed");
        assert!(run_clean(&env.root().join("bin/lto-one")).contains("385"));
        let out = run_ok(env.cmd().args(["verify", "--repair"]));
        let text = String::from_utf8_lossy(&out.stderr);
        if damage == "truncated" {
            assert!(text.contains("moved to"), "{text}");
        }
        env.verify_ok();
        let list = run_ok(env.cmd().args(["list", "--json"]));
        let programs = env.json(&list)[0]["programs"].as_array().unwrap().len();
        assert_eq!(programs, 2, "{damage}");
        let gc = run_ok(env.cmd().args(["gc", "--json"]));
        let report = &env.json(&gc)[0];
        assert!(report["program_builds"].as_array().unwrap().is_empty());
        assert!(report["entries"].as_array().unwrap().is_empty());
        assert!(run_clean(&env.root().join("bin/lto-two")).contains("sum_squares(100)"));
    }
    // An index that lost the record of a linked program: gc refuses, names it, removes nothing.
    let db = rusqlite::Connection::open(&index).unwrap();
    db.execute("DELETE FROM programs WHERE name = 'lto-one'", [])
        .unwrap();
    drop(db);
    let before = snapshot(&env.base);
    let err = fails_with(env.cmd().arg("gc"), "verify --repair");
    assert!(err.contains("lto-one"), "{err}");
    fails_with(env.cmd().args(["gc", "--dry-run"]), "verify --repair");
    assert_eq!(snapshot(&env.base), before);
    run_ok(env.cmd().args(["verify", "--repair"]));
    env.verify_ok();
    run_ok(env.cmd().arg("gc"));
    assert!(run_clean(&env.root().join("bin/lto-one")).contains("385"));
}

#[test]
fn gc_lists_exactly_what_it_removes_and_dry_run_says_the_same() {
    let env = Env::new();
    run_ok(&mut env.install(&fixture("lto")));
    run_ok(env.cmd().args(["uninstall", "lto-one"]));
    // Staging left by an interrupted command.
    let junk = env.store().join("tmp/entry-interrupted");
    std::fs::create_dir_all(&junk).unwrap();
    std::fs::write(junk.join("big.so"), vec![7u8; 3_000_000]).unwrap();

    let dry = run_ok(env.cmd().args(["gc", "--dry-run", "--json"]));
    let dry_text = String::from_utf8_lossy(&dry.stderr).into_owned();
    let mut would = env.json(&dry)[0].clone();
    assert_eq!(would["other"], serde_json::json!(["tmp/entry-interrupted"]));
    let builds = would["program_builds"].as_array().unwrap().clone();
    assert_eq!(builds.len(), 1, "{would}");
    assert!(builds[0].as_str().unwrap().starts_with("programs/lto-one-"));
    assert!(would["bytes_freed"].as_u64().unwrap() >= 3_000_000);
    for b in &builds {
        assert!(dry_text.contains(b.as_str().unwrap()), "{dry_text}");
    }
    assert!(dry_text.contains("tmp/entry-interrupted"), "{dry_text}");
    assert!(junk.is_dir(), "--dry-run removed something");

    let real = run_ok(env.cmd().args(["gc", "--json"]));
    let mut did = env.json(&real)[0].clone();
    did["dry_run"] = serde_json::json!(true);
    would["dry_run"] = serde_json::json!(true);
    assert_eq!(did, would, "gc did not do what --dry-run said");
    assert!(!junk.exists());
    assert!(!env.store().join(builds[0].as_str().unwrap()).exists());
    env.verify_ok();
    assert!(run_clean(&env.root().join("bin/lto-two")).contains("sum_squares(100)"));

    // Something in the store that is no store entry: gc refuses and leaves it.
    let notes = env.store().join("entries/notes");
    std::fs::create_dir(&notes).unwrap();
    std::fs::write(notes.join("a.txt"), "mine").unwrap();
    fails_with(env.cmd().arg("gc"), "entries/notes");
    assert_eq!(
        std::fs::read_to_string(notes.join("a.txt")).unwrap(),
        "mine"
    );
}

/// After an upgrade of cargo-share (another wrapper ABI), the store's build directory kept
/// Cargo's target directory of the old version, never read again: 613 MB in a store of ten
/// small programs. gc removes it, keeps the current version's, and leaves the build directory
/// alone while a build holds its lock.
#[test]
fn gc_removes_the_build_directories_of_another_version_unless_a_build_runs() {
    let env = Env::new();
    run_ok(&mut env.install(&fixture("lto")));
    let build = env.store().join("build");
    let abi = cargo_share_compile::unit_record::WRAPPER_ABI;
    let old = build.join("target-wrapper-0-grouped");
    let ours = build.join(format!("target-{abi}-grouped"));
    for dir in [&old, &ours] {
        std::fs::create_dir_all(dir.join("release")).unwrap();
        std::fs::write(dir.join("release/unit.rlib"), vec![1u8; 100_000]).unwrap();
    }
    let lock = std::fs::File::options()
        .create(true)
        .truncate(false)
        .write(true)
        .open(build.join("lock"))
        .unwrap();

    lock.lock().unwrap();
    let held = run_ok(env.cmd().args(["gc", "--json"]));
    assert_eq!(env.json(&held)[0]["other"], serde_json::json!([]));
    assert!(old.is_dir(), "removed while a build held the lock");
    lock.unlock().unwrap();

    let gc = run_ok(env.cmd().args(["gc", "--json"]));
    assert_eq!(
        env.json(&gc)[0]["other"],
        serde_json::json!(["build/target-wrapper-0-grouped"])
    );
    assert!(!old.exists());
    assert!(ours.join("release/unit.rlib").is_file());
    env.verify_ok();
}

#[test]
fn a_directory_that_is_not_a_store_is_never_touched() {
    let env = Env::new();
    let not_store = env.base.join("project");
    std::fs::create_dir_all(not_store.join("programs/my-project")).unwrap();
    std::fs::create_dir_all(not_store.join("entries/notes")).unwrap();
    std::fs::write(not_store.join("entries/notes/a.txt"), "notes").unwrap();
    std::fs::write(
        not_store.join("programs/my-project/main.rs"),
        "fn main() {}",
    )
    .unwrap();
    std::fs::set_permissions(&not_store, std::fs::Permissions::from_mode(0o700)).unwrap();
    let before = snapshot(&not_store);
    let on = |args: &[&str]| {
        let mut c = cargo_share(&env.base);
        c.arg("--store").arg(&not_store).args(args);
        c
    };
    for args in [
        &["gc"][..],
        &["gc", "--dry-run"],
        &["list"],
        &["why", "std"],
        &["verify"],
        &["verify", "--repair"],
        &["optimise"],
        &["uninstall", "my-project"],
    ] {
        fails_with(&mut on(args), "not a cargo-share store");
    }
    let mut install = on(&["install", "--layout", "per-crate", "--path"]);
    install.arg(fixture("lto")).arg("--root").arg(env.root());
    fails_with(&mut install, "not empty and is not a cargo-share store");
    assert_eq!(
        snapshot(&not_store),
        before,
        "a command changed a non-store"
    );

    // A missing store is not created by commands that only read or remove; `list` has nothing
    // to list (as `cargo install --list`), `why` and `uninstall` say there is no store.
    let listed = run_ok(env.cmd().arg("list"));
    assert!(listed.stdout.is_empty() && listed.stderr.is_empty());
    fails_with(env.cmd().args(["why", "std"]), "there is no store");
    fails_with(env.cmd().args(["uninstall", "lto"]), "there is no store");
    assert!(!env.store().exists());
    // install creates a store in an empty directory, and in a missing one.
    std::fs::create_dir(env.store()).unwrap();
    run_ok(&mut env.install(&fixture("lto")));
    assert!(env.store().join("cargo-share-store").is_file());
    // A store from before the marker: readers say how to mark it, a writer marks it.
    std::fs::remove_file(env.store().join("cargo-share-store")).unwrap();
    fails_with(env.cmd().arg("list"), "verify --repair` once to mark it");
    run_ok(env.cmd().args(["verify", "--repair"]));
    assert!(env.store().join("cargo-share-store").is_file());
    env.verify_ok();
    let other = env.base.join("new/store");
    let mut c = cargo_share(&env.base);
    c.arg("--store")
        .arg(&other)
        .args(["install", "--layout", "per-crate", "--path"])
        .arg(fixture("panic-abort"))
        .arg("--root")
        .arg(env.root());
    run_ok(&mut c);
    assert!(other.join("cargo-share-store").is_file());
    // A marker of another format is refused.
    std::fs::write(
        other.join("cargo-share-store"),
        "cargo-share store\nformat 99\n",
    )
    .unwrap();
    let mut c = cargo_share(&env.base);
    c.arg("--store").arg(&other).arg("list");
    fails_with(&mut c, "format 99");
}

#[test]
fn a_store_root_or_cache_that_others_could_take_over_is_refused() {
    let env = Env::new();
    let open = env.base.join("open");
    std::fs::create_dir(&open).unwrap();
    std::fs::set_permissions(&open, std::fs::Permissions::from_mode(0o777)).unwrap();
    let install = |store: &Path, root: &Path, cache: &Path| {
        let mut c = std::process::Command::new(env!("CARGO_BIN_EXE_cargo-share"));
        c.arg("--cache-dir")
            .arg(cache)
            .arg("--store")
            .arg(store)
            .args(["install", "--json", "--layout", "per-crate", "--path"])
            .arg(fixture("lto"))
            .arg("--root")
            .arg(root);
        c
    };
    let cache = env.base.join("cache");
    for (what, store, root, cache) in [
        ("store", open.join("store"), env.root(), cache.clone()),
        (
            "install root",
            env.store(),
            open.join("root"),
            cache.clone(),
        ),
        ("cache", env.store(), env.root(), open.join("cache")),
    ] {
        let mut c = install(&store, &root, &cache);
        let err = fails_with(&mut c, "chmod go-w");
        assert!(err.contains(&format!("the {what} ")), "{err}");
        assert!(err.contains(&open.display().to_string()), "{err}");
        // JSON runs get an error record too.
        let out = c.output().unwrap();
        let last = String::from_utf8_lossy(&out.stdout)
            .lines()
            .last()
            .map(|l| serde_json::from_str::<serde_json::Value>(l).unwrap())
            .unwrap();
        assert_eq!(last["reason"], "error");
        assert!(last["message"].as_str().unwrap().contains("chmod go-w"));
    }
    assert_eq!(
        std::fs::read_dir(&open).unwrap().count(),
        0,
        "created in it"
    );
    // An existing store whose parent becomes writable by others is refused for every command.
    run_ok(&mut env.install(&fixture("lto")));
    std::fs::set_permissions(&env.base, std::fs::Permissions::from_mode(0o777)).unwrap();
    fails_with(env.cmd().arg("list"), "chmod go-w");
    fails_with(env.cmd().arg("gc"), "chmod go-w");
    std::fs::set_permissions(&env.base, std::fs::Permissions::from_mode(0o700)).unwrap();
    env.verify_ok();
}

#[test]
fn a_damaged_entry_is_replaced_never_bound_and_repair_relinks_the_programs() {
    let env = Env::new();
    run_ok(&mut env.install(&fixture("unrelated/ws-one")));
    let lib = env.damage_entry("unrelated-common");
    let damaged = std::fs::read(&lib).unwrap();
    let name = lib.file_name().unwrap().to_owned();
    // A new program that needs the damaged entry gets a new copy of it, not the damaged one.
    let out = run_ok(&mut env.install(&fixture("unrelated/ws-two")));
    let text = String::from_utf8_lossy(&out.stderr);
    assert!(
        text.contains("damaged") && text.contains("replaced"),
        "{text}"
    );
    let entry_file = std::fs::read_dir(env.store().join("entries"))
        .unwrap()
        .map(|e| e.unwrap().path().join("lib").join(&name))
        .find(|p| p.exists())
        .unwrap();
    let two = std::fs::canonicalize(env.root().join("bin/two-a")).unwrap();
    let two_lib = two
        .parent()
        .unwrap()
        .parent()
        .unwrap()
        .join("lib")
        .join(&name);
    let bound = std::fs::read(&two_lib).unwrap();
    assert!(
        bound == std::fs::read(&entry_file).unwrap(),
        "not the entry's file"
    );
    assert!(bound != damaged, "bound to the damaged file");
    // The programs installed before still hold the damaged file: verify names it, repair
    // relinks them.
    let out = env.cmd().arg("verify").output().unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("differs from its entry"));
    let out = run_ok(env.cmd().args(["verify", "--repair"]));
    assert!(String::from_utf8_lossy(&out.stderr).contains("Relinked"));
    env.verify_ok();
    assert!(run_clean(&env.root().join("bin/one-a")).starts_with("hello, one-a"));

    // Reinstalling the same programs over a damaged entry repairs them too.
    env.damage_entry("unrelated-common");
    let out = run_ok(&mut env.install(&fixture("unrelated/ws-one")));
    assert!(String::from_utf8_lossy(&out.stderr).contains("replaced"));
    run_ok(env.cmd().args(["verify", "--repair"]));
    env.verify_ok();
}

/// A package `imposter` whose binary is named `bin`.
fn imposter(dir: &Path, bin: &str) -> std::path::PathBuf {
    std::fs::create_dir_all(dir.join("src")).unwrap();
    std::fs::write(
        dir.join("Cargo.toml"),
        format!(
            "[package]\nname = \"imposter\"\nversion = \"0.1.0\"\nedition = \"2021\"\n\n\
             [[bin]]\nname = \"{bin}\"\npath = \"src/main.rs\"\n\n[workspace]\n"
        ),
    )
    .unwrap();
    std::fs::write(
        dir.join("Cargo.lock"),
        "version = 4\n\n[[package]]\nname = \"imposter\"\nversion = \"0.1.0\"\n",
    )
    .unwrap();
    std::fs::write(
        dir.join("src/main.rs"),
        "fn main() { println!(\"imposter\"); }\n",
    )
    .unwrap();
    dir.to_path_buf()
}

#[test]
fn a_binary_of_another_program_is_refused_and_only_writers_touch_root_bin() {
    let env = Env::new();
    run_ok(&mut env.install(&fixture("lto")));
    let link = env.root().join("bin/lto-one");
    let before = std::fs::read_link(&link).unwrap();
    let fake = imposter(&env.base.join("imposter"), "lto-one");
    let err = fails_with(&mut env.install(&fake), "--force");
    assert!(
        err.contains("`lto-one`") && err.contains("`imposter`"),
        "{err}"
    );
    assert_eq!(std::fs::read_link(&link).unwrap(), before);
    run_ok(env.install(&fake).arg("--force"));
    assert_eq!(run_clean(&link), "imposter\n");
    // No later command points it back.
    for args in [&["list"][..], &["why", "std"], &["gc"], &["verify"]] {
        run_ok(env.cmd().args(args));
        assert_eq!(run_clean(&link), "imposter\n", "after {args:?}");
    }
    run_ok(env.cmd().args(["uninstall", "lto-two"]));
    assert_eq!(run_clean(&link), "imposter\n");

    // A link its user deleted is left deleted by every command but repair.
    std::fs::remove_file(&link).unwrap();
    for args in [
        &["list"][..],
        &["why", "std"],
        &["gc", "--dry-run"],
        &["gc"],
        &["optimise"],
        &["verify"],
    ] {
        run_ok(env.cmd().args(args));
        assert!(
            std::fs::symlink_metadata(&link).is_err(),
            "{args:?} wrote ROOT/bin"
        );
    }
    run_ok(env.cmd().args(["verify", "--repair"]));
    assert_eq!(run_clean(&link), "imposter\n");
}

/// `cmd` run with `dir` mounted read-only (a user and mount namespace), if the system allows it.
fn read_only_run(dir: &Path, cmd: &std::process::Command) -> Option<std::process::Output> {
    // A user namespace maps only our own uid: as anyone but root, root's directories above the
    // store would look foreign to the ancestor check inside it.
    // SAFETY: geteuid has no preconditions.
    if unsafe { libc::geteuid() } != 0 {
        eprintln!("skipped: the read-only mount needs to run as root");
        return None;
    }
    let probe = std::process::Command::new("unshare")
        .args(["-rm", "true"])
        .output();
    if !probe.map(|o| o.status.success()).unwrap_or(false) {
        eprintln!("skipped: `unshare -rm` is not available to mount the store read-only");
        return None;
    }
    let mut script = format!(
        "mount --bind -o ro '{0}' '{0}' && exec '{1}'",
        dir.display(),
        cmd.get_program().to_string_lossy()
    );
    for a in cmd.get_args() {
        script.push_str(&format!(" '{}'", a.to_string_lossy()));
    }
    Some(
        std::process::Command::new("unshare")
            .args(["-rm", "sh", "-c", &script])
            .output()
            .unwrap(),
    )
}

#[test]
fn read_only_commands_work_on_a_read_only_store_and_write_nothing() {
    let env = Env::new();
    run_ok(&mut env.install(&fixture("lto")));
    let times = |dir: &Path| -> Vec<(String, std::time::SystemTime)> {
        let mut v: Vec<_> = snapshot(dir)
            .into_iter()
            .map(|(p, _)| {
                let m = std::fs::symlink_metadata(dir.join(&p)).unwrap();
                (p, m.modified().unwrap())
            })
            .collect();
        v.sort();
        v
    };
    let before = (snapshot(&env.base), times(&env.base));
    for args in [
        &["list"][..],
        &["why", "lto-lib"],
        &["verify"],
        &["gc", "--dry-run"],
    ] {
        run_ok(env.cmd().args(args));
        let mut c = env.cmd();
        c.args(args);
        if let Some(out) = read_only_run(&env.store(), &c) {
            assert!(
                out.status.success(),
                "{args:?} on a read-only store:\n{}",
                String::from_utf8_lossy(&out.stderr)
            );
        }
    }
    assert!(
        before == (snapshot(&env.base), times(&env.base)),
        "a reader wrote"
    );
    // A command that changes the store says why it cannot.
    let mut c = env.cmd();
    c.arg("gc");
    if let Some(out) = read_only_run(&env.store(), &c) {
        assert!(!out.status.success());
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(
            err.contains("Read-only file system") && err.contains("lock"),
            "{err}"
        );
    }
}

#[test]
fn symlinks_in_a_program_tree_are_copied_as_links() {
    let env = Env::new();
    let tree = env.base.join("tree");
    copy_dir(&fixture("unrelated"), &tree);
    let member = tree.join("ws-one/one-a");
    std::os::unix::fs::symlink("no-such-file", member.join("dangling")).unwrap();
    std::os::unix::fs::symlink("loop", member.join("loop")).unwrap();
    std::os::unix::fs::symlink("..", member.join("up")).unwrap();
    let mut c = env.cmd();
    c.args(["install", "--path"])
        .arg(tree.join("ws-one"))
        .arg("--root")
        .arg(env.root());
    run_ok(&mut c);
    assert!(run_clean(&env.root().join("bin/one-a")).starts_with("hello, one-a"));
    env.verify_ok();
    // `why` finds a crate inside a group.
    let why = run_ok(env.cmd().args(["why", "unrelated-common", "--json"]));
    let record = &env.json(&why)[0];
    assert!(
        record["package"]
            .as_str()
            .unwrap()
            .starts_with("cargo-share-group-"),
        "{record}"
    );
    assert_eq!(
        record["members"],
        serde_json::json!(["unrelated-common v0.3.0"])
    );
    assert_eq!(record["programs"], serde_json::json!(["one-a", "one-b"]));
}

#[test]
fn an_interrupted_install_leaves_its_staging_in_the_store_for_gc() {
    let env = Env::new();
    run_ok(&mut env.install(&fixture("lto")));
    let system_tmp = env.base.join("system-tmp");
    std::fs::create_dir(&system_tmp).unwrap();
    let out = env
        .install(&fixture("panic-abort"))
        .env("TMPDIR", &system_tmp)
        .env("CARGO_SHARE_FAULT", "entries-added")
        .output()
        .unwrap();
    use std::os::unix::process::ExitStatusExt;
    assert_eq!(out.status.signal(), Some(9));
    let leaked: Vec<_> = std::fs::read_dir(&system_tmp).unwrap().collect();
    assert!(
        leaked.is_empty(),
        "left in the system's temp dir: {leaked:?}"
    );
    let staged: Vec<String> = file_names(&env.store().join("tmp"));
    assert!(
        staged.iter().any(|n| n.starts_with("install-")),
        "{staged:?}"
    );
    let gc = run_ok(env.cmd().args(["gc", "--json"]));
    let other = env.json(&gc)[0]["other"].clone();
    assert!(
        other
            .as_array()
            .unwrap()
            .iter()
            .any(|o| o.as_str().unwrap().starts_with("tmp/install-")),
        "{other}"
    );
    assert!(file_names(&env.store().join("tmp")).is_empty());
    env.verify_ok();
}

#[test]
fn every_root_a_program_is_linked_into_is_recorded_uninstalled_and_verified() {
    let env = Env::new();
    run_ok(&mut env.install(&fixture("lto")));
    let second = env.base.join("second-root");
    let mut c = env.cmd();
    c.args(["install", "--layout", "per-crate", "--path"])
        .arg(fixture("lto"))
        .arg("--root")
        .arg(&second);
    run_ok(&mut c);
    for root in [env.root(), second.clone()] {
        assert!(run_clean(&root.join("bin/lto-one")).contains("385"));
    }
    // A link in the first root that goes wrong is found.
    let first = env.root().join("bin/lto-one");
    let target = std::fs::read_link(&first).unwrap();
    std::fs::remove_file(&first).unwrap();
    std::os::unix::fs::symlink(env.root().join("nowhere"), &first).unwrap();
    let err = fails_with(
        env.cmd().arg("verify"),
        "does not link to its installed binary",
    );
    assert!(err.contains(&first.display().to_string()), "{err}");
    std::fs::remove_file(&first).unwrap();
    std::os::unix::fs::symlink(&target, &first).unwrap();
    env.verify_ok();
    // A lost index keeps both roots.
    std::fs::remove_file(env.store().join("index.sqlite")).unwrap();
    run_ok(env.cmd().args(["verify", "--repair"]));
    run_ok(env.cmd().args(["uninstall", "lto-one"]));
    run_ok(env.cmd().arg("gc"));
    for root in [env.root(), second] {
        assert!(
            std::fs::symlink_metadata(root.join("bin/lto-one")).is_err(),
            "{} keeps a link",
            root.display()
        );
        assert!(run_clean(&root.join("bin/lto-two")).contains("sum_squares(100)"));
    }
    env.verify_ok();
}

#[test]
fn install_errors_name_the_input_and_no_internal_directory() {
    let env = Env::new();
    let missing = env.base.join("no-such-program");
    let err = fails_with(&mut env.install(&missing), "no such file");
    assert!(err.contains(&missing.display().to_string()), "{err}");
    assert!(!err.contains("--manifest-path"), "{err}");
    // One program that fails to build (the other is installed, `--keep-going`), then both.
    let broken = env.base.join("broken");
    copy_dir(&fixture("lto"), &broken);
    std::fs::write(broken.join("lto-one/src/main.rs"), "fn main() { nope }").unwrap();
    let err = fails_with(&mut env.install(&broken), "1 failed to build");
    let last = err.lines().last().unwrap_or_default();
    assert!(last.contains("lto-one v0.1.0"), "{last}");
    assert!(!last.contains("tmp"), "names a staging directory: {last}");
    std::fs::write(broken.join("lto-lib/src/lib.rs"), "pub fn f() { nope }").unwrap();
    let err = fails_with(&mut env.install(&broken), "nothing was installed");
    let last = err.lines().last().unwrap_or_default();
    assert!(last.contains("no program was built"), "{last}");
    assert!(!last.contains("tmp"), "names a staging directory: {last}");
}

/// OS errors name the path and what to do (defect 10): a `--store` that is a file, a program
/// build directory that is a file, and the store's `programs/` replaced by a file.
#[test]
fn a_file_where_the_store_expects_a_directory_is_named_with_the_way_out() {
    let env = Env::new();
    run_ok(&mut env.install(&fixture("lto")));
    let file = env.base.join("notes.txt");
    std::fs::write(&file, "notes").unwrap();
    let said = format!("the store {} is not a directory", file.display());
    for args in [&["list"][..], &["gc"], &["verify"], &["verify", "--repair"]] {
        let mut c = cargo_share(&env.base);
        let err = fails_with(c.arg("--store").arg(&file).args(args), &said);
        assert!(err.contains("--store"), "{err}");
    }
    assert_eq!(std::fs::read_to_string(&file).unwrap(), "notes");

    // A program build directory that is a file: verify names its manifest.
    let bin = std::fs::canonicalize(env.root().join("bin/lto-one")).unwrap();
    let program = bin.parent().unwrap().parent().unwrap().to_path_buf();
    let aside = program.with_extension("aside");
    std::fs::rename(&program, &aside).unwrap();
    std::fs::write(&program, "not a directory").unwrap();
    let err = fails_with(env.cmd().arg("verify"), "Not a directory");
    assert!(
        err.contains(&program.join("program.json").display().to_string())
            && err.contains("install it again"),
        "{err}"
    );
    std::fs::remove_file(&program).unwrap();
    std::fs::rename(&aside, &program).unwrap();
    env.verify_ok();

    // The store's programs/ replaced by a file: every command refuses, naming it and the way out.
    let programs = std::fs::canonicalize(env.store()).unwrap().join("programs");
    let moved = env.base.join("programs-aside");
    std::fs::rename(&programs, &moved).unwrap();
    std::fs::write(&programs, "not a directory").unwrap();
    let before = snapshot(&env.store());
    let said = format!("{} is not a directory", programs.display());
    for args in [
        &["list"][..],
        &["verify"],
        &["gc"],
        &["optimise"],
        &["verify", "--repair"],
        &["uninstall", "lto-one"],
    ] {
        let err = fails_with(env.cmd().args(args), &said);
        assert!(err.contains("verify --repair"), "{err}");
    }
    assert_eq!(
        snapshot(&env.store()),
        before,
        "a refused command changed the store"
    );
    std::fs::remove_file(&programs).unwrap();
    std::fs::rename(&moved, &programs).unwrap();
    env.verify_ok();
    assert!(run_clean(&env.root().join("bin/lto-one")).contains("385"));
}
