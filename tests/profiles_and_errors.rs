//! Profiles that cannot be honoured (`panic = "abort"`, `lto`), bad input, JSON output and
//! `cargo share test`, on hermetic fixtures.

mod common;

use std::process::Command;

use common::*;

fn build(workspace: &str, layout: &str, scratch: &std::path::Path) -> (std::path::PathBuf, String) {
    let out = scratch.join("out");
    let output = run_ok(
        cargo_share(scratch)
            .args(["build", "--layout", layout, "--manifest-path"])
            .arg(fixture(workspace))
            .arg("--out")
            .arg(&out),
    );
    (out, String::from_utf8_lossy(&output.stderr).into_owned())
}

#[test]
fn panic_abort_is_overridden_with_a_warning_and_the_programs_run() {
    let scratch = tempfile::tempdir().unwrap();
    let (out, stderr) = build("panic-abort", "per-crate", scratch.path());
    assert!(
        stderr.contains("warning: pa-one, pa-two: profile.release.panic = \"abort\" overridden"),
        "{stderr}"
    );
    let static_dir = static_build(&fixture("panic-abort"), scratch.path());
    for bin in ["pa-one", "pa-two"] {
        let shared = run_clean(&out.join("bin").join(bin));
        let expected = run_clean(&static_dir.join(bin)).replace("= abort", "= unwind");
        assert_eq!(shared, expected, "{bin}");
        assert!(shared.contains("lib panic strategy = unwind"), "{shared}");
    }
    assert!(file_names(&out.join("lib"))
        .iter()
        .any(|n| n.starts_with("libpa_lib-")));
}

#[test]
fn lto_is_overridden_with_a_warning_and_the_programs_run() {
    let scratch = tempfile::tempdir().unwrap();
    let (out, stderr) = build("lto", "grouped", scratch.path());
    assert!(
        stderr.contains("profile.release.lto = true overridden"),
        "{stderr}"
    );
    let static_dir = static_build(&fixture("lto"), scratch.path());
    for bin in ["lto-one", "lto-two"] {
        assert_eq!(
            run_clean(&out.join("bin").join(bin)),
            run_clean(&static_dir.join(bin))
        );
    }
}

#[test]
fn json_messages_describe_each_program() {
    let scratch = tempfile::tempdir().unwrap();
    let out = scratch.path().join("out");
    let output = run_ok(
        cargo_share(scratch.path())
            .args([
                "build",
                "--layout",
                "per-crate",
                "--message-format",
                "json",
                "--manifest-path",
            ])
            .arg(fixture("lto"))
            .arg("--out")
            .arg(&out),
    );
    let messages: Vec<serde_json::Value> = String::from_utf8(output.stdout)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).expect("every stdout line is JSON"))
        .collect();
    let programs: Vec<&serde_json::Value> = messages
        .iter()
        .filter(|m| m["reason"] == "program-built")
        .collect();
    assert_eq!(programs.len(), 2);
    for p in programs {
        let libs = p["libraries"].as_array().unwrap();
        assert!(libs
            .iter()
            .any(|l| l.as_str().unwrap().starts_with("liblto_lib-")));
        assert!(libs
            .iter()
            .any(|l| l.as_str().unwrap().starts_with("libstd-")));
        let bin = p["binaries"][0].as_str().unwrap();
        assert!(std::path::Path::new(bin).is_file());
    }
    let finished = messages.last().unwrap();
    assert_eq!(finished["reason"], "build-finished");
    assert_eq!(finished["success"], true);
}

