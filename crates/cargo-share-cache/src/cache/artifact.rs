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

use anyhow::{bail, Context, Result};
use oci_spec::image::{Descriptor, ImageManifest, ImageManifestBuilder, MediaType};

use crate::cache::keys::{PublicKey, SecretKey};
use crate::cache::remote::Remote;
use cargo_share_compile::digest::sha256_hex;
use cargo_share_core::failure::Failure;

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
/// The largest file a layer may expand to, and the largest blob read (a bomb is refused, not
/// unpacked).
const FILE_LIMIT: u64 = 4 << 30;
/// The most a layer larger than [`ANY_RATIO_BELOW`] may expand: shared objects and executables
/// compress a few times at [`ZSTD_LEVEL`]; `push` refuses a file past this ratio, so that a
/// pull never does.
pub(crate) const MAX_RATIO: u64 = 1024;
/// Files up to this size may expand at any ratio (a small file of zeros is no bomb).
const ANY_RATIO_BELOW: u64 = 16 << 20;
/// The largest config blob read (a program's config holds its lockfile entries: kilobytes).
const CONFIG_LIMIT: u64 = 64 << 20;

/// A blob to upload: its digest (`sha256:HEX`) and bytes.
pub(crate) struct Blob {
    pub(crate) digest: String,
    pub(crate) bytes: Vec<u8>,
}

/// An artifact ready to push: blobs (config first), then the manifest that makes it visible.
pub(crate) struct Prepared {
    pub(crate) blobs: Vec<Blob>,
    pub(crate) manifest: Vec<u8>,
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
pub(crate) fn prepare(
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
        check_ratio(compressed.len() as u64, bytes.len() as u64).with_context(|| {
            format!(
                "{title} ({tag}) cannot be pushed: a puller would refuse it as a decompression \
                 bomb"
            )
        })?;
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

/// One layer of a signed manifest: its title, digest and compressed size, as signed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Layer {
    pub title: String,
    pub(crate) digest: String,
    pub(crate) size: u64,
}

/// A file the caller's config names: its layer's title and, where the config gives it, its
/// exact size.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExpectedFile {
    pub title: String,
    pub size: Option<u64>,
}

/// An artifact whose manifest is signed by a trusted key, with its config fetched and checked
/// against its digest; its files are fetched by [`Signed::files`] once the caller has read the
/// config and knows which files it names.
pub struct Signed {
    pub config: Vec<u8>,
    pub layers: Vec<Layer>,
    repository: String,
    tag: String,
    what: String,
}

/// Fetch the manifest `repository:tag`, check its signature against `trusted` (every key of the
/// signer's name is tried) and fetch its config; `None` when the cache has no such artifact.
/// With `signed_as`, the signed tag must be that (an entry's identity). `what` names it in
/// errors.
pub fn fetch_signed(
    remote: &dyn Remote,
    repository: &str,
    tag: &str,
    signed_as: Option<&str>,
    artifact_type: &str,
    trusted: &[PublicKey],
    what: &str,
) -> Result<Option<Signed>> {
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
    let annotation = |key: &str| manifest.annotations().as_ref().and_then(|a| a.get(key));
    let signature = annotation(SIGNATURE).with_context(|| {
        format!("{what}: {repository}:{tag} is unsigned; refused (nothing unsigned is trusted)")
    })?;
    let (signer, signature) = signature.split_once(':').with_context(|| {
        format!("{what}: {repository}:{tag} has a malformed signature; refused")
    })?;
    let signed_tag = annotation(SIGNED_TAG)
        .with_context(|| format!("{what}: {repository}:{tag} names no signed tag; refused"))?;
    if signed_as.is_some_and(|t| t != signed_tag) {
        bail!(
            "{what}: {repository}:{tag} is signed as `{signed_tag}`, not `{tag}`: the manifest \
             was moved or altered; refused"
        );
    }
    let mut layers = Vec::new();
    for l in manifest.layers() {
        let title = l
            .annotations()
            .as_ref()
            .and_then(|a| a.get(TITLE))
            .with_context(|| format!("{what}: a layer of {repository}:{tag} has no title"))?;
        layers.push(Layer {
            title: title.clone(),
            digest: l.digest().to_string(),
            size: l.size(),
        });
    }
    let config_digest = manifest.config().digest().to_string();
    let signed: Vec<(String, String, u64)> = layers
        .iter()
        .map(|l| (l.title.clone(), l.digest.clone(), l.size))
        .collect();
    let message = signed_message(artifact_type, signed_tag, &config_digest, &signed);
    check_signature(trusted, signer, signature, &message, repository, tag, what)?;
    let titles: BTreeSet<&String> = layers.iter().map(|l| &l.title).collect();
    if titles.len() != layers.len() {
        bail!("{what}: {repository}:{tag} names a file twice; refused");
    }
    let config_size = manifest.config().size();
    if config_size > CONFIG_LIMIT {
        bail!(
            "{what}: the config of {repository}:{tag} is {config_size} bytes, more than the \
             {CONFIG_LIMIT} a cargo-share config can be; refused"
        );
    }
    let config = fetch_blob(remote, repository, &config_digest, config_size, what)?;
    Ok(Some(Signed {
        config,
        layers,
        repository: repository.to_string(),
        tag: tag.to_string(),
        what: what.to_string(),
    }))
}

