//! From file sets to images: one reproducible layer per set, and per program an OCI image
//! config and manifest (image spec 1.1) whose layers are the base's, the shared sets it loads
//! (those loaded by the most programs first) and its own set.
//!
//! Configs and manifests are written as JSON objects with sorted keys (`serde_json`'s map), so
//! the same inputs give the same digests. A manifest signed with `--sign-key` carries the
//! binary cache's kind of signature (ed25519, `cache::SecretKey`) in its annotations, over
//! [`signed_message`]: the program and version, the config's digest, each layer's digest and
//! size and the base's manifest digest. [`verify_image`] checks it.

use std::collections::BTreeSet;

use anyhow::{Context, Result};
use serde::Serialize;
use serde_json::{json, Value};

use crate::cache::{check_signature, PublicKey, SecretKey};
use crate::image::base::{oci_architecture, BaseImage, OCI_LAYER_GZIP, OCI_MANIFEST};
use cargo_share_compile::digest::sha256_hex;
use cargo_share_core::layout::{
    canonical_copies, gzip, lay_out, reproducible_tar, rfc3339, FileSet, ProgramClosure,
};

const OCI_CONFIG: &str = "application/vnd.oci.image.config.v1+json";
/// The manifest annotation holding `KEY-NAME:BASE64-SIGNATURE`.
pub(crate) const SIGNATURE: &str = "dev.cargo-share.signature";
/// The layer annotation naming the programs that load the layer's files.
const LOADERS: &str = "dev.cargo-share.programs";
const DEFAULT_PATH: &str = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

/// One layer made from a file set.
#[derive(Debug, Clone, Serialize)]
pub struct BuiltLayer {
    /// Digest and size of the compressed blob.
    pub digest: String,
    pub size: u64,
    /// Digest of the uncompressed tar (the config's `diff_ids`).
    pub(crate) diff_id: String,
    pub(crate) loaders: BTreeSet<String>,
    /// The paths it holds (files only).
    pub(crate) files: Vec<String>,
    #[serde(skip)]
    pub(crate) bytes: Vec<u8>,
}

/// A layer of a program's image: one of the base's (by index) or a built one.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum LayerRef {
    Base(usize),
    Built(usize),
}

/// One program's image, ready to push or write.
#[derive(Debug, Clone)]
pub struct ProgramImage {
    pub(crate) name: String,
    pub(crate) version: String,
    pub(crate) layers: Vec<LayerRef>,
    pub config: Vec<u8>,
    pub manifest: Vec<u8>,
}

impl ProgramImage {
    pub fn config_digest(&self) -> String {
        format!("sha256:{}", sha256_hex(&self.config))
    }
    pub fn manifest_digest(&self) -> String {
        format!("sha256:{}", sha256_hex(&self.manifest))
    }
    /// The tag the image is pushed under: its version (`+` is not allowed in tags: `_`).
    pub(crate) fn tag(&self) -> String {
        self.version.replace('+', "_")
    }
}

/// Each set's canonical run-time copies (`layout::canonical`) laid out under `prefix`, archived
/// with every time `mtime`, compressed.
pub fn build_layers(sets: &[FileSet], prefix: &str, mtime: u64) -> Result<Vec<BuiltLayer>> {
    let scratch = tempfile::Builder::new()
        .prefix("cargo-share-image-")
        .tempdir()
        .context("creating a temporary directory for the layers' files")?;
    sets.iter()
        .enumerate()
        .map(|(i, set)| {
            let mut set = set.clone();
            canonical_copies(&mut set, &scratch.path().join(i.to_string()))?;
            let entries = lay_out(&set, prefix)?;
            let tar = reproducible_tar(&entries, mtime)?;
            let bytes = gzip(&tar)?;
            let mut files: Vec<String> = entries
                .iter()
                .filter(|e| !matches!(e.kind, cargo_share_core::layout::TreeEntryKind::Dir))
                .map(|e| e.path.clone())
                .collect();
            files.sort();
            Ok(BuiltLayer {
                digest: format!("sha256:{}", sha256_hex(&bytes)),
                size: bytes.len() as u64,
                diff_id: format!("sha256:{}", sha256_hex(&tar)),
                loaders: set.loaders.clone(),
                files,
                bytes,
            })
        })
        .collect()
}