#[test]
fn bad_input_gets_a_clear_error_and_writes_nothing() {
    let scratch = tempfile::tempdir().unwrap();
    let out = scratch.path().join("out");
    let run = |args: &[&str]| {
        let o = cargo_share(scratch.path())
            .arg("build")
            .args(args)
            .arg("--out")
            .arg(&out)
            .output()
            .unwrap();
        assert!(!o.status.success(), "{args:?} succeeded");
        String::from_utf8_lossy(&o.stderr).into_owned()
    };
    let missing = scratch.path().join("nope/Cargo.toml");
    let err = run(&["--manifest-path", missing.to_str().unwrap()]);
    assert!(
        err.contains("no such file") && err.contains("nope"),
        "{err}"
    );

    let lib_only = fixture("suite").join("libs/tls/Cargo.toml");
    let err = run(&["--manifest-path", lib_only.to_str().unwrap()]);
    assert!(err.contains("has no binary target"), "{err}");

    let err = run(&["--crate", "not a crate"]);
    assert!(err.contains("is not a crate name"), "{err}");

    let err = run(&[]);
    assert!(err.contains("no programs given"), "{err}");

    assert!(!out.exists(), "a failed build wrote {}", out.display());
}

#[test]
fn a_failing_build_leaves_out_untouched() {
    let scratch = tempfile::tempdir().unwrap();
    let ws = scratch.path().join("ws");
    copy_dir(&fixture("lto"), &ws);
    let out = scratch.path().join("out");
    let build = || {
        cargo_share(scratch.path())
            .args(["build", "-q", "--manifest-path"])
            .arg(&ws)
            .arg("--out")
            .arg(&out)
            .output()
            .unwrap()
    };
    assert!(build().status.success());
    let before = run_clean(&out.join("bin/lto-one"));
    // Break one program's source: the other is rebuilt, the command fails naming the first.
    let breaks = |program: &str| {
        std::fs::write(
            ws.join(program).join("src/main.rs"),
            "fn main() { this does not compile }",
        )
        .unwrap()
    };
    breaks("lto-one");
    let o = build();
    assert!(!o.status.success());
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(
        err.contains(
            "1 of 2 programs failed to build: lto-one v0.1.0 (could not compile `lto-one`)"
        ),
        "{err}"
    );
    // lto-two was rebuilt; the lto-one an earlier build left in OUT is kept only if it still
    // loads with the libraries this build wrote, else removed with a warning: never a binary
    // that cannot start.
    assert!(run_clean(&out.join("bin/lto-two")).contains("lto-two"));
    if out.join("bin/lto-one").exists() {
        assert_eq!(run_clean(&out.join("bin/lto-one")), before);
    } else {
        assert!(
            err.contains("removed") && err.contains("bin/lto-one"),
            "{err}"
        );
    }
    // Broken everywhere: nothing is built, and OUT is not touched.
    breaks("lto-two");
    let listing = || (file_names(&out.join("bin")), file_names(&out.join("lib")));
    let files = listing();
    let o = build();
    assert!(!o.status.success());
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(err.contains("no program was built"), "{err}");
    assert_eq!(listing(), files);
}

