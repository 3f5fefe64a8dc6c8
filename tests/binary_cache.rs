//! The signed binary cache against a real OCI registry (Debian's `docker-registry`, started on
//! 127.0.0.1 by `common::registry`): a round trip into an empty store with no compiler run, and
//! the failures a cache must refuse or survive: a damaged blob, an altered signature, an
//! untrusted key, a push killed between its blobs and its manifest, two pushes at once, and a
//! registry that is down. Every refusal leaves the pulling store and root as they were.

mod common;

use std::os::unix::fs::PermissionsExt;
use std::path::PathBuf;
use std::process::{Command, Output};
use std::sync::OnceLock;

use cargo_share_cache::cache::oci::OciRegistry;
use cargo_share_cache::cache::{CacheUrl, Remote};
use common::registry::Registry;
use common::store_env::Env;
use common::*;

/// One store with the `lto` fixture installed (built once for every test here), and a key pair.
struct Source {
    env: Env,
    keys: PathBuf,
}

fn source() -> &'static Source {
    static SOURCE: OnceLock<Source> = OnceLock::new();
    SOURCE.get_or_init(|| {
        let env = Env::new();
        run_ok(&mut env.install(&fixture("lto")));
        let keys = env.base.join("keys");
        run_ok(
            env.cmd()
                .args(["key", "generate", "ci", "--out"])
                .arg(&keys),
        );
        run_ok(
            env.cmd()
                .args(["key", "generate", "stranger", "--out"])
                .arg(&keys),
        );
        Source { env, keys }
    })
}

fn push(registry: &Registry) -> Command {
    let s = source();
    let mut c = s.env.cmd();
    c.arg("push")
        .arg("--to")
        .arg(registry.url("team/cache"))
        .arg("--sign-key")
        .arg(s.keys.join("ci.secret"));
    c
}

/// `cmd` with a `rustc`, `cargo` and `cc` on PATH (and in `RUSTC`, `CARGO`) that count their
/// runs in `env` and fail.
fn counting_compilers(env: &Env, cmd: &mut Command) {
    let fake = env.base.join("fake-tools");
    std::fs::create_dir_all(&fake).unwrap();
    for tool in ["rustc", "cargo", "cc"] {
        let path = fake.join(tool);
        std::fs::write(
            &path,
            format!(
                "#!/bin/sh\necho {tool} >> {}\nexit 1\n",
                env.base.join("compiler-runs").display()
            ),
        )
        .unwrap();
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).unwrap();
    }
    let path = format!(
        "{}:{}",
        fake.display(),
        std::env::var("PATH").unwrap_or_default()
    );
    cmd.env("PATH", path)
        .env("RUSTC", fake.join("rustc"))
        .env("CARGO", fake.join("cargo"))
        .env_remove("RUSTC_WRAPPER");
}

/// `pull` into `env`'s empty store and root, trusting `key` (`ci` or `stranger`), with
/// compilers that count their runs and fail.
fn pull(env: &Env, url: &str, key: &str) -> Command {
    let mut c = env.cmd();
    c.args(["pull", "--json", "--from", url, "--trusted-key"])
        .arg(source().keys.join(format!("{key}.pub")))
        .arg("--root")
        .arg(env.root())
        .args(["lto-one", "lto-two"]);
    counting_compilers(env, &mut c);
    c
}

fn compiler_runs(env: &Env) -> usize {
    std::fs::read_to_string(env.base.join("compiler-runs"))
        .map(|t| t.lines().count())
        .unwrap_or(0)
}

fn fails(cmd: &mut Command) -> String {
    let out: Output = cmd.output().unwrap();
    let err = String::from_utf8_lossy(&out.stderr).into_owned();
    assert!(!out.status.success(), "{cmd:?} succeeded\n{err}");
    err
}