/// The signature is by one of the trusted keys named `signer` (several may share a name: each
/// is tried).
pub(crate) fn check_signature(
    trusted: &[PublicKey],
    signer: &str,
    signature: &str,
    message: &str,
    repository: &str,
    tag: &str,
    what: &str,
) -> Result<()> {
    let named: Vec<&PublicKey> = trusted.iter().filter(|k| k.name == signer).collect();
    if named.is_empty() {
        return Err(Failure::Untrusted(format!(
            "{what}: {repository}:{tag} is signed by the key `{signer}`, which is not among the \
             trusted keys ({}); refused. Pass its public key with --trusted-key if you trust it",
            trusted
                .iter()
                .map(|k| format!("`{}`", k.name))
                .collect::<Vec<_>>()
                .join(", ")
        ))
        .into());
    }
    if !named
        .iter()
        .any(|k| k.verifies(message.as_bytes(), signature))
    {
        return Err(Failure::Untrusted(format!(
            "{what}: the signature of {repository}:{tag} does not verify with the trusted key \
             `{signer}` ({} key(s) of that name tried): the manifest was altered or forged; \
             refused",
            named.len()
        ))
        .into());
    }
    Ok(())
}

impl Signed {
    /// Fetch and decompress exactly the files `expected` names: the manifest must list those
    /// layers and no others (refused before anything is fetched). Each blob is read to the size
    /// the signed manifest gives (more is refused as it arrives) and checked against its
    /// digest; each file expands to the size its zstd frame declares, which must be its exact
    /// size where `expected` gives one, and within the limits of [`check_ratio`].
    pub fn files(
        &self,
        remote: &dyn Remote,
        expected: &[ExpectedFile],
    ) -> Result<Vec<(String, Vec<u8>)>> {
        let (repository, tag, what) = (&self.repository, &self.tag, &self.what);
        let listed: BTreeSet<&str> = self.layers.iter().map(|l| l.title.as_str()).collect();
        let wanted: BTreeSet<&str> = expected.iter().map(|e| e.title.as_str()).collect();
        if listed != wanted {
            bail!(
                "{what}: {repository}:{tag} has the files {listed:?}, but its config names \
                 {wanted:?}: layers besides the named files are never fetched; refused"
            );
        }
        let mut files = Vec::new();
        for e in expected {
            let layer = self.layers.iter().find(|l| l.title == e.title);
            let layer = layer.context("internal: a checked layer is missing")?;
            if layer.size > FILE_LIMIT {
                bail!(
                    "{what}: {} of {repository}:{tag} is a {} byte blob, past the 4 GiB limit; \
                     refused",
                    e.title,
                    layer.size
                );
            }
            let compressed = fetch_blob(remote, repository, &layer.digest, layer.size, what)?;
            let out = expand(&compressed, e.size).with_context(|| {
                format!("{what}: decompressing {} of {repository}:{tag}", e.title)
            })?;
            files.push((e.title.clone(), out));
        }
        Ok(files)
    }
}

