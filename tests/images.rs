//! `cargo share image` against a real OCI registry (Debian's `docker-registry` on 127.0.0.1,
//! `common::registry`), with the `update` fixture: `fix-one` and `fix-two` share `fixlib` and
//! `fixuser` (one group) and libstd. Each image is pulled back by digest, its signature checked,
//! its layers unpacked with GNU tar into a directory of its own, and its program run from there
//! on this machine's glibc (the images hold no libc). A second push of the same inputs sends no
//! blob; a body-only fix of fixlib (`--patch`) sends one layer and the two configs. A base image
//! (pushed to the registry by the test) is mounted under the images, its environment kept.

mod common;

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::process::Command;

use cargo_share_cache::cache::{CacheUrl, OciRegistry, PublicKey, Remote};
use cargo_share_core::layout::{gzip, reproducible_tar, TreeEntry, TreeEntryKind};
use common::registry::Registry;
use common::*;
use serde_json::{json, Value};

const PREFIX: &str = "opt/cargo-share";

struct Scene {
    _scratch: tempfile::TempDir,
    base: PathBuf,
    registry: Registry,
}

impl Scene {
    fn new() -> Option<Scene> {
        let Some(registry) = Registry::start("images") else {
            assert!(
                std::env::var("CI").is_err(),
                "docker-registry is required under CI (`.ci/run` installs it)"
            );
            return None;
        };
        let (scratch, base) = scratch_with_directory_source("update/registry");
        run_ok(
            Command::new(env!("CARGO_BIN_EXE_cargo-share"))
                .args(["key", "generate", "ci", "--out"])
                .arg(base.join("keys")),
        );
        Some(Scene {
            _scratch: scratch,
            base,
            registry,
        })
    }

    /// `cargo share image --json` of both programs to `PATH` with `extra` arguments: the
    /// records it printed.
    fn image(&self, path: &str, extra: &[&str]) -> Vec<Value> {
        let out = run_ok(
            Command::new(env!("CARGO_BIN_EXE_cargo-share"))
                .current_dir(&self.base)
                .arg("--cache-dir")
                .arg(self.base.join("cache"))
                .args(["image", "--json", "--manifest-path"])
                .arg(fixture("update/fix-one"))
                .arg("--manifest-path")
                .arg(fixture("update/fix-two"))
                .arg("--to")
                .arg(self.registry.url(path))
                .arg("--sign-key")
                .arg(self.base.join("keys/ci.secret"))
                .args(extra),
        );
        String::from_utf8_lossy(&out.stdout)
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .filter(|v: &Value| {
                v["reason"]
                    .as_str()
                    .is_some_and(|r| r.starts_with("image-"))
            })
            .collect()
    }

    fn client(&self) -> OciRegistry {
        OciRegistry::new(&CacheUrl::parse(&self.registry.url("")).unwrap(), false).unwrap()
    }

    /// Pull `REPOSITORY:TAG` by the digest the push reported, check its signature, unpack its
    /// layers in order into `dir` with GNU tar; returns the manifest.
    fn pull_and_unpack(&self, repository: &str, tag: &str, digest: &str, dir: &Path) -> Value {
        let client = self.client();
        let by_tag = client.get_manifest(repository, tag).unwrap().unwrap();
        let bytes = client.get_manifest(repository, digest).unwrap().unwrap();
        assert_eq!(by_tag, bytes, "{repository}:{tag} is the manifest pushed");
        assert_eq!(
            format!("sha256:{}", cargo_share_compile::digest::sha256_hex(&bytes)),
            digest
        );
        let trusted = [PublicKey::read(&self.base.join("keys/ci.pub")).unwrap()];
        assert_eq!(
            cargo_share_cache::image::verify_image(&bytes, &trusted).unwrap(),
            "ci"
        );
        let manifest: Value = serde_json::from_slice(&bytes).unwrap();
        std::fs::create_dir_all(dir).unwrap();
        for layer in manifest["layers"].as_array().unwrap() {
            let digest = layer["digest"].as_str().unwrap();
            let blob = client
                .get_blob(repository, digest, layer["size"].as_u64().unwrap())
                .unwrap();
            assert_eq!(
                format!("sha256:{}", cargo_share_compile::digest::sha256_hex(&blob)),
                digest
            );
            let file = dir.with_extension("layer.tar.gz");
            std::fs::write(&file, &blob).unwrap();
            run_ok(
                Command::new("tar")
                    .arg("-xzf")
                    .arg(&file)
                    .arg("-C")
                    .arg(dir),
            );
            std::fs::remove_file(&file).unwrap();
        }
        manifest
    }
}