/// [`fails`], with the exit code `code` (the book's `reference/exit-codes.md`).
fn fails_with(cmd: &mut Command, code: i32) -> String {
    let out: Output = cmd.output().unwrap();
    let err = String::from_utf8_lossy(&out.stderr).into_owned();
    assert_eq!(out.status.code(), Some(code), "{cmd:?}\n{err}");
    err
}

/// Nothing was installed: no program in the store, nothing in ROOT/bin (if it was made).
fn nothing_installed(env: &Env) {
    let bin = env.root().join("bin");
    let bins = if bin.exists() {
        file_names(&bin)
    } else {
        Vec::new()
    };
    assert!(bins.is_empty(), "{bins:?}");
    if env.store().join("index.sqlite").exists() {
        let out = run_ok(env.cmd().args(["list", "--json"]));
        let v = &env.json(&out)[0];
        assert_eq!(v["programs"].as_array().map(Vec::len), Some(0), "{v}");
    }
}

fn registry(test: &str) -> Option<Registry> {
    Registry::start(test)
}

#[test]
fn a_round_trip_installs_into_an_empty_store_with_no_compiler_run() {
    let Some(registry) = registry("a_round_trip_installs_into_an_empty_store_with_no_compiler_run")
    else {
        return;
    };
    let out = run_ok(push(&registry).arg("--json"));
    let report = source().env.json(&out).pop().unwrap();
    assert_eq!(report["reason"], "push-finished", "{report}");
    assert_eq!(report["entries_pushed"], 2, "{report}");
    // Again: everything is there, nothing is uploaded.
    let out = run_ok(push(&registry).arg("--json"));
    let again = source().env.json(&out).pop().unwrap();
    assert_eq!(
        (
            again["entries_pushed"].as_u64(),
            again["blob_bytes"].as_u64()
        ),
        (Some(0), Some(0)),
        "{again}"
    );

    let env = Env::new();
    let out = run_ok(&mut pull(&env, &registry.url("team/cache"), "ci"));
    let records = env.json(&out);
    assert!(
        records.iter().any(|r| r["reason"] == "program-pulled"),
        "{records:?}"
    );
    assert_eq!(compiler_runs(&env), 0, "a compiler or Cargo ran");
    let src = &source().env;
    for bin in ["lto-one", "lto-two"] {
        assert_eq!(
            run_clean(&env.root().join("bin").join(bin)),
            run_clean(&src.root().join("bin").join(bin)),
            "{bin} from the cache"
        );
    }
    env.verify_ok();
    assert_eq!(
        env.entries(),
        src.entries(),
        "the same entries, same identities"
    );
    // Pulled again: the store has every entry, only the programs are fetched.
    let out = run_ok(&mut pull(&env, &registry.url("team/cache"), "ci"));
    assert!(
        env.json(&out)
            .iter()
            .any(|r| r["reason"] == "program-pulled" && r["added"].as_array().unwrap().is_empty()),
        "second pull"
    );
}

#[test]
fn a_blob_damaged_in_the_registry_is_refused() {
    let Some(registry) = registry("a_blob_damaged_in_the_registry_is_refused") else {
        return;
    };
    run_ok(&mut push(&registry));
    // The largest blob: a layer of the libstd entry.
    let (digest, file) = registry
        .blob_files()
        .into_iter()
        .max_by_key(|(_, p)| std::fs::metadata(p).unwrap().len())
        .unwrap();
    let mut data = std::fs::read(&file).unwrap();
    let mid = data.len() / 2;
    data[mid] ^= 0xff;
    std::fs::write(&file, data).unwrap();

    let env = Env::new();
    let err = fails(&mut pull(&env, &registry.url("team/cache"), "ci"));
    assert!(
        err.contains(&digest) && err.contains("damaged"),
        "the error names the blob\n{err}"
    );
    nothing_installed(&env);
}

/// The program `lto-one`'s manifest, as the registry serves it, through the library's client.
fn registry_client(registry: &Registry) -> (OciRegistry, String) {
    let url = CacheUrl::parse(&registry.url("team/cache")).unwrap();
    let repository = url.repository("programs", "lto-one");
    (OciRegistry::new(&url, false).unwrap(), repository)
}