#[test]
fn test_command_runs_the_programs_own_tests_in_shared_mode() {
    let scratch = tempfile::tempdir().unwrap();
    let output = run_ok(
        cargo_share(scratch.path())
            .args(["test", "--json", "--manifest-path"])
            .arg(fixture("suite")),
    );
    let results: Vec<serde_json::Value> = String::from_utf8(output.stdout)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .filter(|v: &serde_json::Value| v["reason"] == "test-finished")
        .collect();
    // One result per program of the workspace, each attributed its own test binaries.
    let names: Vec<&str> = results
        .iter()
        .map(|r| r["program"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["hard-a", "hard-b"]);
    // hard-a has no tests of its own (one unit-test binary, 0 tests); hard-b's two integration
    // tests run its binary.
    assert_eq!(results[0]["passed"], 0);
    assert!(
        results[1]["passed"].as_u64().unwrap() >= 2,
        "{:?}",
        results[1]
    );
    for r in &results {
        assert!(r["test_binaries"].as_u64().unwrap() >= 1, "{r:?}");
        assert_eq!(r["failed"], 0);
        assert_eq!(r["success"], true);
    }
}

#[test]
fn cargo_subcommand_form_is_accepted() {
    let o = Command::new(env!("CARGO_BIN_EXE_cargo-share"))
        .args(["share", "build", "--help"])
        .output()
        .unwrap();
    assert!(o.status.success());
    assert!(String::from_utf8_lossy(&o.stdout).contains("--manifest-path"));
}

#[test]
fn a_second_build_in_one_cache_waits_for_the_first() {
    use std::io::BufRead;
    let scratch = tempfile::tempdir().unwrap();
    let cache = scratch.path().join("cache");
    std::fs::create_dir_all(&cache).unwrap();
    // Stands for a first build: it holds the cache lock.
    let first = std::fs::File::create(cache.join("lock")).unwrap();
    first.lock().unwrap();
    let mut second = cargo_share(scratch.path())
        .args(["build", "--dry-run", "--manifest-path"])
        .arg(fixture("lto").join("Cargo.toml"))
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let stderr = second.stderr.take().unwrap();
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in std::io::BufReader::new(stderr).lines() {
            if tx.send(line.unwrap()).is_err() {
                break;
            }
        }
    });
    let blocking = rx
        .recv_timeout(std::time::Duration::from_secs(60))
        .expect("the second build reports that it waits");
    assert!(
        blocking.contains("Blocking") && blocking.contains("cache lock"),
        "{blocking}"
    );
    assert!(
        second.try_wait().unwrap().is_none(),
        "the second build ran while the cache was locked"
    );
    drop(first);
    let status = second.wait().unwrap();
    let rest: Vec<String> = rx.iter().collect();
    assert!(status.success(), "{}", rest.join("\n"));
    assert!(
        rest.iter().any(|l| l.contains("Grouping")),
        "the second build planned after the first released the cache: {}",
        rest.join("\n")
    );
}

/// `failing/`: `needs-clang`'s build script fails as bindgen's do without libclang. The other
/// program of the set is built (and installed) all the same; the command fails and names the
/// program, the package that failed and the system package that provides what is missing.
#[test]
fn a_program_that_fails_to_build_does_not_take_the_others_down() {
    let scratch = tempfile::tempdir().unwrap();
    let out = scratch.path().join("out");
    let built = cargo_share(scratch.path())
        .args(["build", "--json", "--manifest-path"])
        .arg(fixture("failing"))
        .arg("--out")
        .arg(&out)
        .output()
        .unwrap();
    assert!(!built.status.success());
    let stderr = String::from_utf8_lossy(&built.stderr);
    assert!(
        stderr.contains(
            "1 of 2 programs failed to build: needs-clang v0.1.0 (build script of \
             `needs-clang v0.1.0` failed; needs libclang (Debian/Ubuntu: libclang-dev"
        ),
        "{stderr}"
    );
    assert_eq!(
        run_clean(&out.join("bin/good")),
        "hello from failing-common, good\n"
    );
    assert!(!out.join("bin/needs-clang").exists());
    let failed: Vec<serde_json::Value> = String::from_utf8_lossy(&built.stdout)
        .lines()
        .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
        .filter(|v| v["reason"] == "program-failed")
        .collect();
    assert_eq!(failed.len(), 1);
    assert_eq!(failed[0]["name"], "needs-clang");

    // install: the same, with `good` installed and working.
    let store = scratch.path().join("store");
    let root = scratch.path().join("root");
    let installed = cargo_share(scratch.path())
        .arg("--store")
        .arg(&store)
        .args(["install", "--path"])
        .arg(fixture("failing"))
        .arg("--root")
        .arg(&root)
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&installed.stderr);
    // 3: some installed, the others failed (the book's reference/exit-codes.md).
    assert_eq!(installed.status.code(), Some(3), "{stderr}");
    assert!(
        stderr.contains("installed good; 1 failed to build: needs-clang v0.1.0"),
        "{stderr}"
    );
    assert_eq!(
        run_clean(&root.join("bin/good")),
        "hello from failing-common, good\n"
    );
    run_ok(
        cargo_share(scratch.path())
            .arg("--store")
            .arg(&store)
            .arg("verify"),
    );
}

