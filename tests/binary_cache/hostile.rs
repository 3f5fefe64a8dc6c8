//! A hostile cache: artifacts crafted and signed with the trusted key (`ci`), and registries that
//! misbehave (a proxy in front of the real one, `common::fake_http`). Every refusal leaves the
//! pulling store and root as they were.

use super::*;
use cargo_share_cache::cache::artifact::{
    fetch_signed, signed_message, ExpectedFile, ENTRY_ARTIFACT, PROGRAM_ARTIFACT,
};
use cargo_share_cache::cache::keys::{PublicKey, SecretKey};
use common::fake_http::{forward, FakeServer, Reply, Request, Response};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;

/// The artifact `repository:tag` as pushed, its config and files changed by `change`, signed
/// again with the trusted key `ci` (by hand, as `prepare` would but without its limits) and
/// stored under `tag`, signed as `tag`.
fn forge(
    registry: &Registry,
    repository: &str,
    tag: &str,
    artifact_type: &str,
    change: impl FnOnce(&mut serde_json::Value, &mut Vec<(String, Vec<u8>)>),
) {
    let (client, _) = registry_client(registry);
    let keys = &source().keys;
    let trusted = [PublicKey::read(&keys.join("ci.pub")).unwrap()];
    let signed = fetch_signed(&client, repository, tag, None, artifact_type, &trusted, "t")
        .unwrap()
        .unwrap();
    let all: Vec<ExpectedFile> = (signed.layers.iter())
        .map(|l| ExpectedFile {
            title: l.title.clone(),
            size: None,
        })
        .collect();
    let mut files = signed.files(&client, &all).unwrap();
    let mut config: serde_json::Value = serde_json::from_slice(&signed.config).unwrap();
    change(&mut config, &mut files);
    let key = SecretKey::read(&keys.join("ci.secret")).unwrap();
    let put = |bytes: &[u8]| {
        let digest = format!("sha256:{}", cargo_share_compile::digest::sha256_hex(bytes));
        client.put_blob(repository, &digest, bytes).unwrap();
        digest
    };
    let config = serde_json::to_vec(&config).unwrap();
    let config_digest = put(&config);
    let (mut layers, mut signed_layers) = (Vec::new(), Vec::new());
    for (title, bytes) in files {
        let compressed = zstd::bulk::compress(&bytes, 3).unwrap();
        let digest = put(&compressed);
        layers.push(serde_json::json!({
            "mediaType": "application/vnd.cargo-share.file.v1+zstd",
            "digest": digest, "size": compressed.len(),
            "annotations": {"org.opencontainers.image.title": title},
        }));
        signed_layers.push((title, digest, compressed.len() as u64));
    }
    let message = signed_message(artifact_type, tag, &config_digest, &signed_layers);
    let manifest = serde_json::json!({
        "schemaVersion": 2,
        "mediaType": MANIFEST,
        "artifactType": artifact_type,
        "config": {
            "mediaType": "application/vnd.cargo-share.config.v1+json",
            "digest": config_digest, "size": config.len(),
        },
        "layers": layers,
        "annotations": {
            "dev.cargo-share.signature": format!("ci:{}", key.sign(message.as_bytes())),
            "dev.cargo-share.tag": tag,
        },
    });
    let manifest = serde_json::to_vec(&manifest).unwrap();
    client
        .put_manifest(repository, tag, MANIFEST, &manifest)
        .unwrap();
}

const MANIFEST: &str = "application/vnd.oci.image.manifest.v1+json";

/// Paths under `dir` whose name contains `part`.
fn named(dir: &std::path::Path, part: &str) -> Vec<PathBuf> {
    let mut found = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).into_iter().flatten().flatten() {
            let p = e.path();
            if p.file_name().unwrap().to_string_lossy().contains(part) {
                found.push(p.clone());
            }
            if e.file_type().unwrap().is_dir() {
                stack.push(p);
            }
        }
    }
    found
}

/// The store's entry of `package` (its package name, not `std`) and its identity.
fn lib_entry() -> (String, String) {
    let line = source()
        .env
        .entries()
        .into_iter()
        .find(|l| !l.starts_with("std "))
        .unwrap();
    let (package, id) = line.split_once(' ').unwrap();
    (package.to_string(), id.to_string())
}