#[test]
fn a_manifest_with_an_altered_signature_is_refused() {
    let Some(registry) = registry("a_manifest_with_an_altered_signature_is_refused") else {
        return;
    };
    run_ok(&mut push(&registry));
    let (client, repository) = registry_client(&registry);
    let manifest = client.get_manifest(&repository, "latest").unwrap().unwrap();
    let mut v: serde_json::Value = serde_json::from_slice(&manifest).unwrap();
    let sig = v["annotations"]["dev.cargo-share.signature"]
        .as_str()
        .unwrap()
        .to_string();
    // Another valid base64 signature of the right length: one character changed.
    let (name, b64) = sig.split_once(':').unwrap();
    let mut chars: Vec<char> = b64.chars().collect();
    chars[10] = if chars[10] == 'A' { 'B' } else { 'A' };
    let altered = format!("{name}:{}", chars.into_iter().collect::<String>());
    v["annotations"]["dev.cargo-share.signature"] = altered.into();
    client
        .put_manifest(
            &repository,
            "latest",
            "application/vnd.oci.image.manifest.v1+json",
            v.to_string().as_bytes(),
        )
        .unwrap();

    let env = Env::new();
    // 5: refused as untrusted.
    let err = fails_with(&mut pull(&env, &registry.url("team/cache"), "ci"), 5);
    assert!(
        err.contains("signature") && err.contains("does not verify") && err.contains("lto-one"),
        "{err}"
    );
    nothing_installed(&env);
}

#[test]
fn an_untrusted_key_is_refused() {
    let Some(registry) = registry("an_untrusted_key_is_refused") else {
        return;
    };
    run_ok(&mut push(&registry));
    let env = Env::new();
    let err = fails_with(&mut pull(&env, &registry.url("team/cache"), "stranger"), 5);
    assert!(
        err.contains("signed by the key `ci`") && err.contains("not among the trusted keys"),
        "{err}"
    );
    nothing_installed(&env);
}

#[test]
fn a_push_killed_between_blobs_and_manifest_leaves_nothing_visible() {
    use std::os::unix::process::ExitStatusExt;
    let Some(registry) =
        registry("a_push_killed_between_blobs_and_manifest_leaves_nothing_visible")
    else {
        return;
    };
    let out = push(&registry)
        .env("CARGO_SHARE_FAULT", "cache-blobs-pushed#1:kill")
        .output()
        .unwrap();
    assert_eq!(out.status.signal(), Some(9), "the push was not killed");
    assert!(!registry.blob_files().is_empty(), "no blob was uploaded");
    let env = Env::new();
    let err = fails(&mut pull(&env, &registry.url("team/cache"), "ci"));
    assert!(err.contains("no program `lto-one`"), "{err}");
    nothing_installed(&env);
    // No entry is visible either: the first one's blobs are there, its manifest is not.
    let (client, _) = registry_client(&registry);
    let url = CacheUrl::parse(&registry.url("team/cache")).unwrap();
    let src = &source().env;
    for line in src.entries() {
        let (package, id) = line.split_once(' ').unwrap();
        let repository = url.repository("entries", package);
        assert!(
            client.get_manifest(&repository, id).unwrap().is_none(),
            "{repository}:{id} is visible"
        );
    }
    // Pushed again, it completes; the blobs already there are not uploaded again.
    let out = run_ok(push(&registry).arg("--json"));
    let report = src.json(&out).pop().unwrap();
    assert_eq!(report["entries_pushed"], 2, "{report}");
    run_ok(&mut pull(&env, &registry.url("team/cache"), "ci"));
    env.verify_ok();
}