fn pushed<'a>(records: &'a [Value], name: &str) -> &'a Value {
    records
        .iter()
        .find(|r| r["reason"] == "image-pushed" && r["name"] == name)
        .unwrap_or_else(|| panic!("no image-pushed record for {name}: {records:?}"))
}

fn finished(records: &[Value]) -> &Value {
    records
        .iter()
        .find(|r| r["reason"] == "image-finished")
        .unwrap()
}

fn count(v: &Value, key: &str) -> u64 {
    v[key].as_u64().unwrap()
}

/// Every file path under `dir`, relative.
fn tree(dir: &Path) -> BTreeSet<String> {
    let mut out = BTreeSet::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).unwrap() {
            let p = e.unwrap().path();
            if p.is_dir() {
                stack.push(p);
            } else {
                out.insert(p.strip_prefix(dir).unwrap().to_string_lossy().into_owned());
            }
        }
    }
    out
}

/// Pull both images of `path`, unpack each into `dir/PROGRAM`, run each program there: its
/// output, by program.
fn run_images(scene: &Scene, path: &str, records: &[Value], dir: &Path) -> Vec<String> {
    let mut outputs = Vec::new();
    for name in ["fix-one", "fix-two"] {
        let rec = pushed(records, name);
        let root = dir.join(name);
        scene.pull_and_unpack(
            &format!("{path}/{name}"),
            "0.1.0",
            rec["manifest_digest"].as_str().unwrap(),
            &root,
        );
        let files = tree(&root);
        let bins: Vec<&String> = files.iter().filter(|f| f.contains("/bin/")).collect();
        assert_eq!(bins, vec![&format!("{PREFIX}/bin/{name}")], "{files:?}");
        assert!(
            files.iter().all(|f| f.starts_with(PREFIX)),
            "only the program's files: {files:?}"
        );
        let binary = root.join(PREFIX).join("bin").join(name);
        loads_by_path(&binary);
        outputs.push(run_clean(&binary));
    }
    outputs
}

