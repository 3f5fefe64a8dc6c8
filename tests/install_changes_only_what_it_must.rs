//! An install changes only what it must, and all of it or nothing: a program that fails to
//! build, a root that cannot be written or a failure while the programs are staged leaves every
//! installed program, its record and its links exactly as they were.

mod common;

use std::path::{Path, PathBuf};
use std::process::Output;

use common::store_env::Env;
use common::*;

/// The fixture `unrelated` copied into the test's base directory (its programs name their
/// common library by a relative path), returned with its path.
fn unrelated_copy(env: &Env) -> PathBuf {
    let dir = env.base.join("unrelated");
    copy_dir(&fixture("unrelated"), &dir);
    dir
}

fn install(env: &Env, dir: &Path) -> std::process::Command {
    let mut c = env.cmd();
    c.args(["install", "--json", "--path"])
        .arg(dir)
        .arg("--root")
        .arg(env.root());
    c
}

fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

/// What an install may not change: `list --json` (programs, builds, roots, entries) and where
/// every link in the root points.
fn installed_state(env: &Env) -> (serde_json::Value, Vec<(String, PathBuf)>) {
    let out = run_ok(env.cmd().args(["list", "--json"]));
    let list = env.json(&out).remove(0);
    let mut links = Vec::new();
    for name in file_names(&env.root().join("bin")) {
        let target = std::fs::read_link(env.root().join("bin").join(&name)).unwrap();
        links.push((name, target));
    }
    (list, links)
}

/// `error` records on stdout: exactly one per failed command.
fn error_records(env: &Env, out: &Output) -> usize {
    env.json(out)
        .iter()
        .filter(|m| m["reason"] == "error")
        .count()
}

