//! `cargo share adopt`: the programs `cargo install` recorded in a (scratch) `CARGO_HOME` are
//! installed again through the store; what cannot be stays exactly as it was.

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;

use common::store_env::Env;
use common::{fixture, run_clean, run_ok};

/// `cargo install --path` of a fixture program into `root`, as a user would (offline, locked).
fn cargo_install(env: &Env, program: &Path, features: &[&str]) {
    let mut cmd = Command::new(env!("CARGO"));
    cmd.args(["install", "--offline", "--locked", "-q", "--path"])
        .arg(program)
        .arg("--root")
        .arg(env.root())
        .env("CARGO_TARGET_DIR", env.base.join("static-target"));
    for f in features {
        cmd.args(["--features", f]);
    }
    run_ok(&mut cmd);
}

fn adopt(env: &Env) -> Command {
    let mut c = env.cmd();
    c.args(["adopt", "--json", "--root"]).arg(env.root());
    c
}

/// Every file under `dir` (links as their targets), with its bytes: what must not change.
fn snapshot(dir: &Path) -> Vec<(PathBuf, Vec<u8>)> {
    let mut out = Vec::new();
    for e in std::fs::read_dir(dir).unwrap().flatten() {
        let p = e.path();
        let content = match std::fs::read_link(&p) {
            Ok(t) => t.into_os_string().into_encoded_bytes(),
            Err(_) if p.is_dir() => {
                out.extend(snapshot(&p));
                continue;
            }
            Err(_) => std::fs::read(&p).unwrap(),
        };
        out.push((p, content));
    }
    out.sort();
    out
}

fn record<'a>(records: &'a [serde_json::Value], reason: &str, name: &str) -> &'a serde_json::Value {
    records
        .iter()
        .find(|r| r["reason"] == reason && r["name"] == name)
        .unwrap_or_else(|| panic!("no {reason} record for {name} in {records:#?}"))
}

/// Add an install record to `ROOT/.crates2.json` as Cargo would write it.
fn add_record(env: &Env, id: &str, bins: &[&str]) {
    let file = env.root().join(".crates2.json");
    let mut json: serde_json::Value = match std::fs::read_to_string(&file) {
        Ok(t) => serde_json::from_str(&t).unwrap(),
        Err(_) => serde_json::json!({"installs": {}}),
    };
    json["installs"][id] = serde_json::json!({
        "version_req": null, "bins": bins, "features": [], "all_features": false,
        "no_default_features": false, "profile": "release", "target": "x", "rustc": "r"
    });
    std::fs::create_dir_all(env.root()).unwrap();
    std::fs::write(&file, serde_json::to_string(&json).unwrap()).unwrap();
}

fn path_id(name: &str, dir: &Path) -> String {
    format!("{name} 0.1.0 (path+file://{})", dir.display())
}

/// An old binary that is a shell script: what `cargo install` left, byte for byte.
fn fake_binary(env: &Env, bin: &str) {
    use std::os::unix::fs::PermissionsExt;
    let dir = env.root().join("bin");
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join(bin);
    std::fs::write(&path, format!("#!/bin/sh\necho static {bin}\n")).unwrap();
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).unwrap();
}

#[test]
fn programs_cargo_installed_from_paths_are_adopted_with_their_features() {
    let env = Env::new();
    let one = fixture("features/feat-one");
    let two = fixture("features/feat-two");
    cargo_install(&env, &one, &["loud"]);
    cargo_install(&env, &two, &[]);
    // Sources cargo share cannot install, and a binary removed since: kept, with the reason.
    add_record(
        &env,
        "tool 1.0.0 (git+https://example.org/tool#0123abcd)",
        &["tool"],
    );
    fake_binary(&env, "tool");
    add_record(
        &env,
        "ripgrep 14.1.0 (registry+https://github.com/rust-lang/crates.io-index)",
        &["rg"],
    );
    let crates2 = std::fs::read(env.root().join(".crates2.json")).unwrap();
    let static_one = std::fs::read(env.root().join("bin/feat-one")).unwrap();
    let before = snapshot(&env.root());

    // --dry-run: the plan and the audit's projection; nothing changes.
    let out = run_ok(adopt(&env).arg("--dry-run"));
    let records = env.json(&out);
    let finished = records
        .iter()
        .find(|r| r["reason"] == "adopt-finished")
        .expect("an adopt-finished record");
    assert_eq!(finished["dry_run"], true);
    assert_eq!(finished["projection"]["binaries"], 2, "{finished:#}");
    assert!(finished["static_bytes"].as_u64().unwrap() > 0);
    assert_eq!(snapshot(&env.root()), before);
    assert!(
        !env.store().join("programs").exists()
            || env
                .store()
                .join("programs")
                .read_dir()
                .unwrap()
                .next()
                .is_none()
    );

    let out = run_ok(&mut adopt(&env));
    let records = env.json(&out);
    for name in ["feat-one", "feat-two"] {
        let adopted = record(&records, "program-adopted", name);
        let link = env.root().join("bin").join(name);
        let target = std::fs::read_link(&link).unwrap();
        assert!(target.starts_with(env.store().canonicalize().unwrap().join("programs")));
        assert_eq!(
            adopted["kept"][0].as_str().unwrap(),
            env.root()
                .join(format!("cargo-share-adopted/{name}-0.1.0/{name}"))
                .to_str()
                .unwrap()
        );
    }
    // The recorded feature is on in the shared build; the static binary is kept as it was.
    assert_eq!(
        run_clean(&env.root().join("bin/feat-one")),
        "feat-one: Hello from feat-common, one!\nfeat-one: LOUD\n"
    );
    assert_eq!(
        run_clean(&env.root().join("bin/feat-two")),
        "feat-two: Hello from feat-common, two!\n"
    );
    let kept = env
        .root()
        .join("cargo-share-adopted/feat-one-0.1.0/feat-one");
    assert_eq!(std::fs::read(&kept).unwrap(), static_one);
    assert!(record(&records, "program-kept", "tool")["why"]
        .as_str()
        .unwrap()
        .starts_with("installed from git"));
    assert!(record(&records, "program-kept", "ripgrep")["why"]
        .as_str()
        .unwrap()
        .contains("bin/rg is gone"));
    assert_eq!(
        std::fs::read(env.root().join("bin/tool")).unwrap(),
        b"#!/bin/sh\necho static tool\n"
    );
    // Cargo's own record is not changed.
    assert_eq!(
        std::fs::read(env.root().join(".crates2.json")).unwrap(),
        crates2
    );
    env.verify_ok();
    let list = run_ok(env.cmd().arg("list"));
    let list = String::from_utf8_lossy(&list.stdout);
    assert!(
        list.contains("feat-one") && list.contains("feat-two"),
        "{list}"
    );

    // Adopting again changes nothing: both are links into the store now.
    let after = snapshot(&env.root());
    let out = run_ok(&mut adopt(&env));
    let records = env.json(&out);
    assert!(record(&records, "program-kept", "feat-one")["why"]
        .as_str()
        .unwrap()
        .contains("installed by cargo share already"));
    assert_eq!(snapshot(&env.root()), after);
}

