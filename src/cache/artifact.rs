//! Signed OCI artifacts: one store entry or program build as an image manifest with its own
//! `artifactType`, a config blob (JSON: what the puller checks the files against), one
//! zstd-compressed layer per file (titled with its path: `lib/FILE`, `dev/FILE`, `bin/NAME`)
//! and a signature in the manifest's annotations.
//!
//! The signature is ed25519 over [`signed_message`]: the artifact type, the tag (an entry's
//! identity), the config's digest and each layer's title, digest and size. A puller rebuilds the
//! message from the manifest it received, so an altered manifest, config or layer list fails the
//! signature, and every blob it fetches is checked against the digest the signed manifest names.

use std::collections::{BTreeSet, HashMap};
use std::io::Read;

use anyhow::{bail, Context, Result};
use oci_spec::image::{Descriptor, ImageManifest, ImageManifestBuilder, MediaType};

use crate::cache::keys::{PublicKey, SecretKey};
use crate::cache::remote::Remote;
use crate::digest::sha256_hex;

/// The `artifactType` of a store entry (a crate build, a group, the relinked libstd).
pub const ENTRY_ARTIFACT: &str = "application/vnd.cargo-share.entry.v1";
/// The `artifactType` of a program build.
pub const PROGRAM_ARTIFACT: &str = "application/vnd.cargo-share.program.v1";
const CONFIG_MEDIA_TYPE: &str = "application/vnd.cargo-share.config.v1+json";
const FILE_MEDIA_TYPE: &str = "application/vnd.cargo-share.file.v1+zstd";
const TITLE: &str = "org.opencontainers.image.title";
/// The manifest annotation holding `KEY-NAME:BASE64-SIGNATURE`.
const SIGNATURE: &str = "dev.cargo-share.signature";
/// The manifest annotation holding the signed tag (an entry's identity, a program's build tag:
/// a program's manifest is also found by its version and `latest`).
const SIGNED_TAG: &str = "dev.cargo-share.tag";
/// zstd level: within a few percent of the best ratio for shared objects at a fraction of the
/// time of the top levels; the same bytes and level give the same blob, so concurrent pushers
/// of one entry upload identical blobs.
const ZSTD_LEVEL: i32 = 9;
/// The largest file a layer may expand to (a bomb is refused, not unpacked).
const FILE_LIMIT: u64 = 4 << 30;

/// A blob to upload: its digest (`sha256:HEX`) and bytes.
pub struct Blob {
    pub digest: String,
    pub bytes: Vec<u8>,
}

/// An artifact ready to push: blobs (config first), then the manifest that makes it visible.
pub struct Prepared {
    pub blobs: Vec<Blob>,
    pub manifest: Vec<u8>,
}

/// An artifact fetched and verified: its config and its files, decompressed, by title.
pub struct Verified {
    pub config: Vec<u8>,
    pub files: Vec<(String, Vec<u8>)>,
    /// The signing key's name.
    pub signer: String,
}

fn blob(bytes: Vec<u8>) -> Blob {
    Blob {
        digest: format!("sha256:{}", sha256_hex(&bytes)),
        bytes,
    }
}

/// What is signed: one field a line.
pub fn signed_message(
    artifact_type: &str,
    tag: &str,
    config_digest: &str,
    layers: &[(String, String, u64)],
) -> String {
    let mut m = format!(
        "cargo-share signed artifact v1\ntype {artifact_type}\ntag {tag}\nconfig {config_digest}\n"
    );
    for (title, digest, size) in layers {
        m.push_str(&format!("layer {title} {digest} {size}\n"));
    }
    m
}

/// Compress, sign and lay out an artifact.
pub fn prepare(
    artifact_type: &str,
    tag: &str,
    config: Vec<u8>,
    files: Vec<(String, Vec<u8>)>,
    key: &SecretKey,
) -> Result<Prepared> {
    let config = blob(config);
    let mut blobs = Vec::new();
    let mut layers = Vec::new();
    let mut signed = Vec::new();
    for (title, bytes) in files {
        let compressed = zstd::bulk::compress(&bytes, ZSTD_LEVEL)
            .with_context(|| format!("compressing {title}"))?;
        let b = blob(compressed);
        let mut d = Descriptor::new(
            MediaType::Other(FILE_MEDIA_TYPE.into()),
            b.bytes.len() as u64,
            b.digest.parse::<oci_spec::image::Digest>()?,
        );
        d.set_annotations(Some(HashMap::from([(TITLE.to_string(), title.clone())])));
        layers.push(d);
        signed.push((title, b.digest.clone(), b.bytes.len() as u64));
        blobs.push(b);
    }
    let message = signed_message(artifact_type, tag, &config.digest, &signed);
    let signature = format!("{}:{}", key.name, key.sign(message.as_bytes()));
    let manifest = ImageManifestBuilder::default()
        .schema_version(2u32)
        .media_type(MediaType::ImageManifest)
        .artifact_type(MediaType::Other(artifact_type.into()))
        .config(Descriptor::new(
            MediaType::Other(CONFIG_MEDIA_TYPE.into()),
            config.bytes.len() as u64,
            config.digest.parse::<oci_spec::image::Digest>()?,
        ))
        .layers(layers)
        .annotations(HashMap::from([
            (SIGNATURE.to_string(), signature),
            (SIGNED_TAG.to_string(), tag.to_string()),
        ]))
        .build()?;
    blobs.insert(0, config);
    Ok(Prepared {
        blobs,
        manifest: manifest.to_string()?.into_bytes(),
    })
}

