//! `--base REF`: the base image's manifest and config, read from its registry, for the
//! program images to start from (its layers first, its environment kept).
//!
//! A base named by digest (`…@sha256:HEX`) is checked against it (an index is resolved to the
//! manifest for this machine's platform, which is checked against the digest the index
//! names); one named by tag is what the registry says it is today, over HTTPS: its digest is
//! reported and written into every image (`org.opencontainers.image.base.digest`). The config
//! and every layer copied are checked against their digests.

use anyhow::{bail, Context, Result};
use serde_json::Value;

use crate::cache::{CacheUrl, OciRegistry, Remote};
use crate::image::reference::ImageRef;
use cargo_share_compile::digest::sha256_hex;

pub(crate) const OCI_MANIFEST: &str = "application/vnd.oci.image.manifest.v1+json";
const OCI_INDEX: &str = "application/vnd.oci.image.index.v1+json";
const DOCKER_MANIFEST: &str = "application/vnd.docker.distribution.manifest.v2+json";
const DOCKER_LIST: &str = "application/vnd.docker.distribution.manifest.list.v2+json";
pub(crate) const OCI_LAYER_GZIP: &str = "application/vnd.oci.image.layer.v1.tar+gzip";
/// The largest base config read.
const CONFIG_LIMIT: u64 = 8 << 20;

/// A layer of the base: its media type (Docker's names turned into OCI's), digest and size.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct BaseLayer {
    pub(crate) media_type: String,
    pub(crate) digest: String,
    pub(crate) size: u64,
}

/// The base image as read from its registry.
pub struct BaseImage {
    pub(crate) reference: ImageRef,
    /// The digest of its (platform) manifest.
    pub(crate) manifest_digest: String,
    pub(crate) layers: Vec<BaseLayer>,
    /// Its config, as JSON (kept whole: the images change only what they must).
    pub(crate) config: Value,
    pub(crate) registry: OciRegistry,
}

/// The GOARCH name of this machine's architecture (the images are built for it).
pub fn oci_architecture() -> &'static str {
    match std::env::consts::ARCH {
        "x86_64" => "amd64",
        "aarch64" => "arm64",
        "x86" => "386",
        "powerpc64" => "ppc64le",
        other => other,
    }
}

/// Read the base `text` from its registry.
pub(crate) fn fetch_base(text: &str, insecure: bool) -> Result<BaseImage> {
    let reference = ImageRef::parse(text)?;
    let registry = OciRegistry::new(
        &CacheUrl {
            host: reference.host.clone(),
            path: String::new(),
        },
        insecure,
    )?;
    let what = format!("the base image {reference}");
    let (digest, manifest) = platform_manifest(&registry, &reference, &what)?;
    let layers = base_layers(&manifest, &what)?;
    let config_desc = &manifest["config"];
    let config_digest = config_desc["digest"].as_str().unwrap_or_default();
    let config_size = config_desc["size"].as_u64().unwrap_or(0);
    if config_size > CONFIG_LIMIT {
        bail!("{what}: its config is {config_size} bytes, more than {CONFIG_LIMIT}; refused");
    }
    let config_bytes = fetch_checked(
        &registry,
        &reference.repository,
        config_digest,
        config_size,
        &what,
    )?;
    let config: Value = serde_json::from_slice(&config_bytes)
        .with_context(|| format!("{what}: its config is not JSON"))?;
    let arch = oci_architecture();
    if config["os"] != "linux" || config["architecture"] != arch {
        bail!(
            "{what} is for {}/{}, not linux/{arch}: the programs could not run on it; give a \
             base built for linux/{arch}",
            config["os"],
            config["architecture"]
        );
    }
    let diff_ids = config["rootfs"]["diff_ids"].as_array().map_or(0, Vec::len);
    if diff_ids != layers.len() {
        bail!(
            "{what}: its config lists {diff_ids} layers, its manifest {}; refused",
            layers.len()
        );
    }
    Ok(BaseImage {
        reference,
        manifest_digest: digest,
        layers,
        config,
        registry,
    })
}

/// The manifest for this platform and its digest: the one named, or the one an index names for
/// linux and this architecture.
fn platform_manifest(
    registry: &OciRegistry,
    reference: &ImageRef,
    what: &str,
) -> Result<(String, Value)> {
    let accept = [OCI_MANIFEST, OCI_INDEX, DOCKER_MANIFEST, DOCKER_LIST];
    let (media_type, bytes) =
        get_checked(registry, reference, &reference.reference, &accept, what)?;
    let value: Value = serde_json::from_slice(&bytes)
        .with_context(|| format!("{what}: the registry's manifest is not JSON"))?;
    let media_type = value["mediaType"]
        .as_str()
        .map(str::to_string)
        .unwrap_or(media_type);
    if media_type != OCI_INDEX && media_type != DOCKER_LIST {
        return Ok((format!("sha256:{}", sha256_hex(&bytes)), value));
    }
    let arch = oci_architecture();
    let chosen = platform_digest(&value, arch).with_context(|| {
        format!("{what} has no image for linux/{arch}; give a base built for it")
    })?;
    let (_, bytes) = get_checked(
        registry,
        reference,
        &chosen,
        &[OCI_MANIFEST, DOCKER_MANIFEST],
        what,
    )?;
    let value = serde_json::from_slice(&bytes)
        .with_context(|| format!("{what}: the registry's manifest is not JSON"))?;
    Ok((chosen, value))
}