#[test]
fn a_program_that_fails_to_build_changes_no_installed_program() {
    let env = Env::new();
    let fixtures = unrelated_copy(&env);
    run_ok(&mut install(&env, &fixtures.join("ws-three")));
    let before = installed_state(&env);

    // Both programs of ws-two fail: nothing is installed and three, which they would have
    // regrouped, stays as it was.
    for bin in ["two-a", "two-b"] {
        std::fs::write(
            fixtures.join("ws-two").join(bin).join("src/main.rs"),
            "fn main() { let x: u32 = \"not a number\"; }\n",
        )
        .unwrap();
    }
    let bin_modified = || {
        std::fs::metadata(env.root().join("bin"))
            .and_then(|m| m.modified())
            .unwrap()
    };
    let bin_before = bin_modified();
    let out = install(&env, &fixtures.join("ws-two")).output().unwrap();
    let said = stderr(&out);
    assert!(!out.status.success(), "{said}");
    assert_eq!(installed_state(&env), before, "{said}");
    assert_eq!(
        bin_modified(),
        bin_before,
        "nothing written in the root\n{said}"
    );
    assert_eq!(error_records(&env, &out), 1, "one error record\n{said}");
    assert!(!said.contains("Regrouped"), "{said}");
    // rustc's error, once per program (not again when it is built alone with its own
    // features), naming the program's own file, never its copy in the cache.
    assert_eq!(said.matches("mismatched types").count(), 2, "{said}");
    for bin in ["two-a", "two-b"] {
        let file = fixtures.join("ws-two").join(bin).join("src/main.rs");
        assert!(said.contains(&file.display().to_string()), "{said}");
    }
    let copies: Vec<&str> = said
        .lines()
        .filter(|l| l.contains("two-") && l.contains("/sets/"))
        .collect();
    assert!(copies.is_empty(), "{copies:?}\n{said}");
    env.verify_ok();

    // One of them builds: it is installed; three still changes on nobody's account.
    std::fs::copy(
        fixture("unrelated/ws-two/two-a/src/main.rs"),
        fixtures.join("ws-two/two-a/src/main.rs"),
    )
    .unwrap();
    let out = install(&env, &fixtures.join("ws-two")).output().unwrap();
    let said = stderr(&out);
    assert!(
        !out.status.success(),
        "two-b failed: the command fails\n{said}"
    );
    let installed: Vec<String> = env
        .json(&out)
        .iter()
        .filter(|m| m["reason"] == "program-installed" || m["reason"] == "program-regrouped")
        .map(|m| m["name"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(installed, ["two-a"], "{said}");
    let (list, links) = installed_state(&env);
    let three_link = |links: &[(String, PathBuf)]| {
        links
            .iter()
            .find(|(n, _)| n == "three")
            .map(|(_, t)| t.clone())
            .unwrap()
    };
    assert_eq!(three_link(&links), three_link(&before.1), "{said}");
    assert!(list.to_string().contains("two-a"));
    assert!(run_clean(&env.root().join("bin/two-a")).contains("hello, two-a"));
    assert!(run_clean(&env.root().join("bin/three")).contains("hello, three"));
    env.verify_ok();
}

/// With three installed, an install of ws-two into `root` made by `make_root` fails before
/// anything is built, saying `said` of `root`, with one error record, and changes nothing.
fn assert_root_refused(make_root: &dyn Fn(&Env) -> PathBuf, said_of_root: &str) {
    let env = Env::new();
    let fixtures = unrelated_copy(&env);
    run_ok(&mut install(&env, &fixtures.join("ws-three")));
    let before = installed_state(&env);
    let root = make_root(&env);
    let mut c = env.cmd();
    c.args(["install", "--json", "--path"])
        .arg(fixtures.join("ws-two"))
        .arg("--root")
        .arg(&root);
    let out = c.output().unwrap();
    let said = stderr(&out);
    assert!(!out.status.success(), "{said}");
    assert!(
        said.contains(&format!(
            "the install root {} {said_of_root}",
            root.display()
        )),
        "{said}"
    );
    assert!(
        !said.contains("Compiling") && !said.contains("Building"),
        "{said}"
    );
    assert_eq!(error_records(&env, &out), 1, "{said}");
    assert_eq!(installed_state(&env), before);
    run_ok(env.cmd().arg("gc"));
    env.verify_ok();
}

#[test]
fn a_root_that_cannot_be_written_is_refused_before_building() {
    // A root whose bin/ is a file: no link can ever be made there.
    let bad_root = |env: &Env| {
        let root = env.base.join("other-root");
        std::fs::create_dir(&root).unwrap();
        std::fs::write(root.join("bin"), "").unwrap();
        root
    };
    assert_root_refused(&bad_root, "cannot be written");
}

/// `--root` inside the store (`STORE/programs`) is refused before anything is built: links the
/// store held in itself kept `gc` from ever running again.
#[test]
fn a_root_inside_the_store_is_refused() {
    assert_root_refused(&|env| env.store().join("programs"), "is inside the store");
}

#[test]
fn a_failure_while_staging_the_second_program_records_none() {
    let env = Env::new();
    let fixtures = unrelated_copy(&env);
    run_ok(&mut install(&env, &fixtures.join("ws-three")));
    let before = installed_state(&env);

    // ws-two's two programs and three (regrouped with them) are staged one after the other;
    // the second fails with an I/O error: none of the three is recorded or linked.
    let out = install(&env, &fixtures.join("ws-two"))
        .env("CARGO_SHARE_FAULT", "program-staged#2:eio")
        .output()
        .unwrap();
    let said = stderr(&out);
    assert!(!out.status.success(), "{said}");
    assert_eq!(installed_state(&env), before, "{said}");
    assert!(run_clean(&env.root().join("bin/three")).contains("hello, three"));
    env.verify_ok();

    // Without the fault the same install completes.
    run_ok(&mut install(&env, &fixtures.join("ws-two")));
    assert!(run_clean(&env.root().join("bin/two-b")).contains("hello, two-b"));
    env.verify_ok();
}

/// `install` of a crates.io program installed already, unchanged, does nothing and says so as
/// `cargo install` does; another version or other features build it; `--force` rebuilds it; a
/// bare `install` names what to do instead of rebuilding every installed program.
#[test]
fn reinstalling_an_unchanged_program_is_a_no_op() {
    let env = Env::new();
    replace_crates_io(&env.base, "sets/registry");
    let install = |args: &[&str]| {
        let mut c = env.cmd();
        c.current_dir(&env.base)
            .args(["install", "--json"])
            .args(args)
            .arg("--root")
            .arg(env.root());
        c
    };
    run_ok(&mut install(&["noisy-tool@0.1.0"]));
    let before = installed_state(&env);

    for spec in ["noisy-tool@0.1.0", "noisy-tool"] {
        let out = run_ok(&mut install(&[spec]));
        let said = stderr(&out);
        assert!(
            said.contains(
                "Ignored package `noisy-tool v0.1.0` is already installed, use --force to override"
            ),
            "{spec}: {said}"
        );
        assert!(!said.contains("Compiling"), "{spec}: {said}");
        let ignored: Vec<serde_json::Value> = env
            .json(&out)
            .into_iter()
            .filter(|m| m["reason"] == "program-ignored")
            .collect();
        assert_eq!(ignored.len(), 1, "{spec}");
        assert_eq!(ignored[0]["version"], "0.1.0");
        assert_eq!(installed_state(&env), before, "{spec}");
    }

    // --force builds it again (the same build: the same record).
    let out = run_ok(&mut install(&["noisy-tool@0.1.0", "--force"]));
    assert!(!stderr(&out).contains("Ignored"), "{}", stderr(&out));
    assert_eq!(
        run_clean(&env.root().join("bin/noisy-tool")),
        "noisy-tool: 1.1.0\n"
    );

    // `install --list` lists, as `cargo install --list` does, and installs nothing.
    let listed = run_ok(env.cmd().args(["install", "--list"]));
    let list = run_ok(env.cmd().arg("list"));
    assert_eq!(listed.stdout, list.stdout);
    assert!(String::from_utf8_lossy(&listed.stdout).contains("noisy-tool v0.1.0"));

    // A bare install is refused: nothing is rebuilt.
    let out = install(&[]).output().unwrap();
    let said = stderr(&out);
    assert!(!out.status.success(), "{said}");
    assert!(said.contains("no program to install"), "{said}");
    assert_eq!(error_records(&env, &out), 1, "{said}");
    assert_eq!(installed_state(&env).0, before.0);
}

/// `uninstall --root` removes a program's links from that root only, as `cargo uninstall
/// --root` does; the program stays installed in its other roots until it leaves the last one.
#[test]
fn uninstall_from_one_root_keeps_the_others() {
    let env = Env::new();
    let fixtures = unrelated_copy(&env);
    let other = env.base.join("other-root");
    run_ok(&mut install(&env, &fixtures.join("ws-three")));
    let mut second = env.cmd();
    second
        .args(["install", "--path"])
        .arg(fixtures.join("ws-three"))
        .arg("--root")
        .arg(&other);
    run_ok(&mut second);
    assert!(run_clean(&other.join("bin/three")).contains("hello, three"));

    // A root it is not linked into: refused, nothing removed.
    let out = env
        .cmd()
        .args(["uninstall", "three", "--root"])
        .arg(env.base.join("elsewhere"))
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(
        stderr(&out).contains("is not installed in"),
        "{}",
        stderr(&out)
    );
    assert!(other.join("bin/three").exists() && env.root().join("bin/three").exists());

    run_ok(
        env.cmd()
            .args(["uninstall", "three", "--root"])
            .arg(env.root()),
    );
    assert!(std::fs::symlink_metadata(env.root().join("bin/three")).is_err());
    assert!(run_clean(&other.join("bin/three")).contains("hello, three"));
    let listed = run_ok(env.cmd().args(["list", "--json"]));
    assert_eq!(env.json(&listed)[0]["programs"][0]["name"], "three");
    env.verify_ok();

    // The next install of another program rebinds three in the root it is still in only.
    run_ok(&mut install(&env, &fixtures.join("ws-two")));
    assert!(std::fs::symlink_metadata(env.root().join("bin/three")).is_err());
    assert!(run_clean(&other.join("bin/three")).contains("hello, three"));
    env.verify_ok();

    run_ok(env.cmd().args(["uninstall", "three"]));
    assert!(std::fs::symlink_metadata(other.join("bin/three")).is_err());
    let listed = run_ok(env.cmd().args(["list", "--json"]));
    let names: Vec<String> = env.json(&listed)[0]["programs"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["name"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(names, ["two-a", "two-b"]);
    env.verify_ok();
}

/// A crates.io program that does not exist, or a version that does not: the error names the
/// user's input and Cargo's reason, never the throwaway package cargo-share resolved it in.
#[test]
fn an_unknown_crate_or_version_is_named_without_internal_paths() {
    let env = Env::new();
    replace_crates_io(&env.base, "sets/registry");
    // Into an empty store, then into one that holds a program: the install that would plan
    // the newcomer with the installed versions first says the error once too, before planning.
    for installed_first in [false, true] {
        if installed_first {
            run_ok(&mut install(&env, &unrelated_copy(&env).join("ws-three")));
        }
        said_once_for_unknown_programs(&env);
    }
}

fn said_once_for_unknown_programs(env: &Env) {
    for spec in ["no-such-program", "noisy-tool@9.9.9"] {
        let out = env
            .cmd()
            .current_dir(&env.base)
            .args(["install", "--json", spec, "--root"])
            .arg(env.root())
            .output()
            .unwrap();
        let said = stderr(&out);
        assert!(!out.status.success(), "{said}");
        assert!(
            said.contains(&format!("`{}", spec.replace("@", "@=")))
                || said.contains(&format!("`{spec}")),
            "{said}"
        );
        assert!(
            !said.contains("fetch-") && !said.contains("cargo-share-fetch"),
            "an internal path or package: {said}"
        );
        assert_eq!(error_records(env, &out), 1, "{said}");
        assert_eq!(said.matches("could not be resolved").count(), 1, "{said}");
        assert!(!said.contains("Not adapting"), "{said}");
        assert!(!env.root().join("bin").join("noisy-tool").exists());
    }
}

/// `--offline` (and `--frozen`) run every Cargo without the network, as `cargo --offline`
/// does: a crate Cargo's cache does not hold is an error that says so, and nothing changes.
#[test]
fn offline_installs_reach_no_network() {
    let env = Env::new();
    for flag in ["--offline", "--frozen"] {
        let out = env
            .cmd()
            .current_dir(&env.base)
            .env("CARGO_HOME", env.base.join("empty-cargo-home"))
            .args(["install", flag, "sd@1.0.0", "--root"])
            .arg(env.root())
            .output()
            .unwrap();
        let said = stderr(&out);
        assert!(!out.status.success(), "{flag}: {said}");
        assert!(said.contains("offline"), "{flag}: {said}");
        assert!(!env.root().join("bin/sd").exists());
    }
}

/// `cargo install`'s `--debug` and `--profile NAME` are refused with why and what to do (the
/// store's shared crates have one profile), before anything is built; `-v` passes Cargo's
/// verbose output through (the commands its builds run).
#[test]
fn debug_and_profile_are_refused_and_verbose_shows_cargo_commands() {
    let env = Env::new();
    let fixtures = unrelated_copy(&env);
    for args in [vec!["--debug"], vec!["--profile", "dev"]] {
        let mut c = install(&env, &fixtures.join("ws-three"));
        let out = c.args(&args).output().unwrap();
        let said = stderr(&out);
        assert!(!out.status.success(), "{args:?}: {said}");
        assert!(
            said.contains(&format!(
                "{}: cargo-share installs release builds only",
                args[0]
            )) && said.contains("nothing was installed"),
            "{args:?}: {said}"
        );
        assert!(!said.contains("Compiling"), "{said}");
        assert!(!env.root().join("bin/three").exists());
    }
    let out =
        run_ok(install(&env, &fixtures.join("ws-three")).args(["--profile", "release", "-v"]));
    let said = stderr(&out);
    assert!(said.contains("Running `"), "{said}");
    assert!(run_clean(&env.root().join("bin/three")).starts_with("hello, three"));
}

/// `--bin NAME` installs only that binary of the program, as `cargo install --bin`; a later
/// install that rebuilds the program with a newcomer keeps to it; a name the program has no
/// binary of is refused before anything changes.
/// A program with two binaries (`two-bins` and `other`), sharing unrelated-common with
/// ws-three's `three`, written into the test's base directory.
fn two_bins_program(env: &Env, fixtures: &Path) -> PathBuf {
    let two_bins = env.base.join("two-bins");
    std::fs::create_dir_all(two_bins.join("src/bin")).unwrap();
    std::fs::write(
        two_bins.join("Cargo.toml"),
        format!(
            "[package]\nname = \"two-bins\"\nversion = \"0.1.0\"\nedition = \"2021\"\n\
             publish = false\n\n[dependencies]\nunrelated-common = {{ path = {:?} }}\n\n\
             [workspace]\n",
            fixtures.join("common-lib")
        ),
    )
    .unwrap();
    for (file, who) in [("src/main.rs", "main"), ("src/bin/other.rs", "other")] {
        std::fs::write(
            two_bins.join(file),
            format!(
                "fn main() {{\n    println!(\"{{}}\", unrelated_common::greet(\"{who}\"));\n}}\n"
            ),
        )
        .unwrap();
    }
    two_bins
}

#[test]
fn bin_installs_only_the_binaries_named_and_later_installs_keep_to_them() {
    let env = Env::new();
    let fixtures = unrelated_copy(&env);
    let two_bins = two_bins_program(&env, &fixtures);
    run_ok(install(&env, &two_bins).args(["--no-locked", "--bin", "other"]));
    assert!(run_clean(&env.root().join("bin/other")).contains("hello, other"));
    assert!(!env.root().join("bin/two-bins").exists());

    // three joins: two-bins is rebuilt with it, and keeps to its one binary.
    let out = run_ok(&mut install(&env, &fixtures.join("ws-three")));
    assert!(
        stderr(&out).contains("Regrouped two-bins"),
        "{}",
        stderr(&out)
    );
    assert!(run_clean(&env.root().join("bin/other")).contains("hello, other"));
    assert!(!env.root().join("bin/two-bins").exists());
    env.verify_ok();

    let before = installed_state(&env);
    let out = install(&env, &two_bins)
        .args(["--no-locked", "--bin", "nosuch"])
        .output()
        .unwrap();
    let said = stderr(&out);
    assert!(!out.status.success(), "{said}");
    assert!(
        said.contains("no binary named `nosuch` in two-bins v0.1.0; nothing was installed"),
        "{said}"
    );
    assert_eq!(installed_state(&env), before);
}

#[test]
fn uninstall_bin_removes_those_binaries_and_later_builds_keep_to_it() {
    let env = Env::new();
    let fixtures = unrelated_copy(&env);
    let two_bins = two_bins_program(&env, &fixtures);
    run_ok(install(&env, &two_bins).arg("--no-locked"));
    run_ok(&mut install(&env, &fixtures.join("ws-three")));
    let uninstall = |args: &[&str]| {
        let mut c = env.cmd();
        c.arg("uninstall").args(args);
        c.output().unwrap()
    };

    // Refused before anything changes: a binary it does not have, two programs with --bin.
    let before = installed_state(&env);
    for (args, said) in [
        (
            &["two-bins", "--bin", "nosuch"][..],
            "binary `nosuch` is not installed as part of `two-bins` v0.1.0 (its binaries: \
             other, two-bins); nothing was removed",
        ),
        (
            &["two-bins", "three", "--bin", "other"][..],
            "--bin names binaries of one program, and 2 programs were given",
        ),
    ] {
        let out = uninstall(args);
        assert!(
            !out.status.success() && stderr(&out).contains(said),
            "{}",
            stderr(&out)
        );
        assert_eq!(installed_state(&env), before);
    }

    let out = uninstall(&["two-bins", "--bin", "other", "--json"]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("Removed `other` of two-bins v0.1.0"),
        "{}",
        stderr(&out)
    );
    assert_eq!(env.json(&out)[0]["reason"], "binaries-removed");
    assert!(std::fs::symlink_metadata(env.root().join("bin/other")).is_err());
    assert!(run_clean(&env.root().join("bin/two-bins")).contains("hello, main"));
    assert!(run_clean(&env.root().join("bin/three")).contains("hello, three"));
    env.verify_ok();

    // A later build of the install command (`update` replays it) keeps to the one binary.
    run_ok(env.cmd().args(["update", "--rebuild-all"]));
    assert!(std::fs::symlink_metadata(env.root().join("bin/other")).is_err());
    assert!(run_clean(&env.root().join("bin/two-bins")).contains("hello, main"));
    env.verify_ok();

    // Its last binary: the program is uninstalled, as `cargo uninstall --bin` does.
    let out = uninstall(&["two-bins", "--bin", "two-bins"]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(std::fs::symlink_metadata(env.root().join("bin/two-bins")).is_err());
    let listed = run_ok(env.cmd().args(["list", "--json"]));
    assert_eq!(
        env.json(&listed)[0]["programs"].as_array().unwrap().len(),
        1
    );
    env.verify_ok();
}

#[test]
fn uninstall_bin_killed_after_its_commit_point_is_rolled_forward() {
    let env = Env::new();
    let fixtures = unrelated_copy(&env);
    let two_bins = two_bins_program(&env, &fixtures);
    run_ok(install(&env, &two_bins).arg("--no-locked"));
    let killed = env
        .cmd()
        .args(["uninstall", "two-bins", "--bin", "other"])
        .env("CARGO_SHARE_FAULT", "program-recorded:kill")
        .output()
        .unwrap();
    assert!(!killed.status.success());
    // Recorded without `other`, whose link still points into the old build.
    assert!(std::fs::symlink_metadata(env.root().join("bin/other")).is_ok());

    // The next command that writes the store rolls the removal forward, then refuses: `other`
    // is no longer part of two-bins.
    let out = env
        .cmd()
        .args(["uninstall", "two-bins", "--bin", "other"])
        .output()
        .unwrap();
    assert!(
        stderr(&out).contains("binary `other` is not installed as part of `two-bins`"),
        "{}",
        stderr(&out)
    );
    assert!(std::fs::symlink_metadata(env.root().join("bin/other")).is_err());
    assert!(run_clean(&env.root().join("bin/two-bins")).contains("hello, main"));
    env.verify_ok();
}

/// A Cargo configuration in the test's base directory where crates.io and the registry
/// `company` (index `index`) are both served from the fixture directory source, as a company's
/// mirror would serve them.
fn with_company_registry(env: &Env, index: &str) {
    std::fs::create_dir_all(env.base.join(".cargo")).unwrap();
    std::fs::write(
        env.base.join(".cargo/config.toml"),
        format!(
            "[registries.company]\nindex = \"{index}\"\n\
             [source.crates-io]\nreplace-with = \"fixture\"\n\
             [source.company-upstream]\nregistry = \"{index}\"\nreplace-with = \"fixture\"\n\
             [source.fixture]\ndirectory = {:?}\n",
            fixture("sets/registry").display().to_string()
        ),
    )
    .unwrap();
}

#[test]
fn a_program_installs_from_another_registry_by_name_or_index() {
    let env = Env::new();
    let index = "https://registry.company.invalid/index";
    with_company_registry(&env, index);
    let install_from = |how: &[&str]| {
        let mut c = env.cmd();
        c.args(["install", "--json"])
            .args(how)
            .args(["cache-hello@0.1.0", "--root"])
            .arg(env.root())
            .current_dir(&env.base);
        c
    };
    let said = stderr(&run_ok(&mut install_from(&["--registry", "company"])));
    assert!(
        said.contains("Resolving cache-hello@=0.1.0 on `company`"),
        "{said}"
    );
    let hello = env.root().join("bin/cache-hello");
    let says = run_clean(&hello);
    assert!(says.starts_with("cache-hello: shim 1."), "{says}");
    // The record names the registry; a later install that regroups the program takes the
    // copy fetched from there (a program recorded as from crates.io would be fetched from
    // crates.io, which the source copy's marker tells apart).
    let listed = env
        .json(&run_ok(env.cmd().args(["list", "--json"])))
        .remove(0);
    let program = &listed["programs"].as_array().unwrap()[0];
    assert_eq!(program["source"], "registry `company`", "{listed}");
    let said = stderr(&run_ok(
        install(&env, &fixture("sets/new-shim")).current_dir(&env.base),
    ));
    assert!(
        !said.contains("Resolving cache-hello") && said.contains("cache-hello v0.1.0"),
        "{said}"
    );
    assert_eq!(run_clean(&hello), says);
    env.verify_ok();

    // By index URL, as `cargo install --index`.
    run_ok(env.cmd().args(["uninstall", "cache-hello"]));
    run_ok(&mut install_from(&["--index", index]));
    assert_eq!(run_clean(&hello), says);
    // Installed already from there: a no-op, as for crates.io.
    let said = stderr(&run_ok(&mut install_from(&["--index", index])));
    assert!(
        said.contains("Ignored package `cache-hello v0.1.0`"),
        "{said}"
    );

    // A registry the configuration does not define: said, nothing changed.
    let before = installed_state(&env);
    let out = install_from(&["--registry", "nowhere", "--force"])
        .output()
        .unwrap();
    let said = stderr(&out);
    assert_eq!(out.status.code(), Some(101), "{said}");
    assert!(
        said.contains("`nowhere`") && said.contains("[registries.nowhere]"),
        "{said}"
    );
    assert_eq!(installed_state(&env), before, "{said}");
}

/// A local program that ships no `Cargo.lock` installs, resolved anew as `cargo install
/// --path` resolves it, and nothing is written into its directory; a later install that
/// regroups it builds it again from its recorded resolution.
#[test]
fn a_local_program_without_a_lockfile_installs_without_writing_one() {
    let env = Env::new();
    let fixtures = unrelated_copy(&env);
    let three = fixtures.join("ws-three");
    std::fs::remove_file(three.join("Cargo.lock")).unwrap();
    let out = run_ok(&mut install(&env, &three));
    let said = stderr(&out);
    assert!(said.contains("has no Cargo.lock"), "{said}");
    assert!(
        !said.contains("--locked"),
        "no flag the user did not pass: {said}"
    );
    assert!(
        !three.join("Cargo.lock").exists(),
        "a lockfile written: {said}"
    );
    assert!(run_clean(&env.root().join("bin/three")).contains("hello, three"));

    run_ok(&mut install(&env, &fixtures.join("ws-two")));
    assert!(!three.join("Cargo.lock").exists());
    assert!(run_clean(&env.root().join("bin/three")).contains("hello, three"));
    assert!(run_clean(&env.root().join("bin/two-a")).contains("hello, two-a"));
    env.verify_ok();
}

/// A program that another program of the install also depends on as a library, at the same
/// version, from the registry: Cargo is given each program by its package id, since
/// `NAME@VERSION` names both the program's copy and the registry library (fd-find 8.6.0 and
/// lscolors 0.13.0 were split into two sets for it).
#[test]
fn a_program_that_is_also_another_programs_library_installs_in_one_set() {
    let env = Env::new();
    replace_crates_io(&env.base, "sets/registry");
    let out = env
        .cmd()
        .current_dir(&env.base)
        .args([
            "install",
            "--json",
            "both-ways@0.1.0",
            "uses-both-ways@0.1.0",
        ])
        .arg("--root")
        .arg(env.root())
        .output()
        .unwrap();
    let said = stderr(&out);
    assert!(out.status.success(), "{said}");
    assert!(
        !said.contains("ambiguous") && !said.contains("Retrying"),
        "{said}"
    );
    assert_eq!(
        run_clean(&env.root().join("bin/both-ways")),
        "both-ways: 42\n"
    );
    assert_eq!(
        run_clean(&env.root().join("bin/uses-both-ways")),
        "uses-both-ways: 42\n"
    );
}