/// Fetch `repository:tag`, check its signature against `trusted` and every blob against its
/// digest; `None` when the cache has no such artifact. With `signed_as`, the signed tag must be
/// that (an entry's identity). `what` names it in errors.
pub fn fetch_verified(
    remote: &dyn Remote,
    repository: &str,
    tag: &str,
    signed_as: Option<&str>,
    artifact_type: &str,
    trusted: &[PublicKey],
    what: &str,
) -> Result<Option<Verified>> {
    let Some(bytes) = remote.get_manifest(repository, tag)? else {
        return Ok(None);
    };
    let manifest = ImageManifest::from_reader(&bytes[..])
        .with_context(|| format!("{what}: the cache's manifest {repository}:{tag} is not OCI"))?;
    let found_type = manifest.artifact_type().as_ref().map(|t| t.to_string());
    if found_type.as_deref() != Some(artifact_type) {
        bail!(
            "{what}: {repository}:{tag} is not a cargo-share artifact (artifactType {:?}, \
             expected {artifact_type}); refused",
            found_type
        );
    }
    let signature = manifest
        .annotations()
        .as_ref()
        .and_then(|a| a.get(SIGNATURE))
        .with_context(|| {
            format!("{what}: {repository}:{tag} is unsigned; refused (nothing unsigned is trusted)")
        })?;
    let (signer, signature) = signature.split_once(':').with_context(|| {
        format!("{what}: {repository}:{tag} has a malformed signature; refused")
    })?;
    let signed_tag = manifest
        .annotations()
        .as_ref()
        .and_then(|a| a.get(SIGNED_TAG))
        .with_context(|| format!("{what}: {repository}:{tag} names no signed tag; refused"))?;
    if signed_as.is_some_and(|t| t != signed_tag) {
        bail!(
            "{what}: {repository}:{tag} is signed as `{signed_tag}`, not `{tag}`: the manifest \
             was moved or altered; refused"
        );
    }
    let Some(key) = trusted.iter().find(|k| k.name == signer) else {
        bail!(
            "{what}: {repository}:{tag} is signed by the key `{signer}`, which is not among the \
             trusted keys ({}); refused. Pass its public key with --trusted-key if you trust it",
            trusted
                .iter()
                .map(|k| format!("`{}`", k.name))
                .collect::<Vec<_>>()
                .join(", ")
        );
    };
    let mut layers = Vec::new();
    for l in manifest.layers() {
        let title = l
            .annotations()
            .as_ref()
            .and_then(|a| a.get(TITLE))
            .with_context(|| format!("{what}: a layer of {repository}:{tag} has no title"))?;
        layers.push((title.clone(), l.digest().to_string(), l.size()));
    }
    let config_digest = manifest.config().digest().to_string();
    let message = signed_message(artifact_type, signed_tag, &config_digest, &layers);
    if !key.verifies(message.as_bytes(), signature) {
        bail!(
            "{what}: the signature of {repository}:{tag} does not verify with the trusted key \
             `{signer}`: the manifest was altered or forged; refused"
        );
    }
    let titles: BTreeSet<&String> = layers.iter().map(|(t, _, _)| t).collect();
    if titles.len() != layers.len() {
        bail!("{what}: {repository}:{tag} names a file twice; refused");
    }
    let config = fetch_blob(
        remote,
        repository,
        &config_digest,
        manifest.config().size(),
        what,
    )?;
    let mut files = Vec::new();
    for (title, digest, size) in layers {
        let compressed = fetch_blob(remote, repository, &digest, size, what)?;
        let mut out = Vec::new();
        zstd::stream::read::Decoder::new(&compressed[..])
            .and_then(|d| d.take(FILE_LIMIT + 1).read_to_end(&mut out))
            .with_context(|| format!("{what}: decompressing {title} of {repository}:{tag}"))?;
        if out.len() as u64 > FILE_LIMIT {
            bail!("{what}: {title} of {repository}:{tag} expands past 4 GiB; refused");
        }
        files.push((title, out));
    }
    Ok(Some(Verified {
        config,
        files,
        signer: signer.to_string(),
    }))
}

/// A blob, checked against the digest and size the signed manifest gives.
fn fetch_blob(
    remote: &dyn Remote,
    repository: &str,
    digest: &str,
    size: u64,
    what: &str,
) -> Result<Vec<u8>> {
    let bytes = remote.get_blob(repository, digest)?;
    let actual = format!("sha256:{}", sha256_hex(&bytes));
    if actual != digest || bytes.len() as u64 != size {
        bail!(
            "{what}: the blob {digest} of {repository} came back as {actual} ({} bytes, {size} \
             expected): the cache's copy is damaged; refused, nothing was installed. Push it \
             again from a store that has it",
            bytes.len()
        );
    }
    Ok(bytes)
}

/// Upload an artifact: blobs the cache lacks, then the manifest under each tag (the first tag's
/// manifest is the step that makes it visible). Returns the bytes of blobs uploaded.
pub fn upload(
    remote: &dyn Remote,
    repository: &str,
    tags: &[&str],
    prepared: &Prepared,
) -> Result<u64> {
    let mut uploaded = 0;
    for b in &prepared.blobs {
        if !remote.has_blob(repository, &b.digest)? {
            remote.put_blob(repository, &b.digest, &b.bytes)?;
            uploaded += b.bytes.len() as u64;
        }
    }
    crate::store::fault::step("cache-blobs-pushed")?;
    for tag in tags {
        remote.put_manifest(
            repository,
            tag,
            MediaType::ImageManifest.as_ref(),
            &prepared.manifest,
        )?;
    }
    Ok(uploaded)
}
