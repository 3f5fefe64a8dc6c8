//! Images to a registry (`--to`) or to an OCI image layout directory (`--out-dir`).
//!
//! To a registry, per image: each layer the repository lacks (a `HEAD` first), then the config,
//! then the manifest under the version's tag: whatever a tag names is complete. Each program has
//! a repository of its own, and a registry answers for a blob per repository, so a layer another
//! image of the run holds (the shared sets), or the base's repository on the same registry
//! holds, is *mounted* from there (an OCI cross-repository mount: no bytes sent); only a layer
//! no repository of the run has is uploaded (a base's is copied from its registry, checked
//! against its digest). A layer the registry has is never sent again, so an unchanged file set
//! costs a `HEAD` or a mount.

use std::collections::BTreeMap;
use std::path::Path;

use anyhow::{Context, Result};
use serde::Serialize;

use crate::cache::{CacheUrl, Remote};
use crate::image::base::{fetch_checked, BaseImage, OCI_MANIFEST};
use crate::image::compose::{BuiltLayer, LayerRef, ProgramImage};

/// What pushing one image did.
#[derive(Debug, Clone, Default, Serialize)]
pub(crate) struct PushedImage {
    pub(crate) name: String,
    pub(crate) version: String,
    /// `HOST/REPOSITORY:TAG`.
    pub(crate) image: String,
    pub(crate) manifest_digest: String,
    /// Blobs (layers and config) uploaded, found already there, mounted from the base's
    /// repository.
    pub(crate) blobs_pushed: usize,
    pub(crate) blobs_present: usize,
    pub(crate) blobs_mounted: usize,
    /// Bytes of blobs uploaded.
    pub(crate) blob_bytes: u64,
}

/// A blob of an image: where its bytes come from.
enum BlobSource<'a> {
    Bytes(&'a [u8]),
    Base(&'a BaseImage),
}

impl BlobSource<'_> {
    /// The blob's bytes: ours, or the base's fetched from its registry and checked.
    fn bytes(&self, digest: &str, size: u64) -> Result<Vec<u8>> {
        match self {
            BlobSource::Bytes(b) => Ok(b.to_vec()),
            BlobSource::Base(b) => fetch_checked(
                &b.registry,
                &b.reference.repository,
                digest,
                size,
                "the base image",
            ),
        }
    }
}

/// The blobs of `image`, layers in order, then the config: digest, size, source.
fn blobs_of<'a>(
    image: &'a ProgramImage,
    layers: &'a [BuiltLayer],
    base: Option<&'a BaseImage>,
) -> Result<Vec<(String, u64, BlobSource<'a>)>> {
    let mut out = Vec::new();
    for r in &image.layers {
        match *r {
            LayerRef::Built(i) => {
                let l = &layers[i];
                out.push((l.digest.clone(), l.size, BlobSource::Bytes(&l.bytes)));
            }
            LayerRef::Base(i) => {
                let b = base.context("internal: a base layer without a base")?;
                let l = &b.layers[i];
                out.push((l.digest.clone(), l.size, BlobSource::Base(b)));
            }
        }
    }
    out.push((
        image.config_digest(),
        image.config.len() as u64,
        BlobSource::Bytes(&image.config),
    ));
    Ok(out)
}

/// Push `image` to `PATH/NAME:VERSION` of `remote`. `known` maps a blob's digest to a
/// repository of `remote` that has it (filled as images are pushed; the base's layers are there
/// from the start when the base is on the same registry).
pub(crate) fn push_image(
    remote: &dyn Remote,
    url: &CacheUrl,
    image: &ProgramImage,
    layers: &[BuiltLayer],
    base: Option<&BaseImage>,
    known: &mut BTreeMap<String, String>,
) -> Result<PushedImage> {
    let repository = url.image_repository(&image.name);
    let mut report = PushedImage {
        name: image.name.clone(),
        version: image.version.clone(),
        image: format!("{}/{repository}:{}", url.host, image.tag()),
        manifest_digest: image.manifest_digest(),
        ..Default::default()
    };
    for (digest, size, source) in blobs_of(image, layers, base)? {
        if remote.has_blob(&repository, &digest)? {
            report.blobs_present += 1;
            known.insert(digest, repository.clone());
            continue;
        }
        if let Some(from) = known.get(&digest) {
            if remote.mount_blob(&repository, &digest, from)? {
                report.blobs_mounted += 1;
                continue;
            }
        }
        let bytes = source.bytes(&digest, size)?;
        remote.put_blob(&repository, &digest, &bytes)?;
        report.blobs_pushed += 1;
        report.blob_bytes += bytes.len() as u64;
        known.insert(digest, repository.clone());
    }
    remote.put_manifest(&repository, &image.tag(), OCI_MANIFEST, &image.manifest)?;
    Ok(report)
}

/// Write the images into the OCI image layout `dir` (`oci-layout`, `blobs/sha256/HEX`,
/// `index.json` naming each image by its program's name, `org.opencontainers.image.ref.name`).
/// Blobs already there are kept; the index names this run's images.
pub(crate) fn write_layout(
    dir: &Path,
    images: &[ProgramImage],
    layers: &[BuiltLayer],
    base: Option<&BaseImage>,
) -> Result<()> {
    let blobs = dir.join("blobs/sha256");
    std::fs::create_dir_all(&blobs).with_context(|| format!("creating {}", blobs.display()))?;
    let mut index = Vec::new();
    for image in images {
        let mut all = blobs_of(image, layers, base)?;
        all.push((
            image.manifest_digest(),
            image.manifest.len() as u64,
            BlobSource::Bytes(&image.manifest),
        ));
        for (digest, size, source) in all {
            let path = blobs.join(digest.trim_start_matches("sha256:"));
            if path.is_file() {
                continue;
            }
            let bytes = source.bytes(&digest, size)?;
            write_atomically(&path, &bytes)?;
        }
        index.push(serde_json::json!({
            "mediaType": OCI_MANIFEST,
            "digest": image.manifest_digest(),
            "size": image.manifest.len(),
            "annotations": {"org.opencontainers.image.ref.name": image.name},
        }));
    }
    let index = serde_json::json!({
        "schemaVersion": 2,
        "mediaType": "application/vnd.oci.image.index.v1+json",
        "manifests": index,
    });
    write_atomically(
        &dir.join("oci-layout"),
        br#"{"imageLayoutVersion":"1.0.0"}"#,
    )?;
    write_atomically(&dir.join("index.json"), &serde_json::to_vec(&index)?)
}

fn write_atomically(path: &Path, bytes: &[u8]) -> Result<()> {
    let tmp = path.with_extension("cargo-share-tmp");
    std::fs::write(&tmp, bytes).with_context(|| format!("writing {}", tmp.display()))?;
    std::fs::rename(&tmp, path).with_context(|| format!("writing {}", path.display()))
}
