//! The user's rustc wrapper chained behind cargo-share's (issue 19, part 6), on the `chained`
//! fixture (a program, a library with a build dependency, a proc-macro with a dependency):
//! which compiles go through it (a logging wrapper found in a Cargo config file), and real
//! sccache (Debian's, installed by `.ci/run`) hitting its cache in a second build with outputs
//! byte-identical to a build without it.

mod common;

use std::collections::BTreeSet;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::Command;

use common::*;

/// `cargo share build` of the `chained` fixture into `out`, with cache directory `cache`, run in
/// `cwd`, and no rustc wrapper from the test's own environment.
fn build(cwd: &Path, cache: &Path, out: &Path) -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_cargo-share"));
    cmd.current_dir(cwd)
        .arg("--cache-dir")
        .arg(cache)
        .args(["build", "-q", "--manifest-path"])
        .arg(fixture("chained"))
        .arg("--out")
        .arg(out)
        .env_remove("RUSTC_WRAPPER")
        .env_remove("CARGO_BUILD_RUSTC_WRAPPER");
    cmd
}

/// Every file under `dir` (relative path) with its bytes.
fn tree(dir: &Path) -> Vec<(PathBuf, Vec<u8>)> {
    let mut files = Vec::new();
    for entry in walk(dir) {
        let bytes = std::fs::read(&entry).unwrap();
        files.push((entry.strip_prefix(dir).unwrap().to_path_buf(), bytes));
    }
    files.sort();
    assert!(!files.is_empty(), "{} is empty", dir.display());
    files
}

fn walk(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            out.extend(walk(&path));
        } else {
            out.push(path);
        }
    }
    out
}

/// The built program runs and prints what its build dependency and proc-macro dependency made.
fn check_runs(out: &Path) {
    assert_eq!(
        run_clean(&out.join("bin/chained-app")),
        "chained-lib: noted by build-helper\nApp greeted by derive-helper\n"
    );
}

/// `(crate name, crate types, cargo-share variables seen)` of each crate compile the logging
/// wrapper saw (Cargo's own probes, which have no crate name or `___`, left out).
fn routed_compiles(log: &Path) -> Vec<(String, Vec<String>, usize)> {
    let text = std::fs::read_to_string(log).unwrap_or_default();
    text.lines()
        .filter_map(|line| {
            let (own_vars, args) = line.split_once(' ')?;
            let args: Vec<&str> = args.split(' ').collect();
            let value = |flag: &str| {
                args.windows(2)
                    .filter(|w| w[0] == flag)
                    .map(|w| w[1].to_string())
                    .collect::<Vec<_>>()
            };
            let name = value("--crate-name").into_iter().next()?;
            (name != "___").then(|| (name, value("--crate-type"), own_vars.parse().unwrap()))
        })
        .collect()
}

#[test]
fn only_cacheable_compiles_go_through_the_users_wrapper_from_a_config_file() {
    let scratch = tempfile::tempdir().unwrap();
    let base = scratch.path();
    let log = base.join("wrapper.log");
    // A wrapper that logs how many CARGO_SHARE_* variables it sees and its arguments, then runs
    // them. Set the way a user sets sccache in a Cargo config file: a relative path with a
    // slash is relative to the directory holding `.cargo`.
    std::fs::create_dir_all(base.join("bin")).unwrap();
    std::fs::create_dir_all(base.join(".cargo")).unwrap();
    let wrapper = base.join("bin/log-wrapper");
    std::fs::write(
        &wrapper,
        format!(
            "#!/bin/sh\necho \"$(env | grep -c '^CARGO_SHARE_') $*\" >> '{}'\nexec \"$@\"\n",
            log.display()
        ),
    )
    .unwrap();
    std::fs::set_permissions(&wrapper, std::fs::Permissions::from_mode(0o755)).unwrap();
    std::fs::write(
        base.join(".cargo/config.toml"),
        "[build]\nrustc-wrapper = \"bin/log-wrapper\"\n",
    )
    .unwrap();

    let chained_out = base.join("out-chained");
    run_ok(&mut build(base, &base.join("cache"), &chained_out));
    check_runs(&chained_out);
    let routed = routed_compiles(&log);
    let names: BTreeSet<&str> = routed.iter().map(|(n, _, _)| n.as_str()).collect();
    // The two host rlibs (a build script's and a proc-macro's dependency) and the target rlib;
    // not the build script, the proc-macro, the group dylib or the program, which cargo-share
    // links itself and a compiler cache cannot cache.
    assert_eq!(
        names,
        BTreeSet::from(["build_helper", "chained_lib", "derive_helper"]),
        "{routed:?}"
    );
    for (name, types, own_vars) in &routed {
        assert!(
            types.iter().all(|t| t == "lib" || t == "rlib"),
            "{name}: {types:?}"
        );
        assert_eq!(*own_vars, 0, "{name} was compiled with CARGO_SHARE_* set");
    }

    // `RUSTC_WRAPPER=` turns it off, as for Cargo; the outputs are the same bytes.
    std::fs::remove_file(&log).unwrap();
    let plain_out = base.join("out-plain");
    run_ok(build(base, &base.join("cache-plain"), &plain_out).env("RUSTC_WRAPPER", ""));
    assert_eq!(routed_compiles(&log), Vec::new());
    assert_eq!(tree(&plain_out), tree(&chained_out));
}

