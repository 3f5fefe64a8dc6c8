//! `install --git URL` with `--tag`, `--rev`, `--branch` and a package name, from a repository
//! made in the test (a copy of the `lto` fixture, `git init`-ed, served as a `file://` URL):
//! the commit is recorded with the program, and a later install builds it again from exactly
//! that commit.

mod common;

use std::path::Path;
use std::process::Command;

use common::store_env::Env;
use common::*;

fn git(repo: &Path, args: &[&str]) -> String {
    let out = run_ok(
        Command::new("git")
            .args(["-c", "user.name=t", "-c", "user.email=t@example.com"])
            .args(args)
            .current_dir(repo),
    );
    String::from_utf8_lossy(&out.stdout).trim().to_string()
}

fn install(env: &Env, args: &[&str]) -> Command {
    let mut c = env.cmd();
    c.args(["install", "--json"])
        .args(args)
        .arg("--root")
        .arg(env.root());
    c
}

fn program_json(env: &Env, bin: &str) -> serde_json::Value {
    let target = std::fs::read_link(env.root().join("bin").join(bin)).unwrap();
    let dir = target.parent().unwrap().parent().unwrap();
    serde_json::from_str(&std::fs::read_to_string(dir.join("program.json")).unwrap()).unwrap()
}

#[test]
fn programs_install_from_a_git_repository_at_a_tag_rev_or_branch() {
    let env = Env::new();
    let repo = env.base.join("repo");
    copy_dir(&fixture("lto"), &repo);
    git(&repo, &["init", "-q", "-b", "main"]);
    git(&repo, &["add", "."]);
    git(&repo, &["commit", "-q", "-m", "one"]);
    git(&repo, &["tag", "v1"]);
    let v1 = git(&repo, &["rev-parse", "HEAD"]);
    // A second commit on main changes what lto-one prints.
    let main_rs = repo.join("lto-one/src/main.rs");
    let text = std::fs::read_to_string(&main_rs).unwrap();
    std::fs::write(&main_rs, text.replace("lto-one: {}", "lto-one (main): {}")).unwrap();
    git(&repo, &["commit", "-q", "-am", "two"]);
    let main = git(&repo, &["rev-parse", "HEAD"]);
    let url = format!("file://{}", repo.display());

    // A tag, with the package named: recorded with its commit.
    run_ok(&mut install(
        &env,
        &["--git", &url, "--tag", "v1", "lto-one"],
    ));
    let one = run_clean(&env.root().join("bin/lto-one"));
    assert!(one.starts_with("lto-one: "), "{one}");
    let record = program_json(&env, "lto-one");
    assert_eq!(record["source"], "git");
    assert_eq!(record["origin"]["kind"], "git");
    let origin = &record["origin"]["spec"];
    assert_eq!(origin["url"], url.as_str());
    assert_eq!(origin["commit"], v1.as_str());
    assert_eq!(origin["reference"]["tag"], "v1");

    // The other program of that commit by --rev: lto-one is built again from its recorded
    // commit (not main) with it, and both load one group.
    let out = run_ok(&mut install(
        &env,
        &["--git", &url, "--rev", &v1, "lto-two"],
    ));
    let regrouped: Vec<_> = env
        .json(&out)
        .into_iter()
        .filter(|m| m["reason"] == "program-regrouped")
        .collect();
    assert_eq!(
        regrouped.len(),
        1,
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(run_clean(&env.root().join("bin/lto-one")), one);
    assert!(run_clean(&env.root().join("bin/lto-two")).contains("sum_squares(100)"));
    assert_eq!(
        program_json(&env, "lto-one")["origin"]["spec"]["commit"],
        v1.as_str()
    );
    env.verify_ok();

    // A branch: its newest commit.
    let other = Env::new();
    run_ok(&mut install(
        &other,
        &["--git", &url, "--branch", "main", "lto-one"],
    ));
    assert!(run_clean(&other.root().join("bin/lto-one")).starts_with("lto-one (main): "));
    assert_eq!(
        program_json(&other, "lto-one")["origin"]["spec"]["commit"],
        main.as_str()
    );

    // A tag the repository does not have, or a package it does not hold: named, nothing changed.
    for (args, said) in [
        (vec!["--tag", "v9", "lto-one"], "no tag v9"),
        (
            vec!["--tag", "v1", "lto-nine"],
            "no package named `lto-nine`",
        ),
    ] {
        let mut all = vec!["--git", url.as_str()];
        all.extend(args);
        let out = install(&other, &all).output().unwrap();
        assert!(!out.status.success());
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(err.contains(said) && err.contains(&url), "{err}");
    }
    assert!(run_clean(&other.root().join("bin/lto-one")).starts_with("lto-one (main): "));
    other.verify_ok();
}