#[test]
fn names_and_versions_with_paths_signed_by_a_trusted_key_are_refused() {
    let Some(registry) =
        registry("names_and_versions_with_paths_signed_by_a_trusted_key_are_refused")
    else {
        return;
    };
    let url = CacheUrl::parse(&registry.url("team/cache")).unwrap();
    let (package, id) = lib_entry();
    let entries = url.repository("entries", &package);
    let programs = url.repository("programs", "lto-one");
    type Change = Box<dyn FnOnce(&mut serde_json::Value)>;
    let cases: Vec<(&str, &str, &str, Change, &str)> = vec![
        (
            "a program version with ../",
            &programs,
            PROGRAM_ARTIFACT,
            Box::new(|c| c["program"]["version"] = "../../../escaped".into()),
            "is not a semver version",
        ),
        (
            "an entry package with ../",
            &entries,
            ENTRY_ARTIFACT,
            Box::new(|c| c["entry"]["identity"]["package"] = "../../../escaped".into()),
            "is not a Cargo package name",
        ),
        (
            "an entry version with /",
            &entries,
            ENTRY_ARTIFACT,
            Box::new(|c| c["entry"]["identity"]["version"] = "1.0.0/../../../escaped".into()),
            "is not a semver version",
        ),
        (
            "an entry version its inputs do not give",
            &entries,
            ENTRY_ARTIFACT,
            Box::new(|c| c["entry"]["identity"]["version"] = "9.9.9".into()),
            "does not match its identity inputs",
        ),
    ];
    run_ok(&mut push(&registry));
    let (client, _) = registry_client(&registry);
    for (case, repository, artifact_type, change, expected) in cases {
        let tag = if artifact_type == ENTRY_ARTIFACT {
            &id
        } else {
            "latest"
        };
        let original = client.get_manifest(repository, tag).unwrap().unwrap();
        forge(&registry, repository, tag, artifact_type, |c, _| change(c));
        let env = Env::new();
        let err = fails(&mut pull(&env, &registry.url("team/cache"), "ci"));
        assert!(err.contains(expected), "{case}: {err}");
        nothing_installed(&env);
        let escaped = named(&env.base, "escaped");
        assert!(escaped.is_empty(), "{case}: {escaped:?}");
        assert!(
            named(&env.base, "9.9.9").is_empty(),
            "{case}: an entry with a version its inputs do not give was written"
        );
        client
            .put_manifest(repository, tag, MANIFEST, &original)
            .unwrap();
    }
}

/// A proxy in front of `registry` that passes every request on, except that `change` may
/// answer one itself.
fn proxy(
    registry: &Registry,
    change: impl Fn(&Request, u16) -> Option<Reply> + Send + Sync + 'static,
) -> FakeServer {
    let port = registry.port;
    FakeServer::start(move |req| {
        change(req, port).unwrap_or_else(|| Reply::Send(forward(port, req).to_bytes()))
    })
}

/// The largest blob in the registry (a layer of the libstd entry, which every pull fetches).
fn largest_blob(registry: &Registry) -> String {
    registry
        .blob_files()
        .into_iter()
        .max_by_key(|(_, p)| std::fs::metadata(p).unwrap().len())
        .unwrap()
        .0
}

#[test]
fn a_blob_served_longer_than_its_signed_size_is_refused_before_it_is_read() {
    let Some(registry) =
        registry("a_blob_served_longer_than_its_signed_size_is_refused_before_it_is_read")
    else {
        return;
    };
    run_ok(&mut push(&registry));
    let digest = largest_blob(&registry);
    let sent = Arc::new(AtomicU64::new(0));
    let counter = sent.clone();
    // The blob as the registry has it, then zeros, declared as 1 GiB (no key needed for that).
    let proxy = proxy(&registry, move |req, port| {
        if !(req.method == "GET" && req.path().ends_with(&digest)) {
            return None;
        }
        let mut resp = forward(port, req);
        resp.body.resize(64 << 20, 0);
        let bytes = resp.to_bytes_declaring(Some(1 << 30));
        Some(Reply::SendCounting(bytes, counter.clone()))
    });
    let env = Env::new();
    let err = fails(&mut pull(&env, &proxy.url("team/cache"), "ci"));
    assert!(
        err.contains("declares 1073741824 bytes") && err.contains("refused before reading it"),
        "{err}"
    );
    let sent = sent.load(Ordering::SeqCst);
    assert!(sent < 16 << 20, "{sent} bytes of the blob were read");
    nothing_installed(&env);
}

