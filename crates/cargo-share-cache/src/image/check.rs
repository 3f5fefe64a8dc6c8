//! `cargo share verify-image REF --trusted-key FILE`: the manifest an image reference names, its
//! signature checked against trusted keys (the signature covers the config's and every layer's
//! digest, which a runtime checks the blobs against when it pulls them).

use std::path::PathBuf;

use anyhow::{bail, Context, Result};
use serde::Serialize;

use crate::cache::{CacheUrl, OciRegistry, PublicKey};
use crate::image::base::OCI_MANIFEST;
use crate::image::compose::verify_image;
use crate::image::reference::ImageRef;
use cargo_share_compile::digest::sha256_hex;
use cargo_share_core::message::{Message, Report};
use cargo_share_core::shell::Shell;

/// What `verify-image` found.
#[derive(Debug, Clone, Serialize)]
pub struct VerifiedImage {
    pub(crate) image: String,
    pub(crate) manifest_digest: String,
    pub(crate) signer: String,
}

/// Fetch the manifest of `reference` and check its signature with `trusted_keys`.
pub fn verify_pushed(
    reference: &str,
    trusted_keys: &[PathBuf],
    insecure: bool,
    shell: &Shell,
) -> Result<VerifiedImage> {
    let image = ImageRef::parse(reference)?;
    let trusted = trusted_keys
        .iter()
        .map(|k| PublicKey::read(k))
        .collect::<Result<Vec<_>>>()?;
    let registry = OciRegistry::new(
        &CacheUrl {
            host: image.host.clone(),
            path: String::new(),
        },
        insecure,
    )?;
    let (_, manifest) = registry
        .get_manifest_of_types(&image.repository, &image.reference, &[OCI_MANIFEST])?
        .with_context(|| format!("{image} is not in its registry: check the name and tag"))?;
    let digest = format!("sha256:{}", sha256_hex(&manifest));
    if image.is_digest() && digest != image.reference {
        bail!(
            "{image}: the registry sent a manifest whose digest is {digest}; refused (it was \
             altered or the registry is not the one pushed to)"
        );
    }
    let signer = verify_image(&manifest, &trusted).with_context(|| format!("{image}"))?;
    shell.status(
        "Verified",
        format!("{image} ({digest}), signed by `{signer}`"),
    );
    let verified = VerifiedImage {
        image: image.to_string(),
        manifest_digest: digest,
        signer,
    };
    shell.message(&Message::ImageVerified(Report::of(&verified)));
    Ok(verified)
}