#[test]
fn images_share_a_layer_push_only_what_changed_and_run_from_their_layers() {
    let Some(scene) = Scene::new() else { return };
    let layout_dir = scene.base.join("layout");
    let first = scene.image("team", &["--out-dir", layout_dir.to_str().unwrap()]);
    let report = finished(&first);
    // Three file sets: libstd and the group (both programs), and each program's own.
    let loaders: Vec<Vec<&str>> = report["layers"]
        .as_array()
        .unwrap()
        .iter()
        .map(|l| {
            l["loaders"]
                .as_array()
                .unwrap()
                .iter()
                .map(|n| n.as_str().unwrap())
                .collect()
        })
        .collect();
    assert_eq!(
        loaders,
        vec![
            vec!["fix-one", "fix-two"],
            vec!["fix-one", "fix-two"],
            vec!["fix-one"],
            vec!["fix-two"]
        ]
    );
    // libstd, then the group both programs load, each a layer of its own.
    let files = |i: usize| -> Vec<String> {
        report["layers"][i]["files"]
            .as_array()
            .unwrap()
            .iter()
            .map(|f| f.as_str().unwrap().rsplit('/').next().unwrap().to_string())
            .collect()
    };
    assert!(
        files(0).len() == 1 && files(0)[0].starts_with("libstd-"),
        "{:?}",
        files(0)
    );
    assert!(
        files(1)
            .iter()
            .all(|f| f.starts_with("libcargo_share_group_")),
        "{:?}",
        files(1)
    );
    // The first image sends its three layers and config; the second its own layer and config,
    // and mounts the two shared layers from the first one's repository.
    let (one, two) = (pushed(&first, "fix-one"), pushed(&first, "fix-two"));
    assert_eq!(
        (
            count(one, "blobs_pushed"),
            count(one, "blobs_present"),
            count(one, "blobs_mounted")
        ),
        (4, 0, 0),
        "{one}"
    );
    assert_eq!(
        (
            count(two, "blobs_pushed"),
            count(two, "blobs_present"),
            count(two, "blobs_mounted")
        ),
        (2, 0, 2),
        "{two}"
    );
    let outputs = run_images(&scene, "team", &first, &scene.base.join("before"));
    assert_eq!(
        outputs,
        [
            "fix-one: one#ba2719ef 42 Some(9)\n",
            "fix-two: two#be248829 be248829\n"
        ]
    );

    podman_assembles_the_pushed_images(&scene, &first);
    verify_image_checks_the_signature(&scene, &first);

    // The OCI layout directory holds the same images.
    let index: Value =
        serde_json::from_slice(&std::fs::read(layout_dir.join("index.json")).unwrap()).unwrap();
    for (entry, name) in index["manifests"]
        .as_array()
        .unwrap()
        .iter()
        .zip(["fix-one", "fix-two"])
    {
        assert_eq!(
            entry["annotations"]["org.opencontainers.image.ref.name"],
            name
        );
        assert_eq!(entry["digest"], pushed(&first, name)["manifest_digest"]);
        let hex = entry["digest"]
            .as_str()
            .unwrap()
            .trim_start_matches("sha256:");
        assert!(layout_dir.join("blobs/sha256").join(hex).is_file());
    }

    // The same inputs again: every blob is there; the manifests are the same.
    let again = scene.image("team", &[]);
    for name in ["fix-one", "fix-two"] {
        let rec = pushed(&again, name);
        assert_eq!(
            (count(rec, "blobs_pushed"), count(rec, "blob_bytes")),
            (0, 0),
            "{rec}"
        );
        assert_eq!(
            rec["manifest_digest"],
            pushed(&first, name)["manifest_digest"]
        );
    }

    // A body-only fix in fixlib: the group's layer changes; libstd's and the programs' own do not.
    let patch = format!("fixlib={}", fixture("update/patches/fixlib-body").display());
    let fixed = scene.image("team", &["--patch", &patch]);
    let fixed_layers = finished(&fixed)["layers"].as_array().unwrap().clone();
    let first_layers = report["layers"].as_array().unwrap();
    assert_ne!(fixed_layers[1]["digest"], first_layers[1]["digest"]);
    assert_eq!(fixed_layers[0], first_layers[0], "libstd's layer");
    assert_eq!(
        fixed_layers[2..],
        first_layers[2..],
        "the programs' own layers"
    );
    let (one, two) = (pushed(&fixed, "fix-one"), pushed(&fixed, "fix-two"));
    // fix-one sends the new shared layer and its config; fix-two mounts that layer and sends
    // only its config.
    assert_eq!(
        (
            count(one, "blobs_pushed"),
            count(one, "blobs_present"),
            count(one, "blobs_mounted")
        ),
        (2, 2, 0),
        "{one}"
    );
    assert_eq!(
        (
            count(two, "blobs_pushed"),
            count(two, "blobs_present"),
            count(two, "blobs_mounted")
        ),
        (1, 2, 1),
        "{two}"
    );
    assert_eq!(
        count(finished(&fixed), "blob_bytes"),
        fixed_layers[1]["size"].as_u64().unwrap()
            + [one, two]
                .iter()
                .map(|r| config_size(&scene, r))
                .sum::<u64>(),
        "one layer and two configs"
    );
    let outputs = run_images(&scene, "team", &fixed, &scene.base.join("after"));
    assert_eq!(
        outputs,
        [
            "fix-one: one#5c490e14 42 Some(9)\n",
            "fix-two: two#ba328dea ba328dea\n"
        ],
        "the unchanged binaries run the fixed code"
    );

    images_start_from_a_base(&scene);
}