#[test]
fn extra_layers_and_bombs_signed_by_a_trusted_key_are_refused() {
    let Some(registry) = registry("extra_layers_and_bombs_signed_by_a_trusted_key_are_refused")
    else {
        return;
    };
    run_ok(&mut push(&registry));
    let (client, repository) = registry_client(&registry);
    let original = client.get_manifest(&repository, "latest").unwrap().unwrap();
    type Change = Box<dyn FnOnce(&mut serde_json::Value, &mut Vec<(String, Vec<u8>)>)>;
    let cases: Vec<(&str, Change, &str)> = vec![
        (
            "an extra layer",
            Box::new(|_, files| files.push(("bin/extra".into(), vec![0; 64 << 20]))),
            "layers besides the named files",
        ),
        (
            "a named layer that expands 64 MiB of zeros",
            Box::new(|config, files| {
                let zeros = vec![0; 64 << 20];
                let sha = cargo_share_compile::digest::sha256_hex(&zeros);
                config["program"]["binaries"][0][1] = sha.into();
                let name = config["program"]["binaries"][0][0].as_str().unwrap();
                let title = format!("bin/{name}");
                files.iter_mut().find(|(t, _)| *t == title).unwrap().1 = zeros;
            }),
            "decompression bomb",
        ),
    ];
    for (case, change, expected) in cases {
        forge(&registry, &repository, "latest", PROGRAM_ARTIFACT, change);
        let env = Env::new();
        let err = fails(&mut pull(&env, &registry.url("team/cache"), "ci"));
        assert!(err.contains(expected), "{case}: {err}");
        nothing_installed(&env);
        client
            .put_manifest(&repository, "latest", MANIFEST, &original)
            .unwrap();
    }
}

#[test]
fn credentials_are_never_sent_to_a_plain_http_token_realm() {
    // A registry that wants a token from a realm on another host over plain HTTP; this server
    // is also the HTTP proxy the pull goes through, so it sees what the realm would receive.
    let realm_saw: Arc<std::sync::Mutex<Vec<String>>> = Default::default();
    let seen = realm_saw.clone();
    let server = FakeServer::start(move |req| {
        if req.target.contains("token.example") {
            let auth = req.header("authorization").unwrap_or("(none)").to_string();
            seen.lock().unwrap().push(auth);
            let body = br#"{"token":"t0ken"}"#;
            return Reply::Send(Response::new("200 OK", &[], body).to_bytes());
        }
        if req.header("authorization") == Some("Bearer t0ken") {
            return Reply::Send(Response::new("404 Not Found", &[], b"").to_bytes());
        }
        let challenge = r#"Bearer realm="http://token.example/token",service="reg""#;
        let headers = [("WWW-Authenticate", challenge)];
        Reply::Send(Response::new("401 Unauthorized", &headers, b"").to_bytes())
    });
    let env = Env::new();
    let proxy = format!("http://127.0.0.1:{}", server.port);
    let mut cmd = pull(&env, &server.url("team/cache"), "ci");
    cmd.env("CARGO_SHARE_REGISTRY_AUTH", "ann:s3cret");
    for var in [
        "ALL_PROXY",
        "all_proxy",
        "HTTPS_PROXY",
        "https_proxy",
        "HTTP_PROXY",
    ] {
        cmd.env_remove(var);
    }
    cmd.env("http_proxy", &proxy)
        .env_remove("NO_PROXY")
        .env_remove("no_proxy");
    let err = fails(&mut cmd);
    let saw = realm_saw.lock().unwrap().clone();
    assert!(
        saw.iter().all(|a| !a.starts_with("Basic")),
        "the credentials went to a plain HTTP realm: {saw:?}\n{err}"
    );
    assert!(
        err.contains("http://token.example/token") && err.contains("never sent over plain HTTP"),
        "{err}"
    );
    nothing_installed(&env);
}

