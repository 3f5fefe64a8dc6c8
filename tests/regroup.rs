//! `install` into a store that holds programs builds them again with the newcomer as one set
//! (`cargo share install` then `cargo share install` shares what one install of both would):
//! the programs whose build changes are rebound, one the set would build from other crate
//! versions is left as it is, `--no-regroup` keeps the old behaviour, and a crash at any point of
//! the rebinding leaves every program on its old or its new build.

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

fn records(env: &Env, out: &Output, reason: &str) -> Vec<String> {
    env.json(out)
        .into_iter()
        .filter(|m| m["reason"] == reason)
        .map(|m| m["name"].as_str().unwrap().to_string())
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

/// An installed program keeps the crate versions it was installed with: a newcomer that needs
/// another version of one of its crates leaves it as it is, and the output says why.
#[test]
fn a_program_whose_versions_would_change_is_left_as_it_is() {
    let env = Env::new();
    std::fs::create_dir_all(env.base.join(".cargo")).unwrap();
    std::fs::write(
        env.base.join(".cargo/config.toml"),
        format!(
            "[source.crates-io]\nreplace-with = \"fixture\"\n[source.fixture]\ndirectory = {:?}\n",
            fixture("sets/registry").display().to_string()
        ),
    )
    .unwrap();
    let in_base = |fixture_dir: PathBuf, extra: &[&str]| {
        let mut c = install(&env, &fixture_dir, extra);
        c.current_dir(&env.base);
        run_ok(&mut c)
    };
    // new-shim's requirement accepts shim 1.0.0: it adapts to what is installed.
    in_base(fixture("sets/old-shim"), &[]);
    let out = in_base(fixture("sets/new-shim"), &[]);
    assert_eq!(
        records(&env, &out, "program-regrouped"),
        ["old-shim"],
        "{}",
        stderr(&out)
    );
    assert_eq!(env.group_libs("old-shim"), env.group_libs("new-shim"));
    assert!(run_clean(&env.root().join("bin/old-shim")).starts_with("old-shim: "));

    // A newcomer requiring shim 1.1: the installed programs would move to 1.1.0; left as they are.
    let newer = env.base.join("needs-newer");
    copy_dir(&fixture("sets/new-shim"), &newer);
    let manifest = std::fs::read_to_string(newer.join("Cargo.toml")).unwrap();
    std::fs::write(
        newer.join("Cargo.toml"),
        manifest
            .replace("name = \"new-shim\"", "name = \"newer-shim\"")
            .replace("shim = \"1\"", "shim = \"1.1\""),
    )
    .unwrap();
    std::fs::remove_file(newer.join("Cargo.lock")).unwrap();
    let before = std::fs::read_link(env.root().join("bin/old-shim")).unwrap();
    let out = in_base(newer, &["--no-locked"]);
    let said = stderr(&out);
    assert!(
        said.contains("Leaving old-shim as it is") && said.contains("shim v1.0.0 would be v1.1.0"),
        "{said}"
    );
    let left: Vec<String> = env
        .json(&out)
        .into_iter()
        .filter(|m| m["reason"] == "program-left")
        .map(|m| m["program"].as_str().unwrap().to_string())
        .collect();
    assert!(left.contains(&"old-shim".to_string()), "{left:?}");
    assert_eq!(
        std::fs::read_link(env.root().join("bin/old-shim")).unwrap(),
        before
    );
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