/// A private sccache server (its own port and cache directory), stopped when dropped.
struct Sccache {
    dir: PathBuf,
    port: u16,
}

impl Sccache {
    fn command(&self) -> Command {
        let mut cmd = Command::new("sccache");
        cmd.env("SCCACHE_DIR", &self.dir)
            .env("SCCACHE_SERVER_PORT", self.port.to_string())
            .env_remove("SCCACHE_LOG")
            .env_remove("RUSTC_WRAPPER");
        cmd
    }

    fn start(dir: PathBuf) -> Option<Sccache> {
        let installed = Command::new("sccache").arg("--version").output().is_ok();
        if !installed {
            // CI installs it (`.ci/run`), so there it is a failure; locally a clear skip.
            assert!(
                std::env::var_os("CI").is_none(),
                "sccache is not installed: `.ci/run` installs Debian's package"
            );
            eprintln!("SKIPPED sccache chaining: sccache is not installed (apt install sccache)");
            return None;
        }
        let server = Sccache {
            dir,
            port: registry::free_port(),
        };
        run_ok(server.command().arg("--start-server"));
        Some(server)
    }

    /// Cache hits and misses of Rust compiles so far.
    fn rust_hits_and_misses(&self) -> (u64, u64) {
        let out = run_ok(
            self.command()
                .args(["--show-stats", "--stats-format", "json"]),
        );
        let stats: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
        let count = |key: &str| stats["stats"][key]["counts"]["Rust"].as_u64().unwrap_or(0);
        (count("cache_hits"), count("cache_misses"))
    }
}

impl Drop for Sccache {
    fn drop(&mut self) {
        let _ = self.command().arg("--stop-server").output();
    }
}

#[test]
fn sccache_serves_a_second_build_and_changes_no_output() {
    let scratch = tempfile::tempdir().unwrap();
    let base = scratch.path();
    let Some(sccache) = Sccache::start(base.join("sccache")) else {
        return;
    };
    let cache = base.join("cache");
    let with_sccache = |cmd: &mut Command| {
        cmd.env("RUSTC_WRAPPER", "sccache")
            .env("SCCACHE_DIR", &sccache.dir)
            .env("SCCACHE_SERVER_PORT", sccache.port.to_string());
    };

    // Each build starts from an empty cargo-share cache at the same path (so Cargo compiles
    // everything, with the same arguments), the one before moved aside.
    run_ok(build(base, &cache, &base.join("out-plain")).env("RUSTC_WRAPPER", ""));
    std::fs::rename(&cache, base.join("cache-plain")).unwrap();
    assert_eq!(sccache.rust_hits_and_misses(), (0, 0));

    let mut cold = build(base, &cache, &base.join("out-cold"));
    with_sccache(&mut cold);
    run_ok(&mut cold);
    std::fs::rename(&cache, base.join("cache-cold")).unwrap();
    let (hits, misses) = sccache.rust_hits_and_misses();
    assert_eq!(hits, 0);
    assert!(
        misses >= 2,
        "the host rlibs were not cached: {misses} misses"
    );

    let mut warm = build(base, &cache, &base.join("out-warm"));
    with_sccache(&mut warm);
    run_ok(&mut warm);
    let (warm_hits, warm_misses) = sccache.rust_hits_and_misses();
    assert_eq!(
        (warm_hits, warm_misses),
        (misses, misses),
        "the second build should hit every compile the first one cached"
    );

    let plain = tree(&base.join("out-plain"));
    assert_eq!(tree(&base.join("out-cold")), plain);
    assert_eq!(tree(&base.join("out-warm")), plain);
    check_runs(&base.join("out-warm"));
}