#[test]
fn a_substituter_installs_the_manifest_whose_origin_it_checked() {
    let Some(registry) = registry("a_substituter_installs_the_manifest_whose_origin_it_checked")
    else {
        return;
    };
    run_ok(&mut push(&registry));
    let (client, repository) = registry_client(&registry);
    // `local`: the build as pushed (from a path, which a substituter does not take).
    let pushed = client.get_manifest(&repository, "latest").unwrap().unwrap();
    client
        .put_manifest(&repository, "local", MANIFEST, &pushed)
        .unwrap();
    // `latest`: the same build, signed as from crates.io.
    forge(
        &registry,
        &repository,
        "latest",
        PROGRAM_ARTIFACT,
        |c, _| c["program"]["source"] = "crates.io".into(),
    );
    // A registry that serves `latest` once, then `local` in its place.
    let gets = Arc::new(AtomicU64::new(0));
    let counter = gets.clone();
    let latest = format!("/v2/{repository}/manifests/latest");
    let proxy = proxy(&registry, move |req, port| {
        if req.method != "GET" || req.path() != latest {
            return None;
        }
        if counter.fetch_add(1, Ordering::SeqCst) == 0 {
            return None;
        }
        let mut swapped = req.clone();
        swapped.target = swapped
            .target
            .replace("/manifests/latest", "/manifests/local");
        Some(Reply::Send(forward(port, &swapped).to_bytes()))
    });
    let env = Env::new();
    let config = env.base.join("cargo-share.toml");
    let key = source().keys.join("ci.pub");
    let text = format!(
        "substituters = [{:?}]\ntrusted-public-keys = [{:?}]\n",
        proxy.url("team/cache"),
        key.display().to_string()
    );
    std::fs::write(&config, text).unwrap();
    replace_crates_io(&env.base, "sets/registry");
    let mut cmd = env.cmd();
    cmd.current_dir(&env.base)
        .args(["install", "--layout", "per-crate", "lto-one", "--root"])
        .arg(env.root())
        .env("CARGO_SHARE_CONFIG", &config);
    counting_compilers(&env, &mut cmd);
    run_ok(&mut cmd);
    let out = run_ok(env.cmd().args(["list", "--json"]));
    let programs = env.json(&out)[0]["programs"].clone();
    assert_eq!(programs[0]["source"], "crates.io", "{programs}");
    assert_eq!(
        gets.load(Ordering::SeqCst),
        1,
        "the manifest was fetched again"
    );
}

/// `pull` of `programs` into `env` trusting `keys` (paths), with compilers that fail.
fn pull_with(env: &Env, url: &str, keys: &[PathBuf], programs: &[&str]) -> Command {
    let mut c = env.cmd();
    c.args(["pull", "--json", "--from", url]);
    for k in keys {
        c.arg("--trusted-key").arg(k);
    }
    c.arg("--root").arg(env.root()).args(programs);
    counting_compilers(env, &mut c);
    c
}

#[test]
fn every_trusted_key_of_the_signers_name_is_tried() {
    let Some(registry) = registry("every_trusted_key_of_the_signers_name_is_tried") else {
        return;
    };
    run_ok(&mut push(&registry));
    let env = Env::new();
    // Another key also named `ci`, listed first.
    let other = env.base.join("other-keys");
    run_ok(
        env.cmd()
            .args(["key", "generate", "ci", "--out"])
            .arg(&other),
    );
    let keys = [other.join("ci.pub"), source().keys.join("ci.pub")];
    run_ok(&mut pull_with(
        &env,
        &registry.url("team/cache"),
        &keys,
        &["lto-one"],
    ));
    assert!(run_clean(&env.root().join("bin/lto-one")).contains("lto-one"));
    // Only the other one: refused, and the message says how many keys were tried.
    let env = Env::new();
    let err = fails(&mut pull_with(
        &env,
        &registry.url("team/cache"),
        &keys[..1],
        &["lto-one"],
    ));
    assert!(err.contains("1 key(s) of that name tried"), "{err}");
    nothing_installed(&env);
}