#[test]
fn a_program_that_fails_to_build_shared_stays_as_it_was() {
    let env = Env::new();
    let good = fixture("failing/good");
    let bad = fixture("failing/needs-clang");
    add_record(&env, &path_id("good", &good), &["good"]);
    add_record(&env, &path_id("needs-clang", &bad), &["needs-clang"]);
    fake_binary(&env, "good");
    fake_binary(&env, "needs-clang");
    let out = adopt(&env).output().unwrap();
    assert!(!out.status.success(), "a program stayed: the command fails");
    let records = env.json(&out);
    record(&records, "program-adopted", "good");
    let why = record(&records, "program-kept", "needs-clang")["why"]
        .as_str()
        .unwrap()
        .to_string();
    assert!(why.contains("libclang"), "{why}");
    assert_eq!(
        std::fs::read(env.root().join("bin/needs-clang")).unwrap(),
        b"#!/bin/sh\necho static needs-clang\n"
    );
    assert!(!env
        .root()
        .join("cargo-share-adopted/needs-clang-0.1.0")
        .exists());
    assert_eq!(
        run_clean(&env.root().join("bin/good")),
        "hello from failing-common, good\n"
    );
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("1 of 2 programs to adopt stayed as they were: needs-clang v0.1.0"),
        "{stderr}"
    );
    env.verify_ok();
}

#[test]
fn a_malformed_record_is_refused_and_nothing_changes() {
    let env = Env::new();
    fake_binary(&env, "good");
    std::fs::write(
        env.root().join(".crates2.json"),
        "{\"installs\": {\"good\": ",
    )
    .unwrap();
    let before = snapshot(&env.root());
    let out = adopt(&env).output().unwrap();
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains(
            ".crates2.json is not a `cargo install` record Cargo would read; nothing was changed"
        ),
        "{stderr}"
    );
    let records = env.json(&out);
    assert_eq!(records.last().unwrap()["reason"], "error");
    assert_eq!(snapshot(&env.root()), before);
    assert!(
        !env.store().exists(),
        "no store is made for a record that cannot be read"
    );

    // No record at all: the error says where it looked and what to give.
    std::fs::remove_file(env.root().join(".crates2.json")).unwrap();
    let out = adopt(&env).output().unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("has recorded no programs in"));
}

#[test]
fn a_shared_build_that_does_not_run_is_not_linked() {
    let env = Env::new();
    // A program that exits 3 whatever it is asked: its shared build cannot show that it runs.
    let src = env.base.join("src/exits");
    std::fs::create_dir_all(src.join("src")).unwrap();
    std::fs::write(
        src.join("Cargo.toml"),
        "[package]\nname = \"exits\"\nversion = \"0.1.0\"\nedition = \"2021\"\n",
    )
    .unwrap();
    std::fs::write(
        src.join("Cargo.lock"),
        "version = 4\n\n[[package]]\nname = \"exits\"\nversion = \"0.1.0\"\n",
    )
    .unwrap();
    std::fs::write(
        src.join("src/main.rs"),
        "fn main() { eprintln!(\"exits: no\"); std::process::exit(3) }\n",
    )
    .unwrap();
    add_record(&env, &path_id("exits", &src), &["exits"]);
    fake_binary(&env, "exits");
    let before = snapshot(&env.root());
    let out = adopt(&env).output().unwrap();
    assert!(!out.status.success());
    let records = env.json(&out);
    let why = record(&records, "program-kept", "exits")["why"]
        .as_str()
        .unwrap()
        .to_string();
    assert!(
        why.contains("`exits --version` ended with exit status: 3: exits: no")
            && why.contains("`exits --help`"),
        "{why}"
    );
    assert_eq!(
        snapshot(&env.root()),
        before,
        "the binary and root are as they were"
    );
    let list = run_ok(env.cmd().arg("list"));
    assert!(!String::from_utf8_lossy(&list.stdout).contains("exits"));
    env.verify_ok();
}