/// The image of `program`: `base`'s layers, then every built layer it loads.
pub fn compose(
    program: &ProgramClosure,
    base: Option<&BaseImage>,
    layers: &[BuiltLayer],
    prefix: &str,
    mtime: u64,
    key: Option<&SecretKey>,
) -> Result<ProgramImage> {
    let mut refs: Vec<LayerRef> = (0..base.map_or(0, |b| b.layers.len()))
        .map(LayerRef::Base)
        .collect();
    refs.extend(
        layers
            .iter()
            .enumerate()
            .filter(|(_, l)| l.loaders.contains(&program.name))
            .map(|(i, _)| LayerRef::Built(i)),
    );
    let ours: Vec<&BuiltLayer> = layers
        .iter()
        .filter(|l| l.loaders.contains(&program.name))
        .collect();
    let config = image_config(program, base, &ours, prefix, mtime)?;
    let config = serde_json::to_vec(&config)?;
    let config_digest = format!("sha256:{}", sha256_hex(&config));
    let mut descriptors = Vec::new();
    let mut signed_layers = Vec::new();
    for r in &refs {
        let (media_type, digest, size, loaders) = match *r {
            LayerRef::Base(i) => {
                let l = &base
                    .context("internal: a base layer without a base")?
                    .layers[i];
                (l.media_type.as_str(), &l.digest, l.size, None)
            }
            LayerRef::Built(i) => {
                let l = &layers[i];
                (OCI_LAYER_GZIP, &l.digest, l.size, Some(&l.loaders))
            }
        };
        let mut d = json!({"mediaType": media_type, "digest": digest, "size": size});
        if let Some(loaders) = loaders {
            let names: Vec<&str> = loaders.iter().map(String::as_str).collect();
            d["annotations"] = json!({ LOADERS: names.join(",") });
        }
        descriptors.push(d);
        signed_layers.push((digest.clone(), size));
    }
    let base_digest = base.map(|b| b.manifest_digest.clone());
    let mut annotations = json!({
        "org.opencontainers.image.title": program.name,
        "org.opencontainers.image.version": program.version,
    });
    if let Some(b) = base {
        annotations["org.opencontainers.image.base.name"] = json!(b.reference.to_string());
        annotations["org.opencontainers.image.base.digest"] = json!(b.manifest_digest);
    }
    if let Some(key) = key {
        let message = signed_message(
            &program.name,
            &program.version,
            &config_digest,
            &signed_layers,
            base_digest.as_deref(),
        );
        annotations[SIGNATURE] = json!(format!("{}:{}", key.name, key.sign(message.as_bytes())));
    }
    let manifest = json!({
        "schemaVersion": 2,
        "mediaType": OCI_MANIFEST,
        "config": {"mediaType": OCI_CONFIG, "digest": config_digest, "size": config.len()},
        "layers": descriptors,
        "annotations": annotations,
    });
    Ok(ProgramImage {
        name: program.name.clone(),
        version: program.version.clone(),
        layers: refs,
        config,
        manifest: serde_json::to_vec(&manifest)?,
    })
}