#[test]
fn a_latest_moved_back_to_an_older_version_is_refused_unless_allowed() {
    let Some(registry) =
        registry("a_latest_moved_back_to_an_older_version_is_refused_unless_allowed")
    else {
        return;
    };
    run_ok(&mut push(&registry));
    let (client, repository) = registry_client(&registry);
    let pushed = client.get_manifest(&repository, "latest").unwrap().unwrap();
    // 0.2.0 (the same build, signed as a newer version) is latest, and installed.
    forge(
        &registry,
        &repository,
        "latest",
        PROGRAM_ARTIFACT,
        |c, _| c["program"]["version"] = "0.2.0".into(),
    );
    let forged = client.get_manifest(&repository, "latest").unwrap().unwrap();
    client
        .put_manifest(&repository, "0.2.0", MANIFEST, &forged)
        .unwrap();
    let env = Env::new();
    let url = registry.url("team/cache");
    let keys = [source().keys.join("ci.pub")];
    run_ok(&mut pull_with(&env, &url, &keys, &["lto-one"]));
    // Then `latest` goes back to 0.1.0.
    client
        .put_manifest(&repository, "latest", MANIFEST, &pushed)
        .unwrap();
    let err = fails(&mut pull_with(&env, &url, &keys, &["lto-one"]));
    assert!(
        err.contains("`latest` is version 0.1.0, older than the installed 0.2.0")
            && err.contains("--allow-downgrade"),
        "{err}"
    );
    let installed = |env: &Env| {
        let out = run_ok(env.cmd().args(["list", "--json"]));
        env.json(&out)[0]["programs"][0]["version"].clone()
    };
    assert_eq!(installed(&env), "0.2.0");
    // Allowed, or asked for by version: installed.
    run_ok(pull_with(&env, &url, &keys, &["lto-one"]).arg("--allow-downgrade"));
    assert_eq!(installed(&env), "0.1.0");
    run_ok(&mut pull_with(&env, &url, &keys, &["lto-one@0.2.0"]));
    assert_eq!(installed(&env), "0.2.0");
    run_ok(&mut pull_with(&env, &url, &keys, &["lto-one@0.1.0"]));
    assert_eq!(installed(&env), "0.1.0");
}

#[test]
fn a_body_cut_off_says_how_much_came_from_where() {
    let Some(registry) = registry("a_body_cut_off_says_how_much_came_from_where") else {
        return;
    };
    run_ok(&mut push(&registry));
    let digest = largest_blob(&registry);
    let wanted = digest.clone();
    let proxy = proxy(&registry, move |req, port| {
        if !(req.method == "GET" && req.path().ends_with(&wanted)) {
            return None;
        }
        let mut resp = forward(port, req);
        let size = resp.body.len() as u64;
        resp.body.truncate(1000);
        Some(Reply::Send(resp.to_bytes_declaring(Some(size))))
    });
    let size = registry
        .blob_files()
        .into_iter()
        .find(|(d, _)| *d == digest)
        .map(|(_, p)| std::fs::metadata(p).unwrap().len())
        .unwrap();
    let env = Env::new();
    let err = fails(&mut pull(&env, &proxy.url("team/cache"), "ci"));
    assert!(
        err.contains("was cut off")
            && err.contains(&format!("expected {size} bytes, got 1000"))
            && err.contains(&format!("http://127.0.0.1:{}/", proxy.port))
            && err.contains(&digest),
        "{err}"
    );
    nothing_installed(&env);
}