#[test]
fn two_pushes_of_the_same_entries_at_once_both_succeed() {
    let Some(registry) = registry("two_pushes_of_the_same_entries_at_once_both_succeed") else {
        return;
    };
    let spawn = || {
        push(&registry)
            .stderr(std::process::Stdio::piped())
            .spawn()
            .unwrap()
    };
    let (a, b) = (spawn(), spawn());
    for (name, child) in [("first", a), ("second", b)] {
        let out = child.wait_with_output().unwrap();
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(out.status.success(), "{name} push failed\n{err}");
    }
    let env = Env::new();
    run_ok(&mut pull(&env, &registry.url("team/cache"), "ci"));
    assert!(run_clean(&env.root().join("bin/lto-two")).contains("sum_squares(100)"));
    env.verify_ok();
}

#[test]
fn a_registry_that_is_down_gives_a_clear_error() {
    let Some(mut registry) = registry("a_registry_that_is_down_gives_a_clear_error") else {
        return;
    };
    registry.stop();
    // 4: the remote could not be reached; the same command may work later.
    let err = fails_with(&mut push(&registry), 4);
    assert!(
        err.contains("cannot be reached") && err.contains(&registry.url("team/cache")),
        "{err}"
    );
    let env = Env::new();
    let err = fails_with(&mut pull(&env, &registry.url("team/cache"), "ci"), 4);
    assert!(err.contains("cannot be reached"), "{err}");
    nothing_installed(&env);
}

/// A scratch directory whose `.cargo/config.toml` replaces crates.io with the fixture directory
/// source (`tests/fixtures/sets/registry`, which holds the program `cache-hello`).
fn offline_crates_io(env: &Env) {
    replace_crates_io(&env.base, "sets/registry");
}

fn install_hello(env: &Env, config: &std::path::Path) -> Command {
    offline_crates_io(env);
    let mut c = env.cmd();
    c.current_dir(&env.base)
        .args([
            "install",
            "--layout",
            "per-crate",
            "cache-hello@0.1.0",
            "--root",
        ])
        .arg(env.root())
        .env("CARGO_SHARE_CONFIG", config);
    c
}

#[test]
fn install_takes_programs_from_substituters_and_builds_when_they_are_down() {
    let Some(mut registry) =
        registry("install_takes_programs_from_substituters_and_builds_when_they_are_down")
    else {
        return;
    };
    let builder = Env::new();
    let config = builder.base.join("cargo-share.toml");
    std::fs::write(
        &config,
        format!(
            "substituters = [{:?}]\ntrusted-public-keys = [{:?}]\n",
            registry.url("team/cache"),
            source().keys.join("ci.pub").display().to_string()
        ),
    )
    .unwrap();
    // The builder: not in the cache yet, so built; then pushed.
    run_ok(&mut install_hello(&builder, &config));
    let expected = run_clean(&builder.root().join("bin/cache-hello"));
    assert!(expected.contains("cache-hello: shim 1.1.0"), "{expected}");
    run_ok(
        builder
            .cmd()
            .args(["push", "--to", &registry.url("team/cache"), "--sign-key"])
            .arg(source().keys.join("ci.secret")),
    );

    // Another store: installed from the cache, nothing compiled.
    let user = Env::new();
    let mut cmd = install_hello(&user, &config);
    counting_compilers(&user, &mut cmd);
    let out = run_ok(&mut cmd);
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(compiler_runs(&user), 0, "a compiler or Cargo ran\n{err}");
    assert_eq!(run_clean(&user.root().join("bin/cache-hello")), expected);
    user.verify_ok();

    // The cache down: a warning, then the program is built.
    registry.stop();
    let offline = Env::new();
    let out = run_ok(&mut install_hello(&offline, &config));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("could not provide cache-hello@0.1.0")
            && err.contains("cannot be reached")
            && err.contains("built instead"),
        "{err}"
    );
    assert_eq!(run_clean(&offline.root().join("bin/cache-hello")), expected);
}

#[path = "binary_cache/hostile.rs"]
mod hostile;
