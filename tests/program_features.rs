//! `--features`, `--all-features`, `--no-default-features` on the `features` fixture: each
//! program gets exactly its features, an optional dependency a feature pulls in is grouped, bad
//! feature names are refused with what to write, and `install` records the features.

mod common;

use std::path::Path;
use std::process::Command;

use common::*;

fn build(scratch: &Path, manifest: &Path, out: &Path, args: &[&str]) {
    run_ok(
        cargo_share(scratch)
            .args(["build", "-q", "--manifest-path"])
            .arg(manifest)
            .arg("--out")
            .arg(out)
            .args(args),
    );
}

fn dry_run(scratch: &Path, args: &[&str]) -> std::process::Output {
    cargo_share(scratch)
        .args(["build", "--dry-run", "--manifest-path"])
        .arg(fixture("features"))
        .args(args)
        .output()
        .unwrap()
}

#[test]
fn a_feature_changes_the_one_program_it_is_given_to() {
    let scratch = tempfile::tempdir().unwrap();
    let one = fixture("features/feat-one");
    let plain = scratch.path().join("plain");
    build(scratch.path(), &one, &plain, &[]);
    let out = run_clean(&plain.join("bin/feat-one"));
    assert_eq!(out, "feat-one: Hello from feat-common, one!\n");

    // A bare feature: the build has one program. Comma- and space-separated, repeatable.
    let loud = scratch.path().join("loud");
    build(
        scratch.path(),
        &one,
        &loud,
        &["--features", "loud", "-F", "extra"],
    );
    let out = run_clean(&loud.join("bin/feat-one"));
    assert_eq!(
        out,
        "feat-one: Hello from feat-common, one!\nfeat-one: LOUD\nfeat-one: feat-extra says 42\n"
    );

    // The same in its own workspace (--unify none), one dylib per crate.
    let own = scratch.path().join("own");
    build(
        scratch.path(),
        &one,
        &own,
        &["--layout", "per-crate", "--features", "loud"],
    );
    assert!(run_clean(&own.join("bin/feat-one")).ends_with("feat-one: LOUD\n"));

    // A feature the program lacks is named, with its features, before Cargo runs.
    let bad = Command::new(env!("CARGO_BIN_EXE_cargo-share"))
        .arg("--cache-dir")
        .arg(scratch.path().join("cache"))
        .args(["build", "--dry-run", "--manifest-path"])
        .arg(&one)
        .args(["--features", "quiet"])
        .output()
        .unwrap();
    assert!(!bad.status.success());
    let err = String::from_utf8_lossy(&bad.stderr);
    assert!(
        err.contains("feat-one v0.1.0 has no feature `quiet` (its features: extra, loud)"),
        "{err}"
    );
}

#[test]
fn two_programs_take_program_slash_feature_and_the_optional_crate_is_grouped() {
    let scratch = tempfile::tempdir().unwrap();

    // Errors first (nothing is built): a bare feature, and a program that is not in the build.
    let bare = dry_run(scratch.path(), &["--features", "extra"]);
    assert!(!bare.status.success());
    let err = String::from_utf8_lossy(&bare.stderr);
    assert!(
        err.contains("--features extra: this build has 2 programs (feat-one, feat-two)")
            && err.contains("write PROGRAM/FEATURE, e.g. `--features feat-one/extra`"),
        "{err}"
    );
    let unknown = dry_run(scratch.path(), &["--features", "feat-three/extra"]);
    assert!(!unknown.status.success());
    let err = String::from_utf8_lossy(&unknown.stderr);
    assert!(
        err.contains(
            "no program of this build is named `feat-three` (programs: feat-one, feat-two)"
        ),
        "{err}"
    );

    // The optional dependency both programs turn on joins their group.
    let plan = run_ok(&mut {
        let mut c = cargo_share(scratch.path());
        c.args(["build", "--dry-run", "--manifest-path"])
            .arg(fixture("features"));
        c
    });
    let plan = String::from_utf8_lossy(&plan.stdout).into_owned();
    assert!(
        plan.contains("1 crates") && !plan.contains("feat-extra"),
        "{plan}"
    );
    let plan = dry_run(
        scratch.path(),
        &["--features", "feat-one/extra feat-two/extra"],
    );
    assert!(plan.status.success());
    let plan = String::from_utf8_lossy(&plan.stdout).into_owned();
    assert!(
        plan.contains("2 crates") && plan.contains("feat-common 0.1.0, feat-extra 0.1.0"),
        "{plan}"
    );

    // Each program gets exactly its own features.
    let out = scratch.path().join("out");
    build(
        scratch.path(),
        &fixture("features"),
        &out,
        &["--features", "feat-one/loud,feat-two/extra"],
    );
    assert_eq!(
        run_clean(&out.join("bin/feat-one")),
        "feat-one: Hello from feat-common, one!\nfeat-one: LOUD\n"
    );
    assert_eq!(
        run_clean(&out.join("bin/feat-two")),
        "feat-two: Hello from feat-common, two!\nfeat-two: feat-extra says 100\n"
    );
    // --all-features applies to every program.
    let all = scratch.path().join("all");
    build(
        scratch.path(),
        &fixture("features"),
        &all,
        &["--all-features"],
    );
    assert!(run_clean(&all.join("bin/feat-one")).contains("LOUD\nfeat-one: feat-extra says 42"));
    assert!(run_clean(&all.join("bin/feat-two")).contains("feat-extra says 100"));
}

#[test]
fn install_records_the_features_of_the_program() {
    let scratch = tempfile::tempdir().unwrap();
    let store = scratch.path().join("store");
    let cmd = || {
        let mut c = cargo_share(scratch.path());
        c.arg("--store").arg(&store);
        c
    };
    run_ok(
        cmd()
            .args(["install", "-q", "--path"])
            .arg(fixture("features/feat-one"))
            .arg("--root")
            .arg(scratch.path().join("root"))
            .args(["--features", "loud", "--no-default-features"]),
    );
    assert!(run_clean(&scratch.path().join("root/bin/feat-one")).contains("feat-one: LOUD"));
    let list = run_ok(cmd().args(["list", "--json"]));
    let list: serde_json::Value = serde_json::from_str(
        String::from_utf8_lossy(&list.stdout)
            .lines()
            .next()
            .unwrap(),
    )
    .unwrap();
    let program = &list["programs"][0];
    assert_eq!(program["name"], "feat-one");
    assert_eq!(
        program["features"],
        serde_json::json!({"features": ["loud"], "all_features": false, "no_default_features": true})
    );
    let human = run_ok(cmd().arg("list"));
    let human = String::from_utf8_lossy(&human.stdout);
    assert!(
        human.contains("features: --no-default-features --features loud"),
        "{human}"
    );
    run_ok(cmd().arg("verify"));
}