/// Where podman is installed (`.ci/run` installs it; required under CI): podman pulls each
/// pushed image from the registry, creates a container of it and exports the container's file
/// system, and the program runs from that tree. (Starting the container itself needs resource
/// limits this machine's sandbox refuses, and the images have no libc without a base.) Private
/// storage, so nothing outside the scratch directory changes.
fn podman_assembles_the_pushed_images(scene: &Scene, records: &[Value]) {
    if Command::new("podman").arg("--version").output().is_err() {
        assert!(
            std::env::var("CI").is_err(),
            "podman is required under CI (`.ci/run` installs it)"
        );
        eprintln!("podman is not installed: the podman check is skipped");
        return;
    }
    let storage = scene.base.join("podman");
    let podman = |args: &[&str]| {
        let out = run_ok(
            Command::new("podman")
                .arg("--root")
                .arg(storage.join("root"))
                .arg("--runroot")
                .arg(storage.join("run"))
                .args(args),
        );
        String::from_utf8_lossy(&out.stdout).trim().to_string()
    };
    for (name, expected) in [
        ("fix-one", "fix-one: one#ba2719ef 42 Some(9)\n"),
        ("fix-two", "fix-two: two#be248829 be248829\n"),
    ] {
        let image = format!(
            "127.0.0.1:{}/team/{name}@{}",
            scene.registry.port,
            pushed(records, name)["manifest_digest"].as_str().unwrap()
        );
        podman(&["pull", "-q", "--tls-verify=false", &image]);
        let entrypoint = podman(&[
            "image",
            "inspect",
            "--format",
            "{{.Config.Entrypoint}}",
            &image,
        ]);
        assert_eq!(entrypoint, format!("[/{PREFIX}/bin/{name}]"));
        let container = podman(&["create", &image]);
        let rootfs = scene.base.join("podman-rootfs").join(name);
        std::fs::create_dir_all(&rootfs).unwrap();
        let tar = rootfs.with_extension("tar");
        podman(&["export", "-o", tar.to_str().unwrap(), &container]);
        podman(&["rm", &container]);
        run_ok(
            Command::new("tar")
                .arg("-xf")
                .arg(&tar)
                .arg("-C")
                .arg(&rootfs),
        );
        assert_eq!(
            run_clean(&rootfs.join(PREFIX).join("bin").join(name)),
            expected
        );
    }
}

/// `cargo share verify-image` accepts each image with the signer's public key, by tag and by
/// digest, and refuses it with another key.
fn verify_image_checks_the_signature(scene: &Scene, records: &[Value]) {
    let cmd = |image: &str, key: &str| {
        let mut c = Command::new(env!("CARGO_BIN_EXE_cargo-share"));
        c.args(["verify-image", "--json", image, "--trusted-key"])
            .arg(scene.base.join("keys").join(key));
        c
    };
    let digest = pushed(records, "fix-one")["manifest_digest"]
        .as_str()
        .unwrap();
    let host = format!("127.0.0.1:{}", scene.registry.port);
    for image in [
        format!("{host}/team/fix-one:0.1.0"),
        format!("{host}/team/fix-one@{digest}"),
    ] {
        let out = run_ok(&mut cmd(&image, "ci.pub"));
        let record: Value = serde_json::from_slice(&out.stdout).unwrap();
        assert_eq!(
            (
                &record["reason"],
                &record["signer"],
                &record["manifest_digest"]
            ),
            (&json!("image-verified"), &json!("ci"), &json!(digest)),
            "{record}"
        );
    }
    run_ok(
        Command::new(env!("CARGO_BIN_EXE_cargo-share"))
            .args(["key", "generate", "stranger", "--out"])
            .arg(scene.base.join("keys")),
    );
    let out = cmd(&format!("{host}/team/fix-one:0.1.0"), "stranger.pub")
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        !out.status.success() && err.contains("not among the trusted keys"),
        "{err}"
    );
}