/// The digest of the manifest an image index names for linux on `arch`.
fn platform_digest(index: &Value, arch: &str) -> Option<String> {
    index["manifests"]
        .as_array()?
        .iter()
        .find(|m| m["platform"]["os"] == "linux" && m["platform"]["architecture"] == arch)
        .and_then(|m| m["digest"].as_str())
        .map(str::to_string)
}

/// The manifest `repository@wanted`; when `wanted` is a digest, checked against it.
fn get_checked(
    registry: &OciRegistry,
    reference: &ImageRef,
    wanted: &str,
    accept: &[&str],
    what: &str,
) -> Result<(String, Vec<u8>)> {
    let (media_type, bytes) = registry
        .get_manifest_of_types(&reference.repository, wanted, accept)?
        .with_context(|| {
            format!("{what} is not in its registry (no manifest {wanted}): check the name and tag")
        })?;
    let actual = format!("sha256:{}", sha256_hex(&bytes));
    if wanted.starts_with("sha256:") && actual != wanted {
        bail!(
            "{what}: the registry sent a manifest whose digest is {actual}, not {wanted}; refused"
        );
    }
    Ok((media_type, bytes))
}

/// The base's layers, Docker's media types named as OCI's (the same bytes); a layer that may
/// not be redistributed (Windows' foreign layers) is refused.
fn base_layers(manifest: &Value, what: &str) -> Result<Vec<BaseLayer>> {
    let mut out = Vec::new();
    for layer in manifest["layers"].as_array().into_iter().flatten() {
        let media_type = layer["mediaType"].as_str().unwrap_or_default();
        let media_type = match media_type {
            "application/vnd.docker.image.rootfs.diff.tar.gzip" => OCI_LAYER_GZIP,
            "application/vnd.oci.image.layer.v1.tar"
            | OCI_LAYER_GZIP
            | "application/vnd.oci.image.layer.v1.tar+zstd" => media_type,
            other => bail!("{what} has a layer of type `{other}`, which cannot be reused; refused"),
        };
        let digest = layer["digest"].as_str().unwrap_or_default();
        if !digest.starts_with("sha256:") {
            bail!("{what} names a layer by `{digest}`, not a sha256 digest; refused");
        }
        out.push(BaseLayer {
            media_type: media_type.to_string(),
            digest: digest.to_string(),
            size: layer["size"].as_u64().unwrap_or(0),
        });
    }
    Ok(out)
}

/// The blob `digest` of `repository`, checked against its digest and size.
pub(crate) fn fetch_checked(
    registry: &dyn Remote,
    repository: &str,
    digest: &str,
    size: u64,
    what: &str,
) -> Result<Vec<u8>> {
    let bytes = registry.get_blob(repository, digest, size)?;
    let actual = format!("sha256:{}", sha256_hex(&bytes));
    if actual != digest {
        bail!("{what}: the blob {digest} came back as {actual}; refused");
    }
    Ok(bytes)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn an_index_gives_the_manifest_for_this_platform() {
        let index = json!({"manifests": [
            {"digest": "sha256:aa", "platform": {"os": "linux", "architecture": "arm64"}},
            {"digest": "sha256:bb", "platform": {"os": "windows", "architecture": "amd64"}},
            {"digest": "sha256:cc", "platform": {"os": "linux", "architecture": "amd64"}},
        ]});
        assert_eq!(
            platform_digest(&index, "amd64").as_deref(),
            Some("sha256:cc")
        );
        assert_eq!(platform_digest(&index, "riscv64"), None);
    }

    #[test]
    fn docker_layers_are_named_as_oci_layers_and_foreign_ones_refused() {
        let digest = format!("sha256:{}", "a".repeat(64));
        let manifest = json!({"layers": [
            {"mediaType": "application/vnd.docker.image.rootfs.diff.tar.gzip",
             "digest": digest, "size": 7},
            {"mediaType": "application/vnd.oci.image.layer.v1.tar+zstd",
             "digest": digest, "size": 8},
        ]});
        let layers = base_layers(&manifest, "the base").unwrap();
        assert_eq!(layers[0].media_type, OCI_LAYER_GZIP);
        assert_eq!(layers[1].size, 8);
        let foreign = json!({"layers": [{
            "mediaType": "application/vnd.docker.image.rootfs.foreign.diff.tar.gzip",
            "digest": digest, "size": 1}]});
        let err = base_layers(&foreign, "the base").unwrap_err();
        assert!(format!("{err}").contains("cannot be reused"), "{err}");
        let md5 = json!({"layers": [{"mediaType": OCI_LAYER_GZIP, "digest": "md5:x", "size": 1}]});
        assert!(base_layers(&md5, "the base").is_err());
    }
}