/// The bytes a zstd blob expands to: exactly the size its frame header declares, which must be
/// `exact` when given and within the limits of [`check_ratio`]; the output buffer is never
/// larger than that.
fn expand(compressed: &[u8], exact: Option<u64>) -> Result<Vec<u8>> {
    let declared = zstd::zstd_safe::get_frame_content_size(compressed)
        .ok()
        .flatten()
        .context("the layer is not a zstd frame that declares its size; refused")?;
    if let Some(exact) = exact.filter(|e| *e != declared) {
        bail!("the layer declares {declared} bytes, its record says {exact}; refused");
    }
    check_ratio(compressed.len() as u64, declared)
        .context("refused: a layer that expands this far is a decompression bomb")?;
    let out = zstd::bulk::decompress(compressed, declared as usize)
        .context("the layer expands past the size it declares; refused")?;
    if out.len() as u64 != declared {
        bail!(
            "the layer expands to {} bytes, not the {declared} it declares; refused",
            out.len()
        );
    }
    Ok(out)
}

/// A file of `size` bytes compressed to `compressed` bytes is within the limits a puller
/// accepts (at most [`FILE_LIMIT`]; at most [`MAX_RATIO`] times its compressed size unless it is
/// smaller than [`ANY_RATIO_BELOW`]).
pub(crate) fn check_ratio(compressed: u64, size: u64) -> Result<()> {
    let bound = compressed.saturating_mul(MAX_RATIO).max(ANY_RATIO_BELOW);
    if size > FILE_LIMIT || size > bound {
        bail!(
            "{size} bytes from a {compressed} byte blob is past the limits (at most 4 GiB, and \
             above {ANY_RATIO_BELOW} bytes at most {MAX_RATIO} times the compressed size)"
        );
    }
    Ok(())
}

/// A blob, read to the size the signed manifest gives and checked against its digest.
fn fetch_blob(
    remote: &dyn Remote,
    repository: &str,
    digest: &str,
    size: u64,
    what: &str,
) -> Result<Vec<u8>> {
    let bytes = remote
        .get_blob(repository, digest, size)
        .with_context(|| format!("{what}: refused, nothing was installed"))?;
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
pub(crate) fn upload(
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
    cargo_share_core::store::fault::step("cache-blobs-pushed")?;
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn layers_expand_to_their_declared_size_within_the_ratio() {
        let data: Vec<u8> = (0..100_000u32).flat_map(|i| i.to_le_bytes()).collect();
        let compressed = zstd::bulk::compress(&data, ZSTD_LEVEL).unwrap();
        assert_eq!(expand(&compressed, None).unwrap(), data);
        assert_eq!(expand(&compressed, Some(data.len() as u64)).unwrap(), data);
        let err = expand(&compressed, Some(1)).unwrap_err();
        assert!(format!("{err:#}").contains("its record says 1"), "{err:#}");
        // A bomb: 64 MiB of zeros in a few kilobytes.
        let bomb = zstd::bulk::compress(&vec![0u8; 64 << 20], ZSTD_LEVEL).unwrap();
        let err = expand(&bomb, None).unwrap_err();
        assert!(format!("{err:#}").contains("decompression bomb"), "{err:#}");
        assert!(check_ratio(bomb.len() as u64, 64 << 20).is_err());
        // A frame that does not declare its size (streaming compression) is refused.
        let mut streamed = Vec::new();
        let mut enc = zstd::stream::write::Encoder::new(&mut streamed, 3).unwrap();
        enc.include_contentsize(false).unwrap();
        std::io::Write::write_all(&mut enc, &data).unwrap();
        enc.finish().unwrap();
        let err = expand(&streamed, None).unwrap_err();
        assert!(format!("{err:#}").contains("declares its size"), "{err:#}");
    }
}