/// The size of the config of the image `rec` reports.
fn config_size(scene: &Scene, rec: &Value) -> u64 {
    let name = rec["name"].as_str().unwrap();
    let bytes = scene
        .client()
        .get_manifest(
            &format!("team/{name}"),
            rec["manifest_digest"].as_str().unwrap(),
        )
        .unwrap()
        .unwrap();
    let manifest: Value = serde_json::from_slice(&bytes).unwrap();
    manifest["config"]["size"].as_u64().unwrap()
}

/// A base image pushed to the registry: one layer holding `etc/base-marker`, an environment and
/// a command (which the program images must drop). Returns its reference.
fn push_base(scene: &Scene) -> String {
    let client = scene.client();
    let tar = reproducible_tar(
        &[
            TreeEntry {
                path: "etc".into(),
                kind: TreeEntryKind::Dir,
                mode: 0o755,
            },
            TreeEntry {
                path: "etc/base-marker".into(),
                kind: TreeEntryKind::Data(b"from the base\n".to_vec()),
                mode: 0o644,
            },
        ],
        0,
    )
    .unwrap();
    let layer = gzip(&tar).unwrap();
    let digest = |b: &[u8]| format!("sha256:{}", cargo_share_compile::digest::sha256_hex(b));
    let config = serde_json::to_vec(&json!({
        "architecture": cargo_share_cache::image::base::oci_architecture(),
        "os": "linux",
        "config": {"Env": ["PATH=/usr/bin:/bin", "LANG=C.UTF-8"], "Cmd": ["sh"]},
        "rootfs": {"type": "layers", "diff_ids": [digest(&tar)]},
    }))
    .unwrap();
    let manifest = serde_json::to_vec(&json!({
        "schemaVersion": 2,
        "mediaType": "application/vnd.oci.image.manifest.v1+json",
        "config": {"mediaType": "application/vnd.oci.image.config.v1+json",
                   "digest": digest(&config), "size": config.len()},
        "layers": [{"mediaType": "application/vnd.oci.image.layer.v1.tar+gzip",
                    "digest": digest(&layer), "size": layer.len()}],
    }))
    .unwrap();
    client
        .put_blob("base/tiny", &digest(&layer), &layer)
        .unwrap();
    client
        .put_blob("base/tiny", &digest(&config), &config)
        .unwrap();
    client
        .put_manifest(
            "base/tiny",
            "1",
            "application/vnd.oci.image.manifest.v1+json",
            &manifest,
        )
        .unwrap();
    format!("127.0.0.1:{}/base/tiny:1", scene.registry.port)
}

fn images_start_from_a_base(scene: &Scene) {
    let base = push_base(scene);
    let records = scene.image("based", &["--base", &base]);
    let one = pushed(&records, "fix-one");
    // The base's layer is mounted from its repository, not sent.
    assert_eq!(count(one, "blobs_mounted"), 1, "{one}");
    let dir = scene.base.join("based");
    let manifest = scene.pull_and_unpack(
        "based/fix-one",
        "0.1.0",
        one["manifest_digest"].as_str().unwrap(),
        &dir,
    );
    assert_eq!(manifest["layers"].as_array().unwrap().len(), 4);
    assert!(
        manifest["annotations"]["org.opencontainers.image.base.digest"]
            .as_str()
            .unwrap()
            .starts_with("sha256:")
    );
    assert_eq!(
        std::fs::read_to_string(dir.join("etc/base-marker")).unwrap(),
        "from the base\n"
    );
    let client = scene.client();
    let config = client
        .get_blob(
            "based/fix-one",
            manifest["config"]["digest"].as_str().unwrap(),
            manifest["config"]["size"].as_u64().unwrap(),
        )
        .unwrap();
    let config: Value = serde_json::from_slice(&config).unwrap();
    assert_eq!(
        config["config"]["Env"],
        json!([format!("PATH=/{PREFIX}/bin:/usr/bin:/bin"), "LANG=C.UTF-8"])
    );
    assert_eq!(
        config["config"]["Entrypoint"],
        json!([format!("/{PREFIX}/bin/fix-one")])
    );
    assert!(config["config"].get("Cmd").is_none(), "{config}");
    assert_eq!(config["rootfs"]["diff_ids"].as_array().unwrap().len(), 4);
    assert_eq!(
        run_clean(&dir.join(PREFIX).join("bin/fix-one")),
        "fix-one: one#ba2719ef 42 Some(9)\n"
    );
}