/// Two copies of one workspace (same package names and versions) built into one cache: Cargo
/// shares their units, so a copy whose edit is older than the other copy's last build would be
/// taken as built and get the other copy's binaries. cargo-share rebuilds a path package built
/// last from another directory.
#[test]
fn a_second_copy_of_a_workspace_is_built_from_its_own_sources() {
    let scratch = tempfile::tempdir().unwrap();
    let (a, b) = (scratch.path().join("a"), scratch.path().join("b"));
    copy_dir(&fixture("lto"), &a);
    copy_dir(&fixture("lto"), &b);
    // Copy A says something else, and its edit is older than copy B's build.
    let main = a.join("lto-two/src/main.rs");
    let text = std::fs::read_to_string(&main).unwrap();
    std::fs::write(&main, text.replace("lto-two: {}", "copy A: {}")).unwrap();
    let old = std::time::SystemTime::UNIX_EPOCH + std::time::Duration::from_secs(1_577_836_800);
    std::fs::File::options()
        .write(true)
        .open(&main)
        .unwrap()
        .set_modified(old)
        .unwrap();
    let build = |ws: &std::path::Path, out: &str| {
        let out = scratch.path().join(out);
        run_ok(
            cargo_share(scratch.path())
                .args(["build", "-q", "--layout", "per-crate", "--manifest-path"])
                .arg(ws)
                .arg("--out")
                .arg(&out),
        );
        run_clean(&out.join("bin/lto-two"))
    };
    assert!(build(&b, "out-b").starts_with("lto-two: "));
    assert!(build(&a, "out-a").starts_with("copy A: "));
}

/// A program from crates.io is built as `cargo install` builds it: its own code's warnings
/// and its build script's are capped (nothing a user can act on); the same program built from
/// a local path keeps them.
#[test]
fn warnings_of_a_program_from_crates_io_are_not_shown_but_a_local_programs_are() {
    let (_scratch, base) = scratch_with_directory_source("sets/registry");
    let build = |program: &[&str], out: &str| -> String {
        let output = run_ok(
            cargo_share(&base)
                .current_dir(&base)
                .args(["build", "--layout", "grouped"])
                .args(program)
                .arg("--out")
                .arg(base.join(out)),
        );
        assert_eq!(
            run_clean(&base.join(out).join("bin/noisy-tool")),
            "noisy-tool: 1.1.0\n"
        );
        String::from_utf8_lossy(&output.stderr).into_owned()
    };
    let registry = build(&["noisy-tool@0.1.0"], "registry");
    assert!(!registry.contains("unused variable"), "{registry}");
    // Its `lto = true` is overridden: said, not warned about (nothing the user can change).
    assert!(!registry.contains("warning"), "{registry}");
    assert!(
        registry.contains("Overriding noisy-tool: profile.release.lto"),
        "{registry}"
    );
    let local = fixture("sets/registry/noisy-tool-0.1.0");
    let local = build(&["--manifest-path", local.to_str().unwrap()], "local");
    for name in ["unused_in_build_script", "unused_in_program"] {
        assert!(local.contains(name), "{name} not warned about:\n{local}");
    }
    assert!(
        local.contains("warning: noisy-tool: profile.release.lto"),
        "{local}"
    );

    // `install --programs FILE` takes the same list format as build (`#` comments).
    let list = base.join("programs.txt");
    std::fs::write(&list, "# one program\nnoisy-tool@0.1.0\n").unwrap();
    let root = base.join("root");
    run_ok(
        cargo_share(&base)
            .current_dir(&base)
            .args(["install", "-q", "--programs"])
            .arg(&list)
            .arg("--store")
            .arg(base.join("store"))
            .arg("--root")
            .arg(&root),
    );
    assert_eq!(
        run_clean(&root.join("bin/noisy-tool")),
        "noisy-tool: 1.1.0\n"
    );
}
