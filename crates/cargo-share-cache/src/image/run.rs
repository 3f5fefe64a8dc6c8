//! `cargo share image`: build the programs together, partition their files into sets by the
//! programs that load them, and ship one image per program whose layers are those sets.

use std::collections::BTreeMap;
use std::path::PathBuf;

use anyhow::{bail, Context, Result};
use serde::Serialize;

use crate::cache::{CacheUrl, OciRegistry, SecretKey};
use crate::image::base::{fetch_base, BaseImage};
use crate::image::compose::{build_layers, compose, BuiltLayer, ProgramImage};
use crate::image::publish::{push_image, write_layout, PushedImage};
use cargo_share_core::build::BuildOptions;
use cargo_share_core::layout::{build_closures, checked_prefix, partition, source_date_epoch};
use cargo_share_core::message::{Message, Report};
use cargo_share_core::shell::{human_bytes, Shell};

/// The prefix the programs' files go under in an image (`PREFIX/bin`, `PREFIX/lib`).
pub const DEFAULT_PREFIX: &str = "opt/cargo-share";

/// `cargo share image` options.
#[derive(Debug, Clone)]
pub struct ImageOptions {
    pub build: BuildOptions,
    /// `oci://HOST[:PORT]/PATH`: push `PATH/PROGRAM:VERSION` there.
    pub to: Option<String>,
    /// Write an OCI image layout directory.
    pub out_dir: Option<PathBuf>,
    /// The base image reference.
    pub base: Option<String>,
    pub sign_key: Option<PathBuf>,
    pub prefix: String,
    pub insecure: bool,
}

/// What `image` did.
#[derive(Debug, Clone, Serialize)]
pub struct ImageReport {
    /// Every layer made from the programs' files (the base's are not listed).
    pub(crate) layers: Vec<BuiltLayer>,
    /// One record per image pushed (empty without `--to`).
    #[serde(serialize_with = "cargo_share_core::message::pushed_images")]
    pub(crate) pushed: Vec<PushedImage>,
    /// Per program, the digest of its image manifest.
    pub(crate) images: BTreeMap<String, String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) base_digest: Option<String>,
    /// Bytes of blobs uploaded over every image.
    pub(crate) blob_bytes: u64,
}

pub fn image(opts: &ImageOptions, shell: &Shell) -> Result<ImageReport> {
    if opts.to.is_none() && opts.out_dir.is_none() {
        bail!(
            "cargo share image needs somewhere to put the images: --to oci://HOST[:PORT]/PATH (a \
             registry) and/or --out-dir DIR (an OCI image layout directory)"
        );
    }
    // Everything that can be refused is checked before the build, which takes minutes.
    let url = opts.to.as_deref().map(CacheUrl::parse).transpose()?;
    let remote = url
        .as_ref()
        .map(|u| OciRegistry::new(u, opts.insecure))
        .transpose()?;
    if let Some(remote) = &remote {
        remote.check_reachable()?;
    }
    let key = opts.sign_key.as_deref().map(SecretKey::read).transpose()?;
    let mtime = source_date_epoch()?;
    checked_prefix(&opts.prefix).context("--prefix")?;
    let base = match &opts.base {
        Some(b) => {
            let base = fetch_base(b, opts.insecure)?;
            shell.status(
                "Base",
                format!(
                    "{} ({}, {} layers)",
                    base.reference,
                    base.manifest_digest,
                    base.layers.len()
                ),
            );
            Some(base)
        }
        None => None,
    };
    let (_scratch, closures) = build_closures(&opts.build, "image-build-", shell)?;
    let layers = build_layers(&partition(&closures)?, &opts.prefix, mtime)?;
    say_layers(&layers, shell);
    let images = closures
        .iter()
        .map(|c| compose(c, base.as_ref(), &layers, &opts.prefix, mtime, key.as_ref()))
        .collect::<Result<Vec<_>>>()?;
    let mut report = ImageReport {
        pushed: Vec::new(),
        images: images
            .iter()
            .map(|i| (i.name.clone(), i.manifest_digest()))
            .collect(),
        base_digest: base.as_ref().map(|b| b.manifest_digest.clone()),
        blob_bytes: 0,
        layers: Vec::new(),
    };
    if let Some(dir) = &opts.out_dir {
        write_layout(dir, &images, &layers, base.as_ref())?;
        shell.status(
            "Wrote",
            format!("{} images to {}", images.len(), dir.display()),
        );
    }
    if let (Some(url), Some(remote)) = (&url, &remote) {
        report.pushed = push_all(remote, url, &images, &layers, base.as_ref(), shell)?;
        report.blob_bytes = report.pushed.iter().map(|p| p.blob_bytes).sum();
    }
    report.layers = layers;
    shell.message(&Message::ImageFinished(Report::of(&report)));
    Ok(report)
}

fn say_layers(layers: &[BuiltLayer], shell: &Shell) {
    for l in layers {
        let names: Vec<&str> = l.loaders.iter().map(String::as_str).collect();
        shell.status(
            "Layer",
            format!(
                "{} files of {}: {} ({})",
                l.files.len(),
                names.join(", "),
                human_bytes(l.size),
                &l.digest[..19]
            ),
        );
    }
}

/// Push every image, in order, each blob at most once to the registry (later images mount what
/// earlier ones pushed).
fn push_all(
    remote: &OciRegistry,
    url: &CacheUrl,
    images: &[ProgramImage],
    layers: &[BuiltLayer],
    base: Option<&BaseImage>,
    shell: &Shell,
) -> Result<Vec<PushedImage>> {
    // Blobs a repository of the registry has: the base's layers, if it is on the same one.
    let mut known: BTreeMap<String, String> = base
        .iter()
        .filter(|b| b.reference.host == url.host)
        .flat_map(|b| {
            b.layers
                .iter()
                .map(|l| (l.digest.clone(), b.reference.repository.clone()))
        })
        .collect();
    let mut out = Vec::new();
    for image in images {
        let pushed = push_image(remote, url, image, layers, base, &mut known)?;
        shell.status(
            "Pushed",
            format!(
                "{} ({} blobs sent, {}; {} there already, {} mounted)",
                pushed.image,
                pushed.blobs_pushed,
                human_bytes(pushed.blob_bytes),
                pushed.blobs_present,
                pushed.blobs_mounted
            ),
        );
        shell.message(&Message::ImagePushed(Report::of(&pushed)));
        out.push(pushed);
    }
    Ok(out)
}