/// The layer digests of each image in the OCI layout `dir` (`--out-dir`), by program.
fn layout_layers(dir: &Path) -> BTreeMap<String, Vec<String>> {
    let json = |path: PathBuf| -> Value {
        serde_json::from_slice(&std::fs::read(&path).unwrap()).unwrap_or_else(|e| {
            panic!("{}: {e}", path.display());
        })
    };
    let blob = |digest: &str| dir.join("blobs/sha256").join(&digest["sha256:".len()..]);
    let index = json(dir.join("index.json"));
    index["manifests"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| {
            let name = m["annotations"]["org.opencontainers.image.ref.name"]
                .as_str()
                .unwrap()
                .to_string();
            let manifest = json(blob(m["digest"].as_str().unwrap()));
            let layers = manifest["layers"]
                .as_array()
                .unwrap()
                .iter()
                .map(|l| l["digest"].as_str().unwrap().to_string())
                .collect();
            (name, layers)
        })
        .collect()
}

/// With `fix-three`, which loads fixlib only, fixlib is a group of its own and fixuser (compiled
/// against it) a second group that loads the first. A body-only fix in fixlib
/// (`patches/fixlib-message`) compiles fixuser again and makes fixlib's group import two of
/// libstd's functions fixuser's group and fix-one import too, which lld would give those two
/// links' GOT slots in fixlib's order; linked with their imports in name order, fixuser's group
/// and fix-one stay the same bytes, so the fix changes one layer, fixlib's group's. Written to
/// OCI layouts (`--out-dir`): no registry needed.
#[test]
fn a_fix_changes_one_layer_though_the_group_depending_on_it_is_compiled_again() {
    let (_scratch, base) = scratch_with_directory_source("update/registry");
    let image = |out: &str, extra: &[&str]| {
        let mut cmd = cargo_share(&base);
        cmd.current_dir(&base)
            .args(["image", "-q", "--group-min-size", "0"]);
        for program in ["fix-one", "fix-two", "fix-three"] {
            cmd.arg("--manifest-path")
                .arg(fixture(&format!("update/{program}")));
        }
        run_ok(cmd.arg("--out-dir").arg(base.join(out)).args(extra));
        layout_layers(&base.join(out))
    };
    let before = image("before", &[]);
    let patch = format!(
        "fixlib={}",
        fixture("update/patches/fixlib-message").display()
    );
    let after = image("after", &["--patch", &patch]);
    // Two groups: libstd, fixlib's group and fixuser's, then the program's own layer.
    let counts: Vec<usize> = before.values().map(Vec::len).collect();
    assert_eq!(counts, [4, 3, 4], "fix-one, fix-three, fix-two: {before:?}");
    let digests = |images: &BTreeMap<String, Vec<String>>| -> BTreeSet<String> {
        images.values().flatten().cloned().collect()
    };
    let changed: Vec<String> = digests(&after)
        .difference(&digests(&before))
        .cloned()
        .collect();
    assert_eq!(changed.len(), 1, "layers changed: {changed:?}");
    for layers in after.values() {
        assert!(
            layers.contains(&changed[0]),
            "the changed layer is fixlib's group, which every image holds: {after:?}"
        );
    }
}