/// Wait for `child` at most `limit`; kill it (and fail) past that.
fn finishes_within(mut child: std::process::Child, limit: std::time::Duration, what: &str) {
    let start = std::time::Instant::now();
    loop {
        if let Some(status) = child.try_wait().unwrap() {
            let out = child.wait_with_output().unwrap();
            let err = String::from_utf8_lossy(&out.stderr);
            assert!(status.success(), "{what} failed\n{err}");
            return;
        }
        if start.elapsed() > limit {
            let _ = child.kill();
            let _ = child.wait();
            panic!("{what} waited more than {limit:?} for a pull that was reading the network");
        }
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
}

/// `cmd` started (its stderr piped), once the server says it has reached the slow request.
fn spawn_until(cmd: &mut Command, reached: &AtomicBool) -> std::process::Child {
    use std::process::Stdio;
    use std::time::Duration;
    let child = cmd
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let start = std::time::Instant::now();
    while !reached.load(Ordering::SeqCst) {
        assert!(
            start.elapsed() < Duration::from_secs(60),
            "the command never reached the slow request"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    child
}

#[test]
fn a_slow_registry_does_not_block_other_commands() {
    use std::process::Stdio;
    use std::time::Duration;
    let Some(registry) = registry("a_slow_registry_does_not_block_other_commands") else {
        return;
    };
    run_ok(&mut push(&registry));
    let digest = largest_blob(&registry);
    let (reached, release) = (
        Arc::new(AtomicBool::new(false)),
        Arc::new(AtomicBool::new(false)),
    );
    let (reached_by, released) = (reached.clone(), release.clone());
    // The libstd layer: half of it, then nothing until the test says so.
    let proxy = proxy(&registry, move |req, port| {
        if !(req.method == "GET" && req.path().ends_with(&digest)) {
            return None;
        }
        let bytes = forward(port, req).to_bytes();
        reached_by.store(true, Ordering::SeqCst);
        Some(Reply::SendPausing(
            bytes.clone(),
            bytes.len() / 2,
            released.clone(),
        ))
    });
    let env = Env::new();
    let slow = spawn_until(&mut pull(&env, &proxy.url("team/cache"), "ci"), &reached);
    // While it waits: a reader, gc (which leaves the pull's locked scratch directory alone) and
    // another pull of the same programs that commits first.
    let quick = |c: &mut Command| {
        c.stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap()
    };
    let limit = Duration::from_secs(30);
    finishes_within(quick(env.cmd().args(["list", "--json"])), limit, "list");
    finishes_within(quick(env.cmd().arg("gc")), limit, "gc");
    let mut direct = pull(&env, &registry.url("team/cache"), "ci");
    finishes_within(quick(&mut direct), limit, "another pull");
    release.store(true, Ordering::SeqCst);
    let out = slow.wait_with_output().unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "the slow pull failed\n{err}");
    env.verify_ok();
    assert!(run_clean(&env.root().join("bin/lto-two")).contains("sum_squares(100)"));
}

/// The layer digests of the entry `package` `id` in the cache.
fn entry_layers(registry: &Registry, package: &str, id: &str) -> Vec<String> {
    let (client, _) = registry_client(registry);
    let url = CacheUrl::parse(&registry.url("team/cache")).unwrap();
    let repository = url.repository("entries", package);
    let manifest = client.get_manifest(&repository, id).unwrap().unwrap();
    let v: serde_json::Value = serde_json::from_slice(&manifest).unwrap();
    let layers = v["layers"].as_array().unwrap().iter();
    layers
        .map(|l| l["digest"].as_str().unwrap().to_string())
        .collect()
}

#[test]
fn a_pull_commits_against_the_store_as_it_is_after_the_network() {
    let Some(registry) = registry("a_pull_commits_against_the_store_as_it_is_after_the_network")
    else {
        return;
    };
    run_ok(&mut push(&registry));
    let env = Env::new();
    let keys = [source().keys.join("ci.pub")];
    run_ok(&mut pull_with(
        &env,
        &registry.url("team/cache"),
        &keys,
        &["lto-one"],
    ));
    // The library entry damaged: the next pull plans to fetch it, and to reuse libstd.
    let (package, id) = lib_entry();
    env.damage_entry(&package);
    let digests = entry_layers(&registry, &package, &id);
    let (reached, release) = (
        Arc::new(AtomicBool::new(false)),
        Arc::new(AtomicBool::new(false)),
    );
    let (reached_by, released) = (reached.clone(), release.clone());
    let proxy = proxy(&registry, move |req, port| {
        let ours = digests.iter().any(|d| req.path().ends_with(d.as_str()));
        if !(req.method == "GET" && ours) || reached_by.swap(true, Ordering::SeqCst) {
            return None;
        }
        let bytes = forward(port, req).to_bytes();
        Some(Reply::SendPausing(
            bytes.clone(),
            bytes.len() / 2,
            released.clone(),
        ))
    });
    let mut cmd = pull_with(&env, &proxy.url("team/cache"), &keys, &["lto-two"]);
    let slow = spawn_until(&mut cmd, &reached);
    // While it reads the library, libstd is damaged too: the commit must see that.
    env.damage_entry("std");
    release.store(true, Ordering::SeqCst);
    let out = slow.wait_with_output().unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "the pull failed\n{err}");
    assert!(
        err.contains("the store lost it while the pull ran"),
        "{err}"
    );
    for package in ["std", package.as_str()] {
        let pulled = std::fs::read(env.entry_runtime_file(package)).unwrap();
        let pushed = std::fs::read(source().env.entry_runtime_file(package)).unwrap();
        assert!(pulled == pushed, "the store's {package} is still damaged");
    }
    assert!(run_clean(&env.root().join("bin/lto-two")).contains("sum_squares(100)"));
}