/// The config: the base's (every field it has kept) or a new one, for this platform, running
/// the program's binary, with its layers' `diff_ids` and history appended.
fn image_config(
    program: &ProgramClosure,
    base: Option<&BaseImage>,
    layers: &[&BuiltLayer],
    prefix: &str,
    mtime: u64,
) -> Result<Value> {
    let mut config = base.map_or_else(|| json!({}), |b| b.config.clone());
    let bin_dir = format!("/{}/bin", prefix.trim_matches('/')).replace("//", "/");
    let binary = program
        .binaries
        .keys()
        .find(|b| **b == program.name)
        .or_else(|| program.binaries.keys().next())
        .context("internal: a program without binaries")?;
    let created = rfc3339(mtime);
    config["created"] = json!(created);
    config["architecture"] = json!(oci_architecture());
    config["os"] = json!("linux");
    let run = config
        .as_object_mut()
        .context("the base image's config is not a JSON object")?
        .entry("config")
        .or_insert_with(|| json!({}));
    if !run.is_object() {
        *run = json!({});
    }
    let mut env: Vec<String> = run["Env"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|v| v.as_str().map(str::to_string))
        .collect();
    match env.iter_mut().find(|e| e.starts_with("PATH=")) {
        Some(path) => *path = format!("PATH={bin_dir}:{}", &path[5..]),
        None => env.push(format!("PATH={bin_dir}:{DEFAULT_PATH}")),
    }
    run["Env"] = json!(env);
    run["Entrypoint"] = json!([format!("{bin_dir}/{binary}")]);
    // The base's command (a shell, often) would become the program's arguments.
    run.as_object_mut().map(|o| o.remove("Cmd"));
    let labels = run
        .as_object_mut()
        .context("internal: config is an object")?
        .entry("Labels")
        .or_insert_with(|| json!({}));
    if !labels.is_object() {
        *labels = json!({});
    }
    labels["org.opencontainers.image.title"] = json!(program.name);
    labels["org.opencontainers.image.version"] = json!(program.version);
    if !config["rootfs"].is_object() {
        config["rootfs"] = json!({"type": "layers", "diff_ids": []});
    }
    let mut diff_ids = config["rootfs"]["diff_ids"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    diff_ids.extend(layers.iter().map(|l| json!(l.diff_id)));
    config["rootfs"]["diff_ids"] = json!(diff_ids);
    // History stays one entry per layer: added to where the base keeps it, or begun when
    // there is no base.
    if base.is_none() || config["history"].is_array() {
        let mut history = config["history"].as_array().cloned().unwrap_or_default();
        history.extend(layers.iter().map(|l| {
            let names: Vec<&str> = l.loaders.iter().map(String::as_str).collect();
            json!({"created": created, "created_by": format!("cargo share image: files of {}", names.join(", "))})
        }));
        config["history"] = json!(history);
    }
    Ok(config)
}

/// What an image signature covers, one field a line.
pub(crate) fn signed_message(
    name: &str,
    version: &str,
    config_digest: &str,
    layers: &[(String, u64)],
    base_digest: Option<&str>,
) -> String {
    let mut m =
        format!("cargo-share signed image v1\nprogram {name} {version}\nconfig {config_digest}\n");
    for (digest, size) in layers {
        m.push_str(&format!("layer {digest} {size}\n"));
    }
    if let Some(b) = base_digest {
        m.push_str(&format!("base {b}\n"));
    }
    m
}

/// Check the signature of an image manifest against `trusted` keys; returns the signer's name.
pub fn verify_image(manifest: &[u8], trusted: &[PublicKey]) -> Result<String> {
    let v: Value = serde_json::from_slice(manifest).context("the manifest is not JSON")?;
    let a = &v["annotations"];
    let text = |key: &str| a[key].as_str().map(str::to_string);
    let (name, version) = (
        text("org.opencontainers.image.title").unwrap_or_default(),
        text("org.opencontainers.image.version").unwrap_or_default(),
    );
    let what = format!("the image of {name} v{version}");
    let signature = text(SIGNATURE)
        .with_context(|| format!("{what} is unsigned; refused (nothing unsigned is trusted)"))?;
    let (signer, signature) = signature
        .split_once(':')
        .with_context(|| format!("{what} has a malformed signature; refused"))?;
    let layers: Vec<(String, u64)> = v["layers"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|l| {
            (
                l["digest"].as_str().unwrap_or_default().to_string(),
                l["size"].as_u64().unwrap_or(0),
            )
        })
        .collect();
    let message = signed_message(
        &name,
        &version,
        v["config"]["digest"].as_str().unwrap_or_default(),
        &layers,
        text("org.opencontainers.image.base.digest").as_deref(),
    );
    check_signature(trusted, signer, signature, &message, &name, &version, &what)?;
    Ok(signer.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeMap;
    use std::path::PathBuf;

    fn layer(loaders: &[&str], digest: char) -> BuiltLayer {
        BuiltLayer {
            digest: format!("sha256:{}", digest.to_string().repeat(64)),
            size: 10,
            diff_id: format!("sha256:{}", "d".repeat(64)),
            loaders: loaders.iter().map(|s| s.to_string()).collect(),
            files: vec![],
            bytes: vec![],
        }
    }

    #[test]
    fn an_image_takes_the_layers_its_program_loads_and_its_signature_verifies() {
        let dir = tempfile::tempdir().unwrap();
        let (secret, public) = crate::cache::keys::generate("ci", dir.path()).unwrap();
        let key = SecretKey::read(&secret).unwrap();
        let program = ProgramClosure {
            name: "web".into(),
            version: "1.2.0+meta".into(),
            binaries: BTreeMap::from([("web".to_string(), PathBuf::from("bin/web"))]),
            libraries: BTreeMap::new(),
        };
        let layers = [
            layer(&["cli", "web"], 'a'),
            layer(&["cli"], 'b'),
            layer(&["web"], 'c'),
        ];
        let image = compose(&program, None, &layers, "opt/app", 0, Some(&key)).unwrap();
        assert_eq!(image.layers, vec![LayerRef::Built(0), LayerRef::Built(2)]);
        assert_eq!(image.tag(), "1.2.0_meta");
        let config: Value = serde_json::from_slice(&image.config).unwrap();
        assert_eq!(config["config"]["Entrypoint"], json!(["/opt/app/bin/web"]));
        assert_eq!(config["rootfs"]["diff_ids"].as_array().unwrap().len(), 2);
        assert_eq!(config["history"].as_array().unwrap().len(), 2);
        // Valid by the image spec's own types.
        oci_spec::image::ImageManifest::from_reader(&image.manifest[..]).unwrap();
        oci_spec::image::ImageConfiguration::from_reader(&image.config[..]).unwrap();
        let trusted = [PublicKey::read(&public).unwrap()];
        assert_eq!(verify_image(&image.manifest, &trusted).unwrap(), "ci");
        // Another layer list (a swapped digest) no longer verifies.
        let altered = String::from_utf8(image.manifest.clone())
            .unwrap()
            .replace(&"c".repeat(64), &"e".repeat(64));
        assert!(verify_image(altered.as_bytes(), &trusted).is_err());
        // The same inputs, the same bytes.
        let again = compose(&program, None, &layers, "opt/app", 0, Some(&key)).unwrap();
        assert_eq!(again.manifest_digest(), image.manifest_digest());
    }
}
